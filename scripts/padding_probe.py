"""Does the CTC stack learn more from Whisper features of padded windows? A small A/B.

The same small stack is trained for the same number of steps on the same training utterances,
once per way of feeding the frozen encoder, and scored on the same dev set (greedy WER, phone
error rate). Ways (see ``encoder.encode`` and ``training.features``):

- ``plain``: each clip at its own length (how the shipped model was trained);
- ``packed``: training clips packed into 30 s windows, dev clips alone in a 30 s window (pad 30);
- ``tail5``: each clip followed by 5 s of zeros (a cheaper padding).

    .venv/bin/python scripts/padding_probe.py --synth /work/data/synth --work /work/data/probe \\
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
from ctcbias.training.train import TrainConfig, train

WAYS = {"plain": (0.0, False), "packed": (30.0, True), "tail5": (5.0, False)}


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
        cache_features(a.work / "dev.jsonl", feats, jobs=1, pad=pad)
        cache_features(a.work / "train.jsonl", feats, jobs=1, pad=pad, pack=pack)
        out = a.work / f"model-{way}"
        train(TrainConfig(data=a.work, feats=feats, work=a.work / f"run-{way}", out=out, epochs=a.epochs,
                          batch_frames=5000, lr=1.2e-3, warmup=50, time_mask_max=8, dim_mask_max=24))
        meta = json.loads((out / "config.json").read_text())
        results[way] = {"pad": pad, "pack": pack, "steps": meta["steps"], "dev": meta["dev"],
                        "train_hours": meta["train_hours"]}
        res_file.write_text(json.dumps(results, indent=2) + "\n")
        logging.info("%s: %s", way, results[way])
    for way, r in results.items():
        print(f"{way:8s} steps {r['steps']:5d}  dev WER {r['dev']['wer']:.3f}  PER {r['dev']['per']:.3f}")


if __name__ == "__main__":
    main()
