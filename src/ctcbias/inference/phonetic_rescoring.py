"""Phonetic rescoring of the n-best (technique 3).

Each n-best hypothesis is turned into phones (entity words by the entity's pronunciations,
including grapheme-to-grapheme variants; other words by the lexicon/G2P) and force-aligned with
the phone head's posteriors (an intermediate CTC layer). The alignment cost, weighted, is added
to the hypothesis score, so among spellings the beam search found, the one whose *sound* fits the
audio wins — which is where rare words, that the subword head spells poorly, gain most.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from ..tokenizer import PhoneSet
from .align import ctc_cost
from .biasing_list import BiasingList, word_prons
from .result import Evidence, Hypothesis, entity_spans

__all__ = ["PhoneticRescoring", "hypothesis_phones", "rescore"]

_PH = PhoneSet()


def hypothesis_phones(words: list[str], bias: BiasingList | None, max_variants: int = 6) -> list[list[int]]:
    """Phone-id sequences for a word sequence: one per entity pronunciation variant (capped)."""
    prons = word_prons(set(words))
    spans = entity_spans(words, bias)
    pieces: list[list[tuple[str, ...]]] = []
    i = 0
    for s, e, k in spans + [(len(words), len(words), -1)]:
        for w in words[i:s]:
            pieces.append([tuple(prons[w][0]) if prons[w] else ()])
        if k >= 0:
            pieces.append(list(bias.prons(k)))
        i = e
    seqs = []
    for combo in itertools.islice(itertools.product(*pieces), max_variants):
        seqs.append([_PH.index[p] for part in combo for p in part])
    return seqs or [[]]


def rescore(nbest: list[Hypothesis], phone_logp: np.ndarray, bias: BiasingList | None,
            weight: float) -> list[Hypothesis]:
    """Add ``-weight * cost`` (best variant) to each hypothesis; best first."""
    if not nbest:
        return nbest
    seqs, owner = [], []
    for i, h in enumerate(nbest):
        for s in hypothesis_phones(h.text.split(), bias):
            if s:
                seqs.append(s)
                owner.append(i)
    # n-best hypotheses often sound alike (spellings of one word): each sequence is aligned once
    uniq = {tuple(s): None for s in seqs}
    cost = dict(zip(uniq, ctc_cost(phone_logp, [list(s) for s in uniq])))
    best = np.full(len(nbest), np.inf)
    for i, s in zip(owner, seqs):
        best[i] = min(best[i], cost[tuple(s)])
    finite = best[np.isfinite(best)]
    fallback = finite.max() + 10.0 if len(finite) else 0.0  # unalignable: worse than any alignable
    out = [Hypothesis(h.tokens, h.text, h.score - weight * (b if np.isfinite(b) else fallback), h.acoustic,
                      h.extra) for h, b in zip(nbest, best)]
    return sorted(out, key=lambda h: h.score, reverse=True)


@dataclass(frozen=True)
class PhoneticRescoring:
    """Phonetic rescoring as a :class:`~ctcbias.inference.result.HypothesisFilter`: :func:`rescore`
    against the phone head, the alignment cost weighted by ``weight``."""

    weight: float

    def apply(self, nbest: list[Hypothesis], ev: Evidence) -> list[Hypothesis]:
        return rescore(nbest, ev.post.phone, ev.bias, self.weight)
