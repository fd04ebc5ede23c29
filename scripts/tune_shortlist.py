"""Pick how a shortlist of a big list is decoded, on dev (never the test sets).

    .venv/bin/python scripts/tune_shortlist.py --n 20 [--whole]

Each dev utterance with entities gets a 10,000-entry list (``--size``): its entities plus catalog
entities that are not reserved for the test sets. One JSON line per setting (``a+b``: both):
entity F1, precision, recall, and the false entities of lists that hold none of the utterance's
entities (strangers). ``decode_s`` of the first setting also holds what every later one reuses
(the stack's pass without the list, the shortlist).
``--whole``: also the list decoded whole, without a shortlist. ``--model``: another model folder
(a retrained adapter beside a copy of the shipped files).
"""

import argparse
import json
import random
import time
from dataclasses import replace
from pathlib import Path

from ctcbias.audio import SAMPLE_RATE, load_audio
from ctcbias.evaluation.entities import EntityCounts, entity_counts
from ctcbias.evaluation.metrics import Counts, score
from ctcbias.evaluation.scaling import distractor_pool
from ctcbias.inference.recognizer import LookupOptions, Recognizer
from ctcbias.normalize import normalize

SETTINGS = {  # name -> ShortlistOptions overrides
    "now": {},
    "noconfirm": {"confirm": False},
    **{f"check{t}": {"confirm_threshold": t} for t in (-3.0, -2.75, -2.5, -2.25, -2.0, -1.75, -1.5, -1.25, -1.0, -0.75, -0.5, 0.0, 0.5)},
    **{f"size{n}pool{p}": {"size": n, "pool": p} for n in (20, 30, 45, 60) for p in (600, 1000)},
    "noadapter": {"adapter": False},
    **{f"pool1000fit{f}": {"pool": 1000, "fit": f} for f in (3.0, 3.5)},
    "guard": {"word_guard": True},
    "noguard": {"top:word_guard": False},  # the ordinary-word guard off (lists decoded whole)
    "decoder": {"top:bias": "decoder"},  # decoder biasing alone (the five techniques)
    **{f"lexdist{d}": {"top:lexicon_shortlist_distance": d} for d in (0.8, 0.9)},
    "nophonetic": {"top:techniques": ("subword", "unigram", "lexicon", "g2g")},
    **{f"counts{n}": {"counts_as": n} for n in (1000, 3000)},
    **{f"pool{p}": {"pool": p} for p in (300, 500, 700, 1500, 2000)},
    **{f"fit{f}": {"fit": f} for f in (3.5, 4.0)},
    "entityguard": {"entity_guard": True},
    **{f"over{n}": {"over": n} for n in (30, 100, 200, 300, 500)},
    "nolexicon": {"top:techniques": ("subword", "unigram", "phonetic", "g2g")},
    "nolexnophon": {"top:techniques": ("subword", "unigram", "g2g")},
    **{f"lookup{t}": {"top:lexicon_threshold": t} for t in (-1.8, -2.3, -2.8)},
    **{f"boost{b}": {"boost_scale": b} for b in (0.5, 1.5, 2.0)},
    **{f"fbeam{n}": {"fallback_beam": n} for n in (4, 8, 12, 16)},
    **{f"rivals{n}": {"rivals": n} for n in (0, 1, 2, 3, 5)},
    **{f"rdist{d}": {"rival_distance": d} for d in (0.0, 0.05, 0.15, 0.3)},
    **{f"cand{n}": {"top:lookup": LookupOptions(max_candidates=n)} for n in (40, 60, 100)},
    **{f"slcand{n}": {"lookup_candidates": n} for n in (40, 60, 100, 150)},
    **{f"fmargin{n}": {"fallback_margin": n} for n in (8, 12, 16, 25)},
    **{f"spot{n}": {"top:lookup": LookupOptions(spotted=n)} for n in (5, 10)},
    **{f"long{b}": {"prefer_long": b} for b in (0.0, 0.5, 1.5, 2.0, 3.0)},
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("data/synth"))
    ap.add_argument("--name", default="dev")
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--size", type=int, default=10000)
    ap.add_argument("--settings", default=",".join(SETTINGS))
    ap.add_argument("--whole", action="store_true")
    ap.add_argument("--model", type=Path, default=None, help="a model folder (default: the shipped one)")
    a = ap.parse_args()
    rec = Recognizer.load(a.model)
    reserved = set(distractor_pool())
    pool = [w for w in distractor_pool(reserved_only=False) if w not in reserved]
    items = [json.loads(l) for l in (a.data / f"{a.name}.jsonl").open()]
    items = [it for it in items if it["entities"]][: a.n]
    base = rec.resolve()
    names = a.settings.split(",")
    def setting(k):
        merged = {a: v for part in k.split("+") for a, v in SETTINGS[part].items()}  # "a+b": both
        top = {a[4:]: v for a, v in merged.items() if a.startswith("top:")}  # DecodingOptions fields
        short = {a: v for a, v in merged.items() if not a.startswith("top:")}
        return replace(base, shortlist=replace(base.shortlist, **short), **top)

    opts = {k: setting(k) for k in names}
    if a.whole:
        opts["whole"] = replace(base, shortlist=replace(base.shortlist, enabled=False))
    tot = {k: EntityCounts() for k in opts}
    fp = {k: 0 for k in opts}
    secs = {k: 0.0 for k in opts}
    words = {k: Counts() for k in opts}
    swords = {k: Counts() for k in opts}  # the strangers' lists' transcripts
    kept = {k: 0 for k in opts}
    said = 0  # decoding with the list (the first setting also pays the encoder)
    rng = random.Random("tune-shortlist")
    for it in items:
        true = list(dict.fromkeys(e["display"] for e in it["entities"]))
        lst = (true + [w for w in rng.sample(pool, a.size + len(true)) if w not in true])[: a.size]
        strange = [w for w in rng.sample(pool, a.size + len(true)) if w not in true][: a.size]
        run = rec.pipeline(load_audio(a.data / it["audio"]), SAMPLE_RATE)
        spoken = [e["spoken"] for e in it["entities"]]
        said += len(set(spoken))
        biased = {i for e in it["entities"] for i in range(e["word_start"], e["word_end"])}
        for k, o in opts.items():
            bias = rec.compile(lst, o)
            t0 = time.perf_counter()
            hyp = run.decode(bias, o).raw_text
            secs[k] += time.perf_counter() - t0
            tot[k].add(entity_counts(spoken, normalize(hyp), bias, it["text"]))
            words[k].add(score(it["text"], normalize(hyp), biased, bias.words))
            if o.shortlists(len(bias)):
                kept[k] += len(set(spoken) & {e.spoken for e in run.shortlisted(bias, o).entries})
            other = rec.compile(strange, o)
            shyp = normalize(run.decode(other, o).raw_text)
            fp[k] += entity_counts([], shyp, other, it["text"]).fp
            swords[k].add(score(it["text"], shyp))
    for k in opts:
        print(json.dumps({"setting": k, **tot[k].summary(), "strangers_fp": fp[k], "n": len(items),
                          "u_wer": round(words[k].u_wer, 4), "strangers_wer": round(swords[k].wer, 4), "shortlist_recall": round(kept[k] / max(said, 1), 3),
                          "decode_s": round(secs[k], 1)}), flush=True)


if __name__ == "__main__":
    main()
