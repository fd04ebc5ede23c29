"""Shortlisting: the few entries of a big list that could be in one utterance.

A list of 10,000 entries costs the techniques and the contextual adapter time and precision on
every call (each entry is a chance match somewhere). Most of them plainly are not said. Two cheap
passes over the phone head's posteriors pick the ones that might be, and only those are decoded
with, as a small list of their own (:func:`sub_list`, a slice of the big list's compiled entries):

1. **Index** (:class:`PhoneIndex`, built once per list): every entry's quick pronunciation as
   phone pairs, adjacent and one apart (a misheard phone then spoils two pairs of each kind, not
   the entry). The utterance's pairs come from its heard phones and, per heard phone, the others
   the phone head gives some probability there. An entry's score is the share of its pairs the
   utterance has; the cost is the postings of the utterance's pairs, not the list's length.
2. **Spot** (:func:`~ctcbias.inference.align.ctc_keyword_scores`): the best-scored ``pool`` entries
   are aligned anywhere in the phone posteriors at once; those that fit within ``fit`` (cost per
   phone against the best path) go on, the best ``size`` of them by index score, spotting cost
   and length (a short entry fits somewhere in any utterance).

The shortlist holds the big list's closest sound-alikes of what was said, and boosting or the
adapter put one in where the words only came close. So each entity of the decode is then
**checked** on its own (:func:`confirmed`: a small network over its phone evidence and, in joint
biasing, the adapter's attention, fitted on dev by :mod:`ctcbias.training.shortlist_check`); a
doubted entity's words give way to the words the decode without the list heard in its time.

    >>> idx = PhoneIndex([["K", "AE", "T"], ["D", "AO", "G"]])
    >>> logp = np.log(np.eye(40)[[0, 20, 20, 2, 31, 0]] * 0.96 + 0.001)   # heard: K AE T
    >>> idx.scores(logp).round(2).tolist()
    [0.75, 0.0]
"""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property

import numpy as np

from ..tokenizer import PhoneSet
from .align import ctc_keyword_best, ranges
from .biasing_list import BiasingList
from .result import timed_words

__all__ = ["ATTENTION_CHECK_FEATURES", "CHECK_FEATURES", "PhoneIndex", "check_features", "confirmed", "phone_index", "shortlist", "sub_list"]

_PH = PhoneSet()
_N = len(_PH)
_ALT = 0.1  # a phone the head gives at least this probability on a heard phone's frames is also heard there


def _pairs(ids: np.ndarray, owner: np.ndarray, pos: np.ndarray):
    """(owner, key, position of the first phone) of every adjacent and one-apart phone pair within
    each owner's run of ``ids``; the key tells the two kinds apart."""
    out = []
    for gap, base in ((1, 0), (2, _N * _N)):
        same = owner[gap:] == owner[:-gap]
        out.append((owner[:-gap][same], base + ids[:-gap][same] * _N + ids[gap:][same], pos[:-gap][same]))
    return tuple(np.concatenate(x) for x in zip(*out))


_BAND = 4  # pairs of one entry match one place when their offsets agree within a band of this many phones


