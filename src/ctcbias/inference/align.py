"""CTC forced alignment (Viterbi): which frames each unit of a known sequence occupies.

Used for word times of beam-search output, for the windows lexicon lookup scores, and for its
keyword spotting (where in the audio each list entry fits best); with the phone strings that the
lookup and the entity guard compare by edit distance; and the CTC likelihood of sequences, which
phonetic rescoring and the lookup weigh. The Viterbi and forward loops (a step per frame and state,
many small steps) are compiled with numba on first use and cached.

    >>> from rapidfuzz.distance import Levenshtein
    >>> heard, said = phone_string(["OW", "K", "AA", "F", "ER"]), phone_string(["OW", "K", "AA", "F", "AO", "R"])
    >>> round(Levenshtein.normalized_distance(heard, said), 2)  # "Okafor" heard with one vowel off
    0.33
"""

from __future__ import annotations

from itertools import chain

import numpy as np
from numba import njit

from ..tokenizer import PhoneSet, Tokenizer

__all__ = ["KeywordGraph", "best_places", "ctc_align", "ctc_cost", "ctc_cost_windows", "ctc_keyword_scores",
           "ctc_keyword_track", "greedy_phones", "heard_between", "index_string", "phone_string", "ranges", "warm_up",
           "window_best", "word_frames"]


def _compiled(fn):
    """``fn`` compiled with numba, its machine code cached on disk where numba finds a writable
    place (beside the package, else the user's cache); else compiled afresh in each process."""
    try:
        return njit(cache=True)(fn)
    except RuntimeError:  # numba: "cannot cache function ...: no locator available"
        return njit(fn)


def ranges(lens: np.ndarray) -> np.ndarray:
    """0..len-1 for each length, concatenated: each item's place in its sequence.

    >>> ranges(np.array([2, 3])).tolist()
    [0, 1, 0, 1, 2]
    """
    ends = np.cumsum(lens)
    return np.arange(int(ends[-1]) if len(ends) else 0) - np.repeat(ends - lens, lens)


def ctc_align(logp: np.ndarray, units: list[int]) -> list[tuple[int, int]] | None:
    """(first frame, last frame) of each unit on the best CTC path; None if it cannot fit."""
    T, L = logp.shape[0], len(units)
    if L == 0:
        return []
    if T == 0:
        return None
    ext = np.zeros(2 * L + 1, dtype=np.int64)
    ext[1::2] = units
    skip = np.zeros(len(ext), dtype=np.bool_)  # s-2 -> s allowed: non-blank differing from the one before
    skip[3::2] = ext[3::2] != ext[1:-2:2]
    s, back = _align_viterbi(np.ascontiguousarray(logp[:, ext], dtype=np.float64), skip)
    if s < 0:
        return None
    spans = [[-1, -1] for _ in range(L)]
    for t in range(T - 1, -1, -1):
        if s % 2 == 1:
            u = s // 2
            spans[u][0] = t
            if spans[u][1] < 0:
                spans[u][1] = t
        s -= int(back[t, s])
    return [tuple(x) for x in spans]


@_compiled
def _align_viterbi(emit, skip):
    """The best path's moves (0 stay, 1 from s-1, 2 from s-2; ties: the earlier) per frame and
    state of the extended sequence, and its last state (-1: no path fits)."""
    T, S = emit.shape
    back = np.zeros((T, S), dtype=np.int8)
    score = np.full(S, -np.inf)
    new = np.empty(S)
    score[0] = emit[0, 0]
    if S > 1:
        score[1] = emit[0, 1]
    for t in range(1, T):
        for s in range(S):
            best, move = score[s], 0
            if s >= 1 and score[s - 1] > best:
                best, move = score[s - 1], 1
            if s >= 2 and skip[s] and score[s - 2] > best:
                best, move = score[s - 2], 2
            back[t, s] = move
            new[s] = best + emit[t, s]
        score, new = new, score
    last = S - 1 if S < 2 or score[S - 1] >= score[S - 2] else S - 2
    return (last if np.isfinite(score[last]) else -1), back


