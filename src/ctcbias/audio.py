"""Audio in: any file soundfile reads (or bytes, or an array with its rate) -> 16 kHz mono float32.

Bad input raises :class:`AudioError` with a message a user can act on, never a raw traceback.
"""

from __future__ import annotations

import io
import re
import typing
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
MIN_SECONDS = 0.1
MAX_SECONDS = 4 * 3600.0

__all__ = ["AudioError", "audio_notes", "load_audio", "speech_segments", "SAMPLE_RATE"]


class AudioError(ValueError):
    """The audio cannot be transcribed; the message says why."""


def load_audio(src: str | Path | bytes | typing.BinaryIO | np.ndarray, sample_rate: int | None = None,
               max_seconds: float = MAX_SECONDS, notes: list[str] | None = None) -> np.ndarray:
    """Read ``src`` and return 16 kHz mono float32 in [-1, 1].

    ``src`` is a path, the bytes of a file, a binary file object (``open(p, "rb")``,
    ``io.BytesIO``; read from where it stands), or a numpy array (``sample_rate`` required; shape
    ``(samples,)`` or ``(samples, channels)``). Channels are averaged (channels that cancel out
    when mixed: the loudest one is used); other rates are resampled. ``notes``: a list that
    receives one line per flaw of the recording that may cost accuracy (:func:`audio_notes`).
    """
    import soundfile as sf

    name = "audio"
    if hasattr(src, "read") and not isinstance(src, np.ndarray):
        name = str(getattr(src, "name", "audio"))
        try:
            data = src.read()
        except (OSError, ValueError) as e:  # closed, or opened for writing only
            raise AudioError(f"{name}: cannot read the file object ({e})") from None
        if isinstance(data, str):
            raise AudioError(f"{name}: a text file object; open the audio in binary mode (\"rb\")")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise AudioError(f"{name}: the file object's read() gave {type(data).__name__}, not bytes")
        if not data:
            raise AudioError(f"{name}: empty file (0 bytes, or read to its end already)")
        src = bytes(data)
    if isinstance(src, np.ndarray):
        if sample_rate is None:
            raise AudioError("an audio array needs its sample_rate")
        x, sr = np.asarray(src), int(sample_rate)
        if x.dtype.kind == "i":  # integer PCM: scale to [-1, 1]
            x = x / float(np.iinfo(x.dtype).max)
    else:
        if isinstance(src, (bytes, bytearray)):
            f = io.BytesIO(src)
            if not src:
                raise AudioError(f"{name}: empty file (0 bytes)")
        elif isinstance(src, (str, Path)):
            name = str(src)
            p = Path(src)
            if not p.is_file():
                raise AudioError(f"{name}: no such file")
            if p.stat().st_size == 0:
                raise AudioError(f"{name}: empty file (0 bytes)")
            f = p
        else:
            raise AudioError(f"audio must be a path, bytes, a binary file object or a numpy array, "
                             f"not {type(src).__name__}")
        try:
            info = sf.info(f)
            if info.samplerate and info.frames / info.samplerate > max_seconds:
                raise AudioError(f"{name}: {_dur(info.frames / info.samplerate)} long; "
                                 f"the limit is {_dur(max_seconds)} (split it first)")
            if isinstance(f, io.BytesIO):
                f.seek(0)
            x, sr = sf.read(f, dtype="float32", always_2d=True)
        except AudioError:
            raise
        except Exception as e:  # soundfile/libsndfile errors are many types
            why = re.sub(r"^Error opening .*?: ", "", str(e).splitlines()[0])[:200]  # drop the object's repr
            raise AudioError(f"{name}: cannot read audio ({why})") from None
    x = np.asarray(x, dtype=np.float32)
    mixed = None  # the note of channels that cancel out when mixed
    if x.ndim == 2:
        x, mixed = _mix(x if x.shape[1] <= 16 else x.T)  # (samples, ch) or (ch, samples)
    if x.ndim != 1:
        raise AudioError(f"{name}: expected mono or (samples, channels) audio, got shape {x.shape}")
    if sr < 1000 or sr > 384000:
        raise AudioError(f"{name}: implausible sample rate {sr} Hz")
    if len(x) == 0:
        raise AudioError(f"{name}: no samples")
    if not np.isfinite(x).all():
        raise AudioError(f"{name}: contains NaN or infinite samples")
    if len(x) / sr < MIN_SECONDS:
        raise AudioError(f"{name}: {len(x) / sr * 1000:.0f} ms long; at least {MIN_SECONDS * 1000:.0f} ms is needed")
    if len(x) / sr > max_seconds:
        raise AudioError(f"{name}: {_dur(len(x) / sr)} long; the limit is {_dur(max_seconds)} (split it first)")
    if notes is not None:  # only when asked: the benches and training read thousands of files
        notes += ([mixed] if mixed else []) + audio_notes(x, sr)
    if sr != SAMPLE_RATE:
        import soxr

        x = soxr.resample(x, sr, SAMPLE_RATE).astype(np.float32)
    peak = float(np.abs(x).max())
    if peak > 1.0:  # float input outside [-1, 1]: scale down rather than wrap
        x = x / peak
    return x


