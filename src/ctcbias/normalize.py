"""Text normalization to the spoken training form.

Everything the recognizer sees or emits is in one form: lowercase ASCII letters, apostrophes inside
words, single spaces. Numbers are spelled out, accents folded, hyphens and other punctuation become
word breaks. The same function normalizes training transcripts, LM text and users' biasing lists,
so that "COVID-19", "O'Brien" and "São Paulo" meet the model's output as "covid nineteen",
"o'brien" and "sao paulo".
"""

from __future__ import annotations

import re
import unicodedata

from num2words import num2words
from unidecode import unidecode

__all__ = ["normalize", "normalize_words", "is_normalized"]

# Written abbreviations that speakers expand (as LibriSpeech transcripts do: "mister", "doctor").
_ABBREV = {
    "mr": "mister",
    "mrs": "missus",
    "dr": "doctor",
    "st": "saint",
    "jr": "junior",
    "sr": "senior",
    "prof": "professor",
    "vs": "versus",
    "etc": "et cetera",
    "mg": "milligrams",
    "mcg": "micrograms",
    "ml": "milliliters",
    "kg": "kilograms",
    "km": "kilometers",
}
_DOLLARS = re.compile(r"\$\s?(\d+)")
_SYMBOLS = {"&": " and ", "%": " percent ", "+": " plus ", "@": " at ", "=": " equals ", "#": " number "}

_ORDINAL = re.compile(r"\b(\d+)(st|nd|rd|th)\b")
_DECIMAL = re.compile(r"\b(\d+)\.(\d+)\b")
_TIME = re.compile(r"\b(\d{1,2}):(\d{2})\b")
_NUMBER = re.compile(r"\d+")
_ABBREV_RE = re.compile(r"\b(" + "|".join(_ABBREV) + r")\b\.?")
_NOT_ALLOWED = re.compile(r"[^a-z' ]+")
_SPACES = re.compile(r"\s+")
_EDGE_APOS = re.compile(r"(^|\s)'+|'+(?=\s|$)")
_NORMALIZED = re.compile(r"^[a-z']+( [a-z']+)*$")
_PLAIN = re.compile(r"[A-Za-z]+(?: [A-Za-z]+)*\Z")


def _spell(n: str) -> str:
    return num2words(int(n)).replace("-", " ").replace(",", "")


def _time(m: re.Match) -> str:
    h, mm = int(m.group(1)), int(m.group(2))
    if mm == 0:
        return f"{_spell(str(h))} o'clock"
    if mm < 10:
        return f"{_spell(str(h))} oh {_spell(str(mm))}"
    return f"{_spell(str(h))} {_spell(str(mm))}"


def normalize(text: str) -> str:
    """Return the spoken form of ``text``; the empty string if nothing speakable is left.

    >>> normalize("Take 20 mg of Lisinopril at 8:30, Dr. O'Brien!")
    "take twenty milligrams of lisinopril at eight thirty doctor o'brien"
    >>> normalize("COVID-19 in São Paulo")
    'covid nineteen in sao paulo'
    """
    if _PLAIN.match(text):  # most list entries: letters and spaces only, no abbreviation
        words = text.lower().split()
        if not _ABBREV.keys() & words:
            return " ".join(words)
    t = unicodedata.normalize("NFKC", text)
    t = t.replace("\u2019", "'").replace("\u2018", "'").replace("`", "'")
    t = unidecode(t)  # São -> Sao, Zoë -> Zoe, ß -> ss; non-Latin scripts are transliterated
    t = _DOLLARS.sub(r"\1 dollars", t)
    for sym, word in _SYMBOLS.items():
        t = t.replace(sym, word)
    t = t.lower()
    t = _TIME.sub(_time, t)
    t = _ORDINAL.sub(lambda m: num2words(int(m.group(1)), to="ordinal").replace("-", " "), t)
    t = _DECIMAL.sub(lambda m: f"{_spell(m.group(1))} point " + " ".join(_spell(d) for d in m.group(2)), t)
    t = _NUMBER.sub(lambda m: f" {_spell(m.group(0))} ", t)
    t = _ABBREV_RE.sub(lambda m: _ABBREV[m.group(1)], t)
    t = _NOT_ALLOWED.sub(" ", t)
    t = _EDGE_APOS.sub(" ", t)
    return _SPACES.sub(" ", t).strip()


def normalize_words(text: str) -> list[str]:
    """``normalize`` split into words."""
    n = normalize(text)
    return n.split(" ") if n else []


def is_normalized(text: str) -> bool:
    return bool(_NORMALIZED.match(text))
