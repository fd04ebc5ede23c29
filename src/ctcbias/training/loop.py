"""Training-loop helpers shared by the stack's and the adapter's training: length-bucketed
batches, a resumable batch stream, padded (and, in training, masked) feature batches, CTC loss."""

from __future__ import annotations

import random
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from .features import FeatureSet

if TYPE_CHECKING:  # the config is train.py's; train.py imports this module
    from .train import TrainConfig

__all__ = ["batch_stream", "batches", "collate", "ctc_loss"]


def batches(items: list[dict], max_frames: int, rng: random.Random) -> list[list[dict]]:
    items = sorted(items, key=lambda it: it["n"] + rng.random() * 20)
    out, cur, longest = [], [], 0
    for it in items:
        longest = max(longest, it["n"])
        if cur and longest * (len(cur) + 1) > max_frames:
            out.append(cur)
            cur, longest = [], it["n"]
        cur.append(it)
    if cur:
        out.append(cur)
    rng.shuffle(out)
    return out


def batch_stream(items: list[dict], max_frames: int, seed: int, step: int = 0):
    """``(epoch, index, batch, last_of_epoch)`` from global step ``step`` on, endlessly.

    Each epoch has its own shuffled order; epochs differ by a batch or two in length (the length
    jitter regroups them), so a resumed run walks the epochs to find where ``step`` falls.
    """
    epoch, first = 0, 0
    while True:
        epoch_batches = batches(items, max_frames, random.Random(f"{seed}:{epoch}"))
        if not epoch_batches:
            return
        for bi in range(max(0, step - first), len(epoch_batches)):
            yield epoch, bi, epoch_batches[bi], bi == len(epoch_batches) - 1
        epoch, first = epoch + 1, first + len(epoch_batches)


def collate(batch: list[dict], feats: FeatureSet, cfg: "TrainConfig | None", rng: np.random.Generator | None):
    t = max(it["n"] for it in batch)
    x = np.zeros((len(batch), t, feats.chunks[0].shape[1]), dtype=np.float32)
    for i, it in enumerate(batch):
        f = np.asarray(feats[it["id"]], dtype=np.float32)
        if cfg is not None:  # SpecAugment on the encoder features
            f = f.copy()
            for _ in range(cfg.time_masks):
                w = rng.integers(0, cfg.time_mask_max + 1)
                s = rng.integers(0, max(1, len(f) - w))
                f[s:s + w] = 0
            for _ in range(cfg.dim_masks):
                w = rng.integers(0, cfg.dim_mask_max + 1)
                s = rng.integers(0, f.shape[1] - w)
                f[:, s:s + w] = 0
        x[i, : it["n"]] = f
    lengths = torch.tensor([it["n"] for it in batch])
    return torch.from_numpy(x), lengths


def ctc_loss(logp: torch.Tensor, lengths: torch.Tensor, targets: list[list[int]]) -> torch.Tensor:
    tl = torch.tensor([len(t) for t in targets])
    flat = torch.tensor([i for t in targets for i in t], dtype=torch.long)
    return F.ctc_loss(logp.float().transpose(0, 1), flat, lengths, tl, zero_infinity=True, reduction="sum") / len(targets)