CLIPPED_SHARE = 0.001  # samples at the recording's peak after one there, over all: more is clipping


def audio_notes(x: np.ndarray, sr: int) -> list[str]:
    """The flaws of mono samples ``x`` at their own rate ``sr`` that may cost accuracy, one line
    each: clipping (flat tops: runs of samples at the peak, where a natural recording reaches its
    peak a handful of times; also once clipped and then scaled down) and a narrow band (a rate
    below 16 kHz, or next to no energy above 4 kHz: telephone audio, also once resampled to
    16 kHz). An empty list: none found.

    >>> t = np.arange(16000) / 16000
    >>> audio_notes(np.clip(3 * np.sin(2 * np.pi * 200 * t), -1, 1), 16000)
    ['clipped: 75.0% of the samples are at full scale; words may be misheard (record at a lower level)']
    >>> audio_notes(0.5 * np.sin(2 * np.pi * 200 * t), 8000)
    ['recorded at 8000 Hz (narrow band): upsampled to 16 kHz; words may be misheard more often']
    """
    out = []
    a = np.abs(x)
    peak = float(a.max()) if len(a) else 0.0
    if peak >= 0.1:  # below, a flat top is a near-silent recording's quantization, not clipping
        top = a >= peak * (1 - 1e-4)
        share = float((top[1:] & top[:-1]).sum()) / len(a)  # at the peak with the sample before
        if share > CLIPPED_SHARE:
            out.append(f"clipped: {share:.1%} of the samples are at full scale; words may be misheard "
                       f"(record at a lower level)")
    if sr < SAMPLE_RATE:
        out.append(f"recorded at {sr} Hz (narrow band): upsampled to 16 kHz; words may be misheard more often")
    elif (drop := _band_drop(x, sr)) is not None and drop < NARROW_DB:
        out.append("almost nothing above 4 kHz (narrow band, as telephone audio has): words may be misheard "
                   "more often")
    return out


# the power density at 4.5-7.5 kHz against 1.5-3.4 kHz, in dB, below which a recording is narrow
# band: wideband synthetic speech (1,967 clips of the dev and test sets) lies above -33 dB, speech
# resampled through 8 kHz below -90, and most clips of the data factory's one 8 kHz voice (flite's
# kal) at -60 to -75
NARROW_DB = -40.0


