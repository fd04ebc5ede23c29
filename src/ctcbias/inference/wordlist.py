"""A word list as users write it: a JSON list of strings, or one entry a line.

One parser for every way a list comes in (the CLI's ``--words`` file, the service's ``words``
field or uploaded file), so they accept and reject the same things with the same messages.
"""

from __future__ import annotations

import json

from .biasing_list import BiasingListError
from .biasing_list import check_limits as check_word_list

__all__ = ["parse_word_list", "check_word_list", "BiasingListError"]


def parse_word_list(text: str) -> list[str]:
    """Entries of ``text``: a JSON list of strings, or one entry a line (blank lines skipped).

    Text that starts like JSON (``[`` or ``{``) must be a JSON list of strings: a list of other
    values, an object or JSON that does not parse raise :class:`BiasingListError`, since read as
    lines they would bias toward fragments of JSON.
    """
    text = text.lstrip("\ufeff").strip()  # a BOM from Windows editors is not part of the first entry
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
