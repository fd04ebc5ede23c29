"""Cache the frozen encoder's output for a manifest, once, so training never runs the encoder.

Layout under ``<out>/<set>/``: ``chunk-00000.npy`` (all frames of up to ``CHUNK`` utterances,
float16, ``(frames, dim)``) and ``chunk-00000.json`` (ids and frame counts). A chunk whose json
exists is finished, so an interrupted run resumes where it stopped. Workers take whole chunks.
"""

from __future__ import annotations

import json
import multiprocessing as mp
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CHUNK = 1000
_ENC = None  # one encoder per worker process


def _encode_chunk(args: tuple[list[dict], Path, Path, int]) -> int:
    import torch

    from ..audio import load_audio
    from ..encoder import WhisperEncoder, encode

    items, root, dst, threads = args
    torch.set_num_threads(threads)
    global _ENC
    if _ENC is None:
        _ENC = WhisperEncoder.from_ct2()
    enc = _ENC
    feats, lens = [], []
    for it in items:
        x = encode(enc, load_audio(root / it["audio"]))[-1]
        feats.append(x.numpy().astype(np.float16))
        lens.append(len(x))
    np.save(dst.with_suffix(".npy"), np.concatenate(feats))
    dst.with_suffix(".json").write_text(json.dumps({"ids": [it["id"] for it in items], "lengths": lens}))
    return len(items)


def cache_features(manifest: Path, out: Path, jobs: int = 2) -> Path:
    """Encode every utterance of ``manifest`` into ``out/<set name>/``; returns that folder."""
    from tqdm import tqdm

    items = [json.loads(line) for line in manifest.open()]
    dst = out / manifest.stem
    dst.mkdir(parents=True, exist_ok=True)
    todo = [(items[i:i + CHUNK], manifest.parent, dst / f"chunk-{i // CHUNK:05d}", max(1, 2 // jobs))
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
