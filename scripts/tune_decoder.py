"""Pick decoder weights on dev (dev entities, never the test sets or real speech).

    .venv/bin/python scripts/tune_decoder.py --data /work/data/synth --n 120

Prints one line per setting tried: entity F1 and U-WER with 100- and 1000-entry dev lists.
"""

import argparse
import itertools
import json
from dataclasses import replace
from pathlib import Path

from ctcbias.evaluation.biasing import dev_items, run_set
from ctcbias.inference.beam_search import BeamConfig
from ctcbias.inference.recognizer import DecodingOptions, Recognizer
from ctcbias.inference.subword_boosting import BoostConfig


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("data/synth"))
    ap.add_argument("--n", type=int, default=120)
    ap.add_argument("--stage", default="lm", choices=["lm", "bias"])
    a = ap.parse_args()
    rec = Recognizer.load()
    items = dev_items(a.data)
    ent = [it for it in items if it["entities"]][: a.n]
    plain = [it for it in items if not it["entities"]][: a.n // 2]
    if a.stage == "lm":  # LM weight and word bonus: WER without a list, on all kinds of dev speech
        for lw, wb in itertools.product([0.3, 0.5, 0.8], [0.0, 1.0, 2.0]):
            o = DecodingOptions(bias="none", beam=BeamConfig(lm_weight=lw, word_bonus=wb))
            r = run_set(rec, ent + plain, a.data, {"x": {}}, ["100"], o, progress=False)["100"]["x"]
            print(json.dumps({"lm_weight": lw, "word_bonus": wb, "wer": r["wer"]}), flush=True)
        return
    grid = [
        {"boost": BoostConfig(base=b, ratio=r), "unigram_boost": u, "phonetic_weight": p}
        for b, r, u, p in [(1.0, 0.6, 8.0, 0.5), (0.5, 0.4, 6.0, 0.5), (1.5, 0.8, 10.0, 0.5),
                           (1.0, 0.6, 8.0, 0.25), (1.0, 0.6, 8.0, 1.0)]
    ]
    for g in grid:
        o = replace(DecodingOptions(), **g)
        r = run_set(rec, ent, a.data, {"all": {}}, ["100", "1000"], o, progress=False)
        u = run_set(rec, plain, a.data, {"all": {}}, ["1000"], o, progress=False)["1000"]["all"]
        print(json.dumps({k: str(v) for k, v in g.items()} | {s: {"f1": r[s]["all"]["f1"], "p": r[s]["all"]["precision"]}
                                                           for s in r} | {"u_wer_plain_1000": u["u_wer"]}), flush=True)


if __name__ == "__main__":
    main()
