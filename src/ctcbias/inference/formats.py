"""Subtitle output (SRT, WebVTT) from a result's timed words, by the usual reading conventions:
at most two lines of 42 characters a cue; 1 to 7 s on screen (a short cue stays up until the
next one starts, never over it); a cue ends at a pause, and at the end of a sentence once it has
been up a second; a lone last word joins the cue before it rather than flash up alone.

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

from dataclasses import dataclass

from .result import Result, Word

__all__ = ["SubtitleOptions", "Cue", "cues", "to_srt", "to_vtt"]

SENTENCE_END = (".", "?", "!", ".\"", "?\"", "!\"", ".)", "?)", "!)")


@dataclass(frozen=True)
class SubtitleOptions:
    """How words become cues (the conventions of broadcast and streaming subtitles)."""

    max_line_chars: int = 42
    max_lines: int = 2
    min_seconds: float = 1.0  # a cue shorter than this stays up longer, until the next cue
    max_seconds: float = 7.0
    max_gap: float = 1.0  # a pause this long between words starts a new cue
    sentence_seconds: float = 1.0  # a sentence's last word ends a cue that has been up this long


@dataclass
class Cue:
    start: float
    end: float
    lines: list[str]
    words: list[Word]

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def lines_of(words: list[str], width: int, most: int) -> list[str] | None:
    """``words`` in at most ``most`` lines of ``width`` characters, two lines as even as they can
    be; None if they do not fit. A single word longer than a line gets a line of its own.

    >>> lines_of("the patient should take two tablets of Lisinopril every morning".split(), 42, 2)
    ['the patient should take two', 'tablets of Lisinopril every morning']
    >>> lines_of(["word"] * 20, 42, 2) is None
    True
    """
    one = " ".join(words)
    if len(one) <= width or len(words) == 1:
        return [one]
    if most < 2:
        return None
    best = None
    for i in range(1, len(words)):
        a, b = " ".join(words[:i]), " ".join(words[i:])
        if len(a) <= width and len(b) <= width:
            key = (max(len(a), len(b)), not a.endswith((",", ";", ":", *SENTENCE_END)))
            if best is None or key < best[0]:
                best = key, [a, b]
    if best is not None:
        return best[1]
    if most > 2:  # more than two lines: fill them in turn
        out, cur = [], []
        for w in words:
            if cur and len(" ".join(cur + [w])) > width:
                out.append(" ".join(cur))
                cur = []
            cur.append(w)
        out.append(" ".join(cur))
        return out if len(out) <= most else None
    return None


def _fits(ws: list[Word], o: SubtitleOptions) -> bool:
    return ws[-1].end - ws[0].start <= o.max_seconds + 1e-6 and \
        lines_of([w.word for w in ws], o.max_line_chars, o.max_lines) is not None


def _ends_sentence(w: Word) -> bool:
    return w.word.endswith(SENTENCE_END)


def cues(words: list[Word], options: SubtitleOptions = SubtitleOptions(), duration: float | None = None) -> list[Cue]:
    """Words grouped into cues, with their lines and on-screen times (``duration``: the
    recording's length, which no cue outlasts).

    >>> from ctcbias.inference.result import Word
    >>> ws = [Word(t, i * 0.6, i * 0.6 + 0.4, 1.0) for i, t in enumerate("Hello there. How are you today? Fine".split())]
    >>> [(c.text, c.start, c.end) for c in cues(ws)]   # "Fine" alone would flash up for 0.4 s
    [('Hello there.', 0.0, 1.0), ('How are you today? Fine', 1.2, 4.0)]
    """
    o = options
    groups: list[list[Word]] = []
    for w in words:
        cur = groups[-1] if groups else None
        if cur is None or w.start - cur[-1].end > o.max_gap or not _fits(cur + [w], o) or \
                (_ends_sentence(cur[-1]) and cur[-1].end - cur[0].start >= o.sentence_seconds):
            groups.append([w])
        else:
            cur.append(w)
    # a lone word after a cue it belongs to (no pause between) joins it, or takes that cue's last word
    for i in range(len(groups) - 1, 0, -1):
        prev, cur = groups[i - 1], groups[i]
        if len(cur) != 1 or cur[0].start - prev[-1].end > o.max_gap:
            continue
        if _fits(prev + cur, o):
            groups[i - 1:i + 1] = [prev + cur]
        elif len(prev) > 2 and not _ends_sentence(prev[-2]) and _fits(prev[-1:] + cur, o):
            groups[i - 1:i + 1] = [prev[:-1], prev[-1:] + cur]
    out: list[Cue] = []
    for i, g in enumerate(groups):
        start, end = g[0].start, g[-1].end
        nxt = groups[i + 1][0].start if i + 1 < len(groups) else (duration if duration else None)
        if end - start < o.min_seconds:
            end = start + o.min_seconds if nxt is None else min(start + o.min_seconds, max(end, nxt))
        end = min(end, start + o.max_seconds)
        if out and start < out[-1].end:  # words' times never overlap, but rounding may
            start = out[-1].end
        out.append(Cue(round(start, 3), round(end, 3), lines_of([w.word for w in g], o.max_line_chars,
                                                                    o.max_lines) or [" ".join(w.word for w in g)], g))
    return out


def _ts(t: float, sep: str) -> str:
    ms = int(round(max(0.0, t) * 1000))
    return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d}{sep}{ms % 1000:03d}"


def to_srt(r: Result, options: SubtitleOptions = SubtitleOptions()) -> str:
    return "".join(f"{i}\n{_ts(c.start, ',')} --> {_ts(c.end, ',')}\n{c.text}\n\n"
                   for i, c in enumerate(cues(r.words, options, r.duration), 1)).rstrip("\n") + "\n"


def to_vtt(r: Result, options: SubtitleOptions = SubtitleOptions()) -> str:
    body = "".join(f"{_ts(c.start, '.')} --> {_ts(c.end, '.')}\n{c.text}\n\n" for c in cues(r.words, options, r.duration))
    return ("WEBVTT\n\n" + body).rstrip("\n") + "\n"
