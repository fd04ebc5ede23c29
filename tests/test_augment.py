"""The augmentation chain: the heavier training ops (pitch, band limit, codec) are replayable and do what they claim."""

import random

import numpy as np
import pytest

from ctcbias.data.augment import apply_augment, heavier, plan_augment

SR = 16000


def _speechlike(seconds=1.5, seed=0):
    """Pulse-train "voice" (140 Hz) through two formant-ish resonances, plus a little noise: broadband."""
    r = np.random.default_rng(seed)
    n = int(SR * seconds)
    x = np.zeros(n)
    x[:: SR // 140] = 1.0
    x = np.convolve(x, np.exp(-np.arange(200) / 30.0) * np.sin(2 * np.pi * 700 * np.arange(200) / SR), "same")
    x += 0.05 * r.standard_normal(n)
    return 0.5 * x / np.abs(x).max()


def _band_share(y, lo, hi):
    s = np.abs(np.fft.rfft(y)) ** 2
    f = np.fft.rfftfreq(len(y), 1 / SR)
    return s[(f >= lo) & (f < hi)].sum() / s.sum()


def test_heavier_is_deterministic_ordered_and_optional():
    base = plan_augment(random.Random(1), "train")
    assert heavier(base, "0:train-000001", on=False) is base
    chains = [heavier(base, f"0:train-{i:06d}") for i in range(400)]
    assert chains == [heavier(base, f"0:train-{i:06d}") for i in range(400)]
    ops = [[s["op"] for s in c] for c in chains]
    for c in ops:
        assert c[-1] == "gain"
        assert "pitch" not in c or c[0] == "pitch"
        assert [o for o in c if o not in ("pitch", "bandlimit", "codec")] == [s["op"] for s in base]
    for op, share in (("pitch", 0.3), ("bandlimit", 0.35), ("codec", 0.3)):
        assert abs(sum(op in c for c in ops) / len(ops) - share) < 0.08
    assert all(s["op"] not in ("pitch", "bandlimit", "codec")  # test sets keep their light chain
               for i in range(200) for s in plan_augment(random.Random(i), "light"))


@pytest.mark.parametrize("cutoff", [3400, 5000, 7000])
def test_band_limit_removes_energy_above_the_cutoff(cutoff):
    x = np.random.default_rng(0).standard_normal(SR) * 0.1
    y = apply_augment(x, [{"op": "bandlimit", "cutoff": cutoff, "seed": 1}])
    assert len(y) == len(x)
    above = _band_share(y, cutoff * 1.15, SR / 2)
    assert above < 1e-3, above  # white noise had (8000 - 1.15 c) / 8000 of its energy there
    below = _band_share(y, 0, cutoff * 0.8)
    assert below > 0.75


@pytest.mark.parametrize("semitones", [-3.0, -1.5, 2.0, 3.0])
def test_pitch_shift_moves_frequencies_and_keeps_duration(semitones):
    t = np.arange(int(1.2 * SR)) / SR
    x = 0.5 * np.sin(2 * np.pi * 500 * t)
    y = apply_augment(x, [{"op": "pitch", "semitones": semitones, "seed": 1}])
    assert len(y) == len(x)
    spec = np.abs(np.fft.rfft(y * np.hanning(len(y))))
    peak = np.argmax(spec) * SR / len(y)
    assert abs(peak - 500 * 2 ** (semitones / 12)) < 3
    assert np.sqrt(np.mean(y[2000:-2000] ** 2)) > 0.2  # not muted (a sine of 0.5 has rms 0.35)


@pytest.mark.parametrize("kind,level", [("mp3", 0.85), ("mp3", 0.97), ("opus", 0.9), ("opus", 1.0)])
def test_codec_round_trip_is_lossy_aligned_and_replayable(kind, level):
    x = _speechlike()
    step = [{"op": "codec", "kind": kind, "level": level, "seed": 5}]
    y = apply_augment(x, step)
    assert len(y) == len(x)
    assert np.array_equal(y, apply_augment(x, step))
    assert np.corrcoef(x, y)[0, 1] > 0.75  # aligned: the MP3 encoder's delay (low bitrates) is cut off
    snr = 10 * np.log10(np.mean(x**2) / np.mean((x - y) ** 2))
    assert 3 < snr < 25, snr  # lossy: at most 25 dB signal-to-coding-noise
    if level >= 0.97:  # the lowest bitrates (about 8-12 kbit/s) throw away the top of the band
        assert _band_share(y, 4000, 8000) < 0.05 * _band_share(x, 4000, 8000)


def test_a_heavy_chain_replays_exactly():
    x = _speechlike(seconds=1.0, seed=2)
    for i in range(6):
        steps = heavier(plan_augment(random.Random(i), "train"), f"7:train-{i:06d}")
        a, b = apply_augment(x, steps, [x]), apply_augment(x, steps, [x])
        assert np.array_equal(a, b) and np.abs(a).max() <= 0.99 + 1e-6