def ctc_cost(logp: np.ndarray, sequences: list[list[int]]) -> np.ndarray:
    """Negative CTC log-likelihood of each sequence under ``logp`` (frames, units)."""
    return ctc_cost_windows(logp, [(0, len(logp) - 1, s) for s in sequences])


def ctc_cost_windows(logp: np.ndarray, jobs: list[tuple[int, int, list[int]]]) -> np.ndarray:
    """Negative CTC log-likelihood of each ``units`` sequence on frames ``a..b`` of ``logp``.

    The forward pass in probabilities renormalized every frame (the scaled forward of HMMs: the
    log of each frame's sum is kept instead), in float64: only products and sums per state, where
    the log-space pass needs a log-add-exp per state. It agrees with torch's ``ctc_loss`` (float32,
    log space) to about 1e-6 relative, in a quarter of its time on a phonetic rescoring's few
    dozen sequences."""
    n = len(jobs)
    if not n:
        return np.zeros(0)
    lens = np.fromiter((len(u) for _, _, u in jobs), dtype=np.int64, count=n)
    first = np.fromiter((a for a, _, _ in jobs), dtype=np.int64, count=n)
    frames = np.fromiter((b - a + 1 for a, b, _ in jobs), dtype=np.int64, count=n)
    units = np.fromiter(chain.from_iterable(u for _, _, u in jobs), dtype=np.int64, count=int(lens.sum()))
    lo = int(first.min())
    hi = max(lo, int((first + frames).max()))
    prob = np.exp(np.asarray(logp[lo:hi], dtype=np.float64))  # only the frames the windows cover
    return _ctc_forward(prob, first - lo, frames, units, np.cumsum(lens) - lens, lens)


