"""The decoder-biasing ablation: each system on the same posteriors, lists and references.

Rows: greedy (no list), beam + LM (no list), each technique alone, phonetic + lexicon with and
without grapheme-to-grapheme variants, all five; optionally pyctcdecode's hotwords on the same
log-probabilities. Columns: WER, U-WER, B-WER, entity precision / recall / F1, decoding RTF.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path


from ..data.dev_lists import dev_items
from ..inference.recognizer import NO_GUARDS, TECHNIQUES, DecodingOptions, Recognizer, ShortlistOptions
from ..normalize import normalize
from .entities import EntityCounts, entity_counts
from .metrics import Counts, score


def whole_lists(systems: dict[str, dict]) -> dict[str, dict]:
    """``systems`` with every row but the default system's (joint) decoding its lists whole, so that
    a row is its techniques' own figure; joint shortlists lists over ``ShortlistOptions.over``
    entries, as a call does."""
    return {k: o if o.get("bias") == "joint" else {**o, "shortlist": ShortlistOptions(enabled=False)}
            for k, o in systems.items()}


SYSTEMS: dict[str, dict] = whole_lists({
    "greedy, no list": {"greedy": True, "bias": "none"},
    "beam + LM, no list": {"bias": "none"},
    "1 subword boosting": {"bias": "decoder", "techniques": ("subword",)},
    "2 unigram boosting": {"bias": "decoder", "techniques": ("unigram",)},
    "3 phonetic rescoring": {"bias": "decoder", "techniques": ("phonetic",)},
    "4 lexicon lookup": {"bias": "decoder", "techniques": ("lexicon",)},
    "3+4 without g2g": {"bias": "decoder", "techniques": ("phonetic", "lexicon")},
    "3+4+5 (g2g variants)": {"bias": "decoder", "techniques": ("phonetic", "lexicon", "g2g")},
    "all five, no guards": {"bias": "decoder", "techniques": TECHNIQUES, **NO_GUARDS},
    "all five": {"bias": "decoder", "techniques": TECHNIQUES},
})
# with a trained contextual adapter
ADAPTER_SYSTEMS: dict[str, dict] = whole_lists({
    "adapter, greedy": {"bias": "encoder", "greedy": True},
    "adapter (encoder biasing)": {"bias": "encoder"},
    "joint, no ordinary-word guard": {"bias": "joint", "techniques": TECHNIQUES, "word_guard": False},
    "joint (adapter + all five)": {"bias": "joint", "techniques": TECHNIQUES},
})


def run_set(rec: Recognizer, items: list[dict], root: Path, systems: dict[str, dict], sizes: list[str],
            base: DecodingOptions = DecodingOptions(), progress: bool = True, desc: str = "utterances") -> dict:
    """Every system on every item and list size. The encoder runs once per item; the stack runs
    again per list only for systems with the adapter (bias encoder / joint). One item at a time,
    every size and system on it, so memory stays that of one item (and compiled lists are reused
    from the cache). Per-voice tallies ride along under ``by_voice``."""
    from tqdm import tqdm

    opts = {name: rec.resolve(replace(base, **over)) for name, over in systems.items()}
    tally = {(size, name): (Counts(), EntityCounts(), {}) for size in sizes for name in systems}
    dt = dict.fromkeys(tally, 0.0)
    audio_s = 0.0
    for it in tqdm(items, desc=desc, disable=not progress):
        run = rec.pipeline(root / it["audio"])
        run.posteriors(rec.compile([]), rec.resolve(bias="none"))  # the model's share stays out of the decode times
        audio_s += run.duration
        biased = {i for en in it["entities"] for i in range(en["word_start"], en["word_end"])}
        for size in sizes:
            for name, o in opts.items():
                bias = rec.compile(it["bias_lists"][size], o)
                t0 = time.perf_counter()
                hyp = normalize(run.decode(bias, o).text)
                dt[size, name] += time.perf_counter() - t0
                ci = score(it["text"], hyp, biased, bias.words)
                ei = entity_counts([en["spoken"] for en in it["entities"]], hyp, bias, it["text"])
                c, e, by_voice = tally[size, name]
                c.add(ci), e.add(ei)
                v = by_voice.setdefault(it.get("voice", "?"), [Counts(), EntityCounts()])
                v[0].add(ci), v[1].add(ei)
    out: dict = {}
    for (size, name), (c, e, by_voice) in tally.items():
        out.setdefault(size, {})[name] = {
            **c.summary(), **e.summary(), "decode_rtf": round(dt[size, name] / audio_s, 4),
            "by_voice": {k: {**a.summary(), **b.summary()} for k, (a, b) in sorted(by_voice.items())}}
    return out


def run(data: Path, out: Path, limit: int = 0, sizes=("100", "1000"), sets=("medical-test", "names-test"),
        with_dev: bool = False, dev_from: int = 0, dev_set: str = "dev") -> dict:
    """The ablation on the test sets (and dev, where tuning happens; from its ``dev_from``-th utterance
    with entities: the lookup's judge is fitted on the first 200); writes DECODER.md/json."""
    import os
    import platform

    from .base import git_commit, write_results

    rec = Recognizer.load()
    res: dict = {"machine": f"{os.cpu_count()} cores, {platform.machine()}", "commit": git_commit(), "sets": {}}
    t0 = time.time()
    names = ([dev_set] if with_dev else []) + list(sets)
    for name in names:
        is_dev = name == dev_set and with_dev
        items = dev_items(data, name=name) if is_dev else [json.loads(l) for l in (data / f"{name}.jsonl").open()]
        if is_dev:
            items = [it for it in items if it["entities"]][dev_from:]
        items = items[: limit or None]
        systems = {**SYSTEMS, **(ADAPTER_SYSTEMS if rec.adapter is not None else {})}
        res["sets"][name] = {"utterances": len(items), "results": run_set(rec, items, data, systems, list(sizes), desc=name)}
    res["wall_seconds"] = round(time.time() - t0, 1)
    lines = ["# Decoder biasing ablation", "",
             f"Machine: {res['machine']}; commit {res['commit']}; wall {res['wall_seconds']} s. "
             "Same posteriors and lists for every row; decode RTF excludes the encoder.", ""]
    for name, s in res["sets"].items():
        for size, rows in s["results"].items():
            lines += [f"## {name}, {size}-entry lists ({s['utterances']} utterances)", "",
                      "| system | WER | U-WER | B-WER | precision | recall | F1 | decode RTF |",
                      "|---|---|---|---|---|---|---|---|"]
            lines += [f"| {k} | {v['wer']:.1%} | {v['u_wer']:.1%} | {v['b_wer']:.1%} | {v['precision']:.3f} | "
                      f"{v['recall']:.3f} | {v['f1']:.3f} | {v['decode_rtf']} |" for k, v in rows.items()]
            lines.append("")
    write_results(out, "decoder", res, "\n".join(lines))
    return res
