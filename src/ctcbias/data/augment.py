"""Audio augmentation: speed, noise (white, pink, babble), reverberation, telephone band, gain,
and (:func:`heavier`, training only) pitch/formant shift, random band-limiting and a lossy codec.

``plan_augment`` draws the chain (a list of plain dicts, stored in the manifest) and
``apply_augment`` replays it, so an utterance can be regenerated exactly from its manifest line.
"""

from __future__ import annotations

import io
import random

import numpy as np
import soundfile as sf
import soxr
from scipy.signal import butter, fftconvolve, sosfilt, sosfiltfilt

from ..audio import SAMPLE_RATE as SR

__all__ = ["plan_augment", "apply_augment", "heavier"]



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


def heavier(steps: list[dict], key: str, on: bool = True) -> list[dict]:
    """The training chain ``steps`` with the heavier ops added, drawn from their own stream (``key``).

    - ``pitch``: pitch and formants shifted together by up to +-3 semitones, duration kept
      (resampling, then a phase-vocoder time stretch back to the original length);
    - ``bandlimit``: a steep low-pass at 3.4-7.8 kHz, so a narrow band is no shortcut that tells
      real narrow-band speech from the synthetic training set;
    - ``codec``: an MP3 (8-32 kbit/s) or Opus (9-30 kbit/s) round trip.

    ``pitch`` goes first (it changes the speaker), band limit and codec after the noise and room,
    before the final gain. Its own stream keeps the plan's stream, and so the texts and the other
    ops, what they were; ``on=False`` returns ``steps`` untouched."""
    if not on:
        return steps
    rng = random.Random(f"heavy:{key}")
    pre, post = [], []
    if rng.random() < 0.3:
        pre.append({"op": "pitch", "semitones": round(rng.uniform(-3, 3), 2)})
    if rng.random() < 0.35:
        post.append({"op": "bandlimit", "cutoff": int(rng.uniform(3400, 7800))})
    if rng.random() < 0.3:
        kind = rng.choice(["mp3", "opus"])
        post.append({"op": "codec", "kind": kind,
                     "level": round(rng.uniform(0.85, 0.99) if kind == "mp3" else rng.uniform(0.88, 1.0), 3)})
    for st in pre + post:
        st["seed"] = rng.randrange(2**31)
    out = [dict(st) for st in steps]
    g = next((i for i, st in enumerate(out) if st["op"] == "gain"), len(out))
    return pre + out[:g] + post + out[g:]


def time_stretch(x: np.ndarray, n_out: int, n_fft: int = 512, hop: int = 128) -> np.ndarray:
    """Phase-vocoder time stretch of ``x`` to ``n_out`` samples (pitch unchanged)."""
    if len(x) == 0 or n_out <= 0:
        return np.zeros(max(n_out, 0))
    win = np.hanning(n_fft)
    xp = np.pad(x, (n_fft, n_fft + hop))
    n_frames = 1 + (len(xp) - n_fft) // hop
    frames = xp[np.arange(n_fft)[None, :] + hop * np.arange(n_frames)[:, None]]
    spec = np.fft.rfft(frames * win, axis=1)
    rate = len(x) / n_out
    pos = np.arange(0, n_frames - 1, rate)
    i0 = pos.astype(int)
    frac = (pos - i0)[:, None]
    mag = (1 - frac) * np.abs(spec[i0]) + frac * np.abs(spec[i0 + 1])
    omega = 2 * np.pi * hop * np.arange(spec.shape[1]) / n_fft
    dphi = np.angle(spec[i0 + 1]) - np.angle(spec[i0]) - omega
    dphi -= 2 * np.pi * np.round(dphi / (2 * np.pi))
    phase = np.angle(spec[0]) + np.concatenate([np.zeros((1, spec.shape[1])), np.cumsum(omega + dphi, axis=0)[:-1]])
    frames_out = np.fft.irfft(mag * np.exp(1j * phase), n_fft, axis=1) * win
    y = np.zeros(hop * len(frames_out) + n_fft)
    norm = np.zeros_like(y)
    for k, f in enumerate(frames_out):
        y[k * hop: k * hop + n_fft] += f
        norm[k * hop: k * hop + n_fft] += win**2
    y = y / np.maximum(norm, 1e-3 * norm.max())
    start = int(round(n_fft / rate))
    y = y[start: start + n_out]
    return np.pad(y, (0, n_out - len(y)))


def _codec(x: np.ndarray, kind: str, level: float) -> np.ndarray:
    """A lossy round trip through libsndfile (MP3 or Opus in OGG), aligned back to ``x``."""
    peak = np.abs(x).max()
    scale = 0.99 / peak if peak > 0.99 else 1.0
    buf = io.BytesIO()
    if kind == "mp3":
        sf.write(buf, (x * scale).astype(np.float32), SR, format="MP3", subtype="MPEG_LAYER_III",
                 compression_level=level, bitrate_mode="CONSTANT")
    else:
        sf.write(buf, (x * scale).astype(np.float32), SR, format="OGG", subtype="OPUS", compression_level=level)
    buf.seek(0)
    y, _ = sf.read(buf, dtype="float64")
    if y.ndim > 1:
        y = y.mean(axis=1)
    # low MP3 bitrates add the encoder's delay (about 1,400 samples): find it and cut it off
    if len(y) > len(x) and len(x) > 0:
        lag_max = min(len(y) - len(x), 4000)
        c = np.fft.irfft(np.fft.rfft(y, 2 * len(y)) * np.conj(np.fft.rfft(x, 2 * len(y))))
        lag = int(np.argmax(c[: lag_max + 1]))
        y = y[lag:]
    y = y[: len(x)]
    return np.pad(y, (0, len(x) - len(y))) / scale


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
        elif op == "pitch":  # resample (pitch and formants move), then stretch back to the length
            n = len(x)
            y = soxr.resample(x, SR * 2 ** (s["semitones"] / 12), SR)
            x = time_stretch(y, n)
        elif op == "bandlimit":
            x = sosfiltfilt(butter(8, s["cutoff"], btype="low", fs=SR, output="sos"), x)
        elif op == "codec":
            x = _codec(x, s["kind"], s["level"])
        elif op == "gain":
            x = x * 10 ** (s["db"] / 20)
    peak = np.abs(x).max()
    if peak > 0.99:  # never clip: scale down instead
        x = x * (0.99 / peak)
    return x.astype(np.float32)
