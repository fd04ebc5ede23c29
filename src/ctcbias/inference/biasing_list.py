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
import weakref
from dataclasses import dataclass

import numpy as np

from ..normalize import normalize
from ..pronounce import pronounce
from ..tokenizer import PhoneSet
from . import g2g
from .align import KeywordGraph, ranges

__all__ = ["BiasingListError", "COMPILED", "clear_caches", "check_limits", "written_form", "screen", "warning_lines",
           "Entry", "TokenTrie", "BiasingList", "MAX_ENTRIES", "MAX_ENTRY_CHARS"]

_PHONES = PhoneSet()
MAX_ENTRIES = 100_000
MAX_ENTRY_CHARS = 200
# compiled lists kept for later calls, by their estimated memory (BiasingList.nbytes), the least
# recently used dropped first: a 10,000-entry list holds ~40 MB, a 1,000-entry one with the
# adapter's catalog ~11 MB
CACHE_BYTES = 256 * 2**20
# compiled entries kept by their text across lists (a new list that repeats known entries compiles
# without the subword model or G2P): ~1 KB each
ENTRY_CACHE = 100_000
# a compiled entry's Python objects, the list's share of them (its subwords and pronunciation,
# the prefix tree's nodes, word prefixes, phone strings), measured with tracemalloc
ENTRY_BYTES = 4096

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


def _quick_ids(bias: "BiasingList") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    lens = np.fromiter((len(e.quick) for e in bias.entries), dtype=np.int64, count=len(bias.entries))
    ids = np.fromiter((_PHONES.index[p] for e in bias.entries for p in e.quick), dtype=np.int64,
                      count=int(lens.sum()))
    return lens, ids, np.cumsum(lens) - lens


