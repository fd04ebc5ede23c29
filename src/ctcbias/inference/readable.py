"""A readable transcript from the recognizer's words: sentences, capitals and written numbers.

The recognizer's words are in the spoken form ("siobhan is flying to wroclaw on friday at two
thirty"). :func:`format_result` restores punctuation and casing (:mod:`.punctuation`) and writes
numbers, dates, times, money and doses (:mod:`.inverse_normalize`): "Siobhan is flying to
Wrocław on Friday at 2:30." Each word keeps its times; a mark joins the word before it
("Friday."), and words merged into one written token ("two thirty" -> "2:30") give it the first
one's start and the last one's end. Listed entities keep the user's spelling; only a mark may
follow them.
"""

from __future__ import annotations

from dataclasses import replace

from ..normalize import normalize
from .inverse_normalize import inverse_normalize
from .punctuation import PunctuationModel
from .result import Result, Word

__all__ = ["format_result", "format_words"]


def format_words(words: list[Word], model: PunctuationModel, pause: float | None = None) -> list[Word]:
    """``words`` (spoken form, entities in the user's spelling) as written words; a silence of
    ``pause`` seconds or more between two words ends a sentence."""
    if not words:
        return []
    spoken = [(normalize(w.word) or w.word.lower()) if w.entity else w.word.lower() for w in words]
    ends = None if pause is None else [b.start - a.end >= pause for a, b in zip(words, words[1:])] + [True]
    cased = model.format_words(spoken, [w.word if w.entity else None for w in words], ends)
    spans = {s.start: s for s in inverse_normalize(spoken, [w.entity for w in words])}
    out: list[Word] = []
    i = 0
    while i < len(words):
        s = spans.get(i)
        if s is None:
            text, mark = cased[i]
            out.append(replace(words[i], word=text + mark))
            i += 1
            continue
        mark = cased[s.end - 1][1]
        first = i == 0 or cased[i - 1][1] in (".", "?")
        for k, (tok, a, b) in enumerate(s.parts):
            ws = words[a:max(b, a + 1)]
            if k == 0 and first:
                tok = tok[:1].upper() + tok[1:]
            if k == len(s.parts) - 1:
                tok += mark
            out.append(Word(tok, ws[0].start, ws[-1].end, round(min(w.confidence for w in ws), 3)))
        i = s.end
    return out


def format_result(r: Result, model: PunctuationModel, pause: float | None = None) -> Result:
    """``r`` with a readable ``text`` and ``words``; ``raw_text`` keeps the recognizer's words."""
    words = format_words(r.words, model, pause)
    return replace(r, text=" ".join(w.word for w in words), words=words, raw_text=r.text)
