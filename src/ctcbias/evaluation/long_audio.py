"""Long recordings: does a recording of many utterances decode as well as its utterances alone?

Each recording joins ``per`` consecutive test-set utterances with 1 s of silence between them and
is decoded with one list of ``size`` entries: every entity of its utterances plus distractors from
their own lists. The same utterances are then decoded one by one with that same compiled list.
Both are scored against the joined references: WER and entity precision / recall / F1. A system
that uses evidence from the whole recording for a local decision (an entity spotted in one
sentence taken as evidence for a span in another) shows here as a gap between the two.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from ..audio import SAMPLE_RATE, load_audio
from ..inference.recognizer import Recognizer
from ..normalize import normalize
from .base import write_results
from .entities import EntityCounts, entity_counts
from .metrics import Counts, score

SETS = ("medical-test", "names-test")
SYSTEMS = {"joint (default)": {"bias": "auto"}, "all five decoder techniques": {"bias": "decoder"},
           "beam + LM, no list": {"bias": "none"}}
PAUSE_SECONDS = 1.0


def recording_list(items: list[dict], size: str = "100") -> list[str]:
    """One list for a recording: every entity of its utterances, then the utterances' own list
    entries in turn until ``size`` entries (no duplicates).

    >>> its = [{"entities": [{"display": "A"}], "bias_lists": {"3": ["x", "A", "y"]}},
    ...        {"entities": [{"display": "B"}], "bias_lists": {"3": ["B", "z", "w"]}}]
    >>> recording_list(its, "3")
    ['A', 'B', 'x']
    """
    out = list(dict.fromkeys(e["display"] for it in items for e in it["entities"]))
    pools = [list(it["bias_lists"][size]) for it in items]
    seen = set(out)
    for i in range(max(map(len, pools), default=0)):
        for p in pools:
            if len(out) >= int(size):
                return out
            if i < len(p) and p[i] not in seen:
                seen.add(p[i])
                out.append(p[i])
    return out


def run_set(rec: Recognizer, data: Path, name: str, recordings: int, per: int, size: str,
            progress: bool = True) -> dict:
    from tqdm import tqdm

    items = [json.loads(l) for l in (data / f"{name}.jsonl").open()][: recordings * per]
    groups = [items[i:i + per] for i in range(0, len(items) - per + 1, per)]
    pause = np.zeros(int(PAUSE_SECONDS * SAMPLE_RATE), dtype=np.float32)
    tallies = {k: {"long": (Counts(), EntityCounts()), "alone": (Counts(), EntityCounts())} for k in SYSTEMS}
    secs = {"long": 0.0, "alone": 0.0}
    duration = 0.0
    for group in tqdm(groups, desc=f"long recordings, {name}", disable=not progress, leave=False):
        bias = rec.compile(recording_list(group, size))
        clips = [load_audio(data / it["audio"]) for it in group]
        joined = np.concatenate([x for c in clips for x in (c, pause)])
        duration += len(joined) / SAMPLE_RATE
        ref = " ".join(it["text"] for it in group)
        ents = [e["spoken"] for it in group for e in it["entities"]]
        for k, o in SYSTEMS.items():
            t0 = time.perf_counter()
            long_hyp = normalize(rec.transcribe(joined, SAMPLE_RATE, words=bias, **o).raw_text)
            t1 = time.perf_counter()
            alone_hyp = " ".join(normalize(rec.transcribe(c, SAMPLE_RATE, words=bias, **o).raw_text) for c in clips)
            secs["long"] += t1 - t0
            secs["alone"] += time.perf_counter() - t1
            for mode, hyp in (("long", long_hyp), ("alone", alone_hyp)):
                c, e = tallies[k][mode]
                c.add(score(ref, hyp))
                e.add(entity_counts(ents, hyp, bias, ref))
    results = {k: {mode: {"wer": round(c.wer, 4), **e.summary()} for mode, (c, e) in v.items()}
               for k, v in tallies.items()}
    return {"recordings": len(groups), "utterances_each": per, "list_size": int(size),
            "audio_minutes": round(duration / 60, 1), "results": results}


def run(data: Path, out: Path, recordings: int = 5, per: int = 20, size: str = "100", progress: bool = True) -> dict:
    """Both test sets; writes ``out/LONG.md`` and ``out/long.json``."""
    rec = Recognizer.load()
    t0 = time.perf_counter()
    r = {"sets": {name: run_set(rec, data, name, recordings, per, size, progress) for name in SETS}}
    r["wall_seconds"] = round(time.perf_counter() - t0, 1)
    write_results(out, "long", r, markdown(r))
    return r


def markdown(r: dict) -> str:
    lines = ["# Long recordings against their utterances alone", "",
             "Made by `ctcbias bench long`. Each recording joins consecutive test-set utterances with "
             f"{PAUSE_SECONDS:g} s pauses and is decoded with one list (its utterances' entities plus distractors "
             "from their own lists); the same utterances are decoded one by one with the same list. "
             f"Wall time {r['wall_seconds'] / 60:.1f} min.", ""]
    for name, s in r["sets"].items():
        lines += [f"## {name}: {s['recordings']} recordings of {s['utterances_each']} utterances "
                  f"({s['audio_minutes']} min of audio), {s['list_size']}-entry lists", "",
                  "| system | WER long | WER alone | F1 long | F1 alone | precision long / alone | recall long / alone |",
                  "|---|---|---|---|---|---|---|"]
        for k, v in s["results"].items():
            lo, al = v["long"], v["alone"]
            lines.append(f"| {k} | {lo['wer']:.1%} | {al['wer']:.1%} | {lo['f1']:.3f} | {al['f1']:.3f} | "
                         f"{lo['precision']:.3f} / {al['precision']:.3f} | {lo['recall']:.3f} / {al['recall']:.3f} |")
        lines.append("")
    return "\n".join(lines)
