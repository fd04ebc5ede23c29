"""The ordinary-word guard: biasing may change the transcript only where it brings an entity in.

Every technique perturbs the search as a whole: boosted prefixes crowd plain readings out of the
beam before their boost is taken back, list words enter the LM, the adapter nudges every frame.
On a voice the stack never trained on, those perturbations land on ordinary words too ("the
cake" -> "the cay", "thank" -> "think"). So the transcript is decoded twice, with and without
the list (without: beam + LM on the head's own log-probabilities, no boosts, no adapter), and the
two are aligned word by word. Where they differ, the biased words are kept only if an entity of
the list sits in the differing stretch or next to it; elsewhere the words without the list stand.
It never touches an entity, so entity counts do not move; what it saves shows with lists that
hold none of the utterance's entities (``bench/RESULTS.md``).

    >>> keep_ordinary_words("call the cake shop now".split(), "call the cay shop now".split(), [])
    'call the cake shop now'
    >>> keep_ordinary_words("call lisa now".split(), "call lisinopril now".split(), [(1, 2)])
    'call lisinopril now'
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from .result import Evidence, Hypothesis, entity_spans

__all__ = ["WordGuard", "keep_ordinary_words"]


def keep_ordinary_words(plain: list[str], biased: list[str], entity_spans: list[tuple[int, int]],
                        reach: int = 1) -> str:
    """The biased words where an entity span of ``biased`` is within ``reach`` words of a
    differing stretch (an entity often takes a neighbour's sounds with it), the plain words
    elsewhere; equal stretches are shared."""
    near = set()
    for s, e in entity_spans:
        near.update(range(max(0, s - reach), e + reach))
    out: list[str] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=plain, b=biased, autojunk=False).get_opcodes():
        if op == "equal":
            out += plain[i1:i2]
        elif near.intersection(range(j1, max(j2, j1 + 1))):  # an insertion-free deletion has j1 == j2
            out += biased[j1:j2]
        else:
            out += plain[i1:i2]
    return " ".join(out)


@dataclass(frozen=True)
class WordGuard:
    """The guard as a :class:`~ctcbias.inference.result.HypothesisFilter`: the best hypothesis
    with its ordinary words taken from ``plain``, the words decoding without the list gave
    (:func:`keep_ordinary_words`), then the rest."""

    plain: list[str]

    def apply(self, nbest: list[Hypothesis], ev: Evidence) -> list[Hypothesis]:
        best = nbest[0]
        words = best.text.split()
        text = keep_ordinary_words(self.plain, words, [(s, e) for s, e, _ in entity_spans(words, ev.bias)])
        return nbest if text == best.text else [best.with_text(text, ev.tokenizer)] + nbest[1:]
