"""Pick decoder weights on dev (dev entities, never the test sets or real speech).

    .venv/bin/python scripts/tune_decoder.py --data data/synth --n 120

Prints one line per setting tried: entity F1 and U-WER with 100- and 1000-entry dev lists.
"""

import argparse
import itertools
import json
from pathlib import Path

from ctcbias.data.dev_lists import dev_items
from ctcbias.evaluation.biasing import run_set
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
    # biasing weights: entity F1 with dev lists of 100 and 1000, and false entities with 1000-entry
    # lists that hold none of the utterance's entities (the guard)
    neg = []
    for it in ent:
        true = {en["display"] for en in it["entities"]}
        neg.append({**it, "entities": [], "bias_lists": {"1000": [w for w in it["bias_lists"]["1000"] if w not in true]}})
    bias = "joint" if rec.adapter is not None else "decoder"
    # the lookup's judge is fitted on dev ("ctcbias train lookup"); here its threshold (log-odds)
    # is tried beside the beam-side guard
    grid = {f"max_gap {g} lexicon threshold {t} guard {q}":
            {"bias": bias, "boost": BoostConfig(max_gap=g), "lexicon_threshold": t, "guard_distance": q}
            for g, t, q in [(4, 0.0, 0.4), (4, -0.5, 0.4), (4, 0.5, 0.4), (4, 0.0, None), (4, 0.0, 0.5),
                            (6, 0.0, 0.4)]}
    pos = run_set(rec, ent, a.data, grid, ["100", "1000"], progress=False)
    ng = run_set(rec, neg, a.data, grid, ["1000"], progress=False)["1000"]
    for k in grid:
        print(json.dumps({"setting": k, "f1_100": pos["100"][k]["f1"], "f1_1000": pos["1000"][k]["f1"],
                          "p_1000": pos["1000"][k]["precision"], "u_wer_1000": pos["1000"][k]["u_wer"],
                          "false_entities_no_entity_lists": ng[k]["fp"], "wer_no_entity_lists": ng[k]["wer"]}),
              flush=True)


if __name__ == "__main__":
    main()
