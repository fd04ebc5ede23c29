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
logistic regression).

    ctcbias train lookup --data data/synth --out src/ctcbias/assets/base/lexicon_lookup.json
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from ..inference.lookup_judge import ATTENTION_FEATURES, FEATURES, LookupModel

log = logging.getLogger("ctcbias.lookup")


def _rows(rec, post, words: list[str], opts, true: set[str], ref: str) -> list[dict]:
    from rapidfuzz.distance import Levenshtein

    from ..inference.lexicon_lookup import candidates
    from ..normalize import normalize

    bias = rec.compile(words, opts)
    text = normalize(rec.decode(post, bias, opts).text)
    rows = candidates(rec.tokenizer.encode(text), text, post.subword, post.phone, rec.tokenizer, bias,
                      rec.boosted_lm(bias, opts), opts.beam.lm_weight, opts.beam.word_bonus,
                      opts.lexicon_shortlist_distance, attention=post.attention, **asdict(opts.lookup))
    hyp, ref_words = text.split(), ref.split()
    errors = Levenshtein.distance(hyp, ref_words)
    for r in rows:
        # a true entry whose replacement brings the transcript closer to what was said: a span
        # that also swallows correctly heard words is a wrong answer even with the right entity
        new = hyp[:r["start"]] + bias.entries[r["entry"]].spoken.split() + hyp[r["end"]:]
        r["label"] = int(bias.entries[r["entry"]].spoken in true and Levenshtein.distance(new, ref_words) < errors)
    return rows


HIDDEN = 16  # the judge's hidden units: the evidence interacts, one weight per feature cannot say so


def _settings(hidden: int) -> dict:
    """Fitting settings: the network's weight penalty and steps were picked on the first half of dev's
    utterances (scored on the second); the logistic regression keeps :func:`fit_judge`'s own."""
    return {"hidden": hidden, "l2": 0.001, "steps": 2000} if hidden else {}


def collect(data: Path, model: Path | None = None, n: int = 200, progress: bool = True) -> list[dict]:
    """Candidate rows with evidence, label, utterance index, list size and system."""
    from tqdm import tqdm

    from ..data.dev_lists import dev_items
    from ..inference.recognizer import TECHNIQUES, DecodingOptions, Recognizer

    rec = Recognizer.load(model)
    items = [it for it in dev_items(data) if it["entities"]][:n]
    before = tuple(t for t in TECHNIQUES if t != "lexicon")
    systems = {"decoder": rec.resolve(DecodingOptions(bias="decoder", techniques=before))}
    if rec.adapter is not None:
        systems["joint"] = replace(systems["decoder"], bias="joint")
    rows: list[dict] = []
    for u, it in enumerate(tqdm(items, desc="dev utterances", disable=not progress)):
        run = rec.pipeline(data / it["audio"])
        true_display = {en["display"] for en in it["entities"]}
        lists = {size: (it["bias_lists"][size], {en["spoken"] for en in it["entities"]}) for size in ("100", "1000")}
        lists["1000, none said"] = ([w for w in it["bias_lists"]["1000"] if w not in true_display], set())
        for size, (words, true) in lists.items():
            for name, opts in systems.items():
                post = run.posteriors(rec.compile(words, opts), opts)
                for r in _rows(rec, post, words, opts, true, it["text"]):
                    rows.append({**r, "utterance": u, "list": size, "system": name})
    return rows


