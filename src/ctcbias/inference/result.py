"""What decoding produces, and the small steps that shape it: hypotheses of the beam search, the
one call shape of the techniques that act on them (:class:`HypothesisFilter`), timed words, the
entity spans of a word sequence, and the greedy reading of a CTC head.

    >>> import numpy as np
    >>> greedy_units(np.log(np.eye(3)[[0, 1, 1, 0, 1, 2, 2]] * 0.97 + 0.01))
    [1, 1, 2]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any, Protocol

import numpy as np

from ..tokenizer import Tokenizer
from .align import word_frames
from .biasing_list import BiasingList

__all__ = ["FRAME_SECONDS", "Evidence", "Hypothesis", "HypothesisFilter", "Result", "Word", "entity_spans", "greedy_decode", "greedy_units",
           "mark_entities", "timed_words", "word_extents"]

FRAME_SECONDS = 0.04  # one stack frame: two 20 ms encoder frames


@dataclass
class Hypothesis:
    tokens: tuple[int, ...]
    text: str
    score: float  # acoustic + extra
    acoustic: float
    extra: float

    def with_text(self, text: str, tok: Tokenizer) -> "Hypothesis":
        """This hypothesis with its words changed to ``text`` (its subwords re-encoded, its scores kept)."""
        return replace(self, tokens=tuple(tok.encode(text)), text=text)


@dataclass
class Evidence:
    """What the techniques that act on the n-best weigh it against: the CTC heads' posteriors of
    the utterance (a :class:`~ctcbias.inference.recognizer.Posteriors`: ``subword``, ``phone``,
    ``attention``), the list, the tokenizer, and the forced alignments they share (``memo``, by
    token sequence: see :func:`~ctcbias.inference.align.word_frames`)."""

    post: Any
    bias: BiasingList
    tokenizer: Tokenizer
    memo: dict = field(default_factory=dict)


class HypothesisFilter(Protocol):
    """The call shape the techniques that act on the n-best share (phonetic rescoring, the lexicon
    lookup, the entity guard and the ordinary-word guard), as whisper's logit filters share
    ``apply``: each is built with its settings, and ``apply`` takes the hypotheses, best first,
    and the same evidence, and gives hypotheses back, best first (none: none passed)."""

    def apply(self, nbest: list[Hypothesis], ev: Evidence) -> list[Hypothesis]: ...


@dataclass
class Word:
    word: str
    start: float
    end: float
    confidence: float
    entity: bool = False


@dataclass
class Result:
    text: str
    words: list[Word] = field(default_factory=list)
    duration: float = 0.0
    # on request (``attention=True``): the adapter's weights, (frames, 1 + entries), 25 frames a second,
    # and the entries they belong to, "<no-bias>" first
    attention: np.ndarray | None = None
    attention_entries: list[str] | None = None
    # the recognizer's words before formatting (spoken form, entities as listed); the metrics score these
    raw_text: str | None = None
    # flaws of the recording that may cost accuracy (clipping, a narrow band: audio.audio_notes)
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        if self.raw_text is None:
            self.raw_text = self.text

    def to_dict(self) -> dict:
        d = {"text": self.text, "raw_text": self.raw_text, "words": [asdict(w) for w in self.words]}
        if self.notes:
            d["notes"] = list(self.notes)
        if self.attention is not None:
            d["attention"] = {"entries": self.attention_entries, "frame_seconds": FRAME_SECONDS,
                              "weights": np.round(self.attention, 3).tolist()}
        return d


def entity_spans(words: list[str], bias: BiasingList | None, max_len: int = 8) -> list[tuple[int, int, int]]:
    """Non-overlapping (start, end, entry) spans of ``words`` equal to an entry, longest first."""
    if bias is None or not len(bias):
        return []
    out, i = [], 0
    while i < len(words):
        for n in range(min(max_len, len(words) - i), 0, -1):
            e = bias.by_spoken.get(" ".join(words[i:i + n]))
            if e is not None:
                out.append((i, i + n, e))
                i += n
                break
        else:
            i += 1
    return out


def greedy_units(logp) -> list[int]:
    """The CTC head's best unit per frame, repeats merged, blanks (unit 0) dropped."""
    best = logp.argmax(-1).tolist()
    return [b for i, b in enumerate(best) if b != 0 and (i == 0 or b != best[i - 1])]


