"""A base model's dev figures, no list: the real-speech dev set (games-dev) and the first 200
synthetic dev utterances, greedy and beam + LM at each beam width, each recording encoded once.

    .venv/bin/python scripts/dev_wer.py --model data/armI-model [--beams 10 24] [--threads 2]

``--model``: a model folder (the shipped files with an arm's ``stack.pt``, ``config.json`` and
``encoder_top.pt``). Both sides normalized as the benches do, scored by jiwer. Dev sets only:
never the test sets or real evaluation speech.
"""

import argparse
import json
import time
from pathlib import Path

import jiwer
import torch

from ctcbias.inference.beam_search import BeamConfig
from ctcbias.inference.recognizer import Recognizer
from ctcbias.normalize import normalize


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", type=Path, default=None)
    ap.add_argument("--games", type=Path, default=Path("data/games/games-dev.jsonl"))
    ap.add_argument("--synth", type=Path, default=Path("data/synth/dev.jsonl"))
    ap.add_argument("--synth-n", type=int, default=200)
    ap.add_argument("--beams", type=int, nargs="+", default=[10, 24])
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    rec = Recognizer.load(a.model)
    empty = rec.compile([])
    settings = {"greedy": rec.resolve(bias="none", greedy=True)}
    settings |= {f"beam{b}": rec.resolve(bias="none", beam=BeamConfig(beam=b)) for b in a.beams}
    for name, manifest, n in [("games-dev", a.games, None), ("synthetic dev", a.synth, a.synth_n)]:
        items = [json.loads(line) for line in manifest.read_text().splitlines()][:n]
        refs, hyps, t0 = [], {k: [] for k in settings}, time.time()
        for it in items:
            p = rec.pipeline(str(manifest.parent / it["audio"]))
            refs.append(normalize(it["text"]))
            for k, opts in settings.items():
                hyps[k].append(normalize(p.decode(empty, opts).text))
        out = {k: round(100 * jiwer.wer(refs, h), 2) for k, h in hyps.items()}
        print(json.dumps({"set": name, "utterances": len(items), "wer_percent": out,
                          "minutes": round((time.time() - t0) / 60, 1)}), flush=True)


if __name__ == "__main__":
    main()
