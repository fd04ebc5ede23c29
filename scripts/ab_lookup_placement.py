"""A/B of where the lexicon lookup puts a believed entry, on dev sets only: the widest-fitting span
(the shipped rule) against the candidate's own span. Joint and all five techniques, 100 and 1,000
entries.

    python scripts/ab_lookup_placement.py data/synth 150
"""

import sys
from pathlib import Path

import torch

from ctcbias.data.dev_lists import dev_items
from ctcbias.evaluation.biasing import run_set
from ctcbias.inference import lexicon_lookup
from ctcbias.inference.recognizer import TECHNIQUES, Recognizer

torch.set_num_threads(1)
data, n = Path(sys.argv[1]), int(sys.argv[2])
rec = Recognizer.load()
systems = {"joint": {"bias": "joint", "techniques": TECHNIQUES}, "all five": {"bias": "decoder", "techniques": TECHNIQUES}}
shipped = lexicon_lookup._placed
for name in ("dev", "dev-heldout"):
    items = dev_items(data, name=name)[:n]
    for rule in ("shipped", "own span"):
        lexicon_lookup._placed = shipped if rule == "shipped" else \
            (lambda c, cs, words, fragments: (int(c["start"]), int(c["end"]), int(c["entry"])))
        r = run_set(rec, items, data, systems, ["100", "1000"], progress=False)
        for size in ("100", "1000"):
            for system in systems:
                m = r[size][system]
                print(name, rule, size, system, {k: m[k] for k in ("wer", "u_wer", "precision", "recall", "f1")},
                      flush=True)