def timed_words(text: str, tokens: list[int], logp: np.ndarray, tok: Tokenizer, duration: float,
                memo: dict | None = None) -> Result:
    """Words of ``text`` with times and confidence from a forced alignment of its subwords."""
    words = text.split()
    text = " ".join(words)  # a lone word-start unit decodes to a second space
    frames = word_frames(tokens, logp, tok, with_confidence=True, memo=memo)
    if frames is None or len(frames) != len(words):
        return Result(text, [Word(w, 0.0, round(duration, 2), 0.0) for w in words], duration)
    out = [Word(w, round(a * FRAME_SECONDS, 2), round((b + 1) * FRAME_SECONDS, 2), round(max(c, 1e-3), 3))
           for w, (a, b, c) in zip(words, frames)]
    return Result(text, out, duration)


def word_extents(words: list[Word], heard: np.ndarray | None, duration: float, pause: float,
                 tail: float) -> list[Word]:
    """Words from their first spike to where they end, not to their last CTC spike: a word runs up
    to the next word's start, unless a pause (more than ``pause`` seconds without a spike) comes
    between; then it runs to the last sound the phone head heard (``heard``: one bool a frame)
    within ``pause`` seconds of its last spike, plus ``tail`` seconds, never into the next word.

    >>> ws = [Word("please", 0.12, 0.2, 1.0), Word("ask", 0.4, 0.44, 1.0), Word("friday", 1.6, 1.68, 1.0)]
    >>> heard = np.zeros(60, dtype=bool); heard[[44, 45, 47]] = True   # the phone head hears "...day" on
    >>> [(w.start, w.end) for w in word_extents(ws, heard, 2.4, 0.3, 0.08)]
    [(0.12, 0.4), (0.4, 0.52), (1.6, 2.0)]
    """
    out = []
    for i, w in enumerate(words):
        nxt = words[i + 1].start if i + 1 < len(words) else duration
        end = w.end
        if nxt - w.end <= pause + 1e-6:
            end = max(end, nxt)
        else:
            if heard is not None:
                a, b = int(round(w.end / FRAME_SECONDS)), int(round((w.end + pause) / FRAME_SECONDS))
                sounds = np.flatnonzero(heard[a:b])
                if len(sounds):
                    end = (a + int(sounds[-1]) + 1) * FRAME_SECONDS
            end = min(end + tail, nxt)
        out.append(replace(w, end=round(max(end, w.end), 2)))
    return out


def mark_entities(r: Result, bias: BiasingList) -> Result:
    """Entity spans take the user's spelling and ``entity=True``; the text follows."""
    if not len(bias) or not r.words:
        return r
    words = [w.word for w in r.words]
    spans = entity_spans(words, bias)
    if not spans:
        return r
    out, i = [], 0
    for s, e, k in spans + [(len(words), len(words), -1)]:
        out += r.words[i:s]
        if k >= 0:
            disp = bias.entries[k].display.split()
            ws = r.words[s:e]
            if len(disp) == len(ws):
                out += [Word(d, w.start, w.end, w.confidence, True) for d, w in zip(disp, ws)]
            else:  # "COVID-19" spoken as two words: one word, the span's times
                out.append(Word(bias.entries[k].display, ws[0].start, ws[-1].end,
                                round(min(w.confidence for w in ws), 3), True))
        i = e
    return Result(" ".join(w.word for w in out), out, r.duration)


def greedy_decode(logp: np.ndarray, tok: Tokenizer, duration: float = 0.0) -> Result:
    """Best unit per frame, repeats merged, blanks dropped; words with times and confidence."""
    best = logp.argmax(-1)
    words: list[list] = []  # [pieces, first frame, last frame, token log-probs]
    prev = 0
    for f, k in enumerate(best):
        k = int(k)
        if k != 0 and k != prev:
            piece = tok.pieces[k]
            if piece.startswith("\u2581") or not words:
                words.append(["", f, f, []])
            words[-1][0] += piece
            words[-1][3].append(float(logp[f, k]))
        if k != 0 and words:
            words[-1][2] = f
        prev = k
    out = []
    for pieces, first, last, lps in words:
        w = pieces.replace("\u2581", "").strip()
        if w:
            out.append(Word(w, round(first * FRAME_SECONDS, 2), round((last + 1) * FRAME_SECONDS, 2),
                            round(float(np.exp(np.mean(lps))), 3)))
    return Result(" ".join(w.word for w in out), out, duration)
