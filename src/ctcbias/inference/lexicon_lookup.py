"""Pronunciation lexicon lookup (technique 4).

The best hypothesis is aligned to the audio (word spans from a CTC forced alignment); the phone
head's own reading of each span of 1-4 words is compared with every entity pronunciation
(including its grapheme-to-grapheme variants). A span is replaced by the entity when

- the entity's pronunciation is close to what the phone head heard (normalized edit distance
  at most ``max_distance``), and
- it is closer, by ``margin``, than the pronunciation of the words already there,

the second condition being the guard that keeps distractors in a long list from turning
ordinary, well-recognized words into entities.
"""

from __future__ import annotations

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from ..tokenizer import PhoneSet, Tokenizer
from .align import ctc_align
from .biasing_list import BiasingList, _prons
from .phonetic_rescoring import entity_spans

__all__ = ["lookup", "phone_string", "quick_choices"]

_PH = PhoneSet()


_CHAR = {p: chr(0x100 + i) for p, i in _PH.index.items()}


def phone_string(phones) -> str:
    """Phones as one character each, for the C++ edit distance of rapidfuzz."""
    return "".join(map(_CHAR.__getitem__, phones))


def quick_choices(bias: BiasingList) -> list[str]:
    """Each entry's quick pronunciation as a :func:`phone_string`, kept on the list."""
    got = getattr(bias, "_quick_choices", None)  # a plain attribute: BiasingList stays unaware of phones
    if got is None:
        got = [phone_string(e.quick) for e in bias.entries]
        bias._quick_choices = got
    return got


def _greedy_phones(phone_logp: np.ndarray) -> list[tuple[int, int]]:
    best = phone_logp.argmax(-1)
    return [(int(b), t) for t, b in enumerate(best) if b != 0 and (t == 0 or b != best[t - 1])]


def heard_between(heard: list[tuple[int, int]], a: int, b: int) -> str:
    """What the phone head heard on frames ``a..b`` (one frame of slack each side), as a
    :func:`phone_string`."""
    return "".join(chr(0x100 + p) for p, t in heard if a - 1 <= t <= b + 1)


def word_frames(tokens: list[int], logp: np.ndarray, tok: Tokenizer,
                with_confidence: bool = False, memo: dict | None = None) -> list[tuple] | None:
    """(first, last) frame of each word of a token sequence, by forced alignment; with
    ``with_confidence``, also the geometric mean of its units' best posterior on their frames.
    ``memo``: alignments already made on this ``logp`` (one decode's), by token sequence."""
    key = tuple(tokens)
    if memo is not None and key in memo:
        spans = memo[key]
    else:
        spans = ctc_align(logp, tokens)
        if memo is not None:
            memo[key] = spans
    if spans is None:
        return None
    words: list[list] = []
    for t, (a, b) in zip(tokens, spans):
        lp = float(logp[a:b + 1, t].max())
        if tok.word_start(t) or not words:
            words.append([a, b, [lp]])
        else:
            words[-1][1] = b
            words[-1][2].append(lp)
    if with_confidence:
        return [(a, b, float(np.exp(np.mean(lps)))) for a, b, lps in words]
    return [(a, b) for a, b, _ in words]


def lookup(tokens: list[int], text: str, logp: np.ndarray, phone_logp: np.ndarray, tok: Tokenizer,
           bias: BiasingList, max_distance: float = 0.3, margin: float = 0.1, max_words: int = 4,
           shortlist: int = 5, memo: dict | None = None) -> str:
    """Return ``text`` with spans replaced by entities whose pronunciation the audio fits better."""
    words = text.split()
    if not words or not len(bias):
        return text
    frames = word_frames(tokens, logp, tok, memo=memo)
    if frames is None or len(frames) != len(words):
        return text
    heard = _greedy_phones(phone_logp)
    choices = quick_choices(bias)
    protected = {i for s, e, _ in entity_spans(words, bias) for i in range(s, e)}
    prons = _prons(set(words))
    found = []  # (gain, start, end, entry)
    for i in range(len(words)):
        for n in range(1, min(max_words, len(words) - i) + 1):
            if any(j in protected for j in range(i, i + n)):
                break
            a, b = frames[i][0], frames[i + n - 1][1]
            q = heard_between(heard, a, b)
            if len(q) < 2:
                continue
            # shortlist on the quick pronunciations, then judge with the full ones (G2P + variants)
            hits = process.extract(q, choices, scorer=Levenshtein.normalized_distance,
                                   score_cutoff=min(1.0, max_distance + 0.15), limit=shortlist)
            if not hits:
                continue
            full = bias.prons_many([h[2] for h in hits])
            d_entity, k = min((min(Levenshtein.normalized_distance(q, phone_string(p)) for p in full[h[2]]), h[2])
                              for h in hits)
            if d_entity > max_distance:
                continue
            cur = phone_string([p for w in words[i:i + n] for p in (prons[w][0] if prons[w] else [])])
            d_cur = Levenshtein.normalized_distance(q, cur) if cur else 1.0
            if d_entity + margin <= d_cur:
                found.append((d_cur - d_entity, i, i + n, k))
    used: set[int] = set()
    repl: dict[int, tuple[int, int]] = {}
    for gain, s, e, k in sorted(found, reverse=True):
        if used.isdisjoint(range(s, e)):
            used.update(range(s, e))
            repl[s] = (e, k)
    out, i = [], 0
    while i < len(words):
        if i in repl:
            e, k = repl[i]
            out.append(bias.entries[k].spoken)
            i = e
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)