def fit(data: Path, out: Path, model: Path | None = None, n: int = 200, progress: bool = True,
        hidden: int = HIDDEN) -> dict:
    """Collect, check on held-out utterances, fit on all, write ``out``; returns the summary. With
    an adapter, also the joint judge (``<out>_joint.json``): fitted on the joint system's rows, with
    the adapter's attention as evidence and the candidates it nominated. The plain judge never sees
    those nominations (it judges decoder biasing, which has no attention)."""
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
    judge, b, scores = fit_checked(rows, n, features, **_settings(hidden))
    check = {}
    for lst in sorted({r["list"] for r in b}):
        pick = [i for i, r in enumerate(b) if r["list"] == lst]
        rb, sc = [b[i] for i in pick], scores[pick]
        acc = sc > 0
        check[lst] = {"candidates": len(rb), "true": sum(r["label"] for r in rb),
                      "accepted_true": sum(1 for r, x in zip(rb, acc) if x and r["label"]),
                      "accepted_false": sum(1 for r, x in zip(rb, acc) if x and not r["label"]),
                      # the ranking at every threshold: precision averaged over the true candidates
                      "average_precision": average_precision(sc, [r["label"] for r in rb])}
    labels = [r["label"] for r in rows]
    summary = {"dev_utterances": n, "hidden_units": hidden, "candidates": len(rows), "true": sum(labels),
               "held_out_check": check, "wall_minutes": round((time.time() - t0) / 60, 1)}
    log.info("lookup judge (%s): %s", out.name, summary)
    out.parent.mkdir(parents=True, exist_ok=True)
    judge.save(out, summary=summary,
               command=f"ctcbias train lookup --data {data} --out {out} --hidden {hidden}" + (f" --model {model}" if model else ""))
    return summary


def fit_checked(rows: list[dict], n: int, features: tuple[str, ...], **settings) -> tuple[LookupModel, list[dict], np.ndarray]:
    """A judge fitted on all ``rows``, and an honest check of it: the rows of the second half of the
    ``n`` utterances with the scores of a judge fitted on the first half only."""
    a = [r for r in rows if r["utterance"] < n // 2]
    b = [r for r in rows if r["utterance"] >= n // 2]
    held = fit_judge(a, [r["label"] for r in a], features=features, **settings)
    return fit_judge(rows, [r["label"] for r in rows], features=features, **settings), b, held.scores(b)


def average_precision(scores, labels) -> float | None:
    """Precision averaged over the true items, ranked by score (None without a true one)."""
    y = np.asarray(labels)[np.argsort(-np.asarray(scores), kind="stable")]
    if not y.sum():
        return None
    return round(float((np.cumsum(y) / np.arange(1, len(y) + 1) * y).sum() / y.sum()), 3)


def fit_judge(rows: list[dict], labels: list[int], l2: float = 0.01, steps: int = 3000,
              features: tuple[str, ...] = FEATURES, hidden: int = 0, seed: int = 0) -> LookupModel:
    """L2-regularized logistic regression by gradient descent (a few hundred rows to tens of
    thousands); with ``hidden`` units, the network, fitted with Adam (full batch, seeded)."""
    x = np.array([[r[k] for k in features] for r in rows], dtype=np.float64)
    y = np.array(labels, dtype=np.float64)
    mean, std = x.mean(0), x.std(0) + 1e-6
    if hidden:
        return _fit_network(x, y, mean, std, features, hidden, l2, steps, seed)
    a = np.hstack([(x - mean) / std, np.ones((len(x), 1))])
    w = np.zeros(a.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-a @ w))
        w -= (a.T @ (p - y) / len(y) + l2 * np.r_[w[:-1], 0.0])
    return LookupModel(tuple(w.tolist()), tuple(mean.tolist()), tuple(std.tolist()), tuple(features))

def _fit_network(x, y, mean, std, features, hidden, l2, steps, seed) -> LookupModel:
    import torch

    g = torch.Generator().manual_seed(seed)
    xs = torch.tensor((x - mean) / std, dtype=torch.float32)
    ys = torch.tensor(y, dtype=torch.float32)
    w1 = (torch.randn(hidden, xs.shape[1], generator=g) / xs.shape[1] ** 0.5).requires_grad_()
    b1 = torch.zeros(hidden, requires_grad=True)
    w2 = (torch.randn(hidden, generator=g) / hidden ** 0.5).requires_grad_()
    b2 = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([w1, b1, w2, b2], lr=0.01)
    for _ in range(steps):
        opt.zero_grad()
        z = torch.tanh(xs @ w1.T + b1) @ w2 + b2
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, ys) + l2 * (w1.square().sum() + w2.square().sum()) / 2
        loss.backward()
        opt.step()
    unit = torch.cat([w1, b1[:, None]], 1).detach().double().tolist()
    return LookupModel(tuple(w2.detach().double().tolist() + b2.detach().double().tolist()), tuple(mean.tolist()),
               tuple(std.tolist()), tuple(features), tuple(tuple(u) for u in unit))
