"""Carrier sentences from offline text sources, cleaned, normalized and split train/dev."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from pathlib import Path

from ..normalize import normalize

__all__ = ["carrier_sentences", "split_of", "word_counts"]

_MIN_WORDS, _MAX_WORDS = 4, 24
_SENT = re.compile(r"(?<=[.!?;:])\s+")
_JUNK = re.compile(r"https?://|www\.|[<>{}\[\]|\\_^~]|\t|\s--|^--")


def split_of(text: str, dev_percent: int = 3) -> str:
    """Stable train/dev split by content hash."""
    return "dev" if int(hashlib.sha1(text.encode()).hexdigest()[:8], 16) % 100 < dev_percent else "train"


def _fortunes() -> list[str]:
    root = Path("/usr/share/games/fortunes")
    out = []
    for f in sorted(root.glob("*")) if root.exists() else []:
        if f.is_file() and not f.suffix and f.name != "off":
            out += f.read_text(errors="ignore").split("\n%\n")
    return out


def _package_dir(name: str) -> Path:
    """Where an installed data package lies (found, not imported); a clear error if it is missing."""
    import importlib.util

    spec = importlib.util.find_spec(name)
    if spec is None or spec.origin is None:
        raise RuntimeError(f"the data factory needs the package {name!r}: pip install 'ctcbias[data]'")
    return Path(spec.origin).parent


def _chatterbot() -> list[str]:
    out = []
    for f in sorted((_package_dir("chatterbot_corpus") / "data" / "english").glob("*.yml")):
        for line in f.read_text(errors="ignore").splitlines():
            m = re.match(r"^\s*-\s*(?:-\s*)?(.+)$", line)
            if m:
                out.append(m.group(1).strip().strip("'\""))
    return out


def _kjv() -> list[str]:
    path = _package_dir("bible") / "data" / "kjv.jsonl"  # not imported: the package needs pkg_resources
    return [json.loads(l)["text"] for l in path.read_text().splitlines() if l.strip()]


SOURCES = {"fortunes": _fortunes, "chatterbot": _chatterbot, "kjv": _kjv}


def carrier_sentences() -> list[tuple[str, str, str]]:
    """(display, normalized, source) for every distinct clean sentence, in a stable order."""
    seen: set[str] = set()
    out = []
    for name, fn in SOURCES.items():
        for block in fn():
            if _JUNK.search(block):
                continue
            for sent in _SENT.split(" ".join(block.split())):
                norm = normalize(sent)
                n = len(norm.split())
                if _MIN_WORDS <= n <= _MAX_WORDS and norm not in seen and sum(c.isdigit() for c in sent) < 5:
                    seen.add(norm)
                    out.append((sent, norm, name))
    return out


def word_counts(sentences: list[tuple[str, str, str]]) -> Counter:
    return Counter(w for _, norm, _ in sentences for w in norm.split())
