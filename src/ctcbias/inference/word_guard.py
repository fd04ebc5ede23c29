"""The ordinary-word guard: a list may change the transcript only by bringing an entity in.

Every technique perturbs the search as a whole: boosted prefixes crowd plain readings out of the
beam before their boost is taken back, list words enter the LM, the adapter nudges every frame.
On a voice the stack never trained on, those perturbations land on ordinary words too ("the
cake" -> "the cay", "thank" -> "think"). So where the biased transcript holds no entity of the
list, the words decoding without the list (beam + LM on the head's own log-probabilities, no
boosts, no adapter) stand. Where it holds one, the biased words stand as they are: the list was
relevant there, and biasing mends the words around an entity as often as it harms them.

Dev-heldout, 276 utterances, lists of 30 / 100 / 200 / 300 entries, against keeping the biased
words only next to an entity (and the plain ones elsewhere): U-WER with the utterance's entities
listed 22.3 / 22.3 / 22.3 / 22.7% -> 21.4 / 21.6 / 21.8 / 22.3%; lists of strangers (none of the
utterance's entities) WER 40.9 / 40.8 / 40.7 / 40.9% -> 41.0 / 40.9 / 40.6 / 40.7% (40.4% without
a list); the same entities. It is also cheaper: the search without the list runs only when the
biased transcript holds no entity.

    >>> from ctcbias.inference.recognizer import DEFAULT_MODEL
    >>> from ctcbias.tokenizer import Tokenizer
    >>> lst = BiasingList.compile(["Lisinopril"], Tokenizer(DEFAULT_MODEL / "subwords.model"))
    >>> needed("call the cay shop now", lst), needed("take lisinopril now", lst)
    (True, False)
"""

from __future__ import annotations

from dataclasses import dataclass

from .biasing_list import BiasingList
from .result import Evidence, Hypothesis, entity_spans

__all__ = ["WordGuard", "needed"]


def needed(text: str, bias: BiasingList) -> bool:
    """Whether the guard acts on a biased transcript ``text``: it holds no entity of ``bias``."""
    return not entity_spans(text.split(), bias)


@dataclass(frozen=True)
class WordGuard:
    """The guard as a :class:`~ctcbias.inference.result.HypothesisFilter`: where the best hypothesis
    holds no entity, it takes ``plain``, the words decoding without the list gave; the rest follow."""

    plain: list[str]

    def apply(self, nbest: list[Hypothesis], ev: Evidence) -> list[Hypothesis]:
        best = nbest[0]
        if not needed(best.text, ev.bias):
            return nbest
        text = " ".join(self.plain)
        return nbest if text == best.text else [best.with_text(text, ev.tokenizer)] + nbest[1:]
