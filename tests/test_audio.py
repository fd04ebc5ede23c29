"""Audio input: formats, rates and channels that work, and bad input that gets a clear error."""

import io

import numpy as np
import pytest
import soundfile as sf

from ctcbias.audio import AudioError, load_audio


def _tone(sr=16000, seconds=1.0, ch=1):
    t = np.arange(int(sr * seconds)) / sr
    x = 0.3 * np.sin(2 * np.pi * 440 * t).astype(np.float32)
    return np.stack([x] * ch, 1) if ch > 1 else x


@pytest.mark.parametrize("sr", [8000, 16000, 44100, 48000])
def test_rates_resampled_to_16k(tmp_path, sr):
    p = tmp_path / "a.wav"
    sf.write(p, _tone(sr), sr)
    x = load_audio(p)
    assert x.dtype == np.float32 and abs(len(x) - 16000) <= 2


def test_stereo_flac_bytes_and_int_arrays(tmp_path):
    p = tmp_path / "s.flac"
    st = _tone(ch=2)
    st[:, 1] = 0  # one silent channel: the mix is the average
    sf.write(p, st, 16000)
    assert np.allclose(load_audio(p), st[:, 0] / 2, atol=1e-3)
    buf = io.BytesIO()
    sf.write(buf, _tone(), 16000, format="WAV")
    assert len(load_audio(buf.getvalue())) == 16000
    pcm = (_tone() * 32767).astype(np.int16)
    assert np.allclose(load_audio(pcm, 16000), _tone(), atol=1e-3)


@pytest.mark.parametrize("content,msg", [(None, "no such file"), (b"", "empty file"),
                                         (b"RIFF junk not audio", "cannot read audio")])
def test_bad_files(tmp_path, content, msg):
    p = tmp_path / "a.wav"
    if content is not None:
        p.write_bytes(content)
    with pytest.raises(AudioError, match=msg):
        load_audio(p)


def test_truncated_file(tmp_path):
    buf = io.BytesIO()
    sf.write(buf, _tone(), 16000, format="FLAC")
    p = tmp_path / "cut.flac"
    p.write_bytes(buf.getvalue()[:60])
    with pytest.raises(AudioError):
        load_audio(p)


def test_bad_arrays():
    with pytest.raises(AudioError, match="sample_rate"):
        load_audio(_tone())
    with pytest.raises(AudioError, match="NaN"):
        load_audio(np.full(16000, np.nan, np.float32), 16000)
    with pytest.raises(AudioError, match="no samples"):
        load_audio(np.zeros(0, np.float32), 16000)
    with pytest.raises(AudioError, match="at least"):
        load_audio(np.zeros(100, np.float32), 16000)
    with pytest.raises(AudioError, match="limit"):
        load_audio(np.zeros(16000 * 5, np.float32), 16000, max_seconds=2)


def test_too_long_file_refused_before_reading(tmp_path):
    p = tmp_path / "long.wav"
    sf.write(p, np.zeros(16000 * 5, np.float32), 16000)
    with pytest.raises(AudioError, match="limit"):
        load_audio(p, max_seconds=2)


def test_loud_float_input_is_scaled_not_wrapped():
    x = load_audio(_tone() * 10, 16000)
    assert np.abs(x).max() <= 1.0 + 1e-6
