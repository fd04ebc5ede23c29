"""A user's biasing list, compiled once: spoken forms, subwords, pronunciations, a prefix tree.

Each entry keeps its display form (what the transcript will show) and gets:
- its spoken form (``normalize``: case, punctuation, hyphens, digits, accents);
- its subword ids (top sentencepiece segmentations; every word tokenizes, seen or not);
- a quick pronunciation at once (CMUdict, else espeak-ng G2P, one batched call for the list's new
  words; a grapheme-to-grapheme reading where neither gives one), and its full pronunciations on
  demand (those plus grapheme-to-grapheme variants), only for the entries a decoder step shortlists;
- a path in a :class:`TokenTrie` over subword ids, so the beam search can ask in O(1) whether a
  hypothesis is inside an entity and whether it just completed one. Multi-word entries are one
  path across word boundaries, so phrases are matched as phrases.

Compiled lists are immutable and cached by content; nothing of one call's list reaches another.
"""

from __future__ import annotations

import collections
import functools
import itertools
import logging
import threading
import unicodedata
from dataclasses import dataclass

from ..normalize import normalize
from ..pronounce import pronounce
from . import g2g

__all__ = ["BiasingListError", "check_limits", "written_form", "screen", "warning_lines", "Entry", "TokenTrie",
           "BiasingList", "MAX_ENTRIES", "MAX_ENTRY_CHARS"]

MAX_ENTRIES = 100_000
MAX_ENTRY_CHARS = 200

log = logging.getLogger(__name__)

# invisible characters that ride along with pasted text or emoji: byte-order mark, zero-width
# space and joiner, variation selectors, the keycap mark, emoji tags
_INVISIBLE = {0xFEFF, 0x200B, 0x200D, 0xFE0E, 0xFE0F, 0x20E3}
_TEXT_SYMBOLS = {"\u00b0"}  # "°" is read as a word; other "So" symbols are pictographs (emoji, ©, ™, ★)


class BiasingListError(ValueError):
    """The word list cannot be used; the message says why."""


def check_limits(words: list[str], max_entries: int = MAX_ENTRIES, max_entry_chars: int = MAX_ENTRY_CHARS) -> None:
    """Raise :class:`BiasingListError` when ``words`` is over a size limit (the service sets its own)."""
    if len(words) > max_entries:
        raise BiasingListError(f"{len(words):,} entries; the limit is {max_entries:,}")
    for w in words:
        if len(w) > max_entry_chars:
            raise BiasingListError(f"an entry of {len(w)} characters (limit {max_entry_chars}): {w[:40]!r}...")


def written_form(raw: str) -> tuple[str, bool]:
    """``raw`` as the transcript may show it: emoji and other pictographs and invisible marks
    removed, whitespace collapsed; and whether a pictograph was removed (the user should hear of it).

    >>> written_form("Lisinopril \U0001F48A"), written_form("\ufeffOkafor"), written_form("I\u2764\ufe0fNY")
    (('Lisinopril', True), ('Okafor', False), ('I NY', True))
    """
    if raw.isascii():
        return " ".join(raw.split()), False
    out, pictographs = [], False
    for c in raw:
        o = ord(c)
        if o in _INVISIBLE or 0xE0000 <= o <= 0xE007F:
            continue
        cat = unicodedata.category(c)
        if (cat == "So" and c not in _TEXT_SYMBOLS) or 0x1F3FB <= o <= 0x1F3FF:  # skin tones are "Sk"
            pictographs = True
            out.append(" ")  # between words it stays a break; "I\u2764NY" is not "INY"
        else:
            out.append(c)
    return " ".join("".join(out).split()), pictographs


@dataclass(frozen=True)
class Entry:
    display: str
    spoken: str
    words: tuple[str, ...]
    tokens: tuple[tuple[int, ...], ...]  # subword segmentations of the whole entry
    quick: tuple[str, ...]  # the first pronunciation of each word: CMUdict, else G2P, else a g2g reading


class TokenTrie:
    """Prefix tree over subword ids. Node 0 is the root.

    >>> t = TokenTrie()
    >>> t.add((5, 9, 2), 0); t.add((5, 7), 1)
    >>> n = t.step(t.step(0, 5), 9); t.step(n, 2) is not None, t.ends[t.step(0, 5)]
    (True, ())
    """

    def __init__(self):
        self.children: list[dict[int, int]] = [{}]
        self.ends: list[tuple[int, ...]] = [()]

    def add(self, tokens: tuple[int, ...], entry: int) -> None:
        children, node = self.children, 0
        for t in tokens:
            kids = children[node]
            nxt = kids.get(t)
            if nxt is None:
                nxt = kids[t] = len(children)
                children.append({})
                self.ends.append(())
            node = nxt
        if entry not in self.ends[node]:
            self.ends[node] = self.ends[node] + (entry,)

    def step(self, node: int, token: int) -> int | None:
        return self.children[node].get(token)

    def __len__(self) -> int:
        return len(self.children)


