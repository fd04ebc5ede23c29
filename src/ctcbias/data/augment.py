"""Audio augmentation: speed, noise (white, pink, babble), reverberation, telephone band, gain.

``plan_augment`` draws the chain (a list of plain dicts, stored in the manifest) and
``apply_augment`` replays it, so an utterance can be regenerated exactly from its manifest line.
"""

from __future__ import annotations

import random

import numpy as np
import soxr
from scipy.signal import butter, fftconvolve, sosfilt

__all__ = ["plan_augment", "apply_augment"]

SR = 16000


def plan_augment(rng: random.Random, strength: str = "train") -> list[dict]:
    if strength == "none":
        return []
    train = strength == "train"
    steps: list[dict] = []
    if train and rng.random() < 0.4:
        steps.append({"op": "speed", "factor": round(rng.uniform(0.9, 1.1), 3)})
    if rng.random() < (0.35 if train else 0.25):
        steps.append({"op": "reverb", "rt60": round(rng.uniform(0.15, 0.7 if train else 0.4), 3)})
    if rng.random() < (0.5 if train else 0.3):
        kinds = ["white", "pink", "babble"] if train else ["white", "pink"]
        lo = 5 if train else 15
        steps.append({"op": "noise", "kind": rng.choice(kinds), "snr": round(rng.uniform(lo, 30), 1)})
    if train and rng.random() < 0.15:
        steps.append({"op": "telephone"})
    steps.append({"op": "gain", "db": round(rng.uniform(-12, 3), 1)})
    for s in steps:
        s["seed"] = rng.randrange(2**31)
    return steps


def _pink(n: int, r: np.random.Generator) -> np.ndarray:
    spec = np.fft.rfft(r.standard_normal(n))
    spec /= np.sqrt(np.arange(1, len(spec) + 1))
    return np.fft.irfft(spec, n)


def apply_augment(audio: np.ndarray, steps: list[dict], babble: list[np.ndarray] | None = None) -> np.ndarray:
    x = audio.astype(np.float64)
    for s in steps:
        r = np.random.default_rng(s["seed"])
        op = s["op"]
        if op == "speed":  # resampling changes tempo and pitch together, like tape speed
            x = soxr.resample(x, SR * s["factor"], SR)
        elif op == "reverb":
            t = np.arange(int(SR * s["rt60"])) / SR
            rir = r.standard_normal(len(t)) * np.exp(-6.9 * t / s["rt60"])
            rir[0] = 1.0
            y = fftconvolve(x, rir)[: len(x)]
            x = y * (np.abs(x).max() / (np.abs(y).max() + 1e-9))
        elif op == "noise":
            if s["kind"] == "white":
                nz = r.standard_normal(len(x))
            elif s["kind"] == "pink":
                nz = _pink(len(x), r)
            else:
                nz = np.zeros(len(x))
                for _ in range(int(r.integers(3, 7))):
                    if not babble:
                        break
                    b = babble[int(r.integers(len(babble)))]
                    b = np.resize(b, len(x))
                    nz += np.roll(b, int(r.integers(len(x))))
                if not nz.any():
                    nz = _pink(len(x), r)
            p_sig = np.mean(x**2) + 1e-12
            p_nz = np.mean(nz**2) + 1e-12
            x = x + nz * np.sqrt(p_sig / (p_nz * 10 ** (s["snr"] / 10)))
        elif op == "telephone":
            y = soxr.resample(x, SR, 8000)
            y = sosfilt(butter(4, [300, 3400], btype="band", fs=8000, output="sos"), y)
            x = soxr.resample(y, 8000, SR)
        elif op == "gain":
            x = x * 10 ** (s["db"] / 20)
    peak = np.abs(x).max()
    if peak > 0.99:  # never clip: scale down instead
        x = x * (0.99 / peak)
    return x.astype(np.float32)
