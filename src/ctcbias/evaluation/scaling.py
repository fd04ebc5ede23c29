"""``ctcbias bench scaling``: big lists (``bench/SCALING.md``).

The default system on the test sets' first utterances with lists of 0 to 20,000 entries, drawn as
in ``ctcbias bench``'s "List size" section (the utterance's entities plus distractors from both
test domains' reserved entities; past those, other catalog entities). Per size: entity F1,
precision, recall, U-WER, end-to-end RTF with the list compiled beforehand, compile seconds per
list, the shortlist's recall (the share of said entities among the entries an utterance decodes
with), the whole run with each utterance's own list compiled in it against the no-list run, and
the process's peak resident memory after the size (sizes run smallest first). The big sizes are
timed again utterance by utterance against no list (the machine's speed drifts over a run, and
the sizes run minutes apart). Then lists of
10,000 entries that hold none of the utterance's entities: the U-WER change and false entities.
"""

from __future__ import annotations

import os
import platform
import random
import resource
import time
from pathlib import Path

from ..audio import SAMPLE_RATE, load_audio
from ..inference.recognizer import Recognizer
from ..normalize import normalize
from .base import git_commit, write_results
from .entities import EntityCounts, entity_counts
from .metrics import Counts, score

__all__ = ["SIZES", "distractor_pool", "draw_list", "run"]

SIZES = (0, 100, 1000, 10000, 20000)
SETS = ("medical-test", "names-test")
DRAWN = (0, 10, 100, 1000, 10000)  # the "List size" section's sizes, drawn in its order
PAIRED = (10000, 20000)  # sizes also timed against no list utterance by utterance


def distractor_pool(reserved_only: bool = True) -> list[str]:
    """Distractors: both test domains' reserved entities (as ``ctcbias bench``'s "List size"), then,
    unless ``reserved_only``, the other catalog entities of those domains in a seeded order (for
    lists longer than the reserved ones)."""
    from ..data.catalogs import DOMAIN_KINDS, load_catalog

    cat = load_catalog()
    every = [e for kinds in DOMAIN_KINDS.values() for k in kinds for e in cat[k]]
    pool = list(dict.fromkeys(e.display for e in every if e.reserved))
    if reserved_only:
        return pool
    rest = sorted(set(e.display for e in every) - set(pool))
    random.Random("scaling-rest").shuffle(rest)
    return pool + rest


