"""Grapheme-to-grapheme pronunciation variants (technique 5).

A rare name is often said otherwise than a G2P model guesses ("Siobhan", "Nguyen", "Xhaka"). A
table maps each grapheme (longest match first) to the phones it may stand for, with a cost; the
cheapest few spellings-out differ from the lexicon/G2P pronunciation and are kept as variants.
Phonetic rescoring and lexicon lookup then accept whichever variant the audio fits best.

    >>> variants("cyra", n=3)
    [['K', 'IY', 'R', 'AH'], ['K', 'Y', 'R', 'AH'], ['S', 'IY', 'R', 'AH']]
"""

from __future__ import annotations

import functools
import heapq

__all__ = ["TABLE", "variants"]

# grapheme -> [(phones, cost)], cost 0 for the most usual reading
_T = {
    "tion": [("SH AH N", 0)], "sion": [("ZH AH N", 0), ("SH AH N", 0.5)], "ough": [("AO", 0), ("OW", 0.7), ("AH F", 1)],
    "tch": [("CH", 0)], "sch": [("SH", 0), ("S K", 0.5)], "igh": [("AY", 0)], "eau": [("OW", 0)],
    "ph": [("F", 0)], "th": [("TH", 0), ("T", 0.7), ("DH", 0.8)], "sh": [("SH", 0)], "ch": [("CH", 0), ("K", 0.6), ("SH", 0.8)],
    "ck": [("K", 0)], "gh": [("G", 0), ("", 0.5), ("F", 1)], "qu": [("K W", 0), ("K", 0.6)], "kn": [("N", 0)],
    "wr": [("R", 0)], "ng": [("NG", 0), ("N G", 0.6)], "dg": [("JH", 0)], "zh": [("ZH", 0), ("JH", 0.5)],
    "kh": [("K", 0), ("HH", 0.8)], "gn": [("N", 0), ("G N", 0.5), ("N Y", 0.8)], "ll": [("L", 0), ("Y", 1)],
    "ai": [("EY", 0), ("AY", 0.6)], "ay": [("EY", 0), ("AY", 0.6)], "ee": [("IY", 0)], "ea": [("IY", 0), ("EH", 0.6), ("EY", 1)],
    "oo": [("UW", 0), ("UH", 0.6)], "ou": [("AW", 0), ("UW", 0.5), ("OW", 0.9)], "ow": [("OW", 0), ("AW", 0.5)],
    "ie": [("IY", 0), ("AY", 0.6), ("IY EH", 1)], "ei": [("EY", 0), ("AY", 0.5), ("IY", 0.6)], "au": [("AO", 0), ("AW", 0.5)],
    "oi": [("OY", 0)], "oy": [("OY", 0)], "ue": [("UW", 0)], "ui": [("UW IY", 0), ("W IY", 0.5), ("IH", 0.8)],
    "oe": [("OW", 0), ("IY", 0.8)], "ae": [("EY", 0), ("IY", 0.6), ("AY", 0.8)], "ia": [("IY AH", 0), ("Y AA", 0.7)],
    "io": [("IY OW", 0), ("Y OW", 0.7)], "er": [("ER", 0), ("EH R", 0.6)], "ar": [("AA R", 0), ("ER", 0.8)],
    "or": [("AO R", 0), ("ER", 0.8)], "ir": [("ER", 0), ("IH R", 0.6)], "ur": [("ER", 0), ("UH R", 0.8)],
    "a": [("AE", 0), ("AA", 0.4), ("AH", 0.5), ("EY", 0.7)], "e": [("EH", 0), ("IY", 0.5), ("AH", 0.6), ("", 0.7)],
    "i": [("IH", 0), ("IY", 0.4), ("AY", 0.6)], "o": [("AA", 0), ("OW", 0.3), ("AO", 0.6), ("AH", 0.7)],
    "u": [("AH", 0), ("UW", 0.4), ("Y UW", 0.7), ("UH", 0.8)], "y": [("IY", 0), ("Y", 0.3), ("AY", 0.6), ("IH", 0.7)],
    "b": [("B", 0)], "c": [("K", 0), ("S", 0.3), ("CH", 1)], "d": [("D", 0)], "f": [("F", 0)], "g": [("G", 0), ("JH", 0.5)],
    "h": [("HH", 0), ("", 0.5)], "j": [("JH", 0), ("Y", 0.6), ("HH", 0.8), ("ZH", 0.9)], "k": [("K", 0)],
    "l": [("L", 0)], "m": [("M", 0)], "n": [("N", 0)], "p": [("P", 0)], "q": [("K", 0)], "r": [("R", 0)],
    "s": [("S", 0), ("Z", 0.4), ("SH", 1)], "t": [("T", 0)], "v": [("V", 0)], "w": [("W", 0), ("V", 0.8)],
    "x": [("K S", 0), ("Z", 0.6), ("HH", 1)], "z": [("Z", 0), ("T S", 0.7), ("S", 0.8)], "'": [("", 0)],
}
TABLE: dict[str, list[tuple[list[str], float]]] = {g: [(p.split(), c) for p, c in opts] for g, opts in _T.items()}
_MAXG = max(map(len, TABLE))
_SPECIAL = {"_final_e": [([], 0.0)], "_final_a": [(["AH"], 0.0), (["AA"], 0.5)]}


@functools.lru_cache(maxsize=65536)
def _word_variants(word: str, n: int) -> tuple[tuple[str, ...], ...]:
    # Segment into graphemes (longest match; doubled consonants read once), then the n cheapest readings.
    segs, i = [], 0
    while i < len(word):
        for L in range(min(_MAXG, len(word) - i), 0, -1):
            g = word[i:i + L]
            if g in TABLE:
                if L == 1 and i > 0 and word[i - 1] == g and g not in "aeiouy":
                    g = ""  # "tt" -> one T
                segs.append(g)
                i += L
                break
        else:
            i += 1  # a letter without English reading (after normalization, rare): skip
    if word.endswith("e") and len(segs) > 2 and segs[-1] == "e":
        segs[-1] = "_final_e"
    elif len(segs) > 1 and segs[-1] == "a":
        segs[-1] = "_final_a"
    if n == 1:  # the cheapest reading: every grapheme's usual phones
        one = tuple(p for g in segs for p in ((_SPECIAL[g] if g in _SPECIAL else TABLE.get(g, [([], 0.0)]))[0][0]))
        return (one,) if one else ()
    heap: list[tuple[float, tuple[str, ...]]] = [(0.0, ())]
    for g in segs:
        opts = _SPECIAL[g] if g in _SPECIAL else ([([], 0.0)] if g == "" else TABLE[g])
        nxt = [(c + oc, seq + tuple(p)) for c, seq in heap for p, oc in opts]
        heap = heapq.nsmallest(n * 4, nxt, key=lambda x: x[0])
    seen, out = set(), []
    for _, seq in heap:
        if seq and seq not in seen:
            seen.add(seq)
            out.append(seq)
        if len(out) == n:
            break
    return tuple(out)


def variants(word: str, n: int = 3) -> list[list[str]]:
    """The ``n`` cheapest letter-by-letter readings of a normalized word, in ARPAbet."""
    return [list(v) for v in _word_variants(word, n)]
