"""Training-loop helpers shared by the stack's and the adapter's training: their common settings
(:class:`LoopConfig`), length-bucketed batches, a resumable batch stream, padded (and, in
training, masked) feature batches, CTC loss, and :class:`Run`, the bookkeeping of one resumable,
time-limited run."""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .features import FeatureSet

__all__ = ["LoopConfig", "Run", "SpecAugment", "batch_stream", "batches", "collate", "cosine_lr", "ctc_loss", "load_checkpoint", "load_weights",
           "optimizer_step", "save_checkpoint", "spec_masks", "stack_input"]

log = logging.getLogger("ctcbias.train")


@dataclass
class SpecAugment:
    """Masks on the encoder features of a training batch: ``time_masks`` spans of up to
    ``time_mask_max`` frames and ``dim_masks`` bands of up to ``dim_mask_max`` feature dimensions,
    zeroed. The defaults are the stack's."""

    time_masks: int = 2
    time_mask_max: int = 25  # encoder frames
    dim_masks: int = 2
    dim_mask_max: int = 48


@dataclass
class LoopConfig:
    """What a training run reads (:class:`Run`, :func:`collate`), common to the stack's and the
    adapter's configs, which extend it. The defaults are the stack's."""

    data: Path = Path("data/synth")
    feats: Path = Path("data/feats")
    work: Path = Path("data/train-work")
    epochs: float = 3.0
    batch_frames: int = 10000  # encoder frames (50 Hz) per batch, ~200 s of audio
    lr: float = 1.2e-3
    warmup: int = 300
    augment: SpecAugment = field(default_factory=SpecAugment)
    ckpt_every: int = 100
    seed: int = 0
    limit_minutes: float = 0.0  # stop (checkpointed) after this much wall time; 0 = no limit
    init: Path | None = None  # start from the weights of an earlier run (a second phase with its own schedule)


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


def collate(batch: list[dict], feats: FeatureSet, augment: SpecAugment | None, rng: np.random.Generator | None):
    """Padded features ``(batch, frames, width)`` and their lengths; ``augment`` (training): masked."""
    t = max(it["n"] for it in batch)
    x = np.zeros((len(batch), t, feats.chunks[0].shape[1]), dtype=np.float32)
    for i, it in enumerate(batch):
        x[i, : it["n"]] = feats[it["id"]]
    lengths = torch.tensor([it["n"] for it in batch])
    if augment is not None:
        x *= spec_masks([it["n"] for it in batch], t, x.shape[2], augment, rng)
    return torch.from_numpy(x), lengths


def stack_input(batch: list[dict], feats: FeatureSet, augment: SpecAugment | None,
                rng: np.random.Generator | None, top: torch.nn.Module | None = None):
    """The stack's input for a batch and its lengths: the cached features, through ``top`` (the
    fine-tuned encoder blocks, :class:`~ctcbias.encoder.EncoderTop`) where the stack has one, then
    masked by ``augment`` (training), so the masks fall on what the stack reads either way."""
    if top is None:
        return collate(batch, feats, augment, rng)
    x, lengths = collate(batch, feats, None, None)
    x = top(x, lengths)
    if augment is not None:
        x = x * torch.from_numpy(spec_masks(lengths.tolist(), x.shape[1], x.shape[2], augment, rng))
    return x, lengths


def spec_masks(lengths: list[int], frames: int, width: int, augment: SpecAugment,
               rng: np.random.Generator) -> np.ndarray:
    """``augment``'s masks for a padded batch: ``(batch, frames, width)`` of 1 (kept) and 0 (masked).
    (:func:`stack_input` puts them on what the stack reads.)"""
    keep = np.ones((len(lengths), frames, width), dtype=np.float32)
    for i, n in enumerate(lengths):
        for _ in range(augment.time_masks):
            w = rng.integers(0, augment.time_mask_max + 1)
            s = rng.integers(0, max(1, n - w))
            keep[i, s:min(s + w, n)] = 0
        for _ in range(augment.dim_masks):
            w = rng.integers(0, augment.dim_mask_max + 1)
            s = rng.integers(0, width - w)
            keep[i, :n, s:s + w] = 0
    return keep


def ctc_loss(logp: torch.Tensor, lengths: torch.Tensor, targets: list[list[int]]) -> torch.Tensor:
    tl = torch.tensor([len(t) for t in targets])
    flat = torch.tensor([i for t in targets for i in t], dtype=torch.long)
    return F.ctc_loss(logp.float().transpose(0, 1), flat, lengths, tl, zero_infinity=True, reduction="sum") / len(targets)


