"""Calibrated word confidence: a confidence of 0.8 means the word is right about 80% of the time.

The raw score of a word is the geometric mean of its subwords' best posterior on the frames the
forced alignment gives them. What it means depends on how the word came in: an entity the
lexicon lookup put in was chosen by the phone head and the lookup's judge, often against the
subword head, so its raw score is near zero even when it is right. Each of three kinds of words
gets its own monotone map from raw score to probability, fitted on dev decodes
(``ctcbias bench confidence --fit``, :mod:`ctcbias.evaluation.calibration`) and shipped as
``confidence.json`` beside the model:

- ``word``: an ordinary word;
- ``entity``: a list entry the beam search produced (boosting, rescoring, the adapter);
- ``lookup``: a list entry the lexicon lookup put in place of what the beam search had.

>>> cal = Calibration({"word": {"x": [0.0, 1.0], "y": [0.2, 0.9]}})
>>> cal.map("word", 0.5), cal.map("lookup", 0.5)   # a kind without a map keeps its raw score
(0.55, 0.5)
"""

from __future__ import annotations

import difflib
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from .biasing_list import BiasingList
from .result import Result, entity_spans

__all__ = ["KINDS", "Calibration", "word_kinds"]

KINDS = ("word", "entity", "lookup")


def word_kinds(before: list[str] | None, after: list[str], bias: BiasingList) -> list[str]:
    """The kind of each word of ``after`` (spoken forms): ``before`` is the beam search's words
    before the lexicon lookup (None: no lookup ran). An entity counts as the lookup's when any of
    its words is not where the beam search had it.

    >>> class L: by_spoken = {"okafor": 0}; __len__ = lambda self: 1
    >>> word_kinds("see doctor oak a for".split(), "see doctor okafor".split(), L())
    ['word', 'word', 'lookup']
    >>> word_kinds("see okafor".split(), "see okafor".split(), L())
    ['word', 'entity']
    """
    kinds = ["word"] * len(after)
    spans = entity_spans(after, bias)
    if not spans:
        return kinds
    kept: set[int] = set()
    if before is not None:
        for a, b, n in difflib.SequenceMatcher(None, before, after, autojunk=False).get_matching_blocks():
            kept.update(range(b, b + n))
    for s, e, _ in spans:
        lookup = before is not None and not all(i in kept for i in range(s, e))
        kinds[s:e] = ["lookup" if lookup else "entity"] * (e - s)
    return kinds


class Calibration:
    """Piecewise-linear monotone maps from raw score to probability, one per word kind (knots
    ``x`` ascending, values ``y``). A kind without a map keeps its raw score."""

    def __init__(self, maps: dict[str, dict] | None = None):
        self.maps = {k: (np.asarray(m["x"], dtype=np.float64), np.asarray(m["y"], dtype=np.float64))
                     for k, m in (maps or {}).items()}

    @classmethod
    def load(cls, path: str | Path | None) -> "Calibration":
        """The maps of a ``confidence.json``; none (raw scores) if ``path`` is None or missing."""
        if path is None or not Path(path).exists():
            return cls()
        return cls(json.loads(Path(path).read_text())["maps"])

    def map(self, kind: str, raw: float) -> float:
        m = self.maps.get(kind)
        if m is None:
            return float(raw)
        return round(float(np.interp(raw, *m)), 3)

    def apply(self, r: Result, kinds: list[str]) -> Result:
        """``r`` with each word's confidence mapped by its kind (``kinds``: one per word)."""
        if not self.maps or len(kinds) != len(r.words):
            return r
        return replace(r, words=[replace(w, confidence=self.map(k, w.confidence)) for w, k in zip(r.words, kinds)])
