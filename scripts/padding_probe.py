"""Which Whisper features does the CTC stack learn most from? A small A/B of encoder inputs.

The same small stack is trained for the same number of steps on the same training utterances,
once per way of feeding the frozen encoder, and scored on the same dev set (greedy WER, phone
error rate). Ways (see ``encoder.encode`` and ``training.features``):

- ``plain``: each clip at its own length (how the shipped model was trained);
- ``packed``: training clips packed into 30 s windows, dev clips alone in a 30 s window (pad 30);
- ``tail5``: each clip followed by 5 s of zeros (a cheaper padding);
- ``layer4``: plain, but the output of block 4 of 6 instead of the last (after ``ln_post``).

    .venv/bin/python scripts/padding_probe.py --synth data/synth --work data/probe \\
        --train-utts 1500 --epochs 6

Needs the dev set and at least ``--train-utts`` synthesized training utterances (the training
set may still be building: the probe takes finished ones). Writes ``<work>/probe.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ctcbias.data.build import BuildConfig, plan
from ctcbias.training.features import cache_features
from ctcbias.training.loop import SpecAugment
from ctcbias.training.train import TrainConfig, train

WAYS = {"plain": (0.0, False), "packed": (30.0, True), "tail5": (5.0, False), "layer4": (0.0, False)}
LAYER = {"layer4": 3}  # ways that read another block than the last (plain clips only)


def cache_layer(manifest: Path, out: Path, layer: int) -> None:
    """The feature cache's layout (one chunk) with block ``layer``'s output instead of the last."""
    import numpy as np
    from tqdm import tqdm

    from ctcbias.audio import load_audio
    from ctcbias.encoder import WhisperEncoder, encode

    dst = out / manifest.stem
    if (dst / "chunk-00000.json").exists():
        return
    dst.mkdir(parents=True, exist_ok=True)
    enc = WhisperEncoder.from_ct2()
    items = [json.loads(line) for line in manifest.open()]
    feats = [encode(enc, load_audio(it["audio"]))[layer].numpy().astype(np.float16)
             for it in tqdm(items, desc=f"encode {manifest.stem} block {layer + 1}")]
    np.save(dst / "chunk-00000.npy", np.concatenate(feats))
    (dst / "chunk-00000.json").write_text(json.dumps({"ids": [it["id"] for it in items],
                                                      "lengths": [len(f) for f in feats]}))
    (dst / "kind.json").write_text(json.dumps({"pad": 0.0, "pack": False, "layer": layer}))


def manifests(synth: Path, work: Path, n: int) -> None:
    """``<work>/train.jsonl`` (first ``n`` finished training clips) and ``dev.jsonl``, absolute audio paths."""
    work.mkdir(parents=True, exist_ok=True)
    if not (work / "train.jsonl").exists():
        done = {json.loads(line)["id"] for line in (synth / "train.done.jsonl").open()}
        items = [it for it in plan(BuildConfig(out=synth))["train"] if it["id"] in done][:n]
        if len(items) < n:
            raise SystemExit(f"only {len(items)} training clips synthesized so far; need {n}")
        with (work / "train.jsonl").open("w") as f:
            for it in items:
                f.write(json.dumps({**it, "audio": str(synth / "audio" / "train" / f"{it['id']}.flac")}) + "\n")
    if not (work / "dev.jsonl").exists():
        with (work / "dev.jsonl").open("w") as f:
            for line in (synth / "dev.jsonl").open():
                it = json.loads(line)
                f.write(json.dumps({**it, "audio": str(synth / it["audio"])}) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--synth", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--train-utts", type=int, default=1500)
    ap.add_argument("--epochs", type=float, default=6.0)
    ap.add_argument("--ways", nargs="+", default=list(WAYS), choices=list(WAYS))
    a = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    manifests(a.synth, a.work, a.train_utts)
    res_file = a.work / "probe.json"
    results = json.loads(res_file.read_text()) if res_file.exists() else {}
    for way in a.ways:
        if way in results:
            continue
        pad, pack = WAYS[way]
        feats = a.work / f"feats-{way}"
        for name in ("dev", "train"):
            if way in LAYER:
                cache_layer(a.work / f"{name}.jsonl", feats, LAYER[way])
            else:
                cache_features(a.work / f"{name}.jsonl", feats, jobs=1, pad=pad, pack=pack and name == "train")
        out = a.work / f"model-{way}"
        train(TrainConfig(data=a.work, feats=feats, work=a.work / f"run-{way}", out=out, epochs=a.epochs,
                          batch_frames=5000, lr=1.2e-3, warmup=50,
                          augment=SpecAugment(time_mask_max=8, dim_mask_max=24)))
        meta = json.loads((out / "config.json").read_text())
        results[way] = {"pad": pad, "pack": pack, "steps": meta["steps"], "dev": meta["dev"],
                        "train_hours": meta["train_hours"]}
        res_file.write_text(json.dumps(results, indent=2) + "\n")
        logging.info("%s: %s", way, results[way])
    for way, r in results.items():
        print(f"{way:8s} steps {r['steps']:5d}  dev WER {r['dev']['wer']:.3f}  PER {r['dev']['per']:.3f}")


if __name__ == "__main__":
    main()
