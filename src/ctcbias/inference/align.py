"""CTC forced alignment (Viterbi): which frames each unit of a known sequence occupies.

Used for word times of beam-search output and for the phone spans that lexicon lookup compares.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ctc_align", "ctc_cost"]


def ctc_align(logp: np.ndarray, units: list[int]) -> list[tuple[int, int]] | None:
    """(first frame, last frame) of each unit on the best CTC path; None if it cannot fit."""
    T, L = logp.shape[0], len(units)
    if L == 0:
        return []
    ext = np.zeros(2 * L + 1, dtype=np.int64)
    ext[1::2] = units
    S = len(ext)
    skip = np.zeros(S, dtype=bool)  # s-2 -> s allowed: non-blank differing from the one before
    skip[3::2] = ext[3::2] != ext[1:-2:2]
    score = np.full(S, -np.inf)
    score[0], score[1] = logp[0, 0], logp[0, ext[1]]
    back = np.zeros((T, S), dtype=np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    for t in range(1, T):
        prev1 = np.concatenate(([-np.inf], score[:-1]))
        prev2 = np.where(skip, np.concatenate(([-np.inf, -np.inf], score[:-2])), -np.inf)
        stack = np.stack([score, prev1, prev2])
        back[t] = stack.argmax(0)
        score = stack.max(0) + logp[t, ext]
    s = S - 1 if score[S - 1] >= score[S - 2] else S - 2
    if not np.isfinite(score[s]):
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


def ctc_cost(logp: np.ndarray, sequences: list[list[int]]) -> np.ndarray:
    """Negative CTC log-likelihood of each sequence under ``logp`` (frames, units)."""
    import torch
    import torch.nn.functional as F

    if not sequences:
        return np.zeros(0)
    n = len(sequences)
    lp = torch.from_numpy(np.ascontiguousarray(logp, dtype=np.float32))[:, None, :].expand(-1, n, -1)
    tl = torch.tensor([len(s) for s in sequences])
    flat = torch.tensor([u for s in sequences for u in s], dtype=torch.long)
    cost = F.ctc_loss(lp, flat, torch.full((n,), logp.shape[0]), tl, reduction="none", zero_infinity=False)
    return cost.numpy().astype(np.float64)


def ctc_cost_windows(logp: np.ndarray, jobs: list[tuple[int, int, list[int]]]) -> np.ndarray:
    """Negative CTC log-likelihood of each ``units`` sequence on frames ``a..b`` of ``logp``, in one
    batched call. Each job keeps only the columns it needs (blank and its own units; the loss
    reads no others), so windows of different lengths and a 500-unit head batch cheaply."""
    import torch
    import torch.nn.functional as F

    if not jobs:
        return np.zeros(0)
    cols = [list(dict.fromkeys(u)) for _, _, u in jobs]
    t_max = max(b - a + 1 for a, b, _ in jobs)
    x = np.full((t_max, len(jobs), 1 + max(map(len, cols))), -1e4, dtype=np.float32)
    for n, ((a, b, _), c) in enumerate(zip(jobs, cols)):
        x[: b - a + 1, n, : 1 + len(c)] = logp[a:b + 1][:, [0, *c]]
    targets = torch.tensor([c.index(v) + 1 for (_, _, u), c in zip(jobs, cols) for v in u], dtype=torch.long)
    cost = F.ctc_loss(torch.from_numpy(x), targets, torch.tensor([b - a + 1 for a, b, _ in jobs]),
                      torch.tensor([len(u) for _, _, u in jobs]), reduction="none", zero_infinity=False)
    return cost.numpy().astype(np.float64)