class PhoneIndex:
    """Entries' phone pairs as an inverted index (pair -> entries and where in them), for :meth:`scores`."""

    def __init__(self, prons):
        lens = np.fromiter((len(p) for p in prons), dtype=np.int64, count=len(prons))
        self._build(lens, np.fromiter((_PH.index[x] for p in prons for x in p), dtype=np.int64,
                                      count=int(lens.sum())))

    @classmethod
    def from_flat(cls, lens: np.ndarray, ids: np.ndarray) -> "PhoneIndex":
        """The index of the phone-id sequences ``ids`` holds one after another, ``lens`` long each."""
        idx = cls.__new__(cls)
        idx._build(lens, ids)
        return idx

    def _build(self, lens: np.ndarray, ids: np.ndarray) -> None:
        owner = np.repeat(np.arange(len(lens)), lens)
        pos = ranges(lens)
        owners, keys, at = _pairs(ids, owner, pos)
        order = np.argsort(keys, kind="stable")
        # key k's postings (entry, position in it) are [offsets[k], offsets[k + 1])
        self.owner, self.at = owners[order].astype(np.int32), at[order].astype(np.int32)
        self.offsets = np.searchsorted(keys[order], np.arange(2 * _N * _N + 1))
        self.pairs = np.bincount(owners, minlength=len(lens)).astype(np.float32)
        self.n = len(lens)

    def scores(self, phone_logp: np.ndarray) -> np.ndarray:
        """Per entry: how many of its pairs the utterance has in one place (the offsets of the
        entry's phones and the heard ones agreeing within a band), over its pairs + 1, so that a
        long entry matched counts for more than a short one matched as well."""
        heard = _heard(phone_logp)
        if len(heard) < 2 or not self.n:
            return np.zeros(self.n, dtype=np.float32)
        keys, where = [], []
        for gap, base in ((1, 0), (2, _N * _N)):
            for i, (a, b) in enumerate(zip(heard[:-gap], heard[gap:])):
                k = base + (a[:, None] * _N + b[None, :]).ravel()
                keys.append(k)
                where.append(np.full(len(k), i))
        keys, where = np.concatenate(keys), np.concatenate(where)
        lo, hi = self.offsets[keys], self.offsets[keys + 1]
        n = hi - lo
        if not n.sum():
            return np.zeros(self.n, dtype=np.float32)
        # every posting of every heard pair, without a loop over pairs
        idx = np.repeat(lo - np.cumsum(n) + n, n) + np.arange(int(n.sum()))
        owner, at = self.owner[idx].astype(np.int64), self.at[idx].astype(np.int64)
        diag = np.repeat(where, n) - at + 1024
        pair = at * 2 + np.repeat(keys >= _N * _N, n)  # the entry's pair: where it starts, and its kind
        best = np.zeros(self.n, dtype=np.int64)
        for shift in (0, _BAND // 2):  # two band grids, half a band apart: a place near a band's edge
            band = (diag + shift) // _BAND
            # each entry pair once per place (a heard pair may match it through several alternates)
            place, counts = _runs(_distinct((owner * 4096 + band) * 4096 + pair) // 4096)
            np.maximum.at(best, place // 4096, counts)
        return best.astype(np.float32) / (self.pairs + 1)


def _distinct(x: np.ndarray) -> np.ndarray:
    """``np.unique(x)``: a sort and a comparison; numpy's own took 70 times as long on these keys
    (~90,000 postings of a 10,000-entry list, most of a shortlist's time)."""
    s = np.sort(x)
    return s[np.r_[True, s[1:] != s[:-1]]] if len(s) else s


def _runs(s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(s, return_counts=True)`` of an already sorted ``s``."""
    if not len(s):
        return s, np.zeros(0, dtype=np.int64)
    at = np.flatnonzero(np.r_[True, s[1:] != s[:-1]])
    return s[at], np.diff(np.r_[at, len(s)])


def _heard(phone_logp: np.ndarray) -> list[np.ndarray]:
    """The heard phones (best unit per frame, repeats merged, blanks dropped), each with the other
    phones the head gives at least :data:`_ALT` on its frames."""
    best = phone_logp.argmax(-1)
    if not len(best):
        return []
    at = np.flatnonzero(np.r_[True, best[1:] != best[:-1]])  # where each run of one unit starts
    unit = best[at]
    said = unit != 0
    likely = np.maximum.reduceat(phone_logp[:, 1:], at, axis=0)[said] >= np.log(_ALT)
    likely[np.arange(len(likely)), unit[said] - 1] = True
    return [np.flatnonzero(row) + 1 for row in likely]


def phone_index(bias: BiasingList) -> PhoneIndex:
    """The list's :class:`PhoneIndex`, built once and kept with the list."""
    return bias.derived("phone_index", lambda b: PhoneIndex.from_flat(*b.quick_ids[:2]))


def shortlist(bias: BiasingList, phone_logp: np.ndarray, size: int = 30, pool: int = 1000,
              fit: float = 3.0, prefer_long: float = 1.0) -> list[int]:
    """The entries of ``bias`` that may be said in the utterance of ``phone_logp``: the ``pool``
    best by the phone-pair index, spotted; of those whose best place costs at most ``fit`` per
    phone, the ``size`` best by index score minus spotting cost plus ``prefer_long`` times the
    log of their phones, in list order."""
    if not len(bias) or not len(phone_logp):
        return []
    s = phone_index(bias).scores(phone_logp)
    cand = np.argsort(-s, kind="stable")[:pool]
    cand = cand[s[cand] > 0]
    if not len(cand):
        return []
    graph = bias.quick_graph(cand)
    best = ctc_keyword_best(phone_logp, graph)
    cost = -best / np.maximum(graph.lengths, 1)  # an empty pronunciation: -inf score, so +inf cost
    # the index alone ranks long entries that share common pairs too high, spotting alone short
    # ones that fit anywhere; together, with a bonus for length (a short entry fits somewhere in
    # any utterance at a low cost per phone), they rank the said entries best (on dev)
    order = np.argsort(cost - s[cand] - prefer_long * np.log(np.maximum(graph.lengths, 1)), kind="stable")
    return sorted(int(cand[j]) for j in order[:size] if cost[j] <= fit)


def sub_list(bias: BiasingList, ks: list[int], counts_as: int | None = None) -> BiasingList:
    """Entries ``ks`` of ``bias`` as a list of their own, from what the big list already computed
    (spoken forms, subwords, pronunciations): no tokenizing, no G2P. The lookup's judge counts it
    as the big list (at most ``counts_as`` entries): its entries are the likeliest chance matches
    of all the big list's."""
    out = bias.subset(ks)
    out.counts_as = min(len(bias), counts_as) if counts_as else len(bias)
    return out


# the check's evidence about one entity of a shortlist decode, in the order of its model's weights
CHECK_FEATURES = ("heard_distance", "spotted_cost", "log_phones", "confidence", "log10_list")
# and, where the contextual adapter attended over the shortlist (joint biasing), the adapter's view
# of the entity's frames: its strongest attention to the entry there, and the mean weight of the
# <no-bias> slot (how sure it is that no entry is said there)
ATTENTION_CHECK_FEATURES = ("attention_peak", "attention_none")


def check_features(run, result, bias: BiasingList,
                   opts) -> tuple[list[str], list[tuple[int, int, int]], list[dict[str, float]], list | None]:
    """The words of ``result`` (decoded on the shortlist ``bias`` under ``opts``), their entity spans,
    per span its evidence as a dict of :data:`CHECK_FEATURES` (the phone distance from what the
    phone head heard on the span's frames to the entry, the entry's best keyword-spotting cost per
    phone anywhere in the utterance, the log of its phones: a short entry matches somewhere by
    chance, the least confidence of its words in the forced alignment, and the size of the big list
    the shortlist came from: the bigger, the likelier a close sound-alike) and, when the adapter
    attended, :data:`ATTENTION_CHECK_FEATURES`; and the words' frames (None: no alignment)."""
    return _check(_Evidence(run, bias, opts), result)


def _check(ev: "_Evidence", result) -> tuple[list[str], list[tuple[int, int, int]], list[dict[str, float]], list | None]:
    """:func:`check_features` on evidence already gathered."""
    from ..normalize import normalize
    from .result import entity_spans

    words = normalize(result.raw_text).split()
    spans = entity_spans(words, ev.bias)
    if not spans:
        return words, [], [], None
    frames = ev.frames(words)
    spotted = ev.spotted([k for _, _, k in spans])
    return words, spans, [ev.row(s, e, k, frames, spotted[k]) for s, e, k in spans], frames


class _Evidence:
    """What the check's features are read from: the shortlist decode's posteriors, the phones the
    phone head heard, and the adapter's attention (joint biasing; else None)."""

    def __init__(self, run, bias: BiasingList, opts):
        self.run, self.bias, self.opts = run, bias, opts
        self.post = run.posteriors(bias, opts)

    # read on first use: a decode without entities needs neither
    @cached_property
    def heard(self) -> list[tuple[int, int]]:
        from .align import greedy_phones

        return greedy_phones(self.post.phone)

    @cached_property
    def att(self) -> np.ndarray | None:
        return self.post.attention if self.opts.uses_adapter else None

    def frames(self, words: list[str]) -> list | None:
        """The words' (first frame, last frame, confidence) in a forced alignment, or None."""
        from .align import word_frames

        tok = self.run.rec.tokenizer
        frames = word_frames(tok.encode(" ".join(words)), self.post.subword, tok, with_confidence=True)
        return frames if frames is not None and len(frames) == len(words) else None

    def spotted(self, ks: list[int]) -> dict[int, float]:
        """Each entry's best keyword-spotting cost per phone anywhere in the utterance."""
        ks = list(dict.fromkeys(ks))
        graph = self.bias.quick_graph(ks)
        cost = -ctc_keyword_best(self.post.phone, graph) / np.maximum(graph.lengths, 1)
        return dict(zip(ks, cost.tolist()))

    def row(self, s: int, e: int, k: int, frames, spotted: float) -> dict[str, float]:
        """The features of entry ``k`` on words ``s..e-1``."""
        from .align import heard_between
        from .entity_guard import phone_distance

        d, conf = 1.0, 0.0  # a hypothesis that does not align: as unlike the audio as can be
        if frames is not None:
            d = phone_distance(heard_between(self.heard, frames[s][0], frames[e - 1][1]), self.bias.prons(k))
            conf = min(f[2] for f in frames[s:e])
        row = dict(zip(CHECK_FEATURES, (min(d, 1.0), min(spotted, 3.0),
                                        float(np.log(max(len(self.bias.entries[k].quick), 1))), conf,
                                        float(np.log10(max(self.bias.counts_as, 1))))))
        if self.att is not None:
            # no alignment: the adapter's view of the whole utterance
            seg = self.att[frames[s][0]:frames[e - 1][1] + 1] if frames is not None else self.att
            row.update(attention_peak=float(seg[:, 1 + k].max()), attention_none=float(seg[:, 0].mean()))
        return row


def _rivals(ev: _Evidence, words: list[str], spans, rows: list[dict], odds: np.ndarray, places, opts,
            check) -> tuple[list[str], list[tuple[int, int, int]], np.ndarray, bool]:
    """Each entity of the decode against the shortlist's other entries heard about as close on its
    frames (at most ``opts.shortlist.rivals``, the closest first, each at most ``rival_distance``
    farther than the decoded entry): the one the check over the phone evidence believes most
    takes the span, if that check believes it more than the decoded one; ``check`` then judges it.
    Sound-alikes crowd a shortlist, and the decode often puts one in where another was said.
    Returns the words, spans and odds after the swaps, and whether any was made."""
    from .align import heard_between
    from .entity_guard import phone_distance

    so, bias = opts.shortlist, ev.bias
    decoded = {k for _, _, k in spans}
    tries = []  # per span, its rivals
    for j, (s, e, k) in enumerate(spans):
        q = heard_between(ev.heard, *places[j])
        near = sorted((phone_distance(q, bias.prons(r)), r) for r in range(len(bias)) if r not in decoded)
        tries.append([r for d, r in near[:so.rivals] if d < rows[j]["heard_distance"] + so.rival_distance])
    if not any(tries):
        return words, spans, odds, False
    spotted = ev.spotted([r for rs in tries for r in rs])
    # the rivals are weighed on the phone evidence alone: the adapter attends most to the entry
    # the decode already took, so its attention would favour the decoded one
    phones = ev.run.rec.shortlist_check
    base = phones.scores(rows)
    spans, odds, swapped = list(spans), np.array(odds, dtype=np.float64), False
    for j, rs in enumerate(tries):
        s, e, k = spans[j]
        best = None
        for r in rs:
            if r in {kk for _, _, kk in spans}:  # taken by an earlier span's swap
                continue
            said = bias.entries[r].spoken.split()
            trial = words[:s] + said + words[e:]
            row = ev.row(s, s + len(said), r, ev.frames(trial), spotted[r])
            o = float(phones.scores([row])[0])
            if o > base[j] and (best is None or o > best[0]):
                best = o, r, trial, row, len(said)
        if best is not None:
            _, r, words, row, n = best
            shift = n - (e - s)
            spans[j] = (s, s + n, r)
            spans[j + 1:] = [(a + shift, b + shift, kk) for a, b, kk in spans[j + 1:]]
            odds[j], swapped = float(check.scores([row])[0]), True
    return words, spans, odds, swapped


def confirmed(run, result, bias: BiasingList, opts):
    """``result``, decoded on the shortlist ``bias``, each entity first weighed against its rivals
    (:func:`_rivals`), with only the entities the shortlist check believes (the model's
    ``shortlist_check_joint.json`` where the adapter attended, else ``shortlist_check.json``); each
    other entity's words give way to the words decoding without the list heard in its time. The
    shortlist holds the big list's best sound-alikes of the utterance, and boosting or the adapter
    put one in where the words alone came close."""
    from .align import word_frames
    from .beam_search import beam_search

    ev = _Evidence(run, bias, opts)
    words, spans, rows, frames = _check(ev, result)
    if not spans:
        return result
    rec, tok = run.rec, run.rec.tokenizer
    check = (rec.joint_shortlist_check if ev.att is not None else None) or rec.shortlist_check
    odds = check.scores(rows)
    # each span's frames, which a rival put in its place keeps
    places = [(frames[s][0], frames[e - 1][1]) for s, e, _ in spans] if frames is not None else None
    swapped = False
    if places is not None and opts.shortlist.rivals:
        words, spans, odds, swapped = _rivals(ev, words, spans, rows, odds, places, opts, check)
    if (odds > opts.shortlist.confirm_threshold).all() and not swapped:
        return result
    drop = [j for j, o in enumerate(odds) if o <= opts.shortlist.confirm_threshold]
    other, at = [], None
    if drop and places is not None:
        # the no-list words around the doubted entities only: a beam search there, with a margin
        # for the words it cuts at its edges
        plain = run.posteriors(bias, replace(opts, bias="none")).subword
        margin = opts.shortlist.fallback_margin
        a = max(0, min(places[j][0] for j in drop) - margin)
        b = min(len(plain), max(places[j][1] for j in drop) + 1 + margin)
        nbest = beam_search(plain[a:b], tok, rec.lm if opts.use_lm else None,
                            replace(opts.beam, beam=opts.shortlist.fallback_beam))
        other = nbest[0].text.split() if nbest else []
        at = word_frames(list(nbest[0].tokens), plain[a:b], tok) if other else []
        at = [(f + a, g + a) for f, g in at] if at is not None else None
    out, i = [], 0
    for j in drop:
        s, e, _ = spans[j]
        out += words[i:s]
        if at is not None and len(at) == len(other):
            lo, hi = places[j]
            out += [w for w, (f, g) in zip(other, at) if lo <= (f + g) / 2 <= hi]
        i = e
    text = " ".join(out + words[i:])
    post = ev.post
    return rec._words(timed_words(text, tok.encode(text), post.subword, tok, post.duration), post, bias, opts, None)
