"""The lexicon lookup's judge: evidence about one (span, entry) candidate in, log-odds out.

A logistic model over :data:`FEATURES`, or a one-hidden-layer network (tanh units) over them:
the evidence interacts (a perfect spotting fit means little for a two-phone entry; an LM gain
means more where the phone gain is small), which one weight per feature cannot say. Fitted on
dev by ``ctcbias train lookup`` (:mod:`ctcbias.training.lookup`), shipped as
``lexicon_lookup.json`` beside the stack, and ``lexicon_lookup_joint.json`` with the contextual
adapter's evidence (:data:`ATTENTION_FEATURES`).

    >>> m = LookupModel(weights=(2.0,) + (0.0,) * (len(FEATURES) - 1) + (-1.0,),
    ...                 mean=(0.0,) * len(FEATURES), std=(1.0,) * len(FEATURES))
    >>> row = dict.fromkeys(FEATURES, 0.0)
    >>> m.score(row | {"phone_gain": 1.0}), m.score(row)
    (1.0, -1.0)
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

__all__ = ["ATTENTION_FEATURES", "FEATURES", "LookupModel"]

# the judge's evidence, in the order of LookupModel.weights
FEATURES = ("phone_gain", "phone_gain_per_frame", "lm_gain", "fit", "fit_current", "fit_delta", "log_frames", "log_phones", "words",
            "log10_list", "subword_gain", "heard_distance", "heard_distance_current", "spotted_fit", "spotted_here")
# with the contextual adapter (joint biasing), its attention is evidence too: the joint judge's
# features are FEATURES + these
ATTENTION_FEATURES = ("attention_peak", "attention_rank", "attention_none")


@dataclass(frozen=True)
class LookupModel:
    """The judge: a logistic model over :data:`FEATURES` (standardized by ``mean`` / ``std``), or,
    with ``hidden``, a one-hidden-layer network (tanh units) whose output is the log-odds: the
    evidence interacts (a perfect spotting fit means little for a two-phone entry; an LM gain
    means more where the phone gain is small), which one weight per feature cannot say."""

    weights: tuple[float, ...]  # one per feature (or hidden unit), then the intercept
    mean: tuple[float, ...]
    std: tuple[float, ...]
    features: tuple[str, ...] = FEATURES  # or FEATURES + ATTENTION_FEATURES: the joint judge
    hidden: tuple[tuple[float, ...], ...] = ()  # per hidden unit: one weight per feature, then its bias

    @property
    def uses_attention(self) -> bool:
        return self.features != FEATURES

    def score(self, features: dict[str, float]) -> float:
        """Log-odds that the span really is the entity."""
        return float(self.scores([features])[0])

    def scores(self, rows: list[dict[str, float]]) -> np.ndarray:
        """:meth:`score` of many candidates at once."""
        x = (np.array([[r[k] for k in self.features] for r in rows], dtype=np.float64).reshape(len(rows), -1)
             - self.mean) / self.std
        if self.hidden:
            h = np.array(self.hidden)
            x = np.tanh(x @ h[:, :-1].T + h[:, -1])
        return x @ np.array(self.weights[:-1]) + self.weights[-1]

    @classmethod
    def load(cls, path: str | Path, features: tuple[str, ...] | None = None) -> "LookupModel":
        """The model in ``path``, fitted on ``features`` (default: the judge's, with or without the
        adapter's)."""
        d = json.loads(Path(path).read_text())
        if features is not None and tuple(d["features"]) != features:
            raise ValueError(f"{path}: fitted on features {d['features']}, this version uses {list(features)}")
        if features is None and tuple(d["features"]) not in (FEATURES, FEATURES + ATTENTION_FEATURES):
            raise ValueError(f"{path}: fitted on features {d['features']}, this version uses {list(FEATURES)} "
                             f"(+ {list(ATTENTION_FEATURES)} with the adapter)")
        return cls(tuple(d["weights"]), tuple(d["mean"]), tuple(d["std"]), tuple(d["features"]),
                   tuple(tuple(u) for u in d.get("hidden", ())))

    def save(self, path: str | Path, **extra) -> None:
        net = {"hidden": [list(u) for u in self.hidden]} if self.hidden else {}
        Path(path).write_text(json.dumps({"features": list(self.features), "weights": list(self.weights),
                                          "mean": list(self.mean), "std": list(self.std), **net, **extra},
                                         indent=1) + "\n")
