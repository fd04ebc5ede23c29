"""Fit the punctuation and casing model (``punctuation.npz``) on the data factory's training text.

Its text is the training split's sentences as the factory plans them (``data.build.plan``): carrier
sentences and filled domain patterns, each with its written form (cased, punctuated) and its
spoken form (what the recognizer emits). Only the training split: the reserved-entity gate and
the train/dev split keep test and dev entities and sentences out. Sentences are joined in runs of
one to three, so that the model learns where one ends inside a transcript; labels come from
aligning each written token with its spoken words. One core, a few minutes.
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from unidecode import unidecode

from ..inference.punctuation import (CASES, ENDS, MARKS, PunctuationModel, feature_keys, sentence_features,
                                     static_features)
from ..normalize import normalize

__all__ = ["PunctTrainConfig", "labeled", "runs", "split_sentences", "train_punctuation", "matrix"]

log = logging.getLogger(__name__)

_ABBREVS = {"mr", "mrs", "ms", "dr", "st", "jr", "sr", "prof", "vs", "etc", "no"}
_PART = re.compile(r"[^A-Za-z0-9']+")


@dataclass
class PunctTrainConfig:
    out: Path = Path("src/ctcbias/assets/base/punctuation.npz")
    seed: int = 0
    max_run: int = 3  # sentences joined into one training sequence, at most
    min_count: int = 2  # features seen fewer times are dropped
    l2: float = 2e-6  # on the mean loss
    iterations: int = 200  # L-BFGS
    # features whose weights all stay below this are dropped: on held-out training sentences 0.2
    # keeps every F1 within 0.002 and the file at a fifth of its size (7.4 -> 1.5 MB)
    prune: float = 0.2
    # the words always written in lower case: seen this often, in lower case at least this share of times
    lower_min: int = 20
    lower_share: float = 0.99
    limit: int = 0  # only the first N sentences (tests); 0: all


def _case(part: str) -> int:
    letters = [c for c in part if c.isalpha()]
    if not letters or all(c.islower() for c in letters):
        return 0
    if all(c.isupper() for c in letters):
        return 2 if len(letters) > 1 else 1
    if part[0].isupper() and all(c.islower() for c in letters[1:]):
        return 1
    return 3


def _mark(trail: str) -> str:
    if "?" in trail:
        return "?"
    if "." in trail or "!" in trail:
        return "."
    if any(c in trail for c in ",;:"):
        return ","
    return ""


def labeled(display: str, text: str, casing: bool = True) -> list[tuple[str, int, int, str]] | None:
    """Each spoken word of ``text`` with the mark after it and its casing class (-1: unknown, a
    sentence's first word, or every word without ``casing``), from the written ``display``; and
    its written form for the truecase lexicon. None when the written tokens do not spell the
    spoken words."""
    out: list[list] = []
    for tok in display.split():
        m = re.match(r"^(\W*)(.*?)(\W*)$", tok)
        core, trail = m.group(2), m.group(3)
        if not core:
            if out and _mark(trail):
                out[-1][1] = MARKS.index(_mark(trail))
            continue
        words = normalize(m.group(1) + core).split()
        if not words:
            continue
        mark = _mark(trail)
        if mark == "." and core.lower() in _ABBREVS:
            mark = ""
        parts = [p for p in _PART.split(unidecode(core)) if p]
        if len(parts) == len(words):
            cases = [(_case(p), p) for p in parts]
        else:
            cases = [(_case(parts[0]) if parts else 0, "")] + [(0, "")] * (len(words) - 1)
        for k, w in enumerate(words):
            c, form = cases[k]
            out.append([w, MARKS.index(mark) if k == len(words) - 1 else 0, c, form])
    if [o[0] for o in out] != text.split() or not out:
        return None
    if out[-1][1] not in ENDS:
        out[-1][1] = MARKS.index(".")
    start = True
    for o in out:
        if start or not casing:  # a sentence's first word is capitalized whatever it is (its own casing is unknown)
            o[2] = -1
        start = o[1] in ENDS
    return [tuple(o) for o in out]


def split_sentences(seed: int = 0, dev_utts: int = 2000, conversational: bool = True) -> dict[str, list[tuple]]:
    """(written, spoken, casing) sentences of the factory's training split, and of its dev split
    (held out: other carrier sentences, held-out patterns, dev entities) for evaluation.
    ``conversational``: the training split's every fortune and chatbot sentence too (the plan
    draws mostly Bible verses; people dictate questions and everyday sentences). ``casing`` is
    False for Bible verses: their capitals are the translation's ("My", "Son", "LORD" for God),
    not a dictation's."""
    from ..data.build import BuildConfig, plan, sources
    from ..data.text import split_of

    sets = plan(BuildConfig(out=Path("/nonexistent"), seed=seed, dev_utts=dev_utts, kokoro_share=0,
                            heavy_augment=False))
    out = {s: [(it["display"], it["text"], it["domain"] != "carrier:kjv") for it in sets[s]] for s in ("train", "dev")}
    if conversational:
        carriers, _, gate = sources()
        seen = {t for _, t, _ in out["train"]}
        out["train"] += [(d, t, True) for d, t, src in carriers if src in ("fortunes", "chatterbot")
                         and split_of(t) == "train" and t not in seen and t not in gate]
    return out


