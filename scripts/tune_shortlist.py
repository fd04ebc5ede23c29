"""Pick how a shortlist of a big list is decoded, on dev (never the test sets).

    .venv/bin/python scripts/tune_shortlist.py --n 20 [--whole]

Each dev utterance with entities gets a 10,000-entry list: its entities plus catalog entities
that are not reserved for the test sets. One JSON line per setting: entity F1, precision,
recall, and the false entities of lists that hold none of the utterance's entities (strangers).
``--whole``: also the list decoded whole, without a shortlist.
"""

import argparse
import json
import random
import time
from dataclasses import replace
from pathlib import Path

from ctcbias.audio import SAMPLE_RATE, load_audio
from ctcbias.evaluation.entities import EntityCounts, entity_counts
from ctcbias.evaluation.scaling import distractor_pool
from ctcbias.inference.recognizer import Recognizer
from ctcbias.normalize import normalize

SETTINGS = {  # name -> ShortlistOptions overrides
    "now": {},
    "pool200-flat": {"pool": 200, "prefer_long": 0.0},
    "pool600-flat": {"pool": 600, "prefer_long": 0.0},
    **{f"c{t}d{d}": {"confirm_threshold": t, "confirm_distance": d} for t in (-2.4, -2.8, -3.2) for d in (0.15, 0.25)},
    "guard0.3": {"guard_distance": 0.3},
    "guard0.25": {"guard_distance": 0.25},
    "boost0.5": {"boost_scale": 0.5},
    "noadapter": {"adapter": False},
    "size15": {"size": 15},
    "fit2": {"fit": 2.0},
    "guard0.3+noadapter": {"guard_distance": 0.3, "adapter": False},
    "guard0.3+boost0.5": {"guard_distance": 0.3, "boost_scale": 0.5},
    "confirm": {"confirm": True},
    "confirm+size15": {"confirm": True, "size": 15},
    "confirm+noadapter": {"confirm": True, "adapter": False},
    **{f"confirm{t}": {"confirm": True, "confirm_threshold": t} for t in (-2.2, -2.4, -2.6, -3.0, -3.5)},
    **{f"confirm-2.4+d{d}": {"confirm": True, "confirm_threshold": -2.4, "confirm_distance": d} for d in (0.1, 0.15, 0.25)},
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("data/synth"))
    ap.add_argument("--name", default="dev")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--size", type=int, default=10000)
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--whole", action="store_true")
    a = ap.parse_args()
    rec = Recognizer.load()
    reserved = set(distractor_pool())
    pool = [w for w in distractor_pool(reserved_only=False) if w not in reserved]
    items = [json.loads(l) for l in (a.data / f"{a.name}.jsonl").open()]
    items = [it for it in items if it["entities"]][: a.n]
    base = rec.resolve()
    names = a.settings.split(",")
    opts = {k: replace(base, shortlist=replace(base.shortlist, **SETTINGS[k])) for k in names}
    if a.whole:
        opts["whole"] = replace(base, shortlist=replace(base.shortlist, enabled=False))
    tot = {k: EntityCounts() for k in opts}
    fp = {k: 0 for k in opts}
    secs = {k: 0.0 for k in opts}  # decoding with the list (the first setting also pays the encoder)
    rng = random.Random("tune-shortlist")
    for it in items:
        true = list(dict.fromkeys(e["display"] for e in it["entities"]))
        lst = (true + [w for w in rng.sample(pool, a.size + len(true)) if w not in true])[: a.size]
        strange = [w for w in rng.sample(pool, a.size + len(true)) if w not in true][: a.size]
        run = rec.pipeline(load_audio(a.data / it["audio"]), SAMPLE_RATE)
        spoken = [e["spoken"] for e in it["entities"]]
        for k, o in opts.items():
            bias = rec.compile(lst, o)
            t0 = time.perf_counter()
            hyp = run.decode(bias, o).raw_text
            secs[k] += time.perf_counter() - t0
            tot[k].add(entity_counts(spoken, normalize(hyp), bias))
            other = rec.compile(strange, o)
            fp[k] += entity_counts([], normalize(run.decode(other, o).raw_text), other).fp
    for k in opts:
        print(json.dumps({"setting": k, **tot[k].summary(), "strangers_fp": fp[k], "n": len(items),
                          "decode_s": round(secs[k], 1)}), flush=True)


if __name__ == "__main__":
    main()
