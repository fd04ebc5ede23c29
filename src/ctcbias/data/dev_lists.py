"""The dev sets' biasing lists, built like the test sets': each utterance's entities plus
same-domain *dev entity* distractors (never a reserved or a training entity)."""

from __future__ import annotations

import json
import random
from pathlib import Path

from .catalogs import DOMAIN_KINDS, dev_entity, load_catalog

__all__ = ["dev_items"]


def dev_items(data: Path, sizes=(100, 1000), seed: int = 0, name: str = "dev") -> list[dict]:
    """Dev utterances with lists built like the test sets': their entities plus dev-entity distractors.
    ``name``: ``dev``, or ``dev-heldout`` (the same utterances and lists, in the held-out voices)."""
    items = [json.loads(l) for l in (data / f"{name}.jsonl").open()]
    cat = load_catalog()
    pools = {dom: list(dict.fromkeys(e.display for k in kinds for e in cat[k] if dev_entity(e.display)))
             for dom, kinds in DOMAIN_KINDS.items()}
    rng = random.Random(f"{seed}:dev-lists")
    for it in items:
        dom = "medical" if it["domain"] == "medical" else "names"
        true = list(dict.fromkeys(e["display"] for e in it["entities"]))
        it["bias_lists"] = {}
        for n in sizes:
            others = [e for e in rng.sample(pools[dom], n + len(true)) if e not in true][: n - len(true)]
            lst = true + others
            rng.shuffle(lst)
            it["bias_lists"][str(n)] = lst
    return items
