"""The data factory: plan every utterance, synthesize in parallel, write JSONL manifests.

Planning is deterministic under a seed and cheap; synthesis is resumable (finished utterances are
recorded in ``<set>.done.jsonl`` and skipped on the next run). Sets:

- ``train``: training voices, non-reserved entities, train carrier sentences (>= ``hours``).
- ``dev``: training voices, dev carriers, *dev entities* (sha1 prefix ``2``: unseen in training).
- ``dev-heldout``: the same dev utterances spoken by the held-out voices, which the stack never
  trained on (the dev voices are training voices, so dev hides what a new voice does to biasing).
  These are the test sets' voices: tune few numbers on it; it shares no text, entity or list with them.
- ``dev-kokoro`` (when ``kokoro_share > 0``): the dev utterances in held-out Kokoro pseudo-speakers.
  In ``train``, ``kokoro_share`` of the utterances are Kokoro pseudo-speakers and ``heavy_augment``
  adds pitch shift, band limit and codec ops, each on its own per-utterance stream (the texts stay).
- ``medical-test`` / ``names-test``: held-out voices, reserved entities only, eval-only patterns,
  and per utterance biasing lists of 100 and 1000 entries (its entities + same-domain distractors).
"""

from __future__ import annotations

import hashlib
import json
import os
import random
from dataclasses import dataclass
from multiprocessing import Pool
from pathlib import Path

import soundfile as sf
from tqdm import tqdm

from ..audio import SAMPLE_RATE
from .augment import apply_augment, heavier, plan_augment
from .catalogs import DOMAIN_KINDS, ReservedGate, dev_entity, load_catalog
from .patterns import PATTERNS
from .sentences import fill, patterns_for
from .text import carrier_sentences, split_of, word_counts
from .voices import Voice, kokoro_or, pick_voice, synthesize, voice_id

__all__ = ["BuildConfig", "sources", "plan", "build"]

_SEC_PER_WORD = 0.31  # measured on the dev set (training voices): 0.324 s/word; planning only
TEST_SETS = {"medical-test": ("medical", ["medical"]), "names-test": ("names", ["politics", "assistant"])}
# dev: the training voices (tuning, the lookup's judge); dev-heldout: the same utterances in the held-out voices
DEV_SETS = ("dev", "dev-heldout", "dev-kokoro")  # dev-kokoro: dev in held-out Kokoro pseudo-speakers (kokoro_share > 0)
BIAS_SIZES = (100, 1000)


@dataclass
class BuildConfig:
    out: Path
    hours: float = 40.0
    dev_utts: int = 500
    test_utts: int = 500
    entity_share: float = 0.55
    seed: int = 0
    jobs: int = os.cpu_count() or 1
    # share of training utterances spoken by Kokoro pseudo-speakers instead of the robotic voices, and the
    # heavier training augmentation (pitch, band limit, codec); 0 / False give the plan of before, bit for bit
    kokoro_share: float = 0.4
    heavy_augment: bool = True


def sources():
    """Carrier sentences, the entity catalog, and the gate that keeps reserved entities out of training.

    Single words heard 20+ times in the carrier text are common words, not entities (see load_catalog).
    """
    carriers = carrier_sentences()
    common = frozenset(w for w, n in word_counts(carriers).items() if n >= 20)
    catalog = load_catalog(common)
    return carriers, catalog, ReservedGate.from_catalog(catalog)