_MISSING = object()
_PRON_CACHE: dict[str, list[list[str]]] = {}
_PRON_CACHE_MAX = 300_000  # words; a long-running service sees many lists (the oldest go first)
_PRON_LOCK = threading.Lock()


def word_prons(words: set[str]) -> dict[str, list[list[str]]]:
    """Lexicon/G2P pronunciations of words, one G2P call for all the new ones, cached. The cache
    only saves time: G2P gives a word the same phones whenever it is asked."""
    with _PRON_LOCK:
        missing = sorted(w for w in words if w not in _PRON_CACHE)
        got = {w: p for w, p in zip(missing, pronounce(missing))}
        out = {w: got[w] if w in got else _PRON_CACHE[w] for w in words}
        _PRON_CACHE.update(got)
        over = len(_PRON_CACHE) - _PRON_CACHE_MAX
        if over > 0:  # dicts keep insertion order: drop the oldest
            for w in list(itertools.islice(_PRON_CACHE, over)):
                del _PRON_CACHE[w]
        return out


def _quick(word: str, lex: dict[str, list[list[str]]]) -> tuple[str, ...]:
    known = lex.get(word)
    if known:
        return tuple(known[0])
    v = g2g.variants(word, 1)
    return tuple(v[0]) if v else ()


class BiasingList:
    def __init__(self, entries: list[Entry], rejected: list[tuple[str, str]], trie: TokenTrie,
                 variants: bool = True, changed: list[tuple[str, str]] | None = None):
        # rejected: (entry, why) of entries left out; changed: (entry, why) of entries kept in another form
        self.entries, self.rejected, self.trie, self.variants = entries, rejected, trie, variants
        self.changed = changed or []
        self.words = frozenset(w for e in entries for w in e.words)
        # the list size the lookup's judge weighs (chance matches grow with it): a shortlist of a
        # big list stands for the big list
        self.counts_as = len(entries)
        self.by_spoken = {e.spoken: i for i, e in enumerate(entries)}
        self._full: dict[int, tuple[tuple[str, ...], ...]] = {}
        self._lock = threading.Lock()
        # what the techniques derive from the list once and reuse on every call (its entries' phone
        # strings, a keyword-spotting graph, the adapter's catalogs), by name; see derived()
        self._derived: dict[str, object] = {}

    def derived(self, name: str, make):
        """``make(self)``, computed on first use and kept with the list under ``name``. The list
        itself never changes; this holds what is computed from it, so that a list compiled once
        pays each derivation once, whichever call asks first.

        >>> lst = BiasingList([], [], TokenTrie())
        >>> lst.derived("n", len), lst.derived("n", lambda _: 99)
        (0, 0)
        """
        got = self._derived.get(name, _MISSING)
        if got is _MISSING:
            value = make(self)
            with self._lock:
                got = self._derived.setdefault(name, value)
        return got

    @functools.cached_property
    def word_prefixes(self) -> frozenset[str]:
        """Every start of a list word: the beam search does not treat these as unknown words."""
        return frozenset(w[:i] for w in self.words for i in range(1, len(w) + 1))

    def prons(self, k: int) -> tuple[tuple[str, ...], ...]:
        """Full pronunciations of entry ``k``: lexicon/G2P first, then (with variants on) its
        grapheme-to-grapheme readings, one word at a time; computed once."""
        got = self._full.get(k)
        if got is None:
            got = self.prons_many([k])[k]
        return got

    def prons_many(self, ks) -> dict[int, tuple[tuple[str, ...], ...]]:
        todo = [k for k in dict.fromkeys(ks) if k not in self._full]
        if todo:
            lex = word_prons({w for k in todo for w in self.entries[k].words})
            with self._lock:
                for k in todo:
                    words = self.entries[k].words
                    base = [tuple(lex[w][0]) if lex[w] else () for w in words]
                    alts = [tuple(p for b in base for p in b)]
                    if self.variants:
                        for i, w in enumerate(words):
                            for v in [*lex[w][1:2], *g2g.variants(w, 2)]:
                                alts.append(tuple(p for j, b in enumerate(base) for p in (v if j == i else b)))
                    self._full[k] = tuple(dict.fromkeys(a for a in alts if a))[:6] or ((),)
        return {k: self._full[k] for k in ks}

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def warnings(self) -> list[str]:
        """One line per entry left out or changed, for the user (the CLI's stderr, the service's answer)."""
        return warning_lines(self.rejected, self.changed)

    @classmethod
    def compile(cls, items, tokenizer, variants: bool = True) -> "BiasingList":
        """Validate and compile ``items`` (strings). Cached by content."""
        if items is None:
            items = []
        if isinstance(items, str) or not all(isinstance(x, str) for x in items):
            raise BiasingListError("the word list must be a list of strings")
        check_limits(items)
        return _CACHE.get((tuple(items), tokenizer, variants))


