"""Encoder biasing: the contextual adapter on the frozen CTC stack.

Three parts, as in the method:

* a **catalog encoder** embeds each list entry from its subword sequence (an embedding table and a
  bidirectional LSTM; the two final states, projected, are the entry's embedding);
* a **query** per frame: a learned, softmax-weighted sum of the stack's blocks up to the
  intermediate subword layer;
* an **attention** of each frame's query over the entries plus a learned ``<no-bias>`` slot. The
  attended value, projected, is added to the hidden state that feeds the upper blocks and the final
  CTC head. ``<no-bias>`` has a learned key and a zero value, so a frame that attends only to it
  (or a call with an empty list, which skips the adapter) gets exactly the base model's output.

The base stack stays frozen; only this module is trained (``ctcbias.training.adapter``).

    >>> import torch
    >>> a = ContextualAdapter(AdapterConfig(n_subwords=20, d=16, d_a=8, layers=2))
    >>> emb = a.embed([[3, 4], [5]])                   # two entries
    >>> hidden = [torch.zeros(1, 7, 16)] * 2           # two blocks, 7 frames
    >>> hook = a.bias_fn(emb)
    >>> hook(hidden, None).shape, hook.attention.shape  # attention: frames x (1 + entries)
    (torch.Size([1, 7, 16]), torch.Size([1, 7, 3]))
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

__all__ = ["AdapterConfig", "ContextualAdapter"]


@dataclass
class AdapterConfig:
    n_subwords: int = 501  # the stack's subword units, blank (0) included
    d: int = 256  # the stack's width
    d_a: int = 256  # attention width
    layers: int = 4  # blocks whose outputs the query mixes (1..inter_layer)
    dropout: float = 0.1

    def to_dict(self) -> dict:
        return asdict(self)


class ContextualAdapter(nn.Module):
    def __init__(self, c: AdapterConfig):
        super().__init__()
        self.config = c
        self.tok_emb = nn.Embedding(c.n_subwords, c.d_a // 2, padding_idx=0)
        self.lstm = nn.LSTM(c.d_a // 2, c.d_a // 2, batch_first=True, bidirectional=True)
        self.entry_proj = nn.Linear(c.d_a, c.d_a)
        self.layer_weights = nn.Parameter(torch.zeros(c.layers))
        self.ln_q = nn.LayerNorm(c.d)
        self.q = nn.Linear(c.d, c.d_a)
        self.k = nn.Linear(c.d_a, c.d_a)
        self.v = nn.Linear(c.d_a, c.d_a)
        self.no_bias_key = nn.Parameter(torch.randn(c.d_a) * 0.02)
        self.out = nn.Linear(c.d_a, c.d, bias=False)
        # small, not zero: a zero output layer gives the attention no gradient to start from
        nn.init.normal_(self.out.weight, std=0.02)
        self.drop = nn.Dropout(c.dropout)

    def embed(self, entries: list[list[int]]) -> torch.Tensor:
        """Embeddings ``(entries, d_a)`` of subword id sequences (ids as the CTC heads number them)."""
        if not entries:
            return torch.zeros(0, self.config.d_a)
        lens = torch.tensor([max(1, len(e)) for e in entries])
        ids = torch.zeros(len(entries), int(lens.max()), dtype=torch.long)
        for i, e in enumerate(entries):
            ids[i, : len(e)] = torch.tensor(e, dtype=torch.long)
        packed = pack_padded_sequence(self.tok_emb(ids), lens, batch_first=True, enforce_sorted=False)
        _, (h, _) = self.lstm(packed)  # h: (2, entries, d_a/2), the two directions' final states
        return torch.tanh(self.entry_proj(torch.cat([h[0], h[1]], -1)))

    def bias_fn(self, emb: torch.Tensor) -> "_Hook":
        """The hook :class:`~ctcbias.model.CTCStack` calls after its intermediate block. A new hook
        per call, so concurrent calls never share attention weights."""
        keys = torch.cat([self.no_bias_key[None], self.k(emb)])  # (1 + entries, d_a)
        values = torch.cat([torch.zeros(1, self.config.d_a, dtype=emb.dtype), self.v(emb)])
        return _Hook(self, keys, values)


class _Hook:
    def __init__(self, a: ContextualAdapter, keys: torch.Tensor, values: torch.Tensor):
        self.a, self.keys, self.values = a, keys, values
        self.attention: torch.Tensor | None = None  # (batch, frames, 1 + entries), <no-bias> first

    def __call__(self, hidden: list[torch.Tensor], pad) -> torch.Tensor:
        a, c = self.a, self.a.config
        w = torch.softmax(a.layer_weights, 0)
        mix = sum(w[i] * h for i, h in enumerate(hidden[: c.layers]))
        q = a.q(a.ln_q(mix))  # (batch, frames, d_a)
        att = torch.softmax(q @ self.keys.T.to(q.dtype) / math.sqrt(c.d_a), -1)
        self.attention = att.detach()
        return a.out(a.drop(att @ self.values.to(att.dtype)))
