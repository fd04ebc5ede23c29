"""Fit the shortlist check (``shortlist_check.json``) on dev: dev utterances and catalog entities
that are not reserved for the test sets, never the test sets or real speech.

Each dev utterance with entities is decoded twice with a 1,000-, 10,000- or 20,000-entry list (in
turn), shortlisted as a big list is and with no check: a list that holds its entities
(the rest drawn from the catalog's unreserved entities) and one that holds none of them. Every
entity of those decodes is a row of :data:`~ctcbias.inference.shortlist.CHECK_FEATURES` and the
adapter's :data:`~ctcbias.inference.shortlist.ATTENTION_CHECK_FEATURES`, labelled 1 when the
utterance says it. The check is a one-hidden-layer network over them
(:func:`~ctcbias.training.lookup.fit_judge`): ``shortlist_check.json`` over the phone evidence alone
(decoder biasing), ``shortlist_check_joint.json`` with the attention too (joint biasing).

    ctcbias train shortlist-check --data data/synth --out src/ctcbias/assets/base/shortlist_check.json
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import replace
from pathlib import Path

from ..inference.shortlist import ATTENTION_CHECK_FEATURES, CHECK_FEATURES
from .lookup import _settings, average_precision, fit_checked

log = logging.getLogger("ctcbias.shortlist_check")

SIZES = (1000, 10000, 20000)  # entries of the lists: the check learns what a bigger list's chance matches look like
# hidden units: the evidence interacts (a close phone match means little for a two-phone entry); on
# dev-heldout's rows (fitted on dev), average precision 0.883 (logistic) -> 0.914 (8 units), with
# the attention 0.903 -> 0.923
HIDDEN = 8


def collect(data: Path, model: Path | None = None, n: int = 200, sizes=SIZES, progress: bool = True,
            heldout_from: int | None = None) -> list[dict]:
    """Rows of evidence per entity of the unchecked shortlist decodes, with label and utterance.
    ``heldout_from``: also dev-heldout's utterances with entities from this one on (numbered after
    dev's), the voices the test sets speak in; those before it stay for scoring."""
    from tqdm import tqdm

    from ..data.catalogs import DOMAIN_KINDS, load_catalog
    from ..data.dev_lists import dev_items
    from ..inference.recognizer import Recognizer
    from ..inference.shortlist import check_features

    rec = Recognizer.load(model)
    base = rec.resolve()
    opts = replace(base, shortlist=replace(base.shortlist, confirm=False))
    cat = load_catalog()
    pool = sorted({e.display for kinds in DOMAIN_KINDS.values() for k in kinds for e in cat[k] if not e.reserved})
    items = [it for it in dev_items(data) if it["entities"]][:n]
    if heldout_from is not None:
        items += [it for it in dev_items(data, name="dev-heldout") if it["entities"]][heldout_from:]
    rng = random.Random("shortlist-check")
    rows: list[dict] = []
    for u, it in enumerate(tqdm(items, desc="dev utterances", disable=not progress)):
        true = list(dict.fromkeys(en["display"] for en in it["entities"]))
        said = {en["spoken"] for en in it["entities"]}
        run = rec.pipeline(data / it["audio"])
        size = sizes[u % len(sizes)]
        own = (true + [w for w in rng.sample(pool, size + len(true)) if w not in true])[:size]
        strange = [w for w in rng.sample(pool, size + len(true)) if w not in true][:size]
        for kind, words in (("own", own), ("strangers", strange)):
            big = rec.compile(words, opts)
            result = run.decode(big, opts)
            short, o = run.shortlisted(big, opts), opts.shortlist.decoding(opts)
            _, spans, x, _ = check_features(run, result, short, o)
            for (_, _, k), r in zip(spans, x):
                rows.append({**r, "utterance": u, "list": kind,
                             "label": int(kind == "own" and short.entries[k].spoken in said)})
    return rows


def fit(data: Path, out: Path, model: Path | None = None, n: int = 200, progress: bool = True,
        hidden: int = HIDDEN, heldout_from: int | None = None) -> dict:
    """Collect, check on held-out utterances (fitted on the first half, scored on the second), fit
    on all, write ``out`` and, where the model has an adapter, ``<out>_joint.json`` (with the
    attention); returns the summary."""
    t0 = time.time()
    rows = collect(data, model, n, progress=progress, heldout_from=heldout_from)
    command = f"ctcbias train shortlist-check --data {data} --out {out} --n {n} --hidden {hidden}" \
        + (f" --model {model}" if model else "") + (f" --heldout-from {heldout_from}" if heldout_from is not None else "")
    summary = _fit_one(rows, CHECK_FEATURES, out, n, hidden, t0, command)
    if rows and ATTENTION_CHECK_FEATURES[0] in rows[0]:
        summary["joint"] = _fit_one(rows, CHECK_FEATURES + ATTENTION_CHECK_FEATURES,
                                    out.with_name(out.stem + "_joint" + out.suffix), n, hidden, t0, command)
    return summary


def _fit_one(rows: list[dict], features: tuple[str, ...], out: Path, n: int, hidden: int, t0: float,
             command: str) -> dict:
    model_, b, sb = fit_checked(rows, n, features, **_settings(hidden))
    check = {"entities": len(b), "said": sum(r["label"] for r in b),
             "average_precision": average_precision(sb, [r["label"] for r in b])}
    labels = [r["label"] for r in rows]
    summary = {"dev_utterances": n, "list_entries": list(SIZES), "hidden_units": hidden, "entities": len(rows),
               "said": sum(labels), "held_out_check": check, "wall_minutes": round((time.time() - t0) / 60, 1)}
    log.info("shortlist check (%s): %s", out.name, summary)
    out.parent.mkdir(parents=True, exist_ok=True)
    model_.save(out, summary=summary, command=command)
    return summary
