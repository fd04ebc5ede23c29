"""A word list as users write it: a JSON list of strings, or one entry a line.

One parser for every way a list comes in (the CLI's ``--words`` file, the service's ``words``
field or uploaded file, ``ctcbias batch``'s list files), so they accept and reject the same things
with the same messages, and read the same bytes as the same text.
"""

from __future__ import annotations

import json

from .biasing_list import BiasingListError
from .biasing_list import check_limits as check_word_list

__all__ = ["LATIN1_NOTE", "decode_word_list", "parse_word_list", "check_word_list", "BiasingListError"]

LATIN1_NOTE = "not UTF-8 text; read as Latin-1 (ISO 8859-1)"


def decode_word_list(data: bytes) -> tuple[str, str | None]:
    """The text of a word list's bytes, and a note when it was not UTF-8.

    UTF-8, or else Latin-1: the service's typed ``words`` field arrives already decoded that way
    (the form parser falls back to Latin-1), and a file of the same bytes must give the same list.

    >>> decode_word_list("Müller".encode("latin-1"))
    ('Müller', 'not UTF-8 text; read as Latin-1 (ISO 8859-1)')
    >>> decode_word_list("Müller".encode("utf-8"))
    ('Müller', None)
    """
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        return data.decode("latin-1"), LATIN1_NOTE


def parse_word_list(text: str) -> list[str]:
    """Entries of ``text``: a JSON list of strings, or one entry a line (blank lines skipped).

    Text that starts like JSON (``[`` or ``{``) must be a JSON list of strings: a list of other
    values, an object or JSON that does not parse raise :class:`BiasingListError`, since read as
    lines they would bias toward fragments of JSON. So does text with NUL characters: a UTF-16 or
    binary file read as 8-bit text.
    """
    text = text.lstrip("\ufeff").strip()  # a BOM from Windows editors is not part of the first entry
    if "\x00" in text:  # no text encoding a list is read in holds NUL; UTF-16 and binary files do
        raise BiasingListError("not text: it holds NUL bytes (UTF-16, or not a text file); save the list as UTF-8")
    if not text:
        return []
    if text[0] in "[{":
        try:
            value = json.loads(text)
        except ValueError as e:
            raise BiasingListError(f"looks like JSON but does not parse ({e.msg}, line {e.lineno} column {e.colno}); "
                                   "give a JSON list of strings or one entry a line") from None
        if not isinstance(value, list):  # text starting with "{" that parses: an object
            raise BiasingListError("a JSON object is not a word list; give a JSON list of strings or one entry a line")
        bad = [v for v in value if not isinstance(v, str)]
        if bad:
            raise BiasingListError(f"a JSON word list must hold only strings, not {json.dumps(bad[0])}")
        return [w.strip() for w in value if w.strip()]
    return [line.strip() for line in text.splitlines() if line.strip()]