def runs(sentences: list[list[tuple]], rng: random.Random, max_run: int) -> list[list[tuple]]:
    """Labeled sentences joined in runs of 1 to ``max_run``, as one transcript would hold them."""
    order = list(range(len(sentences)))
    rng.shuffle(order)
    out, i = [], 0
    while i < len(order):
        k = rng.randint(1, max_run)
        out.append([w for j in order[i:i + k] for w in sentences[j]])
        i += k
    return out


def _features(seq: list[tuple]) -> list[list[str]]:
    """Every word's features, the sentence ones from the true sentence starts."""
    words = [w[0] for w in seq]
    stat = static_features(words)
    start = 0
    for i, w in enumerate(seq):
        stat[i] += sentence_features(words[start:start + 2], i - start)
        if w[1] in ENDS:
            start = i + 1
    return stat


def matrix(seqs: list[list[tuple]]):
    """Feature hashes per word (a flat array and row offsets) and the two label arrays."""
    keys, offsets, marks, cases = [], [0], [], []
    for seq in seqs:
        for f, w in zip(_features(seq), seq):
            keys.append(feature_keys(f))
            offsets.append(offsets[-1] + len(f))
            marks.append(w[1])
            cases.append(w[2])
    return np.concatenate(keys), np.array(offsets), np.array(marks), np.array(cases)


def _fit(x, marks: np.ndarray, cases: np.ndarray, l2: float, iterations: int) -> np.ndarray:
    """Both softmax regressions at once by L-BFGS: weights (features, marks + cases)."""
    from scipy.optimize import minimize

    n, f = x.shape
    nm, nc = len(MARKS), len(CASES)
    ym = np.eye(nm, dtype=np.float32)[marks]
    known = cases >= 0
    yc = np.eye(nc, dtype=np.float32)[np.where(known, cases, 0)] * known[:, None]
    xt = x.T.tocsr()

    def loss(flat):
        w = flat.reshape(f, nm + nc).astype(np.float32)
        z = x @ w
        total = 0.0
        grad = np.empty_like(z)
        for sl, y, mask, cnt in ((slice(0, nm), ym, None, n), (slice(nm, nm + nc), yc, known, known.sum())):
            zz = z[:, sl] - z[:, sl].max(1, keepdims=True)
            lse = np.log(np.exp(zz).sum(1, keepdims=True))
            p = np.exp(zz - lse)
            ce = -(y * (zz - lse)).sum(1)
            g = p - y
            if mask is not None:
                g *= mask[:, None]
            total += ce.sum() / cnt
            grad[:, sl] = g / cnt
        gw = xt @ grad + l2 * w
        return total + 0.5 * l2 * float((w * w).sum()), gw.ravel().astype(np.float64)

    res = minimize(loss, np.zeros(f * (nm + nc)), jac=True, method="L-BFGS-B",
                   options={"maxiter": iterations, "maxcor": 10})
    log.info("L-BFGS: %d iterations, loss %.4f (%s)", res.nit, res.fun, res.message)
    return res.x.reshape(f, nm + nc).astype(np.float32)