def plan(cfg: BuildConfig) -> dict[str, list[dict]]:
    carriers, catalog, gate = sources()
    pools = {"train": {}, "dev": {}, "test": {}}
    for kind, ents in catalog.items():
        pools["test"][kind] = [e for e in ents if e.reserved]
        ok = [e for e in ents if not e.reserved and e.spoken not in gate]
        pools["dev"][kind] = [e for e in ok if dev_entity(e.display)]
        dev_words = {e.spoken for e in pools["dev"][kind]}
        pools["train"][kind] = [e for e in ok if not dev_entity(e.display) and e.spoken not in dev_words]
    clean = [c for c in carriers if c[1] not in gate]
    texts = {"train": [c for c in clean if split_of(c[1]) == "train"],
             "dev": [c for c in clean if split_of(c[1]) == "dev"]}
    sets: dict[str, list[dict]] = {}
    for split, budget in (("train", cfg.hours * 3600), ("dev", None)):
        rng = random.Random(f"{cfg.seed}:{split}")  # one stream per set: changing one leaves the others
        items, secs = [], 0.0
        while (secs < budget) if budget else (len(items) < cfg.dev_utts):
            if rng.random() < cfg.entity_share:
                domain = rng.choice(list(PATTERNS))
                s = fill(rng.choice(patterns_for(domain, split)), rng, pools[split])
                item = {"display": s.display, "text": s.text, "entities": s.entities, "domain": domain}
                if s.text in gate:  # a template word or filler next to an entity formed a reserved name
                    continue
            else:
                disp, norm, src = rng.choice(texts[split])
                item = {"display": disp, "text": norm, "entities": [], "domain": f"carrier:{src}"}
            item.update(id=f"{split}-{len(items):06d}", split=split, voice=pick_voice(rng, held_out=False),
                        augment=plan_augment(rng, "train" if split == "train" else "light"))
            if split == "train":  # own stream per utterance (kokoro_or, heavier): the plan's stream is untouched
                key = f"{cfg.seed}:{item['id']}"
                item.update(voice=kokoro_or(item["voice"], key, cfg.kokoro_share),
                            augment=heavier(item["augment"], key, cfg.heavy_augment))
            items.append(item)
            secs += len(item["text"].split()) * _SEC_PER_WORD
        sets[split] = items
    rng = random.Random(f"{cfg.seed}:dev-heldout")
    sets["dev-heldout"] = [{**it, "id": it["id"].replace("dev-", "dev-heldout-", 1), "split": "dev-heldout",
                            "voice": pick_voice(rng, held_out=True)} for it in sets["dev"]]
    if cfg.kokoro_share > 0:  # the dev utterances in held-out Kokoro pseudo-speakers (a seed range training never uses)
        sets["dev-kokoro"] = [{**it, "id": it["id"].replace("dev-", "dev-kokoro-", 1), "split": "dev-kokoro",
                               "voice": kokoro_or({}, f"{cfg.seed}:{it['id']}", 1.0, held_out=True)}
                              for it in sets["dev"]]
    for name, (dom, pattern_domains) in TEST_SETS.items():
        rng = random.Random(f"{cfg.seed}:{name}")
        # one display form may be several kinds ("Gordon": first name and surname): list it once
        distract = list(dict.fromkeys(e.display for k in DOMAIN_KINDS[dom] for e in pools["test"][k]))
        items = []
        for i in range(cfg.test_utts):
            pd = rng.choice(pattern_domains)
            s = fill(rng.choice(patterns_for(pd, "test")), rng, pools["test"])
            true = list(dict.fromkeys(e["display"] for e in s.entities))
            lists = {}
            for n in BIAS_SIZES:
                others = [e for e in rng.sample(distract, min(len(distract), n + len(true)))
                          if e not in true][: n - len(true)]
                lst = true + others
                rng.shuffle(lst)
                lists[str(n)] = lst
            items.append({"id": f"{name}-{i:05d}", "display": s.display, "text": s.text, "entities": s.entities,
                          "domain": pd, "split": name, "voice": pick_voice(rng, held_out=True),
                          "augment": plan_augment(rng, "light"), "bias_lists": lists})
        sets[name] = items
    # The gate, once more over the finished texts: nothing reserved may reach train or dev.
    for split in ("train", "dev", "dev-heldout"):
        leaks = [it["id"] for it in sets[split] if it["text"] in gate]
        if leaks:
            raise AssertionError(f"reserved entities in {split}: {leaks[:5]}")
    return sets


_BABBLE: list | None = None


def babble_noise():
    global _BABBLE
    if _BABBLE is None:
        rng = random.Random(1234)
        lines = ["the meeting will resume after a short break", "could you pass me the salt please",
                 "i think we should take the earlier train", "she said the weather would turn cold",
                 "nobody knew where the old road used to go", "we have to finish this before lunch"]
        _BABBLE = [synthesize(pick_voice(rng, held_out=False), t) for t in lines]
    return _BABBLE