class BiasingList:
    def __init__(self, entries: list[Entry], rejected: list[tuple[str, str]], trie: TokenTrie | None,
                 variants: bool = True, changed: list[tuple[str, str]] | None = None):
        # rejected: (entry, why) of entries left out; changed: (entry, why) of entries kept in another form;
        # trie None: built on first use (a big list decodes through shortlists with tries of their own)
        self.entries, self.rejected, self._trie, self.variants = entries, rejected, trie, variants
        self.changed = changed or []
        self.words = frozenset(w for e in entries for w in e.words)
        # the list size the lookup's judge weighs (chance matches grow with it): a shortlist of a
        # big list stands for the big list
        self.counts_as = len(entries)
        self.by_spoken = {e.spoken: i for i, e in enumerate(entries)}
        self._full: dict[int, tuple[tuple[str, ...], ...]] = {}
        self._parent: tuple[BiasingList, list[int]] | None = None  # (list, its entry of each of ours): subset()
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

    @property
    def trie(self) -> TokenTrie:
        """The entries' subword segmentations as one prefix tree."""
        if self._trie is None:
            trie = TokenTrie()
            for i, e in enumerate(self.entries):
                for seg in e.tokens:
                    trie.add(seg, i)
            with self._lock:
                if self._trie is None:
                    self._trie = trie
        return self._trie

    def nbytes(self) -> int:
        """The memory the list holds, estimated: its entries' Python objects at :data:`ENTRY_BYTES`
        each, plus the arrays and tensors derived from it (an adapter catalog, an index)."""
        return len(self.entries) * ENTRY_BYTES + _array_bytes(list(self._derived.values()), set())

    @functools.cached_property
    def word_prefixes(self) -> frozenset[str]:
        """Every start of a list word: the beam search does not treat these as unknown words."""
        return frozenset(w[:i] for w in self.words for i in range(1, len(w) + 1))

    def subset(self, ks: list[int]) -> "BiasingList":
        """Entries ``ks`` as a list of their own, with what this list already computed (spoken
        forms, subwords, pronunciations): no tokenizing, no G2P."""
        out = BiasingList([self.entries[k] for k in ks], [], None, self.variants)  # its trie: on first use
        out._full.update({i: self._full[k] for i, k in enumerate(ks) if k in self._full})
        out._parent = self, list(ks)  # pronunciations the subset works out are kept for this list too
        return out

    @property
    def quick_ids(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every entry's quick pronunciation as phone ids, one entry after another: (lengths, ids,
        where each entry starts); computed once."""
        return self.derived("quick_ids", _quick_ids)

    def quick_graph(self, ks) -> KeywordGraph:
        """The quick pronunciations of entries ``ks`` as one keyword-spotting graph."""
        lens, units, starts = self.quick_ids
        ks = np.asarray(ks, dtype=np.int64).reshape(-1)
        n = lens[ks]
        at = np.repeat(starts[ks], n) + ranges(n)  # each unit of each entry in turn
        return KeywordGraph.from_flat(n, units[at])

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
            if self._parent is not None:
                parent, at = self._parent
                with parent._lock:
                    parent._full.update({at[k]: self._full[k] for k in todo})
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
        return COMPILED.get((tuple(items), tokenizer, variants))


def _array_bytes(x, seen: set, depth: int = 0) -> int:
    """Bytes of the numpy arrays and torch tensors in ``x`` (containers and objects' attributes,
    a few levels down), each buffer counted once."""
    if depth > 4 or x is None or isinstance(x, (str, bytes, int, float, bool)):
        return 0
    if hasattr(x, "untyped_storage"):  # a torch tensor: its storage, shared by its views
        st = x.untyped_storage()
        key = st.data_ptr()
        if key in seen:
            return 0
        seen.add(key)
        return st.nbytes()
    if hasattr(x, "nbytes") and hasattr(x, "dtype"):  # numpy: a view's memory is its base's
        base = x if x.base is None else x.base
        if id(base) in seen:
            return 0
        seen.add(id(base))
        return int(base.nbytes) if hasattr(base, "nbytes") else int(x.nbytes)
    if isinstance(x, (list, tuple)):
        if x and isinstance(x[0], (str, int, float)):  # per-entry strings: counted in ENTRY_BYTES
            return 0
        return sum(_array_bytes(v, seen, depth + 1) for v in x)
    if hasattr(x, "values") and callable(x.values):  # dicts, weak dicts
        return sum(_array_bytes(v, seen, depth + 1) for v in list(x.values()))
    if hasattr(x, "__dict__"):
        return sum(_array_bytes(v, seen, depth + 1) for v in list(vars(x).values()))
    return 0


class CompiledLists:
    """Compiled lists by content, the least recently used dropped first once their memory
    (``size``: :meth:`BiasingList.nbytes`, which grows as calls derive things from a list, e.g. the
    adapter's catalog) is over ``max_bytes``. The most recent list always stays.

    >>> cache = CompiledLists(max_bytes=5, make=lambda key: list(key), size=len)
    >>> a, b = cache.get(("x", "y", "z")), cache.get(("u", "v"))
    >>> cache.get(("x", "y", "z")) is a, len(cache)     # cached: the same object
    (True, 2)
    >>> _ = cache.get(("p", "q")); len(cache), cache.nbytes  # over 5: the least recently used goes
    (2, 5)
    """

    def __init__(self, max_bytes: int | None = None, make=None, size=None):
        self.max_bytes = CACHE_BYTES if max_bytes is None else max_bytes
        self.make = make or (lambda key: _compile(*key))
        self.size = size or (lambda lst: lst.nbytes())
        self._lists: "collections.OrderedDict[tuple, object]" = collections.OrderedDict()
        self.nbytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple):
        with self._lock:
            got = self._lists.get(key)
            if got is not None:
                self._lists.move_to_end(key)
                self._trim()
                return got
        got = self.make(key)  # outside the lock: a big list takes a while, other calls go on
        with self._lock:
            if key not in self._lists:
                self._lists[key] = got
            self._lists.move_to_end(key)
            self._trim()
            return self._lists.get(key, got)

    def _trim(self) -> None:
        """Drop the least recently used lists while all of them hold more than ``max_bytes``
        (measured now: lists grow after they are cached)."""
        sizes = [self.size(v) for v in self._lists.values()]
        total = sum(sizes)
        for s in sizes:
            if total <= self.max_bytes or len(self._lists) == 1:
                break
            self._lists.popitem(last=False)
            total -= s
        self.nbytes = total

    def clear(self) -> None:
        with self._lock:
            self._lists.clear()
            self.nbytes = 0

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
        display, pictographs, spoken = _forms(raw)
        if pictographs and not display:
            rejected.append((raw, "only emoji or pictographs, nothing to write"))
        elif pictographs:
            changed.append((raw, f"emoji and pictographs left out: written {display!r}"))
        if not display:
            continue
        if not spoken:
            rejected.append((raw, "nothing speakable in it"))
        elif spoken in seen:
            rejected.append((raw, f"same spoken form as {seen[spoken]!r}"))
        else:
            seen[spoken] = display
            keep.append((display, spoken))
    return keep, rejected, changed


@functools.lru_cache(maxsize=ENTRY_CACHE)
def _forms(raw: str) -> tuple[str, bool, str]:
    """``raw``'s written form, whether pictographs were removed, and its spoken form."""
    display, pictographs = written_form(raw)
    return display, pictographs, normalize(display) if display else ""


# compiled entries by written form, per tokenizer (the model's subword model), least recently used last out
_ENTRIES: "weakref.WeakKeyDictionary[object, collections.OrderedDict[str, Entry]]" = weakref.WeakKeyDictionary()
_ENTRIES_LOCK = threading.Lock()


def _entries(keep: list[tuple[str, str]], tokenizer) -> list[Entry]:
    """The compiled entries of (written, spoken) forms: those compiled for an earlier list as they
    were (an entry compiles the same whatever list it is in), the others with one subword call and
    one G2P call for all of them."""
    with _ENTRIES_LOCK:
        known = _ENTRIES.setdefault(tokenizer, collections.OrderedDict())
        got = [known.get(display) for display, _ in keep]
    new = [ds for ds, e in zip(keep, got) if e is None]
    made = {}
    if new:
        lex = word_prons({w for _, spoken in new for w in spoken.split()})
        for (display, spoken), best in zip(new, tokenizer.sp.nbest_encode_as_ids([s for _, s in new], 2)):
            words = tuple(spoken.split())
            segs = tuple(dict.fromkeys(tuple(i + 1 for i in seg) for seg in best if seg))
            made[display] = Entry(display, spoken, words, segs, tuple(p for w in words for p in _quick(w, lex)))
    out = [e if e is not None else made[d] for (d, _), e in zip(keep, got)]
    with _ENTRIES_LOCK:
        for e in out:
            known[e.display] = e
            known.move_to_end(e.display)
        for _ in range(len(known) - ENTRY_CACHE):
            known.popitem(last=False)
    return out


def _compile(items: tuple[str, ...], tokenizer, variants: bool) -> BiasingList:
    keep, rejected, changed = screen(items)
    out = BiasingList(_entries(keep, tokenizer), rejected, None, variants, changed)
    for line in out.warnings:  # once per compiled list (compiled lists are cached)
        log.warning("word list: %s", line)
    return out


COMPILED = CompiledLists()  # every compiled list of this process, by content


def clear_caches() -> None:
    """Forget every compiled list and compiled entry, so that the next compile starts afresh."""
    COMPILED.clear()
    _ENTRIES.clear()
    _forms.cache_clear()