@_compiled
def _ctc_forward(prob, first, frames, units, starts, lens):
    """:func:`ctc_cost_windows`' loop: per job, the CTC forward over its frames of ``prob``, each
    frame's state probabilities divided by their sum, whose logs add up to the likelihood's."""
    n = len(first)
    out = np.empty(n)
    S_max = 2 * lens.max() + 1
    # two zero states before state 0 stand for the moves from s - 1 and s - 2 there
    a, b = np.zeros(S_max + 2), np.zeros(S_max + 2)
    ext, skip = np.zeros(S_max, dtype=np.int64), np.zeros(S_max)
    for j in range(n):
        S = 2 * lens[j] + 1
        if frames[j] <= 0:
            out[j] = 0.0 if S == 1 else np.inf
            continue
        for s in range(S):  # blank, u1, blank, u2, ..., blank; s - 2 -> s between different units
            ext[s] = units[starts[j] + s // 2] if s % 2 == 1 else 0
            skip[s] = 1.0 if s % 2 == 1 and s >= 3 and ext[s] != ext[s - 2] else 0.0
        a[:] = 0.0
        b[:] = 0.0
        t0 = first[j]
        a[2] = prob[t0, 0]
        if S > 1:
            a[3] = prob[t0, ext[1]]
        log_z, alive = 0.0, True
        for t in range(frames[j]):
            if t:
                row = prob[t0 + t]
                for s in range(S):
                    b[2 + s] = (a[2 + s] + a[1 + s] + skip[s] * a[s]) * row[ext[s]]
                a, b = b, a
            total = 0.0
            for s in range(S):
                total += a[2 + s]
            if total <= 0.0:
                alive = False
                break
            inv = 1.0 / total
            for s in range(S):
                a[2 + s] *= inv
            log_z += np.log(total)
        end = a[2 + S - 1] + (a[2 + S - 2] if S > 1 else 0.0)
        out[j] = -(np.log(end) + log_z) if alive and end > 0.0 else np.inf
    return out


class KeywordGraph:
    """Many unit sequences as one row of CTC states (blank, u1, blank, u2, ..., blank each), for
    :func:`ctc_keyword_scores`. Built once per list and reused for every utterance."""

    def __init__(self, sequences: list[list[int]]):
        lens = np.fromiter(map(len, sequences), dtype=np.int64, count=len(sequences))
        self._build(lens, np.fromiter(chain.from_iterable(sequences), dtype=np.int64, count=int(lens.sum())))

    @classmethod
    def from_flat(cls, lens: np.ndarray, units: np.ndarray) -> "KeywordGraph":
        """The graph of the sequences ``units`` holds one after another, ``lens`` long each."""
        g = cls.__new__(cls)
        g._build(np.asarray(lens, dtype=np.int64), np.asarray(units, dtype=np.int64))
        return g

    def _build(self, lens: np.ndarray, units: np.ndarray) -> None:
        self.first = np.cumsum(2 * lens + 1) - (2 * lens + 1)
        S = int(2 * lens.sum() + len(lens))
        j = ranges(lens)  # each unit's place in its sequence
        at = np.repeat(self.first, lens) + 2 * j + 1
        self.ext = np.zeros(S, dtype=np.int64)
        self.ext[at] = units
        skip = np.zeros(S, dtype=bool)  # blank may be skipped between different units
        skip[at] = (j > 0) & (units != np.r_[-1, units[:-1]])
        self.last = np.r_[self.first[1:], S] - 1
        self.enter = np.zeros(S, dtype=bool)  # a keyword starts on its first unit and ends on its last
        self.enter[np.minimum(self.first + 1, self.last)] = True
        self.from1 = np.ones(S, dtype=bool)  # s-1 -> s stays inside one keyword
        self.from1[self.first] = False
        self.from2 = skip
        self.from2[np.minimum(self.first + 1, S - 1)] = False
        self.lengths = (self.last - self.first) // 2


def ctc_keyword_scores(logp: np.ndarray, graph: KeywordGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Keyword spotting: for each sequence of ``graph``, its best CTC alignment anywhere in the
    utterance, scored against the unconstrained best path on the same frames (0: the best path
    itself says it; more negative: less likely). Returns (score, first frame, last frame)."""
    K = len(graph.first)
    ends, starts = ctc_keyword_track(logp, graph)
    if not len(ends):
        return np.full(K, -np.inf), np.zeros(K, dtype=np.int64), np.zeros(K, dtype=np.int64)
    best, first, last = best_places(ends, starts, graph)
    return best.astype(np.float64), first, last


def best_places(ends: np.ndarray, starts: np.ndarray, graph: KeywordGraph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each keyword's best place in :func:`ctc_keyword_track`'s tables (at least one frame):
    (score, first frame, last frame); on ties the later end, so the span covers the whole last
    unit. An empty keyword scores -inf: it is nowhere, not everywhere."""
    at = len(ends) - 1 - ends[::-1].argmax(0)
    k = np.arange(ends.shape[1])
    best = np.where(graph.lengths == 0, -np.inf, ends[at, k]).astype(ends.dtype)
    return best, starts[at, k], at


def window_best(ends: np.ndarray, starts: np.ndarray, a: int, b: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per keyword of :func:`ctc_keyword_track`'s tables, its best alignment lying inside frames
    ``a..b``: (score, first frame, last frame); score -inf where none fits (then frames ``a``, ``b``).

    >>> ends = np.array([[-1.0], [-0.5], [-3.0]], dtype=np.float32); starts = np.array([[0], [0], [2]])
    >>> [x.tolist() for x in window_best(ends, starts, 0, 2)], [x.tolist() for x in window_best(ends, starts, 1, 2)]
    ([[-0.5], [0], [1]], [[-3.0], [2], [2]])
    """
    K = ends.shape[1]
    if b < a:
        return np.full(K, -np.inf, dtype=ends.dtype), np.full(K, a), np.full(K, b)
    e, s = ends[a:b + 1], starts[a:b + 1]
    e = np.where(s >= a, e, -np.inf)
    t = e.argmax(0)  # the first best frame, as one alignment's end
    k = np.arange(K)
    score = e[t, k]
    ok = np.isfinite(score)
    return score, np.where(ok, s[t, k], a), np.where(ok, a + t, b)


def _viterbi_tables(logp: np.ndarray, graph: KeywordGraph):
    """The keyword Viterbi's inputs: per frame the units' log-probabilities as ratios to the
    frame's best unit (float32: the loop runs once per frame over every keyword's states), and
    each keyword's last states."""
    em = np.ascontiguousarray(logp - logp.max(-1, keepdims=True), dtype=np.float32)
    return em, np.maximum(graph.last - 1, graph.first)


@_compiled
def _keyword_viterbi(em, ext, from1, from2, enter, end):
    """One Viterbi pass over every keyword's states at once; each frame, a keyword may start
    afresh on its first unit (from s-1 only inside a keyword, from s-2 past a blank between two
    different units). Returns per frame and keyword the best score of an alignment ending there
    and the frame where it starts."""
    T, S = len(em), len(ext)
    K = len(end)
    ninf = np.float32(-np.inf)
    score, start = np.full(S, ninf, dtype=np.float32), np.zeros(S, dtype=np.int32)
    ends, starts = np.empty((T, K), dtype=np.float32), np.empty((T, K), dtype=np.int32)
    for t in range(T):
        row = em[t]
        prev1 = prev2 = ninf  # the last frame's scores of states s-1 and s-2, and their starts
        at1 = at2 = 0
        for s in range(S):
            cur, cur_at = score[s], start[s]
            v, at = cur, cur_at
            if from1[s] and prev1 > v:
                v, at = prev1, at1
            if from2[s] and prev2 > v:
                v, at = prev2, at2
            if enter[s] and v < 0:  # a fresh start scores 0 before this frame's emission
                v, at = np.float32(0.0), t
            prev2, prev1, at2, at1 = prev1, cur, at1, cur_at
            score[s], start[s] = v + row[ext[s]], at
        for k in range(K):
            ends[t, k], starts[t, k] = score[end[k]], start[end[k]]
    return ends, starts


@_compiled
def _keyword_best(em, ext, from1, from2, enter, end):
    """:func:`_keyword_viterbi`'s best end scores alone, without the start frames. The same
    maxima and sums, written so that the compiler vectorizes the loop over states: the moves
    allowed into each state as additive masks (0 or -inf) rather than branches, two buffers
    rather than one updated in place (with two -inf states before the first), and the frame's
    emissions gathered in a loop of their own (half the time of the branchy form on 1,000
    keywords)."""
    T, S = len(em), len(ext)
    ninf, zero = np.float32(-np.inf), np.float32(0.0)
    m1, m2 = np.empty(S, dtype=np.float32), np.empty(S, dtype=np.float32)
    fresh = np.empty(S, dtype=np.float32)  # a fresh start scores 0 before its emission
    for s in range(S):
        m1[s] = zero if from1[s] else ninf
        m2[s] = zero if from2[s] else ninf
        fresh[s] = zero if enter[s] else ninf
    buf = np.full((2, S + 2), ninf, dtype=np.float32)
    row_ext = np.empty(S, dtype=np.float32)
    best = np.full(len(end), ninf, dtype=np.float32)
    for t in range(T):
        row = em[t]
        for s in range(S):
            row_ext[s] = row[ext[s]]
        old, new = buf[t & 1], buf[1 - (t & 1)]
        for s in range(S):
            v = max(old[s + 2], old[s + 1] + m1[s])
            v = max(v, old[s] + m2[s])
            new[s + 2] = max(v, fresh[s]) + row_ext[s]
        for k in range(len(end)):
            x = new[end[k] + 2]
            if x > best[k]:
                best[k] = x
    return best


def ctc_keyword_best(logp: np.ndarray, graph: KeywordGraph) -> np.ndarray:
    """The score of :func:`ctc_keyword_scores` alone: the same Viterbi pass, without the start
    frames and the per-frame tables."""
    if not len(logp) or not len(graph.ext):
        return np.full(len(graph.first), -np.inf)
    em, end = _viterbi_tables(logp, graph)
    best = _keyword_best(em, graph.ext, graph.from1, graph.from2, graph.enter, end)
    return np.where(graph.lengths == 0, -np.inf, best).astype(np.float64)


def ctc_keyword_track(logp: np.ndarray, graph: KeywordGraph) -> tuple[np.ndarray, np.ndarray]:
    """For every frame ``t`` and keyword ``k`` of ``graph``: the best score of an alignment of
    ``k`` that ends at ``t`` (as in :func:`ctc_keyword_scores`), and the frame where it starts;
    two ``(frames, keywords)`` tables, from which the best place in any window can be read.

    One Viterbi pass over all keywords at once; each frame, any keyword may start afresh."""
    T, S, K = logp.shape[0], len(graph.ext), len(graph.first)
    if T == 0 or S == 0:
        return np.full((0, K), -np.inf, dtype=np.float32), np.zeros((0, K), dtype=np.int32)
    em, end = _viterbi_tables(logp, graph)
    return _keyword_viterbi(em, graph.ext, graph.from1, graph.from2, graph.enter, end)


def warm_up() -> None:
    """Compile the Viterbi loops now (or load them from numba's cache), so that a service's first
    request does not wait for it."""
    lp = np.zeros((3, 2), dtype=np.float32)
    graph = KeywordGraph([[1]])
    ctc_align(lp, [1])
    ctc_cost(lp, [[1]])
    ctc_keyword_best(lp, graph)
    ctc_keyword_track(lp, graph)


_PH = PhoneSet()


def index_string(ids) -> str:
    """Phone indices as a :func:`phone_string`: one character per index."""
    return "".join(chr(0x100 + i) for i in ids)


_CHAR = {p: index_string((i,)) for p, i in _PH.index.items()}  # the same, looked up by phone name


def phone_string(phones) -> str:
    """Phones as one character each, for the C++ edit distance of rapidfuzz."""
    return "".join(map(_CHAR.__getitem__, phones))


def greedy_phones(phone_logp: np.ndarray) -> list[tuple[int, int]]:
    """(phone, frame) of each phone the phone head heard: best unit per frame, repeats merged,
    blanks dropped."""
    best = phone_logp.argmax(-1)
    return [(int(b), t) for t, b in enumerate(best) if b != 0 and (t == 0 or b != best[t - 1])]


def heard_between(heard: list[tuple[int, int]], a: int, b: int) -> str:
    """What the phone head heard on frames ``a..b`` (one frame of slack each side), as a
    :func:`phone_string`."""
    return index_string(p for p, t in heard if a - 1 <= t <= b + 1)


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
    empty = False  # the last word so far is a lone "▁", which the text does not show as a word
    for t, (a, b) in zip(tokens, spans):
        lp = float(logp[a:b + 1, t].max())
        if (tok.word_start(t) or not words) and not empty:
            words.append([a, b, [lp]])
        elif tok.word_start(t):  # "▁" "▁us" decodes to " us": one word, from the second unit on
            words[-1] = [a, b, [lp]]
        else:
            words[-1][1] = b
            words[-1][2].append(lp)
        empty = tok.pieces[t] == "\u2581"
    if empty:  # a trailing lone "▁"
        words.pop()
    if with_confidence:
        return [(a, b, float(np.exp(np.mean(lps)))) for a, b, lps in words]
    return [(a, b) for a, b, _ in words]