def draw_list(true: list[str], pool: list[str], size: int, rng: random.Random, reserved: int | None = None) -> list[str]:
    """A list of ``size`` entries: ``true`` first, then distractors drawn from ``pool`` (from its first
    ``reserved`` entries while they suffice, so that sizes up to those draw as before)."""
    head = pool[:reserved] if reserved and size + len(true) <= reserved else pool
    return (true + [w for w in rng.sample(head, min(len(head), size + len(true))) if w not in true])[:size]


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def run(data: Path, out: Path, limit: int = 30, sizes=SIZES, strangers: int = 10000, progress: bool = True,
        service: int = 5) -> dict:
    from tqdm import tqdm

    rec = Recognizer.load()
    opts = rec.resolve()
    import json

    items = [it for name in SETS for it in [json.loads(l) for l in (data / f"{name}.jsonl").open()][:limit]]
    audio = [load_audio(data / it["audio"]) for it in items]
    secs = sum(len(a) for a in audio) / SAMPLE_RATE
    reserved = distractor_pool()
    pool = distractor_pool(reserved_only=False)
    res: dict = {"machine": f"{os.cpu_count()} cores, {platform.machine()}", "commit": git_commit(),
                 "utterances": len(items), "audio_seconds": round(secs, 1), "shortlist": vars(opts.shortlist).copy(),
                 "peak_mb_start": _peak_mb(), "sizes": {}}
    t_start = time.time()
    if items:  # what the first call loads (the LM, the heads' files) stays out of the first size's time
        rec.pipeline(audio[0], SAMPLE_RATE).decode(rec.compile([]), opts)
    rng = random.Random("scaling")  # the "List size" section's seed and order of draws
    drawn: dict[int, list[list[str]]] = {}
    for size in sorted(set(sizes) | set(DRAWN)):
        lists = [draw_list(list(dict.fromkeys(en["display"] for en in it["entities"])), pool, size, rng, len(reserved))
                 for it in items]
        if size not in sizes:  # drawn all the same, so that the other sizes draw what "List size" draws
            continue
        if size in PAIRED:
            drawn[size] = lists
        c, e = Counts(), EntityCounts()
        t_compile = t_run = 0.0
        kept = said = shortlisted = 0
        for it, x, lst in zip(tqdm(items, desc=f"{size} entries", disable=not progress, leave=False), audio, lists):
            true = list(dict.fromkeys(en["display"] for en in it["entities"]))
            t0 = time.perf_counter()
            bias = rec.compile(lst)
            t1 = time.perf_counter()
            run_ = rec.pipeline(x, SAMPLE_RATE)
            hyp = run_.decode(bias, opts).text
            t2 = time.perf_counter()
            t_compile, t_run = t_compile + t1 - t0, t_run + t2 - t1
            if size and opts.shortlists(len(bias)):
                sub = run_.shortlisted(bias, opts)
                have = {en.spoken for en in sub.entries}
                spoken = {normalize(t) for t in true}
                said += len(spoken)
                kept += len(spoken & have)
                shortlisted += len(sub)
            biased = {i for en in it["entities"] for i in range(en["word_start"], en["word_end"])}
            c.add(score(it["text"], normalize(hyp), biased, bias.words))
            e.add(entity_counts([en["spoken"] for en in it["entities"]] if size else [], normalize(hyp), bias,
                                it["text"]))
        r = {**c.summary(), **e.summary(), "rtf": round(t_run / secs, 4),
             "compile_seconds_per_list": round(t_compile / len(items), 3),
             "run_seconds_with_compile": round(t_compile + t_run, 2), "peak_mb": _peak_mb()}
        if said:
            r["shortlist_recall"] = round(kept / said, 3)
            r["shortlist_mean_entries"] = round(shortlisted / len(items), 1)
        res["sizes"][str(size)] = r
    if "0" in res["sizes"]:
        base = res["sizes"]["0"]
        for r in res["sizes"].values():
            r["rtf_vs_none"] = round(r["rtf"] / max(base["rtf"], 1e-9), 2)
            r["run_vs_none"] = round(r["run_seconds_with_compile"] / max(base["run_seconds_with_compile"], 1e-9), 2)
    if drawn:
        res["paired"] = _paired(rec, opts, audio, drawn, progress)
    if strangers:
        res["strangers"] = _strangers(rec, items, audio, reserved, strangers, progress)
    # one 20,000-entry list, compiled afresh (nothing of it cached)
    big = max(sizes)
    lst = draw_list([], pool, big, random.Random("compile"), len(reserved))
    from ..inference import biasing_list as bl

    bl.clear_caches()
    t0 = time.perf_counter()
    rec.compile(lst)
    res["compile_fresh"] = {"entries": len(lst), "seconds": round(time.perf_counter() - t0, 3)}
    if service:
        res["service"] = _service(rec, data / items[0]["audio"], pool, len(reserved), big, service)
    res["peak_mb_end"] = _peak_mb()
    res["wall_seconds"] = round(time.time() - t_start, 1)
    write_results(out, "scaling", res, markdown(res))
    return res