def _synth(args) -> dict:
    item, out = args
    rel = f"audio/{item['split']}/{item['id']}.flac"
    path = out / rel
    try:
        audio = synthesize(item["voice"], item["text"])
        babble = any(s["op"] == "noise" and s["kind"] == "babble" for s in item["augment"])
        audio = apply_augment(audio, item["augment"], babble_noise() if babble else None)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.flac")
        sf.write(tmp, audio, SAMPLE_RATE, subtype="PCM_16")
        os.replace(tmp, path)
        dur = sf.info(str(path)).duration
    except Exception as e:  # one bad utterance must not stop a 40-hour build
        return {"id": item["id"], "error": str(e)[:300]}
    return {"id": item["id"], "key": _key(item), "audio": rel, "duration": round(dur, 3)}


def _key(item: dict) -> str:
    """What the audio depends on: a changed plan re-synthesizes instead of reusing stale audio."""
    return hashlib.sha1(json.dumps([item["text"], item["voice"], item["augment"]], sort_keys=True).encode()).hexdigest()[:16]


def build(cfg: BuildConfig, only: list[str] | None = None) -> dict[str, dict]:
    """Plan, synthesize (resuming), and write ``<set>.jsonl`` manifests; returns per-set stats."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    stats: dict[str, dict] = {}
    if only and {"games-train", "games-dev"} & set(only):  # real game speech: its own pipeline (ctcbias.data.games)
        from .games import build_games

        stats.update(build_games(out, jobs=cfg.jobs))
    if only and "games-sky" in only:  # the other game, labelled by Whisper (ctcbias.data.steel_sky)
        from .steel_sky import build_sky

        stats.update(build_sky(out, jobs=cfg.jobs))
    if only:
        only = [s for s in only if s not in {"games-train", "games-dev", "games-sky"}]
        if not only:
            return stats
    sets = plan(cfg)
    for name, items in sets.items():
        if only and name not in only:
            continue
        done_path = out / f"{name}.done.jsonl"
        keys = {it["id"]: _key(it) for it in items}
        done = {}
        for line in done_path.read_text().splitlines() if done_path.exists() else []:
            r = json.loads(line)
            if "error" not in r and r.get("key") == keys.get(r["id"]):
                done[r["id"]] = r
        todo = [(it, out) for it in items if it["id"] not in done]
        with open(done_path, "a") as log, Pool(cfg.jobs) as pool:
            for r in tqdm(pool.imap_unordered(_synth, todo, chunksize=4), total=len(todo), desc=name,
                          initial=0, unit="utt"):
                log.write(json.dumps(r) + "\n")
                log.flush()
                if "error" not in r:
                    done[r["id"]] = r
        by_voice: dict[str, float] = {}
        with open(out / f"{name}.jsonl", "w") as f:
            for it in items:
                if it["id"] not in done:
                    continue
                v = Voice(it["voice"]["engine"], it["voice"]["name"]).id
                by_voice[v] = by_voice.get(v, 0.0) + done[it["id"]]["duration"] / 3600
                rec = {"id": it["id"], "audio": done[it["id"]]["audio"], "duration": done[it["id"]]["duration"],
                       "text": it["text"], "display": it["display"], "entities": it["entities"],
                       "voice": voice_id(it["voice"]), "voice_settings": it["voice"], "domain": it["domain"],
                       "split": it["split"], "augment": it["augment"]}
                if "bias_lists" in it:
                    rec["bias_lists"] = it["bias_lists"]
                    rec["words"] = it["bias_lists"]["100"]
                f.write(json.dumps(rec, ensure_ascii=False) + "\n")
        stats[name] = {"utterances": sum(it["id"] in done for it in items), "planned": len(items),
                       "hours": round(sum(by_voice.values()), 3),
                       "hours_by_voice": {k: round(v, 3) for k, v in sorted(by_voice.items())}}
    path = out / "stats.json"  # merged, so a partial build (--only) keeps the other sets' figures
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged.update(stats)
    path.write_text(json.dumps(merged, indent=2))
    return stats
