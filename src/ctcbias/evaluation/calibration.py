"""Word confidence: fit its calibration on dev, and show how well it holds on held-out speech.

``fit`` decodes dev utterances (default decoding, each with its 100-entry list) and records each
word's raw score, kind (:mod:`ctcbias.inference.confidence`) and whether it is right: equal to the
reference word it aligns with (jiwer alignment of normalized words). Per kind, an isotonic
regression of right on raw score, its steps merged until each holds enough words, becomes the
piecewise-linear map of ``confidence.json``.

``run`` decodes dev-heldout utterances (held-out voices, and other sentences than those ``fit``
used) and writes reliability bins of the raw and the calibrated confidences to
``bench/CONFIDENCE.md``.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..inference.confidence import KINDS, Calibration
from ..normalize import normalize

__all__ = ["collect", "fit", "run", "isotonic_map", "reliability"]

FIT_FROM, FIT_N = 0, 150  # dev utterances with entities (276 in all)
BENCH_FROM, BENCH_N = 150, 126  # dev-heldout: the sentences after those the fit used
MIN_STEP = 25  # words in each step of a map
BINS = 10


@dataclass
class Row:
    word: str
    raw: float
    kind: str
    calibrated: float
    right: bool


class _Recorder:
    """Stands in for a recognizer's calibration: records each decode's words, raw score and kind."""

    def __init__(self, inner: Calibration):
        self.inner, self.last = inner, []

    def apply(self, r, kinds):
        out = self.inner.apply(r, kinds)
        self.last = [(w.word, w.confidence, k, o.confidence) for w, k, o in zip(r.words, kinds, out.words)]
        return out


def right_words(ref: str, hyp: list[str]) -> list[bool]:
    """For each word of ``hyp``: does it equal the reference word it aligns with? A word that
    normalizes to several ("COVID-19") is right when all of them are.

    >>> right_words("please ask doctor okafor", ["please", "as", "doctor", "Okafor"])
    [True, False, True, True]
    """
    import jiwer

    toks, owner = [], []
    for i, w in enumerate(hyp):
        for t in normalize(w).split():
            toks.append(t)
            owner.append(i)
    ok = np.zeros(len(toks), dtype=bool)
    ref = normalize(ref)
    if toks and ref:
        out = jiwer.process_words(ref, " ".join(toks))
        for c in out.alignments[0]:
            if c.type == "equal":
                ok[c.hyp_start_idx:c.hyp_end_idx] = True
    got = [True] * len(hyp)
    seen = [False] * len(hyp)
    for i, good in zip(owner, ok):
        got[i] &= bool(good)
        seen[i] = True
    return [g and s for g, s in zip(got, seen)]


def collect(rec, items: list[dict], root: Path, size: str = "100", progress: bool = True,
            desc: str = "utterances") -> list[Row]:
    """Decode ``items`` (default decoding, each with its ``size``-entry list) and score their words."""
    from tqdm import tqdm

    recorder = _Recorder(rec.confidence)
    rec.confidence = recorder
    rows: list[Row] = []
    try:
        for it in tqdm(items, desc=desc, disable=not progress):
            bias = rec.compile(it["bias_lists"][size])
            recorder.last = []
            rec.pipeline(root / it["audio"]).decode(bias, rec.resolve())  # dev clips: one segment, no formatting
            words = recorder.last
            for (w, raw, kind, cal), ok in zip(words, right_words(it["text"], [w for w, *_ in words])):
                rows.append(Row(w, raw, kind, cal, ok))
    finally:
        rec.confidence = recorder.inner
    return rows


def isotonic_map(raw: np.ndarray, right: np.ndarray, min_step: int = MIN_STEP) -> dict:
    """Knots of a monotone map from raw score to the rate of right words: pool-adjacent-violators,
    then adjacent steps merged until each holds ``min_step`` words; each step's knot at its mean
    raw score, its value the step's rate with one right and one wrong word added (no 0 or 1 from
    a few words).

    >>> m = isotonic_map(np.array([0.1, 0.2, 0.3, 0.4, 0.8, 0.9]), np.array([0, 0, 1, 0, 1, 1]), min_step=2)
    >>> m["x"], m["y"]
    ([0.15, 0.35, 0.85], [0.25, 0.5, 0.75])
    """
    xs, at, counts = np.unique(raw.astype(np.float64), return_inverse=True, return_counts=True)
    hits = np.bincount(at.ravel(), weights=right.astype(np.float64), minlength=len(xs))
    blocks: list[list[float]] = []  # [sum x, sum y, count]; equal scores pooled from the start
    for xi, yi, n in zip(xs, hits, counts):
        blocks.append([xi * n, yi, float(n)])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            b = blocks.pop()
            for j in range(3):
                blocks[-1][j] += b[j]
    merged: list[list[float]] = []
    for b in blocks:
        if merged and merged[-1][2] < min_step:
            for j in range(3):
                merged[-1][j] += b[j]
        else:
            merged.append(list(b))
    if len(merged) > 1 and merged[-1][2] < min_step:
        last = merged.pop()
        for j in range(3):
            merged[-1][j] += last[j]
    xs = [round(float(b[0] / b[2]), 4) for b in merged]
    ys = np.maximum.accumulate([(b[1] + 1) / (b[2] + 2) for b in merged])
    return {"x": xs, "y": [round(float(v), 4) for v in ys], "words": int(sum(b[2] for b in merged))}


def _dev(data: Path, name: str, start: int, n: int) -> list[dict]:
    from ..data.dev_lists import dev_items

    return [it for it in dev_items(data, name=name) if it["entities"]][start:start + n]


def fit(data: Path, out: Path, n: int = FIT_N, start: int = FIT_FROM, progress: bool = True) -> dict:
    """Fit the maps on ``n`` dev utterances from the ``start``-th with entities; write ``out``."""
    from ..inference.recognizer import Recognizer

    rec = Recognizer.load()
    rec.confidence = Calibration()  # raw scores in
    t0 = time.perf_counter()
    rows = collect(rec, _dev(data, "dev", start, n), data, progress=progress, desc="dev")
    maps = {}
    for k in KINDS:
        sel = [r for r in rows if r.kind == k]
        if len(sel) >= MIN_STEP:
            maps[k] = isotonic_map(np.array([r.raw for r in sel]), np.array([r.right for r in sel]))
    doc = {"about": "word confidence calibration: per word kind, knots (x: raw score, y: rate of right words) "
                    "of a monotone piecewise-linear map; see ctcbias.inference.confidence",
           "command": f"ctcbias train confidence --n {n}", "dev_utterances": f"{start}..{start + n - 1} with entities",
           "words": len(rows), "maps": maps, "fit_seconds": round(time.perf_counter() - t0, 1)}
    out.write_text(json.dumps(doc, indent=1) + "\n")
    return {k: v for k, v in doc.items() if k != "maps"} | {"words_by_kind": {k: m["words"] for k, m in maps.items()}}


def reliability(conf: np.ndarray, right: np.ndarray, bins: int = BINS) -> tuple[list[dict], float]:
    """Bins of width 1/``bins``: count, mean confidence, rate of right words; and the expected
    calibration error (the count-weighted mean gap between confidence and rate)."""
    idx = np.minimum((conf * bins).astype(int), bins - 1)
    out, ece = [], 0.0
    for b in range(bins):
        m = idx == b
        if m.any():
            gap = abs(float(conf[m].mean()) - float(right[m].mean()))
            ece += gap * m.sum() / max(1, len(conf))
            out.append({"bin": f"{b / bins:.1f}-{(b + 1) / bins:.1f}", "count": int(m.sum()),
                        "confidence": round(float(conf[m].mean()), 3), "accuracy": round(float(right[m].mean()), 3)})
    return out, round(ece, 4)


def run(data: Path, out: Path, n: int = BENCH_N, start: int = BENCH_FROM, progress: bool = True) -> dict:
    """Reliability of raw and calibrated confidences on dev-heldout; writes ``out/CONFIDENCE.md``."""
    from ..inference.recognizer import Recognizer
    from .base import git_commit, write_results

    rec = Recognizer.load()
    t0 = time.perf_counter()
    rows = collect(rec, _dev(data, "dev-heldout", start, n), data, progress=progress, desc="dev-heldout")
    r: dict = {"commit": git_commit(), "set": "dev-heldout", "utterances": f"{start}..{start + n - 1} with entities",
               "words": len(rows), "kinds": {}}
    for k in ("all", *KINDS):
        sel = [x for x in rows if k == "all" or x.kind == k]
        if not sel:
            continue
        right = np.array([x.right for x in sel], dtype=np.float64)
        raw_bins, raw_ece = reliability(np.array([x.raw for x in sel]), right)
        cal_bins, cal_ece = reliability(np.array([x.calibrated for x in sel]), right)
        r["kinds"][k] = {"words": len(sel), "accuracy": round(float(right.mean()), 3), "raw": raw_bins,
                         "raw_ece": raw_ece, "calibrated": cal_bins, "calibrated_ece": cal_ece}
    r["wall_seconds"] = round(time.perf_counter() - t0, 1)
    write_results(out, "confidence", r, markdown(r))
    return r


def markdown(r: dict) -> str:
    names = {"all": "all words", "word": "ordinary words", "entity": "entities of the beam search",
             "lookup": "entities the lexicon lookup put in"}
    lines = ["# Word confidence: reliability", "",
             f"Made by `ctcbias bench confidence` on commit {r['commit']}: {r['set']} utterances {r['utterances']} "
             f"(held-out voices; the calibration was fitted on other dev utterances, `ctcbias train confidence`), "
             f"default decoding with each utterance's 100-entry list, {r['words']} words, "
             f"{r['wall_seconds'] / 60:.1f} min. A word is right when it equals the reference word it aligns with "
             "(jiwer alignment of normalized words). A calibrated confidence of 0.8 should be right 80% of the "
             "time: compare the columns. ECE: the count-weighted mean gap between confidence and accuracy.", ""]
    for k, v in r["kinds"].items():
        lines += [f"## {names[k]}: {v['words']} words, {v['accuracy']:.1%} right", "",
                  f"ECE raw {v['raw_ece']:.3f}, calibrated {v['calibrated_ece']:.3f}.", "",
                  "| confidence bin | raw: count | raw: mean | raw: accuracy | calibrated: count | calibrated: mean | "
                  "calibrated: accuracy |", "|---|---|---|---|---|---|---|"]
        raw = {b["bin"]: b for b in v["raw"]}
        cal = {b["bin"]: b for b in v["calibrated"]}
        for name in sorted(set(raw) | set(cal)):
            a, c = raw.get(name), cal.get(name)
            cells = [f"{a['count']} | {a['confidence']:.3f} | {a['accuracy']:.3f}" if a else "0 | - | -",
                     f"{c['count']} | {c['confidence']:.3f} | {c['accuracy']:.3f}" if c else "0 | - | -"]
            lines.append(f"| {name} | {cells[0]} | {cells[1]} |")
        lines.append("")
    return "\n".join(lines)