def optimizer_step(opt: torch.optim.Optimizer, loss: torch.Tensor, params, lr_now) -> float:
    """Backward, clip gradients to norm 5, step at ``lr_now()`` (read after the backward pass, as
    the time-fitted schedule counts it; a parameter group's ``lr_scale`` multiplies it); returns
    that learning rate."""
    opt.zero_grad()
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, 5.0)
    lr = lr_now()
    for g in opt.param_groups:
        g["lr"] = lr * g.get("lr_scale", 1.0)
    opt.step()
    return lr


def cosine_lr(base: float, warmup: int, step: int, total: int, elapsed: float, limit_minutes: float) -> float:
    """Warm-up, then cosine over the run; with a time limit the run's end is whichever comes first."""
    done = step / max(1, total)
    if limit_minutes:
        done = max(done, elapsed / (limit_minutes * 60))
    return base * (min((step + 1) / warmup, 0.5 * (1 + math.cos(math.pi * min(1.0, done)))) + 0.02)


def load_checkpoint(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer) -> tuple[int, float]:
    """Resume state from ``path`` if it exists: (step, elapsed seconds), else (0, 0.0)."""
    if not path.exists():
        return 0, 0.0
    st = torch.load(path, weights_only=False)
    model.load_state_dict(st["model"]), opt.load_state_dict(st["opt"])
    return st["step"], st["elapsed"]


def load_weights(path: Path) -> dict[str, torch.Tensor]:
    """Float32 weights from a training checkpoint (``last.pt``) or a shipped, float16 state dict."""
    st = torch.load(path, weights_only=False)
    return {k: v.float() if v.is_floating_point() else v for k, v in st.get("model", st).items()}


def save_checkpoint(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, step: int, elapsed: float) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "step": step, "elapsed": elapsed}, tmp)
    tmp.replace(path)  # atomic: a stop mid-write leaves the last good checkpoint


class Run:
    """One resumable training run: its length in steps (``epochs`` over ``items``), the step and
    wall time so far (from ``ckpt`` when it exists), a cosine learning rate fitted to the step
    count or the time limit, whichever ends first, checkpoints, and a progress bar.

    ``cfg``: a :class:`LoopConfig` (or anything with its ``epochs``, ``batch_frames``, ``lr``,
    ``warmup``, ``limit_minutes``, ``seed`` and ``ckpt_every``)."""

    def __init__(self, ckpt: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, items: list[dict], cfg,
                 desc: str):
        from tqdm import tqdm

        self.ckpt, self.model, self.opt, self.cfg = ckpt, model, opt, cfg
        self.steps_per_epoch = len(batches(items, cfg.batch_frames, random.Random(0)))
        self.total = int(cfg.epochs * self.steps_per_epoch)
        self.step, self.elapsed = load_checkpoint(ckpt, model, opt)
        if self.step:
            log.info("resumed at step %d of %d", self.step, self.total)
        self.items = items
        self.t0 = time.time() - self.elapsed
        self.bar = tqdm(total=self.total, initial=self.step, unit="step", desc=desc)

    def stream(self):
        """(epoch, batch index, batch, last of its epoch) from where the run stands to its end."""
        for epoch, bi, batch, last in batch_stream(self.items, self.cfg.batch_frames, self.cfg.seed, self.step):
            if self.step >= self.total:
                return
            yield epoch, bi, batch, last

    def lr(self) -> float:
        return cosine_lr(self.cfg.lr, self.cfg.warmup, self.step, self.total, time.time() - self.t0,
                         self.cfg.limit_minutes)

    def advance(self, **postfix) -> None:
        """One step done: count it, checkpoint every ``ckpt_every`` steps and at the end."""
        self.step += 1
        self.elapsed = time.time() - self.t0
        self.bar.update(1)
        self.bar.set_postfix(**postfix)
        if self.step % self.cfg.ckpt_every == 0 or self.step == self.total:
            self.save()

    @property
    def epoch(self) -> float:
        return self.step / self.steps_per_epoch

    def out_of_time(self) -> bool:
        """Past the time limit before the end: checkpointed, to be resumed by the same command."""
        if self.cfg.limit_minutes and self.elapsed > self.cfg.limit_minutes * 60 and self.step < self.total:
            log.info("time limit reached at step %d; resume to continue", self.step)
            self.save()
            return True
        return False

    def save(self) -> None:
        save_checkpoint(self.ckpt, self.model, self.opt, self.step, self.elapsed)

    def close(self) -> None:
        self.bar.close()
