"""A picture of the contextual adapter's attention for one utterance: list entries down the side,
time along the bottom, the recognized words on top. Long lists show ``<no-bias>`` and the entries
that drew the most attention, so the plot stays readable."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from .result import FRAME_SECONDS, Result

__all__ = ["plot_attention"]


def plot_attention(result: Result, out: str | Path | None = None, max_entries: int = 15) -> bytes:
    """Draw ``result.attention`` (from ``transcribe(..., attention=True)``); write a PNG to ``out``
    when given, and return its bytes."""
    if result.attention is None or not result.attention_entries:
        raise ValueError("this result has no attention weights: transcribe with a word list, "
                         "bias='encoder' or 'joint', and attention=True")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    att, names = result.attention, result.attention_entries
    # <no-bias> always, then the entries that drew the most attention anywhere
    order = [0] + [int(i) + 1 for i in np.argsort(-att[:, 1:].max(0))[: max_entries]]
    att, names = att[:, order].T, [names[i] for i in order]
    secs = att.shape[1] * FRAME_SECONDS
    fig, ax = plt.subplots(figsize=(min(16, 3 + secs * 1.2), 1.2 + 0.32 * len(names)), dpi=100)
    ax.imshow(att, aspect="auto", cmap="magma", vmin=0, vmax=1, interpolation="nearest",
              extent=(0, secs, len(names) - 0.5, -0.5))
    ax.set_yticks(range(len(names)), [n if len(n) <= 30 else n[:29] + "…" for n in names], fontsize=9)
    ax.set_xlabel("seconds")
    top = ax.secondary_xaxis("top")
    top.set_xticks([(w.start + w.end) / 2 for w in result.words],
                   [w.word for w in result.words], rotation=45, ha="left", fontsize=8)
    for lbl, w in zip(top.get_xticklabels(), result.words):
        if w.entity:
            lbl.set_color("tab:red")
    ax.set_title("contextual adapter attention (rows: list entries; shown: <no-bias> + top entries)", fontsize=9,
                 pad=40)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    if out is not None:
        Path(out).write_bytes(buf.getvalue())
    return buf.getvalue()
