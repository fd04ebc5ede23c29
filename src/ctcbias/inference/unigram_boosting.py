"""Unigram boosting through the LM's OOV class (technique 2).

The n-gram LM never saw the user's words: kenlm scores them as ``<unk>``, a class whose mass is
tiny, so the LM would talk the beam search out of every entity. Here an entity word is scored as
the OOV class *plus a boost* (a BOOST class in the LM's place), or as itself when the LM already
likes it better. The LM file is unchanged; the wrapper lives only as long as one call's list.
"""

from __future__ import annotations

from ..language_model import LanguageModel

__all__ = ["UnigramBoostedLM"]


class UnigramBoostedLM(LanguageModel):
    def __init__(self, lm: LanguageModel, words: frozenset[str], boost: float):
        self.lm, self.words, self.boost = lm, words, boost

    def start(self):
        return self.lm.start()

    def score(self, state, word: str):
        lp, nxt = self.lm.score(state, word)
        if word in self.words:
            lp = max(lp, self.lm.unk(state) + self.boost)
        return lp, nxt

    def unk(self, state) -> float:
        return self.lm.unk(state)

    def end(self, state) -> float:
        return self.lm.end(state)

    def __contains__(self, word: str) -> bool:
        return word in self.lm or word in self.words

    @property
    def prefixes(self) -> frozenset[str]:
        return self.lm.prefixes
