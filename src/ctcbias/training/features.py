"""Cache the frozen encoder's output for a manifest, once, so training never runs the encoder.

Layout under ``<out>/<set>/``: ``chunk-00000.npy`` (all frames of up to ``CHUNK`` utterances,
float16, ``(frames, dim)``) and ``chunk-00000.json`` (ids and frame counts). A chunk whose json
exists is finished, so an interrupted run resumes where it stopped. Workers take whole chunks.

The kind of features is recorded in ``<out>/<set>/kind.json``: ``pad``, the seconds of zero audio
after each clip (0: the clip at its own length, a context Whisper never saw; 30: a 30 s window as
Whisper was trained), and ``pack``. Encoding a 3 s clip in a 30 s window costs ~8x, so ``pack``
lets several training utterances share one window (short silences between): about the cost of
unpadded clips, with Whisper's 30 s context. Dev and test sets are encoded one clip per window,
as at inference.
"""

from __future__ import annotations

import json
import multiprocessing as mp
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..audio import SAMPLE_RATE

CHUNK = 1000
PACK_SECONDS = 27.0  # speech per shared window (neighbours barely change a clip's features)
GAP = 0.32  # silence between packed utterances, s (a whole number of 20 ms encoder frames)
_ENC = None  # one encoder per worker process


