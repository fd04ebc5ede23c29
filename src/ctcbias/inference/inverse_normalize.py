"""Inverse text normalization: the recognizer's spoken words back to written numbers.

The recognizer emits the spoken form (``normalize.py``): "take five hundred milligrams at two
thirty pm". This grammar writes numbers, ordinals, dates, times, money, percentages, units and
doses as a person would type them: "take 500 mg at 2:30 pm". It works on word lists and answers
spans, so that each written token keeps the times of the words it came from.

Style (close to news and clinical writing):

- cardinals from 10 up as digits ("twelve" -> "12", "twelve thousand five hundred" -> "12,500",
  four-digit numbers without a comma); zero to nine stay words ("two tablets", "one of them")
  unless a unit, a currency, a time or a date needs digits ("5 mg", "$3", "3 pm", "March 3rd");
  decimals always as digits ("two point five" -> "2.5"); round millions as "2 million";
- ordinals from 10th up as digits, first to ninth as words except in dates and street names;
- times: "two thirty pm" -> "2:30 pm", "at two thirty" -> "at 2:30", "seven oh five" -> "7:05",
  "eight o'clock" -> "8 o'clock"; "half past nine" and "noon" stay words;
- years: "nineteen ninety nine" -> "1999", "twenty twenty four" -> "2024";
- money: "$40", "$5.50", "$2 million", "€30", "50 cents"; percent: "50%";
- units: mg, mcg, ml, g, kg, km, cm, mm after a number.

    >>> inverse_normalize_text("take five hundred milligrams at two thirty pm on march third")
    'take 500 mg at 2:30 pm on March 3rd'
    >>> inverse_normalize_text("it cost forty dollars in nineteen ninety nine")
    'it cost $40 in 1999'
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Span", "inverse_normalize", "inverse_normalize_text"]

_UNITS = {w: i for i, w in enumerate("zero one two three four five six seven eight nine".split())}
_TEENS = {w: 10 + i for i, w in enumerate(
    "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * i for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
_SCALES = {"thousand": 10 ** 3, "million": 10 ** 6, "billion": 10 ** 9, "trillion": 10 ** 12}
_ORD = {"first": "one", "second": "two", "third": "three", "fourth": "four", "fifth": "five", "sixth": "six",
        "seventh": "seven", "eighth": "eight", "ninth": "nine", "tenth": "ten", "eleventh": "eleven",
        "twelfth": "twelve", "thirteenth": "thirteen", "fourteenth": "fourteen", "fifteenth": "fifteen",
        "sixteenth": "sixteen", "seventeenth": "seventeen", "eighteenth": "eighteen", "nineteenth": "nineteen",
        "twentieth": "twenty", "thirtieth": "thirty", "fortieth": "forty", "fiftieth": "fifty",
        "sixtieth": "sixty", "seventieth": "seventy", "eightieth": "eighty", "ninetieth": "ninety",
        "hundredth": "hundred", "thousandth": "thousand", "millionth": "million", "billionth": "billion"}
_MONTHS = {m.lower(): m for m in ("January February March April May June July August September October "
                                  "November December").split()}
# units written as symbols after a number (the reverse of normalize's abbreviations, and a few more)
_UNIT_ABBREV = {"milligram": "mg", "milligrams": "mg", "microgram": "mcg", "micrograms": "mcg",
                "milliliter": "ml", "milliliters": "ml", "millilitre": "ml", "millilitres": "ml",
                "gram": "g", "grams": "g", "kilogram": "kg", "kilograms": "kg", "kilometer": "km",
                "kilometers": "km", "kilometre": "km", "kilometres": "km", "centimeter": "cm",
                "centimeters": "cm", "millimeter": "mm", "millimeters": "mm", "percent": "%"}
# nouns after which even a small number is written in digits ("5 minutes" stays "five minutes")
_DIGIT_NOUNS = {"degrees", "degree", "units", "unit", "mph", "volts", "watts", "hertz", "bpm"}
_CURRENCY = {"dollars": "$", "dollar": "$", "bucks": "$", "euros": "€", "euro": "€"}
_STREETS = {"street", "avenue", "road", "floor", "century", "birthday", "anniversary", "place", "grade"}
_TIME_BEFORE = {"at", "by", "until", "till", "from", "around", "about", "after", "before", "since", "between",
                "to", "and", "past"}
_AMPM = {"am": "am", "pm": "pm"}
# spoken names that are written with a number
_PHRASES = {("covid", "nineteen"): "COVID-19"}


@dataclass(frozen=True)
class Span:
    """Words ``start`` to ``end`` (exclusive) are written as ``text``; ``parts``: its
    space-separated tokens, each with the words it comes from, ``(token, start, end)``."""

    start: int
    end: int
    parts: tuple[tuple[str, int, int], ...]

    @property
    def text(self) -> str:
        return " ".join(p[0] for p in self.parts)


def _span(*parts: tuple[str, int, int]) -> Span:
    return Span(parts[0][1], parts[-1][2], tuple(parts))


def _one(text: str, i: int, j: int) -> Span:
    return Span(i, j, ((text, i, j),))


@dataclass
class _Num:
    value: float
    end: int  # index after the number's last word
    ordinal: bool = False
    decimal: str | None = None  # "2.5": the written form when there was a "point"
    scale: str | None = None  # "million" when the number is N million (written "2 million")
    words: int = 1


def _small(w: list[str], i: int, stop: int) -> tuple[int, int] | None:
    """A number below 1,000 (or a "fifteen hundred"-style one) at ``w[i]``: (value, end)."""
    if i >= stop:
        return None
    a = w[i]
    if a == "a" and i + 1 < stop and w[i + 1] == "hundred":
        v, j = 100, i + 2
    elif a in _UNITS and a != "zero" and i + 1 < stop and w[i + 1] == "hundred":
        v, j = _UNITS[a] * 100, i + 2
    elif a in _TEENS and i + 1 < stop and w[i + 1] == "hundred":
        return _TEENS[a] * 100, i + 2 + _rest(w, i + 2, stop)[1]
    elif a in _TENS and i + 2 < stop and w[i + 1] in _UNITS and w[i + 1] != "zero" and w[i + 2] == "hundred":
        v = (_TENS[a] + _UNITS[w[i + 1]]) * 100
        r = _rest(w, i + 3, stop)
        return v + r[0], i + 3 + r[1]
    else:
        return _two(w, i, stop)
    r = _rest(w, j, stop)
    return v + r[0], j + r[1]


def _rest(w: list[str], j: int, stop: int) -> tuple[int, int]:
    """The tens and units after "hundred" ("and" allowed): (value, words taken)."""
    k = j + 1 if j < stop and w[j] == "and" else j
    t = _two(w, k, stop)
    if t is None or t[0] == 0:
        return 0, 0
    return t[0], t[1] - j


def _two(w: list[str], i: int, stop: int) -> tuple[int, int] | None:
    """0-99 at ``w[i]``: (value, end)."""
    if i >= stop:
        return None
    a = w[i]
    if a in _TENS:
        if i + 1 < stop and w[i + 1] in _UNITS and w[i + 1] != "zero":
            return _TENS[a] + _UNITS[w[i + 1]], i + 2
        return _TENS[a], i + 1
    if a in _TEENS:
        return _TEENS[a], i + 1
    if a in _UNITS:
        return _UNITS[a], i + 1
    return None


def _cardinal(w: list[str], i: int, stop: int) -> tuple[int, int] | None:
    """The longest cardinal at ``w[i]``: (value, end)."""
    first = _small(w, i, stop)
    if first is None:
        if i < stop and w[i] == "a" and i + 1 < stop and w[i + 1] in _SCALES:  # "a thousand"
            first = (1, i + 1)
        else:
            return None
    total, (v, j) = 0, first
    last_scale = 10 ** 15
    while True:
        if j < stop and w[j] in _SCALES and _SCALES[w[j]] < last_scale and v > 0:
            last_scale = _SCALES[w[j]]
            total += v * last_scale
            j += 1
            k = j + 1 if j < stop and w[j] == "and" else j  # "two thousand and five"
            nxt = _small(w, k, stop)
            if nxt is None or (k > j and nxt[0] >= 100) or w[k] == "a":
                return total, j
            v, j = nxt
            continue
        return total + v, j


def _number(w: list[str], i: int, stop: int) -> _Num | None:
    """A cardinal, decimal or ordinal at ``w[i]`` (ordinal words are read as their cardinal)."""
    # ordinals: the number's last word is an ordinal ("twenty first", "one hundredth")
    for k in range(i, min(stop, i + 8)):
        if k == i and w[k] in ("hundredth", "thousandth"):  # "the hundredth time"
            return _Num(100 if w[k] == "hundredth" else 1000, k + 1, ordinal=True)
        if w[k] in _ORD:
            view = w[:k] + [_ORD[w[k]]] + w[k + 1:]
            c = _cardinal(view, i, k + 1)
            if c is not None and c[1] == k + 1:
                return _Num(c[0], k + 1, ordinal=True, words=k + 1 - i)
            break
        if not (w[k] in _UNITS or w[k] in _TEENS or w[k] in _TENS or w[k] in ("hundred", "and", "a")
                or w[k] in _SCALES):
            break
    c = _cardinal(w, i, stop)
    if c is None:
        if i + 1 < stop and w[i] == "point" and w[i + 1] in _UNITS:  # "point five"
            c = (0, i)
        else:
            return None
    v, j = c
    if j < stop - 1 and w[j] == "point" and w[j + 1] in _UNITS:
        digits = []
        while j + 1 < stop and w[j + 1] in _UNITS:
            digits.append(str(_UNITS[w[j + 1]]))
            j += 1
        j += 1
        dec = f"{v}.{''.join(digits)}"
        if j < stop and w[j] in _SCALES:  # "one point five million"
            return _Num(float(dec) * _SCALES[w[j]], j + 1, decimal=dec, scale=w[j], words=j + 1 - i)
        return _Num(float(dec), j, decimal=dec, words=j - i)
    if c == (0, i):
        return None
    num = _Num(v, j, words=j - i)
    if w[j - 1] in ("million", "billion", "trillion") and v % _SCALES[w[j - 1]] == 0:
        num.scale = w[j - 1]
    return num


def _digits(n: _Num, i: int, prefix: str = "") -> list[tuple[str, int, int]]:
    """The written tokens of the number at ``w[i]``: "12,500", "2.5", "2 million", "1999"."""
    if n.decimal is not None and n.scale is None:
        return [(prefix + n.decimal, i, n.end)]
    if n.scale is not None:
        lead = n.decimal if n.decimal is not None else str(int(n.value // _SCALES[n.scale]))
        return [(prefix + lead, i, n.end - 1), (n.scale, n.end - 1, n.end)]
    v = int(n.value)
    return [(prefix + (f"{v:,}" if v >= 10000 else str(v)), i, n.end)]


def _suffix(v: int) -> str:
    if 10 <= v % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(v % 10, "th")


def _hour(w: list[str], i: int, stop: int) -> int | None:
    if i < stop and (w[i] in _UNITS or w[i] in ("ten", "eleven", "twelve")):
        h = _UNITS.get(w[i], _TEENS.get(w[i]))
        return h if 1 <= h <= 12 else None
    return None


def _ampm(w: list[str], j: int, stop: int) -> tuple[str, int] | None:
    if j < stop and w[j] in _AMPM:
        return _AMPM[w[j]], j + 1
    if j + 1 < stop and w[j] in ("a", "p") and w[j + 1] == "m":
        return w[j] + "m", j + 2
    return None


def _time(w: list[str], i: int, stop: int) -> Span | None:
    """"two thirty pm", "at two thirty", "seven oh five", "eight o'clock", "three pm"."""
    h = _hour(w, i, stop)
    if h is None:
        return None
    j = i + 1
    if j < stop and w[j] == "o'clock":
        return _span((str(h), i, j), ("o'clock", j, j + 1))
    ap = _ampm(w, j, stop)
    if ap is not None:
        return _span((str(h), i, j), (ap[0], j, ap[1]))
    m, oh = None, False
    if j + 1 < stop and w[j] == "oh" and w[j + 1] in _UNITS and w[j + 1] != "zero":
        m, j, oh = _UNITS[w[j + 1]], j + 2, True
    else:
        t = _two(w, j, stop)
        if t is not None and 10 <= t[0] <= 59:
            m, j = t
    if m is None:
        return None
    ap = _ampm(w, j, stop)
    if ap is None and not oh and not (i > 0 and w[i - 1] in _TIME_BEFORE):
        return None
    if ap:
        return _span((f"{h}:{m:02d}", i, j), (ap[0], j, ap[1]))
    return _one(f"{h}:{m:02d}", i, j)


def _year(w: list[str], i: int, stop: int) -> Span | None:
    """"nineteen ninety nine" -> 1999, "twenty oh five" -> 2005, "nineteen hundred" -> 1900."""
    if i >= stop:
        return None
    a = w[i]
    if not (a in ("fifteen", "sixteen", "seventeen", "eighteen", "nineteen", "twenty")):
        return None
    hi = _TEENS.get(a) or _TENS[a]
    if i + 1 >= stop:
        return None
    if w[i + 1] == "hundred" and hi < 20 and _two(w, i + 2, stop) is None:
        return _one(f"{hi}00", i, i + 2)
    if i + 2 < stop and w[i + 1] == "oh" and w[i + 2] in _UNITS and w[i + 2] != "zero":
        return _one(f"{hi}0{_UNITS[w[i + 2]]}", i, i + 3)
    t = _two(w, i + 1, stop)
    if t is None or t[0] < 10 or (hi == 20 and i + 1 < stop and w[i + 1] in _UNITS):
        return None
    return _one(f"{hi}{t[0]:02d}", i, t[1])


def _year_after(w: list[str], i: int, stop: int) -> Span | None:
    """A year after a month or a day: "nineteen ninety" or "two thousand and one"."""
    y = _year(w, i, stop)
    if y is not None:
        return y
    n = _number(w, i, stop)
    if n is not None and not n.ordinal and n.decimal is None and 1000 <= n.value <= 2099:
        return _one(str(int(n.value)), i, n.end)
    return None


def _date(w: list[str], i: int, stop: int) -> Span | None:
    """"march third" -> "March 3rd", "march third twenty twenty four" -> "March 3rd, 2024",
    "march twenty twenty four" -> "March 2024"; "the third of march" -> "the 3rd of March"."""
    if w[i] in _MONTHS:
        month = _MONTHS[w[i]]
        n = _number(w, i + 1, stop)
        if n is not None and n.ordinal and 1 <= n.value <= 31:
            v = int(n.value)
            y = _year_after(w, n.end, stop)
            if y is not None:
                return _span((month, i, i + 1), (f"{v}{_suffix(v)},", i + 1, n.end), (y.text, y.start, y.end))
            return _span((month, i, i + 1), (f"{v}{_suffix(v)}", i + 1, n.end))
        y = _year_after(w, i + 1, stop)
        if y is not None:
            return _span((month, i, i + 1), (y.text, y.start, y.end))
        if n is not None and not n.ordinal and 1 <= n.value <= 31 and n.decimal is None \
                and w[i] not in ("may", "march") \
                and not (n.end < stop and w[n.end] in _CURRENCY):
            v = int(n.value)
            y = _year_after(w, n.end, stop)
            if y is not None:
                return _span((month, i, i + 1), (f"{v},", i + 1, n.end), (y.text, y.start, y.end))
            return _span((month, i, i + 1), (str(v), i + 1, n.end))
        return None
    n = _number(w, i, stop)
    if n is not None and n.ordinal and 1 <= n.value <= 31 and n.end + 1 < stop and w[n.end] == "of" \
            and w[n.end + 1] in _MONTHS:
        v = int(n.value)
        return _span((f"{v}{_suffix(v)}", i, n.end), ("of", n.end, n.end + 1),
                     (_MONTHS[w[n.end + 1]], n.end + 1, n.end + 2))
    return None


def _money(w: list[str], n: _Num, i: int, stop: int, sign: str = "") -> Span | None:
    j = n.end
    if j < stop and w[j] in _CURRENCY and not n.ordinal:
        sym = _CURRENCY[w[j]]
        j += 1
        # "five dollars and fifty cents", "five dollars fifty"
        k = j + 1 if j < stop and w[j] == "and" else j
        c = _two(w, k, stop)
        if c is not None and n.decimal is None and n.scale is None and c[0] > 0:
            cents_end = c[1] + 1 if c[1] < stop and w[c[1]] in ("cents", "cent") else c[1]
            if cents_end > c[1] or k == j:
                return _one(f"{sign}{sym}{int(n.value)}.{c[0]:02d}", i, cents_end)
        parts = _digits(n, i, sign + sym)
        return _span(*parts[:-1], (parts[-1][0], parts[-1][1], j))
    if j < stop and w[j] in ("cents", "cent") and not n.ordinal:
        return _span(*_digits(n, i, sign), ("cents", j, j + 1))
    return None


def inverse_normalize(words: list[str], frozen: list[bool] | None = None) -> list[Span]:
    """The spans of ``words`` (lower-case spoken words) written otherwise, left to right, not
    overlapping; words marked ``frozen`` (the user's listed entities) are never part of one."""
    w = [x.lower() for x in words]
    n_words = len(w)
    out: list[Span] = []
    i = 0
    while i < n_words:
        if frozen is not None and frozen[i]:
            i += 1
            continue
        stop = i
        while stop < n_words and not (frozen is not None and frozen[stop]):
            stop += 1
        span = _at(w, i, stop)
        if span is None:
            i += 1
            continue
        if span.text != " ".join(w[span.start:span.end]):
            out.append(span)
        i = span.end
    return out


def _at(w: list[str], i: int, stop: int) -> Span | None:
    """The written form starting at ``w[i]`` (words up to ``stop``), or None."""
    key = tuple(w[i:i + 2])
    if key in _PHRASES and i + 2 <= stop:
        return _one(_PHRASES[key], i, i + 2)
    d = _date(w, i, stop)
    if d is not None:
        return d
    t = _time(w, i, stop)
    if t is not None:
        return t
    y = _year(w, i, stop)
    if y is not None and not (y.end < stop and (w[y.end] in _SCALES or w[y.end] in _CURRENCY
                                                or w[y.end] in _UNIT_ABBREV or w[y.end] == "point")):
        return y
    neg = w[i] == "minus" and (i == 0 or _two(w, i - 1, stop) is None)
    n = _number(w, i + 1 if neg else i, stop)
    if n is None:
        return None
    sign = "-" if neg else ""
    m = _money(w, n, i, stop, sign)
    if m is not None:
        return m
    j = n.end
    if n.ordinal:
        v = int(n.value)
        if v >= 10 or (j < stop and w[j] in _STREETS):
            return _one(f"{sign}{v}{_suffix(v)}", i, j)
        return _one(" ".join(w[i:j]), i, j)
    if j < stop and w[j] in _UNIT_ABBREV:
        unit = _UNIT_ABBREV[w[j]]
        parts = _digits(n, i, sign)
        if unit == "%":
            return _span(*parts[:-1], (parts[-1][0] + "%", parts[-1][1], j + 1))
        return _span(*parts, (unit, j, j + 1))
    if (j < stop and w[j] in _DIGIT_NOUNS) or n.value >= 10 or n.decimal is not None or neg:
        return _span(*_digits(n, i, sign))
    return _one(" ".join(w[i:j]), i, j)


def inverse_normalize_text(text: str) -> str:
    """:func:`inverse_normalize` on a string of words."""
    w = text.split()
    out, i = [], 0
    for s in inverse_normalize(w):
        out += w[i:s.start] + [s.text]
        i = s.end
    return " ".join(out + w[i:])
