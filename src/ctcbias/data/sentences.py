"""Entity sentences: fill the domain patterns with entities and fillers, keeping exact spans.

Each piece of a template is normalized on its own, so the word span of every entity in the
normalized text is known exactly (a possessive "'s" is joined to the entity's last word).
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field

from ..normalize import normalize
from .catalogs import Entity
from .patterns import ENTITY_SLOTS, FILLERS, PATTERNS

__all__ = ["Sentence", "fill", "patterns_for"]

# Patterns whose index is 5 mod 6 are kept for evaluation sets: test contexts are unseen in training.
EVAL_EVERY = 6


def patterns_for(domain: str, split: str) -> list[str]:
    pats = PATTERNS[domain]
    return [p for i, p in enumerate(pats) if (i % EVAL_EVERY == EVAL_EVERY - 1) == (split != "train")]


@dataclass
class Sentence:
    display: str
    text: str
    entities: list[dict] = field(default_factory=list)


def fill(template: str, rng: random.Random, pools: dict[str, list[Entity]]) -> Sentence:
    """Fill ``template``; ``pools`` maps an entity kind to the entities it may draw from."""
    disp: list[str] = []
    words: list[str] = []
    ents: list[dict] = []
    used: set[str] = set()
    for literal, name, _, _ in string.Formatter().parse(template):
        if literal:
            disp.append(literal)
            lw = normalize(literal).split()
            if literal.startswith("'s") and words:  # possessive belongs to the previous word
                words[-1] += "'s"
                lw = lw[1:] if lw and lw[0] == "s" else lw
            words += lw
        if name is None:
            continue
        if name in ENTITY_SLOTS:
            pool = pools[ENTITY_SLOTS[name]]
            e = rng.choice(pool)
            while e.spoken in used and len(pool) > len(used):
                e = rng.choice(pool)
            used.add(e.spoken)
            c0 = sum(len(d) for d in disp)
            disp.append(e.display)
            ew = e.spoken.split()
            ents.append({"display": e.display, "spoken": e.spoken, "kind": e.kind,
                         "word_start": len(words), "word_end": len(words) + len(ew),
                         "char_start": c0, "char_end": c0 + len(e.display)})
            words += ew
        else:
            v = rng.choice(FILLERS[name])
            disp.append(v)
            words += normalize(v).split()
    return Sentence("".join(disp), " ".join(words), ents)
