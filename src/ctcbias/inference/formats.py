"""Subtitle output (SRT, WebVTT) from a result's timed words.

    >>> from ctcbias.inference.result import Result, Word
    >>> r = Result("see doctor okafor", [Word("see", 0.1, 0.3, 0.9), Word("doctor", 0.3, 0.7, 0.9),
    ...            Word("Okafor", 0.8, 1.3, 0.8, True)])
    >>> print(to_srt(r))
    1
    00:00:00,100 --> 00:00:01,300
    see doctor Okafor
    <BLANKLINE>
"""

from __future__ import annotations

from .result import Result, Word

__all__ = ["to_srt", "to_vtt", "cues"]


def cues(words: list[Word], max_words: int = 10, max_seconds: float = 5.0, max_gap: float = 1.0) -> list[list[Word]]:
    """Words grouped into subtitle cues: a new cue after a pause, or when one gets too long."""
    out: list[list[Word]] = []
    for w in words:
        cur = out[-1] if out else None
        if cur is None or len(cur) >= max_words or w.end - cur[0].start > max_seconds or w.start - cur[-1].end > max_gap:
            out.append([w])
        else:
            cur.append(w)
    return out


def _ts(t: float, sep: str) -> str:
    ms = int(round(max(0.0, t) * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def to_srt(r: Result) -> str:
    return "".join(f"{i}\n{_ts(c[0].start, ',')} --> {_ts(c[-1].end, ',')}\n{' '.join(w.word for w in c)}\n\n"
                   for i, c in enumerate(cues(r.words), 1)).rstrip("\n") + "\n"


def to_vtt(r: Result) -> str:
    body = "".join(f"{_ts(c[0].start, '.')} --> {_ts(c[-1].end, '.')}\n{' '.join(w.word for w in c)}\n\n"
                   for c in cues(r.words))
    return ("WEBVTT\n\n" + body).rstrip("\n") + "\n"
