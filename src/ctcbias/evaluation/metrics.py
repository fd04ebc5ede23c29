"""WER, and its split into biased (B-WER) and unbiased (U-WER) words, as in Le et al. (2021).

A reference word is a *biasing word* when it belongs to one of the utterance's entities (the
words of the biasing list that occur in it). Substitutions and deletions count toward B-WER or
U-WER by the reference word; an insertion counts toward B-WER only when the inserted word is a
biasing-list word, otherwise toward U-WER.
"""

from __future__ import annotations

from dataclasses import dataclass

import jiwer

__all__ = ["Tally", "Counts", "score"]


class Tally:
    """A dataclass of counts that add up field by field over utterances."""

    def add(self, o: "Tally") -> None:
        for k in self.__dataclass_fields__:
            setattr(self, k, getattr(self, k) + getattr(o, k))


@dataclass
class Counts(Tally):
    ref_words: int = 0
    errors: int = 0
    b_words: int = 0
    b_errors: int = 0
    u_words: int = 0
    u_errors: int = 0

    @property
    def wer(self) -> float:
        return self.errors / max(1, self.ref_words)

    @property
    def b_wer(self) -> float:
        return self.b_errors / max(1, self.b_words)

    @property
    def u_wer(self) -> float:
        return self.u_errors / max(1, self.u_words)

    def summary(self) -> dict:
        return {"wer": round(self.wer, 4), "u_wer": round(self.u_wer, 4), "b_wer": round(self.b_wer, 4),
                "words": self.ref_words, "b_words": self.b_words}


def score(ref: str, hyp: str, biased: set[int] | None = None, bias_vocab: set[str] | None = None) -> Counts:
    """Counts for one utterance. ``biased``: indices of reference words that are entity words;
    ``bias_vocab``: words of the biasing list (for insertions)."""
    biased, bias_vocab = biased or set(), bias_vocab or set()
    r, h = ref.split(), hyp.split()
    c = Counts(ref_words=len(r), b_words=len(biased & set(range(len(r)))))
    c.u_words = c.ref_words - c.b_words
    if not r and not h:
        return c
    if not r:
        ins_b = sum(w in bias_vocab for w in h)
        c.errors, c.b_errors, c.u_errors = len(h), ins_b, len(h) - ins_b
        return c
    if not h:
        c.errors, c.b_errors, c.u_errors = len(r), c.b_words, c.u_words
        return c
    for ch in jiwer.process_words(ref, hyp).alignments[0]:
        if ch.type == "equal":
            continue
        if ch.type == "insert":
            for w in h[ch.hyp_start_idx:ch.hyp_end_idx]:
                c.errors += 1
                if w in bias_vocab:
                    c.b_errors += 1
                else:
                    c.u_errors += 1
            continue
        for i in range(ch.ref_start_idx, ch.ref_end_idx):  # substitute / delete
            c.errors += 1
            if i in biased:
                c.b_errors += 1
            else:
                c.u_errors += 1
    return c