def train_punctuation(cfg: PunctTrainConfig, sentences: list[tuple[str, str]] | None = None) -> dict:
    """Fit on the training split's sentences (or ``sentences``: (written, spoken[, casing])); write
    ``cfg.out``; return the figures of the fit."""
    import scipy.sparse as sp

    t0 = time.time()
    if sentences is None:
        sentences = split_sentences(cfg.seed)["train"]
    if cfg.limit:
        sentences = sentences[:cfg.limit]
    lab = [labeled(*s) for s in sentences]
    kept = [s for s in lab if s]
    log.info("%d sentences, %d labeled (%d whose written tokens do not spell their words skipped)",
             len(sentences), len(kept), len(sentences) - len(kept))
    # the truecase lexicon: the usual written form of words mostly written in mixed case
    forms: dict[str, Counter] = defaultdict(Counter)
    for s in kept:
        for w, _, c, form in s:
            if c >= 0:
                forms[w][form if c == 3 else CASES[c]] += 1
    lexicon = {w: c.most_common(1)[0][0] for w, c in forms.items()
               if c.most_common(1)[0][0] not in CASES and c.most_common(1)[0][1] >= 2}
    # words seen often and nearly always in lower case stay so whatever their neighbours say ("call
    # my mother": names follow "call" in the assistant's sentences)
    lower = sorted(w for w, c in forms.items()
                   if sum(c.values()) >= cfg.lower_min and c["lower"] >= cfg.lower_share * sum(c.values()))
    seqs = runs(kept, random.Random(cfg.seed), cfg.max_run)
    keys, offsets, marks, cases = matrix(seqs)
    uniq, inv, counts = np.unique(keys, return_inverse=True, return_counts=True)
    keep = counts[inv] >= cfg.min_count
    cols = np.cumsum(counts >= cfg.min_count) - 1
    rows = np.repeat(np.arange(len(marks)), np.diff(offsets))
    x = sp.csr_matrix((np.ones(keep.sum(), np.float32), (rows[keep], cols[inv[keep]])),
                      shape=(len(marks), int((counts >= cfg.min_count).sum())))
    log.info("%d words, %d features (%d seen %d+ times)", len(marks), len(uniq), x.shape[1], cfg.min_count)
    w = _fit(x, marks, cases, cfg.l2, cfg.iterations)
    strong = np.abs(w).max(1) >= cfg.prune
    strong[uniq[counts >= cfg.min_count] == feature_keys(["b"])[0]] = True  # the bias feature always stays
    log.info("%d features kept of %d (weights of %.2f or more)", strong.sum(), len(strong), cfg.prune)
    model = PunctuationModel(uniq[counts >= cfg.min_count][strong].astype(np.uint32), w[strong], lexicon,
                             {"marks": list(MARKS), "cases": list(CASES), "lower": lower, "sentences": len(kept),
                              "words": int(len(marks)), "l2": cfg.l2, "seed": cfg.seed})
    cfg.out.parent.mkdir(parents=True, exist_ok=True)
    model.save(cfg.out)
    return {"sentences": len(kept), "words": int(len(marks)), "features": int(strong.sum()),
            "lexicon": len(lexicon), "lower": len(lower), "bytes": cfg.out.stat().st_size, "seconds": round(time.time() - t0, 1),
            "out": str(cfg.out)}