class CompiledLists:
    """Compiled lists by content, the least recently used dropped first once they hold more than
    ``max_entries`` entries together (or ``max_lists`` lists). A compiled list's memory grows with
    its entries (their subwords, pronunciations, the adapter's catalog), so a count alone would let
    a few dozen 10,000-entry lists take the machine; the bound is on what they hold.

    >>> cache = CompiledLists(max_entries=5, make=lambda key: list(key))
    >>> a, b = cache.get(("x", "y", "z")), cache.get(("u", "v"))
    >>> cache.get(("x", "y", "z")) is a, len(cache)     # cached: the same object
    (True, 2)
    >>> _ = cache.get(("p", "q")); len(cache), cache.entries  # over 5 entries: the oldest used goes
    (2, 5)
    """

    def __init__(self, max_entries: int = 200_000, max_lists: int = 64, make=None):
        self.max_entries, self.max_lists = max_entries, max_lists
        self.make = make or (lambda key: _compile(*key))
        self._lists: "collections.OrderedDict[tuple, object]" = collections.OrderedDict()
        self.entries = 0
        self._lock = threading.Lock()

    def get(self, key: tuple):
        with self._lock:
            got = self._lists.get(key)
            if got is not None:
                self._lists.move_to_end(key)
                return got
        got = self.make(key)  # outside the lock: a big list takes a while, other calls go on
        with self._lock:
            if key not in self._lists:
                self._lists[key] = got
                self.entries += len(got)
                while len(self._lists) > 1 and (self.entries > self.max_entries or len(self._lists) > self.max_lists):
                    _, old = self._lists.popitem(last=False)
                    self.entries -= len(old)
            return self._lists.get(key, got)

    def clear(self) -> None:
        with self._lock:
            self._lists.clear()
            self.entries = 0

    def __len__(self) -> int:
        return len(self._lists)


def warning_lines(rejected: list[tuple[str, str]], changed: list[tuple[str, str]]) -> list[str]:
    """One line per entry left out or changed (:func:`screen`'s), as the user reads them."""
    return [f"skipped {raw!r}: {why}" for raw, why in rejected] + [f"{raw!r}: {why}" for raw, why in changed]


def screen(items) -> tuple[list[tuple[str, str]], list[tuple[str, str]], list[tuple[str, str]]]:
    """What a list keeps, before any subword or pronunciation: the (written, spoken) forms of the
    entries kept, and (entry, why) of those left out and of those changed. Cheap: the service
    answers these warnings without compiling.

    >>> keep, rejected, changed = screen(["Okafor", "okafor", "Lisinopril \U0001F48A", "?!"])
    >>> keep, [why for _, why in rejected], len(changed)
    ([('Okafor', 'okafor'), ('Lisinopril', 'lisinopril')], ["same spoken form as 'Okafor'", 'nothing speakable in it'], 1)
    """
    rejected: list[tuple[str, str]] = []
    changed: list[tuple[str, str]] = []
    keep: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    for raw in items:
        display, pictographs = written_form(raw)
        if pictographs and not display:
            rejected.append((raw, "only emoji or pictographs, nothing to write"))
        elif pictographs:
            changed.append((raw, f"emoji and pictographs left out: written {display!r}"))
        if not display:
            continue
        spoken = normalize(display)
        if not spoken:
            rejected.append((raw, "nothing speakable in it"))
        elif spoken in seen:
            rejected.append((raw, f"same spoken form as {seen[spoken]!r}"))
        else:
            seen[spoken] = display
            keep.append((display, spoken))
    return keep, rejected, changed


def _compile(items: tuple[str, ...], tokenizer, variants: bool) -> BiasingList:
    keep, rejected, changed = screen(items)
    entries, trie = [], TokenTrie()
    lex = word_prons({w for _, spoken in keep for w in spoken.split()})
    nbest = tokenizer.sp.nbest_encode_as_ids([spoken for _, spoken in keep], 2) if keep else []
    for (display, spoken), best in zip(keep, nbest):
        words = tuple(spoken.split())
        segs = tuple(dict.fromkeys(tuple(i + 1 for i in seg) for seg in best if seg))
        entry = Entry(display, spoken, words, segs, tuple(p for w in words for p in _quick(w, lex)))
        for seg in segs:
            trie.add(seg, len(entries))
        entries.append(entry)
    out = BiasingList(entries, rejected, trie, variants, changed)
    for line in out.warnings:  # once per compiled list (compiled lists are cached)
        log.warning("word list: %s", line)
    return out


_CACHE = CompiledLists()
