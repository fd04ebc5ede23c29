"""Entity precision, recall and F1: did the transcript contain the utterance's entities, and
did it name list entries that were not said?"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from ..inference.biasing_list import BiasingList
from ..inference.result import entity_spans
from .metrics import Tally

__all__ = ["EntityCounts", "entity_counts"]


@dataclass
class EntityCounts(Tally):
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / max(1, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return self.tp / max(1, self.tp + self.fn)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 0.0 if p + r == 0 else 2 * p * r / (p + r)

    def summary(self) -> dict:
        return {"precision": round(self.precision, 4), "recall": round(self.recall, 4), "f1": round(self.f1, 4),
                "tp": self.tp, "fp": self.fp, "fn": self.fn}


def entity_counts(ref_entities: list[str], hyp_text: str, bias: BiasingList, ref_text: str) -> EntityCounts:
    """``ref_entities``: spoken forms said in the utterance (the entities it was written with);
    ``hyp_text``: normalized hypothesis; ``ref_text``: the reference, normalized as manifests hold it
    (the text :func:`~ctcbias.evaluation.metrics.score` takes). Hypothesis entities
    are list entries found in it as whole-word spans. One that is not among ``ref_entities`` is
    false unless the reference says it too (up to as often): a list may hold ordinary words (a
    surname "Weeks" said in "the next few weeks"), and writing them where they were said is right.

    >>> from ctcbias.inference.recognizer import DEFAULT_MODEL
    >>> from ctcbias.tokenizer import Tokenizer
    >>> bias = BiasingList.compile(["Norleucine", "Doses", "Pippa"], Tokenizer(DEFAULT_MODEL / "subwords.model"))
    >>> entity_counts(["norleucine"], "missed doses of norleucine", bias, "missed doses of norleucine")
    EntityCounts(tp=1, fp=0, fn=0)
    >>> entity_counts(["norleucine"], "pippa doses of norleucine", bias, "missed doses of norleucine")
    EntityCounts(tp=1, fp=1, fn=0)
    """
    ref = Counter(ref_entities)
    hyp = Counter(bias.entries[k].spoken for _, _, k in entity_spans(hyp_text.split(), bias))
    said = Counter(bias.entries[k].spoken for _, _, k in entity_spans(ref_text.split(), bias))
    tp = sum((ref & hyp).values())
    return EntityCounts(tp, sum((hyp - (ref | said)).values()), sum(ref.values()) - tp)
