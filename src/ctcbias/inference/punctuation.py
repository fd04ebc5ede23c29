"""Punctuation and casing of the recognizer's words: a small per-word classifier.

Two multinomial logistic regressions share hashed features of a word and its neighbours (the word,
two on each side, their pairs, its suffix, how far the transcript's end is, and the first words of
the sentence so far): one predicts the mark after the word (none , . ?), the other its casing
(lower, Capitalized, UPPER, or the mixed form a truecase lexicon holds: "McDonald"). Words are read
left to right, so a sentence's first words are known when its end is judged (questions begin
"do you", "what is"). The first word of a sentence is capitalized; the last word of a transcript
ends one. Trained by :mod:`ctcbias.training.punctuation` (``ctcbias train punctuation``); the
weights are a few MB of float16 (``punctuation.npz``).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["MARKS", "CASES", "PunctuationModel", "static_features", "sentence_features", "apply_case",
           "feature_keys"]

MARKS = ("", ",", ".", "?")
CASES = ("lower", "cap", "upper", "mixed")
ENDS = (2, 3)  # MARKS that end a sentence


def feature_keys(feats: list[str]) -> np.ndarray:
    """Stable 32-bit hashes of feature strings (Python's ``hash`` is salted per process)."""
    return np.fromiter((zlib.crc32(f.encode()) for f in feats), np.uint32, len(feats))


def static_features(words: list[str]) -> list[list[str]]:
    """Each word's features that do not depend on the predictions before it."""
    n = len(words)
    pad = ["<s>", "<s>"] + words + ["</s>", "</s>", "</s>"]
    out = []
    for i in range(n):
        p2, p1, w, n1, n2, n3 = pad[i:i + 6]
        out.append(["b", f"w={w}", f"p1={p1}", f"n1={n1}", f"p2={p2}", f"n2={n2}", f"n3={n3}", f"p1w={p1}|{w}",
                    f"wn1={w}|{n1}", f"n1n2={n1}|{n2}", f"p2p1={p2}|{p1}", f"p1wn1={p1}|{w}|{n1}",
                    f"wn1n2={w}|{n1}|{n2}", f"s3={w[-3:]}", f"end={min(n - 1 - i, 4)}",
                    f"wend={w}|{min(n - 1 - i, 2)}"])
    return out


def sentence_features(first: list[str], since: int) -> list[str]:
    """Features of the sentence so far: its first two words and its length in words (capped)."""
    a = first[0] if first else "<none>"
    b = first[1] if len(first) > 1 else "<none>"
    return [f"s0={a}", f"s01={a}|{b}", f"slen={min(since, 12)}"]


def apply_case(word: str, case: int, lexicon: dict[str, str]) -> str:
    """``word`` (lower case) in the casing class ``case``."""
    if case == 1:
        return word[:1].upper() + word[1:]
    if case == 2:
        return word.upper()
    if case == 3:
        return lexicon.get(word, word[:1].upper() + word[1:])
    return word


@dataclass
class PunctuationModel:
    keys: np.ndarray  # sorted uint32 feature hashes
    weights: np.ndarray  # (features, len(MARKS) + len(CASES))
    lexicon: dict[str, str]  # mixed-case forms by lower-case word
    meta: dict  # with "lower": the words always written in lower case

    def __post_init__(self):
        self.lower = frozenset(self.meta.get("lower", ()))

    @classmethod
    def load(cls, path: str | Path) -> "PunctuationModel":
        z = np.load(path, allow_pickle=False)
        meta = json.loads(str(z["meta"]))
        return cls(z["keys"], z["weights"].astype(np.float32), meta.pop("lexicon"), meta)

    def save(self, path: str | Path) -> None:
        np.savez_compressed(path, keys=self.keys, weights=self.weights.astype(np.float16),
                            meta=np.array(json.dumps({**self.meta, "lexicon": self.lexicon}, ensure_ascii=False)))

    def _rows(self, feats: list[str]) -> np.ndarray:
        h = feature_keys(feats)
        idx = np.searchsorted(self.keys, h).clip(0, len(self.keys) - 1)
        return idx[self.keys[idx] == h]

    def predict(self, words: list[str], ends: list[bool] | None = None) -> tuple[list[int], list[int]]:
        """The mark after each word (an index into MARKS) and its casing (into CASES), before the
        sentence rules (:meth:`format_words` applies those); a sentence ends after each word
        marked in ``ends`` (with a question mark where the model says so, else a full stop)."""
        if not words:
            return [], []
        words = [w.lower() for w in words]
        stat = static_features(words)
        nm = len(MARKS)
        base = [self.weights[self._rows(f)].sum(0) for f in stat]
        marks, cases = [], []
        start = 0
        for i, s in enumerate(base):
            dyn = self.weights[self._rows(sentence_features(words[start:start + 2], i - start))].sum(0)
            z = s + dyn
            m = int(np.argmax(z[:nm]))
            if ends is not None and ends[i] and m not in ENDS:
                m = MARKS.index(".")
            marks.append(m)
            cases.append(0 if words[i] in self.lower else int(np.argmax(z[nm:])))
            if m in ENDS:
                start = i + 1
        return marks, cases

    def format_words(self, words: list[str], fixed: list[str | None] | None = None,
                     ends: list[bool] | None = None) -> list[tuple[str, str]]:
        """Each word cased, with the mark that follows it: ``[(word, mark), ...]``. A word with a
        spelling in ``fixed`` (the user's listed entities) keeps it exactly; a sentence ends after
        each word marked in ``ends``."""
        marks, cases = self.predict(words, ends)
        out = []
        start = True
        for i, (w, m, c) in enumerate(zip(words, marks, cases)):
            if i == len(words) - 1 and MARKS[m] not in (".", "?"):
                m = MARKS.index(".")  # a transcript ends a sentence
            if fixed is not None and fixed[i] is not None:
                text = fixed[i]
            else:
                text = apply_case(w.lower(), c, self.lexicon)
                if start and text[:1].islower():
                    text = text[:1].upper() + text[1:]
            out.append((text, MARKS[m]))
            start = m in ENDS
        return out
