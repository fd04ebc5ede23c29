"""Where a big list's decode time goes, against the same utterances without a list.

    .venv/bin/python scripts/time_big_list.py --limit 15 [--size 10000] [--passes 3] [--out transcripts.json]

The first ``limit`` utterances of each test set, with lists drawn as ``ctcbias bench scaling``
draws them (compiled beforehand, as its RTF column). CPU seconds on one thread (the machine's
other work moves wall time far more than CPU time), per stage: encoder, stack (the adapter's
catalog inside it), shortlist, the decode and what runs in it, the shortlist check; with
``--passes``, each figure is its best of that many passes. ``--out``
writes every transcript (words, times, confidences), so that two versions of the code can be
compared for identical results: run each with ``PYTHONPATH`` at its ``src`` and ``cmp`` the files.
"""

import argparse
import collections
import json
import random
import time
from pathlib import Path

import torch

from ctcbias.audio import SAMPLE_RATE, load_audio
from ctcbias.evaluation.scaling import DRAWN, SETS, SIZES, distractor_pool, draw_list
from ctcbias.inference import biasing_list, lexicon_lookup, phonetic_rescoring, recognizer, shortlist

SPENT: collections.Counter = collections.Counter()
CALLS: collections.Counter = collections.Counter()
_INSIDE: list[str] = []


def timed(owner, name: str, tag: str | None = None) -> None:
    """Count the CPU time of ``owner.name`` under ``tag`` (and "@confirm" inside the confirmation)."""
    f = getattr(owner, name)

    def wrapper(*a, **k):
        key = (tag or name) + ("@confirm" if "confirm" in _INSIDE else "")
        _INSIDE.append(tag or name)
        t0 = time.process_time()
        try:
            return f(*a, **k)
        finally:
            SPENT[key] += time.process_time() - t0
            CALLS[key] += 1
            _INSIDE.pop()

    setattr(owner, name, wrapper)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("data/synth"))
    ap.add_argument("--limit", type=int, default=15)
    ap.add_argument("--size", type=int, default=10000)
    ap.add_argument("--out", type=Path)
    ap.add_argument("--passes", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(1)
    for owner, name, tag in [(recognizer, "beam_search", None), (lexicon_lookup, "lookup", None),
                             (phonetic_rescoring, "rescore", None), (shortlist, "shortlist", None),
                             (shortlist, "confirmed", "confirm"), (recognizer.Recognizer, "posteriors", "stack"),
                             (recognizer.Recognizer, "entity_embeddings", None),
                             (recognizer.Recognizer, "features", "encoder"), (recognizer.Recognizer, "decode", None)]:
        timed(owner, name, tag)
    rec = recognizer.Recognizer.load()
    opts = rec.resolve()
    items = [it for name in SETS for it in [json.loads(l) for l in (a.data / f"{name}.jsonl").open()][:a.limit]]
    audio = [load_audio(a.data / it["audio"]) for it in items]
    reserved, pool = distractor_pool(), distractor_pool(reserved_only=False)
    rng, lists = random.Random("scaling"), {}
    for size in sorted(set(SIZES) | set(DRAWN) | {a.size}):  # the bench's order of draws
        lists[size] = [draw_list(list(dict.fromkeys(e["display"] for e in it["entities"])), pool, size, rng,
                                 len(reserved)) for it in items]
    big, empty = [rec.compile(x) for x in lists[a.size]], rec.compile([])
    rec.pipeline(audio[0], SAMPLE_RATE).decode(big[0], opts)  # warm
    total, stages, out = {}, {}, {}
    for i in range(a.passes):  # the machine's speed drifts between runs: each figure is its best pass
        if i:  # fresh lists, as the bench's: nothing a pass worked out from them is kept for the next
            biasing_list.COMPILED.clear()
            big = [rec.compile(x) for x in lists[a.size]]
        for mode in ("none", "list"):
            SPENT.clear(), CALLS.clear()
            t0 = time.process_time()
            for it, x, b in zip(items, audio, big):
                r = rec.pipeline(x, SAMPLE_RATE).decode(empty if mode == "none" else b, opts)
                if mode == "list":
                    out[it.get("id", it["audio"])] = [r.raw_text, r.text,
                                                       [(w.word, w.start, w.end, round(w.confidence, 6)) for w in r.words]]
            total[mode] = min(total.get(mode, float("inf")), time.process_time() - t0)
            for k, v in SPENT.items():
                got = stages.setdefault(mode, {}).get(k)
                stages[mode][k] = (min(got[0], v), CALLS[k]) if got else (v, CALLS[k])
    for mode in ("none", "list"):
        print(f"{mode}: {total[mode]:.2f} s CPU")
        for k, (v, n) in sorted(stages[mode].items(), key=lambda kv: -kv[1][0]):
            print(f"  {k:24s} {v:7.3f} s  {n} calls")
    print(f"{a.size:,} entries / no list: {total['list'] / total['none']:.2f}x")
    if a.out:
        a.out.write_text(json.dumps(out, indent=0))


if __name__ == "__main__":
    main()