def _band_drop(x: np.ndarray, sr: int, n: int = 512, frames: int = 2000) -> float | None:
    """:data:`NARROW_DB`'s measure, from the Hann-windowed spectra of up to ``frames`` frames of ``n``
    samples spread over the recording; None where the lower band holds too little of the energy
    to judge by (silence, a tone)."""
    k = len(x) // n
    if not k:
        return None
    pick = np.linspace(0, k - 1, min(k, frames)).astype(np.int64)
    power = np.square(np.abs(np.fft.rfft(x[: k * n].reshape(k, n)[pick] * np.hanning(n), axis=1))).sum(0)
    f = np.fft.rfftfreq(n, 1 / sr)
    low, high = power[(f > 1500) & (f < 3400)], power[(f > 4500) & (f < 7500)]
    if not len(high) or low.sum() <= 1e-3 * power.sum():
        return None
    return float(10 * np.log10(max(high.mean(), 1e-300) / low.mean()))


def _mix(x: np.ndarray) -> tuple[np.ndarray, str | None]:
    """Channels ``(samples, channels)`` as one: their mean, or, where they cancel out in it (one
    channel wired in opposite phase), the loudest channel alone, with a note saying so."""
    mean = x.mean(axis=1)
    if x.shape[1] < 2 or not len(x):
        return mean, None
    rms = np.sqrt(np.square(x, dtype=np.float64).mean(axis=0))
    if rms.max() > 0 and np.sqrt(np.square(mean, dtype=np.float64).mean()) < 0.25 * rms.max():
        k = int(rms.argmax())
        return np.ascontiguousarray(x[:, k]), (f"its {x.shape[1]} channels cancel out when mixed (opposite "
                                                f"phase): channel {k + 1} alone was used")
    return mean, None


def _dur(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds:.0f} s"


def speech_segments(x: np.ndarray, min_pause: float = 0.5, keep: float = 0.4,
                    frame: float = 0.02) -> list[tuple[int, int]]:
    """Sample spans of ``x`` (16 kHz) between the pauses of at least ``min_pause`` seconds, each
    with up to ``keep`` seconds of its pauses around it (as a recorded utterance has); the rest of
    a pause is left out.

    A pause is a run of frames quieter than a threshold between the recording's own noise floor
    (10th percentile of frame energy) and its speech level (95th percentile): a third of the way
    up in dB, and at least 6 dB above the floor, so background noise is a pause and soft speech
    is not.

    >>> sr = SAMPLE_RATE; rng = np.random.default_rng(0)
    >>> word = lambda s: 0.3 * np.sin(np.arange(int(s * sr)) * 0.3).astype(np.float32)
    >>> hush = lambda s: 0.001 * rng.standard_normal(int(s * sr)).astype(np.float32)
    >>> x = np.concatenate([hush(0.3), word(1.0), hush(0.2), word(0.5), hush(1.0), word(0.8), hush(0.4)])
    >>> [(round(a / sr, 2), round(b / sr, 2)) for a, b in speech_segments(x)]  # the 0.2 s gap stays inside
    [(0.0, 2.4), (2.6, 4.2)]
    """
    n = int(frame * SAMPLE_RATE)
    frames = len(x) // n
    if frames < 2:
        return [(0, len(x))]
    db = 10 * np.log10(np.square(x[: frames * n].reshape(frames, n).astype(np.float64)).mean(1) + 1e-12)
    floor, speech = np.percentile(db, 10), np.percentile(db, 95)
    quiet = np.append(db < max(floor + (speech - floor) / 3, floor + 6.0), False)
    need, pad = max(1, int(round(min_pause / frame))), int(round(keep / frame))
    pauses, start = [], None  # (first, last + 1) frames of each long pause between sounds
    for i, q in enumerate(quiet):
        if q and start is None:
            start = i
        elif not q and start is not None:
            if i - start >= need and 0 < start and i < frames:
                pauses.append((start, i))
            start = None
    edges = [(0, 0)] + pauses + [(frames, frames)]
    spans = [((a_end - pad if a_end else 0) * n, len(x) if b_start == frames else (b_start + pad) * n)
             for (_, a_end), (b_start, _) in zip(edges, edges[1:])]
    loud = [(a, b) for a, b in spans if b > a and not quiet[a // n: max(a // n + 1, b // n)].all()]
    return loud or [(0, len(x))]