def _packed(enc, audios: list[np.ndarray], layer: int = -1) -> list[np.ndarray]:
    """Features of each clip (encoder output ``layer``), several clips per zero-padded 30 s window."""
    import torch

    from ..encoder import HOP, WINDOW, log_mel

    frame = 2 * HOP  # samples per encoder frame
    out: list[np.ndarray] = []
    i = 0
    while i < len(audios):
        group, pos, starts = [], 0, []
        while i < len(audios) and (not group or pos + len(audios[i]) <= PACK_SECONDS * SAMPLE_RATE):
            starts.append(pos)
            group.append(audios[i])
            pos += -(-(len(audios[i]) + int(GAP * SAMPLE_RATE)) // frame) * frame  # next start on a frame edge
            i += 1
        x = np.zeros(max(pos, WINDOW * HOP), dtype=np.float32)
        for s, a in zip(starts, group):
            x[s:s + len(a)] = a
        if len(x) > WINDOW * HOP:  # one clip over 30 s: encode it alone, windowed
            from ..encoder import encode
            out.append(encode(enc, group[0], pad=30.0)[layer].numpy())
            continue
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            h = enc(log_mel(torch.from_numpy(x))[None, :, :WINDOW])[layer][0].float().numpy()
        for s, a in zip(starts, group):
            n = len(a) // HOP // 2  # what encode() keeps for this clip alone
            out.append(h[s // frame: s // frame + n])
    return out


def _encode_chunk(args: tuple[list[dict], Path, Path, int, float, bool, int]) -> int:
    import torch

    from ..audio import load_audio
    from ..encoder import WhisperEncoder, encode

    items, root, dst, threads, pad, pack, layer = args
    torch.set_num_threads(threads)
    global _ENC
    if _ENC is None:
        _ENC = WhisperEncoder.from_ct2()
    enc = _ENC
    if pack:
        feats = [f.astype(np.float16) for f in _packed(enc, [load_audio(root / it["audio"]) for it in items], layer)]
    else:
        feats = [encode(enc, load_audio(root / it["audio"]), pad=pad)[layer].numpy().astype(np.float16)
                 for it in items]
    lens = [len(f) for f in feats]
    np.save(dst.with_suffix(".npy"), np.concatenate(feats))
    dst.with_suffix(".json").write_text(json.dumps({"ids": [it["id"] for it in items], "lengths": lens}))
    return len(items)


def cache_features(manifest: Path, out: Path, jobs: int = 2, pad: float = 0.0, pack: bool = False,
                   layer: int = -1) -> Path:
    """Encode every utterance of ``manifest`` into ``out/<set name>/``; returns that folder.

    ``pad``: seconds of zeros after each clip (see ``encoder.encode``); ``pack``: several training
    clips per 30 s window (needs ``pad`` of 30); ``layer``: which block's output (-1: the last,
    after Whisper's final layer norm; -2: the input of the last block, for a stack that fine-tunes
    that block).
    """
    if pack and pad < 30:
        raise ValueError("pack needs pad=30: packed clips sit in full 30 s windows")
    from tqdm import tqdm

    items = [json.loads(line) for line in manifest.open()]
    dst = out / manifest.stem
    dst.mkdir(parents=True, exist_ok=True)
    kind = {"pad": pad, "pack": pack, "layer": layer}
    old = feature_kind(dst)
    if (old["pad"], old["layer"]) != (pad, layer) and any(dst.glob("chunk-*.json")):
        raise ValueError(f"{dst} holds features with pad={old['pad']}, layer={old['layer']}, not "
                         f"pad={pad}, layer={layer}: use another folder")
    (dst / "kind.json").write_text(json.dumps(kind))
    todo = [(items[i:i + CHUNK], manifest.parent, dst / f"chunk-{i // CHUNK:05d}", max(1, 2 // jobs), pad, pack, layer)
            for i in range(0, len(items), CHUNK)]
    todo = [t for t in todo if not t[2].with_suffix(".json").exists()]
    with tqdm(total=len(items), initial=len(items) - sum(len(t[0]) for t in todo), unit="utt",
              desc=f"encode {manifest.stem}") as bar:
        if jobs == 1:
            for t in todo:
                bar.update(_encode_chunk(t))
        else:
            with mp.get_context("spawn").Pool(jobs) as pool:
                for n in pool.imap_unordered(_encode_chunk, todo):
                    bar.update(n)
    return dst


def feature_kind(folder: Path) -> dict:
    """``{"pad", "pack", "layer"}`` of a cached set (a cache from before kinds were recorded is
    unpadded, one from before layers were, the last layer's)."""
    f = folder / "kind.json"
    return {"pad": 0.0, "pack": False, "layer": -1, **(json.loads(f.read_text()) if f.exists() else {})}


def require_layer(folder: Path, tuned_blocks: int) -> dict:
    """The kind of the cached ``train`` and ``dev`` sets in ``folder``, which must both hold the
    encoder output below its last ``tuned_blocks`` blocks (what a stack fine-tuning them reads),
    with the same padding; else a ValueError that says which folder holds what."""
    kind, dev = feature_kind(folder / "train"), feature_kind(folder / "dev")
    if (kind["pad"], kind["layer"]) != (dev["pad"], dev["layer"]):
        raise ValueError(f"{folder}: train and dev features were encoded with different padding or layers")
    if kind["layer"] != -1 - tuned_blocks:
        raise ValueError(f"{folder} holds encoder output {kind['layer']}; a stack with its last {tuned_blocks} "
                         f"encoder blocks fine-tuned reads output {-1 - tuned_blocks}: use another feature folder")
    return kind


@dataclass
class FeatureSet:
    """Cached encoder features of one set: ``feats[id]`` is a (frames, dim) float16 view."""

    index: dict[str, tuple[int, int, int]]  # id -> (chunk, start, length)
    chunks: list[np.ndarray]

    @classmethod
    def open(cls, folder: Path) -> "FeatureSet":
        index, chunks = {}, []
        for j in sorted(folder.glob("chunk-*.json")):
            meta = json.loads(j.read_text())
            arr = np.load(j.with_suffix(".npy"), mmap_mode="r")
            start = 0
            for uid, n in zip(meta["ids"], meta["lengths"]):
                index[uid] = (len(chunks), start, n)
                start += n
            chunks.append(arr)
        return cls(index, chunks)

    def __getitem__(self, uid: str) -> np.ndarray:
        c, s, n = self.index[uid]
        return self.chunks[c][s:s + n]

    def __contains__(self, uid: str) -> bool:
        return uid in self.index

    def __len__(self) -> int:
        return len(self.index)
