"""Fit the lexicon lookup's judge (``lexicon_lookup.json``) on dev: dev entities only, never the
test sets or real speech.

For each dev utterance with entities and each list size (100, 1000: the utterance's entities plus
dev-entity distractors), the best hypothesis of the decoder techniques that run before the lookup
(boosting, rescoring, variants; with and, when the model has one, without the contextual adapter)
is taken, every (span, entry) the lookup would shortlist is collected with its evidence, and
labelled 1 when the entry is one the utterance says and putting it there brings the transcript
closer to the reference (fewer word errors). Every utterance is also decoded with a 1000-entry
list that holds none of its entities (labels all 0), so that the judge learns what a stranger's
list looks like. The judge is a small network over the evidence (16 tanh units; ``hidden=0``: a
logistic regression, the judge up to session 15).

    ctcbias train lookup --data /work/data/synth --out src/ctcbias/assets/base/lexicon_lookup.json
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

log = logging.getLogger("ctcbias.lookup")


def _rows(rec, post, words: list[str], opts, true: set[str], ref: str) -> list[dict]:
    from rapidfuzz.distance import Levenshtein

    from ..inference.lexicon_lookup import candidates
    from ..normalize import normalize

    bias = rec.compile(words, opts)
    text = normalize(rec.decode(post, bias, opts).text)
    rows = candidates(rec.tokenizer.encode(text), text, post.subword, post.phone, rec.tokenizer, bias,
                      rec._boosted_lm(bias, opts), opts.beam.lm_weight, opts.beam.word_bonus,
                      opts.lexicon_shortlist_distance, attention=post.attention)
    hyp, ref_words = text.split(), ref.split()
    errors = Levenshtein.distance(hyp, ref_words)
    for r in rows:
        # a true entry whose replacement brings the transcript closer to what was said: a span
        # that also swallows correctly heard words is a wrong answer even with the right entity
        new = hyp[:r["start"]] + bias.entries[r["entry"]].spoken.split() + hyp[r["end"]:]
        r["label"] = int(bias.entries[r["entry"]].spoken in true and Levenshtein.distance(new, ref_words) < errors)
    return rows


HIDDEN = 16  # the judge's hidden units (dev-heldout, 1000 names: F1 0.748 -> 0.777 for decoder biasing)


def _settings(hidden: int) -> dict:
    """Fitting settings: the network's weight penalty and steps were picked on the first half of dev's
    utterances (scored on the second); the logistic regression keeps :meth:`LookupModel.fit`'s own."""
    return {"hidden": hidden, "l2": 0.001, "steps": 2000} if hidden else {}


def collect(data: Path, model: Path | None = None, n: int = 200, progress: bool = True) -> list[dict]:
    """Candidate rows with evidence, label, utterance index, list size and system."""
    from tqdm import tqdm

    from ..evaluation.biasing import dev_items
    from ..inference.recognizer import TECHNIQUES, DecodingOptions, Recognizer

    rec = Recognizer.load(model)
    items = [it for it in dev_items(data) if it["entities"]][:n]
    before = tuple(t for t in TECHNIQUES if t != "lexicon")
    systems = {"decoder": rec.resolve(DecodingOptions(bias="decoder", techniques=before))}
    if rec.adapter is not None:
        systems["joint"] = replace(systems["decoder"], bias="joint")
    rows: list[dict] = []
    for u, it in enumerate(tqdm(items, desc="dev utterances", disable=not progress)):
        feats = rec.features(data / it["audio"])
        plain = rec.posteriors(None, features=feats)
        true_display = {en["display"] for en in it["entities"]}
        lists = {size: (it["bias_lists"][size], {en["spoken"] for en in it["entities"]}) for size in ("100", "1000")}
        lists["1000, none said"] = ([w for w in it["bias_lists"]["1000"] if w not in true_display], set())
        for size, (words, true) in lists.items():
            for name, opts in systems.items():
                post = plain
                if opts.bias == "joint":
                    post = rec.posteriors(None, bias=rec.compile(words, opts), features=feats)
                for r in _rows(rec, post, words, opts, true, it["text"]):
                    rows.append({**r, "utterance": u, "list": size, "system": name})
    return rows


def fit(data: Path, out: Path, model: Path | None = None, n: int = 200, progress: bool = True,
        hidden: int = HIDDEN) -> dict:
    """Collect, check on held-out utterances, fit on all, write ``out``; returns the summary. With
    an adapter, also the joint judge (``<out>_joint.json``): fitted on the joint system's rows, with
    the adapter's attention as evidence and the candidates it nominated. The plain judge never sees
    those nominations (it judges decoder biasing, which has no attention)."""
    from ..inference.lexicon_lookup import ATTENTION_FEATURES, FEATURES

    t0 = time.time()
    rows = collect(data, model, n, progress)
    summary = _fit_one([r for r in rows if not r.get("attended")], FEATURES, data, out, model, n, t0, hidden)
    if any(r["system"] == "joint" for r in rows):
        joint = [r for r in rows if r["system"] == "joint"]
        summary["joint"] = _fit_one(joint, FEATURES + ATTENTION_FEATURES, data,
                                    out.with_name(out.stem + "_joint" + out.suffix), model, n, t0, hidden)
    return summary


def _fit_one(rows: list[dict], features: tuple[str, ...], data: Path, out: Path, model: Path | None, n: int,
             t0: float, hidden: int) -> dict:
    from ..inference.lexicon_lookup import LookupModel

    labels = [r["label"] for r in rows]
    # an honest check first: fitted on the first half of the utterances, scored on the second
    half = n // 2
    a = [r for r in rows if r["utterance"] < half]
    b = [r for r in rows if r["utterance"] >= half]
    held = LookupModel.fit(a, [r["label"] for r in a], features=features, **_settings(hidden))
    check = {}
    for lst in sorted({r["list"] for r in b}):
        rb = [r for r in b if r["list"] == lst]
        sc = held.scores(rb)
        acc = sc > 0
        check[lst] = {"candidates": len(rb), "true": sum(r["label"] for r in rb),
                      "accepted_true": sum(1 for r, x in zip(rb, acc) if x and r["label"]),
                      "accepted_false": sum(1 for r, x in zip(rb, acc) if x and not r["label"]),
                      # the ranking at every threshold: precision averaged over the true candidates
                      "average_precision": _average_precision(sc, [r["label"] for r in rb])}
    judge = LookupModel.fit(rows, labels, features=features, **_settings(hidden))
    summary = {"dev_utterances": n, "hidden_units": hidden, "candidates": len(rows), "true": sum(labels),
               "held_out_check": check, "wall_minutes": round((time.time() - t0) / 60, 1)}
    log.info("lookup judge (%s): %s", out.name, summary)
    out.parent.mkdir(parents=True, exist_ok=True)
    judge.save(out, summary=summary,
               command=f"ctcbias train lookup --data {data} --out {out} --hidden {hidden}" + (f" --model {model}" if model else ""))
    return summary


def _average_precision(scores, labels) -> float | None:
    import numpy as np

    y = np.asarray(labels)[np.argsort(-np.asarray(scores), kind="stable")]
    if not y.sum():
        return None
    return round(float((np.cumsum(y) / np.arange(1, len(y) + 1) * y).sum() / y.sum()), 3)
