"""Audio input: formats, rates and channels that work, and bad input that gets a clear error."""

import io
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ctcbias.audio import AudioError, audio_notes, load_audio


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


def test_flaws_that_cost_accuracy_are_noted():
    """Clipping (also once clipped and scaled down) and a narrow band get a note; a clean or a
    merely loud recording, a near-silent one's coarse steps, and a 16 kHz rate do not."""
    t = np.arange(16000) / 16000
    voice = (np.sin(2 * np.pi * 150 * t) + 0.5 * np.sin(2 * np.pi * 410 * t) + 0.3 * np.sin(2 * np.pi * 1230 * t))
    voice = (voice / np.abs(voice).max()).astype(np.float32)
    assert audio_notes(voice, 16000) == [] and audio_notes(0.99 * voice, 16000) == []
    clipped = np.clip(4 * voice, -1, 1)
    for x in (clipped, 0.3 * clipped, np.round(clipped * 32767) / 32767):
        (note,) = audio_notes(x, 16000)
        assert note.startswith("clipped: ") and "of the samples are at full scale" in note
    assert audio_notes(np.round(voice * 3) / 32768, 16000) == []  # +-3 steps of 16 bits: quiet, not clipped
    assert audio_notes(0.5 * voice, 8000) == ["recorded at 8000 Hz (narrow band): upsampled to 16 kHz; "
                                              "words may be misheard more often"]
    notes = []
    load_audio(np.clip(4 * voice, -1, 1)[::2], 8000, notes=notes)
    assert [n.split(":")[0] for n in notes] == ["clipped", "recorded at 8000 Hz (narrow band)"]


def test_speech_through_a_telephone_band_is_noted_at_16_khz_too():
    import soxr

    x, sr = sf.read(Path(__file__).parent.parent / "examples" / "pharmacy.wav", dtype="float32")
    assert sr == 16000 and audio_notes(x, sr) == []
    phone = soxr.resample(soxr.resample(x, sr, 8000), 8000, sr)  # stored at 16 kHz all the same
    assert audio_notes(phone, sr) == ["almost nothing above 4 kHz (narrow band, as telephone audio has): "
                                      "words may be misheard more often"]
    # a tone has no speech band to judge by: no note
    assert audio_notes(0.5 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000), 16000) == []


def test_channels_that_cancel_out_use_the_loudest_one():
    x = _tone()
    notes = []
    y = load_audio(np.stack([0.9 * x, -x], 1), 16000, notes=notes)  # one channel wired in opposite phase
    assert np.allclose(y, -x, atol=1e-6)
    assert notes == ["its 2 channels cancel out when mixed (opposite phase): channel 2 alone was used"]
    notes = []
    assert np.allclose(load_audio(np.stack([x, 0.5 * x], 1), 16000, notes=notes), 0.75 * x) and notes == []