def _paired(rec: Recognizer, opts, audio, drawn: dict[int, list[list[str]]], progress: bool,
            rounds: int = 3) -> dict:
    """Each big size's time against no list, paired: every utterance is decoded without a list and
    then with its list (compiled beforehand), one after the other, so that the machine's speed,
    which drifts over a run, is the same for both; ``rounds`` passes, their median ratio."""
    from tqdm import tqdm

    none = rec.compile([])
    out = {}
    for size, lists in drawn.items():
        bias = [rec.compile(lst) for lst in lists]
        ratios = []
        for _ in tqdm(range(rounds), desc=f"{size} paired", disable=not progress, leave=False):
            t = [0.0, 0.0]
            for x, b in zip(audio, bias):
                for j, lst in enumerate((none, b)):
                    t0 = time.perf_counter()
                    rec.pipeline(x, SAMPLE_RATE).decode(lst, opts)
                    t[j] += time.perf_counter() - t0
            ratios.append(round(t[1] / t[0], 2))
        out[str(size)] = {"ratios": ratios, "median": sorted(ratios)[len(ratios) // 2]}
    return out


def _rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _service(rec: Recognizer, audio: Path, pool: list[str], reserved: int, size: int, n: int) -> dict:
    """The service (its app, in this process) answering ``n`` requests at once, each with its own
    ``size``-entry list: resident memory before, the most while they are in flight (sampled every
    20 ms), and after; the compiled-list cache's estimate after."""
    import json
    import threading
    from concurrent.futures import ThreadPoolExecutor

    from fastapi.testclient import TestClient

    from ..inference import biasing_list as bl
    from ..service.app import Limits, create_app

    rng = random.Random("service")
    lists = [json.dumps(draw_list([], pool, size, rng, reserved)) for _ in range(n)]
    data = audio.read_bytes()
    with TestClient(create_app(rec, Limits(max_entries=size))) as client:
        def ask(words: str | None) -> int:
            form = {"words": words} if words else {}
            return client.post("/v1/transcribe", files={"audio": (audio.name, data)}, data=form).status_code

        ask(None)
        before = _rss_mb()
        top, done = [before], threading.Event()

        def sample():
            while not done.is_set():
                top[0] = max(top[0], _rss_mb())
                time.sleep(0.02)

        watcher = threading.Thread(target=sample)
        watcher.start()
        t0 = time.perf_counter()
        with ThreadPoolExecutor(n) as ex:
            codes = list(ex.map(ask, lists))
        seconds = time.perf_counter() - t0
        done.set()
        watcher.join()
    return {"requests": n, "entries": size, "ok": sum(c == 200 for c in codes), "seconds": round(seconds, 2),
            "rss_before_mb": round(before, 1), "rss_peak_mb": round(max(top[0], _rss_mb()), 1),
            "rss_after_mb": round(_rss_mb(), 1), "cache_mb": round(bl.COMPILED.nbytes / 2**20, 1),
            "cache_budget_mb": round(bl.COMPILED.max_bytes / 2**20, 1), "cached_lists": len(bl.COMPILED)}


def _strangers(rec: Recognizer, items, audio, pool: list[str], size: int, progress: bool) -> dict:
    """Each utterance with a ``size``-entry list that holds none of its entities, against no list:
    U-WER (its own entity words left out) and the false entities."""
    from tqdm import tqdm

    opts, none = rec.resolve(), rec.resolve(bias="none")
    rng = random.Random("strangers")
    tot = {"none": Counts(), "list": Counts()}
    fp = 0
    for it, x in zip(tqdm(items, desc=f"{size} strangers", disable=not progress, leave=False), audio):
        true = {en["display"] for en in it["entities"]}
        lst = [w for w in rng.sample(pool, size + len(true)) if w not in true][:size]
        bias = rec.compile(lst)
        own = {i for en in it["entities"] for i in range(en["word_start"], en["word_end"])}
        run_ = rec.pipeline(x, SAMPLE_RATE)
        for k, o in (("none", none), ("list", opts)):
            hyp = normalize(run_.decode(bias, o).text)
            tot[k].add(score(it["text"], hyp, own))
            if k == "list":
                fp += entity_counts([], hyp, bias, it["text"]).fp
    return {"entries": size, "utterances": len(items), "u_wer_none": round(tot["none"].u_wer, 4),
            "u_wer_list": round(tot["list"].u_wer, 4),
            "u_wer_change": round(tot["list"].u_wer - tot["none"].u_wer, 4),
            "false_entities": fp, "false_entities_per_100": round(100 * fp / max(1, len(items)), 1)}


def markdown(r: dict) -> str:
    sl = r["shortlist"]
    L = ["# Big lists", "",
         f"Machine: {r['machine']}; commit {r['commit']}; wall {r['wall_seconds']} s. The default system on "
         f"{r['utterances']} test utterances ({r['audio_seconds']} s of audio, both test sets), each with its own "
         "list: its entities plus distractors drawn as in RESULTS.md's \"List size\" (reserved entities of both "
         "domains; past their 11,238, other catalog entities). RTF: end to end (encoder, stack, decoding) with "
         "the list compiled beforehand, after one call decoded to load what the first call loads; run with compile: the whole run, every utterance's list compiled in it, "
         "against the no-list run. Lists over "
         f"{sl['over']:,} entries decode with a shortlist per utterance (at most {sl['size']} entries: phone-pair "
         f"index, the best {sl['pool']} keyword-spotted"
         + ("; each entity of the decode kept only if the shortlist check believes it" if sl.get("confirm") else "")
         + "); shortlist recall: the share of said entities it kept. "
         "Peak memory: the process's peak resident size after that size's run (sizes run smallest first).", "",
         "| entries | F1 | precision | recall | U-WER | RTF | RTF / no list | compile s | run with compile / no list | "
         "shortlist recall | shortlist entries | peak MB |",
         "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for size, v in r["sizes"].items():
        L.append(f"| {int(size):,} | {v['f1']:.3f} | {v['precision']:.3f} | {v['recall']:.3f} | {v['u_wer']:.1%} | "
                 f"{v['rtf']} | {v.get('rtf_vs_none', '')} | {v['compile_seconds_per_list']} | "
                 f"{v.get('run_vs_none', '')} | {v.get('shortlist_recall', '—')} | {v.get('shortlist_mean_entries', '—')} | "
                 f"{v['peak_mb']:,} |")
    sizes = r["sizes"]
    if "0" in sizes and len(sizes) > 1:
        big = max(sizes, key=int)
        L += ["", f"Peak memory with {int(big):,} entries: {sizes[big]['peak_mb']:,} MB, "
              f"{sizes[big]['peak_mb'] - sizes['0']['peak_mb']:+,.1f} MB over the no-list run's (every size before it "
              f"included: the peak is the process's)."]
    if p := r.get("paired"):
        L += ["", "Paired timing (each utterance decoded without a list, then with its list, in turn; three "
              "passes): time with the list over time without, "
              + "; ".join(f"{int(k):,} entries {v['median']}x (passes: {', '.join(map(str, v['ratios']))})"
                          for k, v in p.items()) + "."]
    cf = r["compile_fresh"]
    L += ["", f"A {cf['entries']:,}-entry list compiled afresh (no cache): {cf['seconds']} s. Peak memory at the start "
          f"(model loaded): {r['peak_mb_start']:,} MB; at the end: {r['peak_mb_end']:,} MB."]
    if v := r.get("service"):
        L += _section(f"The service: {v['requests']} requests at once, each with its own {v['entries']:,}-entry list",
                      f"The app in the bench's process ({v['ok']} of {v['requests']} answered in {v['seconds']} s, two "
                      f"decoding at a time): resident {v['rss_before_mb']:,} MB before (model loaded, one request "
                      f"without a list answered), at most {v['rss_peak_mb']:,} MB while they were in flight "
                      f"(+{v['rss_peak_mb'] - v['rss_before_mb']:,.1f} MB), {v['rss_after_mb']:,} MB after. Compiled "
                      f"lists cached: {v['cached_lists']}, {v['cache_mb']:,} MB by their estimate (budget "
                      f"{v['cache_budget_mb']:,} MB).")
    if s := r.get("strangers"):
        L += _section(f"Strangers' lists ({s['entries']:,} entries, none of the utterance's entities)",
                      f"{s['utterances']} utterances: U-WER {s['u_wer_none']:.1%} without a list, "
                      f"{s['u_wer_list']:.1%} with it ({100 * s['u_wer_change']:+.1f} points); "
                      f"{s['false_entities']} false entities ({s['false_entities_per_100']} per 100 utterances).")
    return "\n".join(L) + "\n"


def _section(title: str, text: str) -> list[str]:
    """The report's lines of a titled section of one paragraph."""
    return ["", f"## {title}", "", text]
