"""Word-level n-gram language model behind one small interface (as pyctcdecode does).

``LanguageModel`` is what the beam search talks to: a start state, and the score of a word after
a state. ``KenLM`` wraps a kenlm ARPA/binary file; scores are natural-log probabilities.
Unigram boosting (technique 2) wraps any ``LanguageModel`` without touching the file: see
:mod:`ctcbias.inference.unigram_boosting`.
"""

from __future__ import annotations

import abc
import math
from pathlib import Path

__all__ = ["LanguageModel", "KenLM"]

LOG10 = math.log(10.0)


class LanguageModel(abc.ABC):
    @abc.abstractmethod
    def start(self):
        """State at the start of a sentence."""

    @abc.abstractmethod
    def score(self, state, word: str) -> tuple[float, object]:
        """(natural-log probability of ``word`` after ``state``, the next state)."""

    @abc.abstractmethod
    def unk(self, state) -> float:
        """Natural-log probability of the out-of-vocabulary class after ``state``."""

    @abc.abstractmethod
    def end(self, state) -> float:
        """Natural-log probability of the sentence ending after ``state``."""

    @abc.abstractmethod
    def __contains__(self, word: str) -> bool: ...

    @property
    def prefixes(self) -> frozenset[str]:
        """Every prefix of every vocabulary word (empty if the vocabulary is unknown): lets the beam
        search penalize a partial word no known word starts with, instead of waiting for its end."""
        return frozenset()


class KenLM(LanguageModel):
    def __init__(self, path: str | Path):
        import kenlm

        self.path = Path(path)
        if not self.path.exists():
            raise FileNotFoundError(f"{path}: no language model there")
        self.model = kenlm.Model(str(path))
        self._kenlm = kenlm
        vocab = self.path.with_name(self.path.stem + ".vocab")
        self._vocab = vocab.read_text().split() if vocab.exists() else []
        self._prefixes: frozenset[str] | None = None

    @property
    def prefixes(self) -> frozenset[str]:
        if self._prefixes is None:
            self._prefixes = frozenset(w[:i] for w in self._vocab for i in range(1, len(w) + 1))
        return self._prefixes

    def start(self):
        s = self._kenlm.State()
        self.model.BeginSentenceWrite(s)
        return s

    def score(self, state, word: str):
        out = self._kenlm.State()
        return self.model.BaseScore(state, word, out) * LOG10, out

    def unk(self, state) -> float:
        return self.model.BaseScore(state, "<unk>", self._kenlm.State()) * LOG10

    def end(self, state) -> float:
        return self.model.BaseScore(state, "</s>", self._kenlm.State()) * LOG10

    def __contains__(self, word: str) -> bool:
        return word in self.model

