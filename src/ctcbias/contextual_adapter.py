"""Encoder biasing: the contextual adapter on the frozen CTC stack.

Three parts, as in the method:

* a **catalog encoder** embeds each list entry from its subword sequence: every subword of the
  entry gets a vector (its embedding plus, from a bidirectional LSTM over the entry, where it sits
  in the entry), so an entry is a short sequence of keys and values, not one pooled vector;
* a **query** per frame: the final head's input plus a projection of a learned, softmax-weighted
  sum of all the stack's blocks;
* an **attention** of each frame over every subword of every entry plus a ``<no-bias>`` slot. The
  attended values are added to the representation that feeds the final CTC head.

Why subword-level keys: a frame emits one subword, so the attention can name *which* subword of
an entry to emit, and the value can push exactly that unit (values start as the final head's own
weight row of the subword, scaled so the boost is ``gain`` nats). The score of a subword position
starts as the base model's logit for that subword (``<no-bias>`` starts as the base's best logit),
minus the log of how often the list holds that subword, so a long list of entries sharing common
subwords does not pile attention onto them. Before any training the adapter is thus an adaptive
subword boost; training learns the query and key corrections that make it context-aware (which
entry is being said) and how far to trust it. The base stack stays frozen; only this module is
trained (``ctcbias.training.adapter``). With ``gain`` 0 and a zero context value it adds nothing.

    >>> import torch
    >>> a = ContextualAdapter(AdapterConfig(n_subwords=20, d=16, d_a=8, layers=2))
    >>> cat = a.embed([[3, 4], [5]])                   # two entries, three subwords
    >>> hidden = [torch.zeros(1, 7, 16)] * 2           # two blocks, 7 frames
    >>> hook = a.bias_fn(cat)
    >>> hook(hidden, None, torch.zeros(1, 7, 16), torch.zeros(1, 7, 20)).shape
    torch.Size([1, 7, 16])
    >>> hook.attention.shape                           # frames x (<no-bias> + entries)
    torch.Size([1, 7, 3])
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from .inference.align import ranges

POSITION_BUCKET = 512  # a list's attention positions (one per entry subword) rounded up to this

__all__ = ["AdapterConfig", "Catalog", "ContextualAdapter"]


@dataclass
class AdapterConfig:
    n_subwords: int = 501  # the stack's subword units, blank (0) included
    d: int = 256  # the stack's width (the final head's input)
    d_a: int = 256  # catalog encoder (LSTM) width
    layers: int = 6  # blocks whose outputs the query mixes
    dropout: float = 0.1
    gain: float = 2.0  # initial boost, in nats, of a fully attended subword

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Catalog:
    """A list's entries as the attention sees them: one key and value per entry subword."""

    ids: torch.Tensor  # (P,) subword id of each position
    owner: torch.Tensor  # (P,) which entry each position belongs to
    keys: torch.Tensor  # (P, d) the subword's embedding plus its learned context in the entry
    values: torch.Tensor  # (P, d)
    prior: torch.Tensor  # (P,) -log(how many positions share the subword)
    n_entries: int
    # (keys, values) with <no-bias> as row 0 (its key, a zero value), when embedded for inference:
    # ``keys`` and ``values`` above are views of their rows 1..P, so nothing is copied to add it
    ext: tuple[torch.Tensor, torch.Tensor] | None = None
    # extended(), built once per dtype
    extended_cache: dict = field(default_factory=dict, repr=False, compare=False)

    def extended(self, dtype: torch.dtype, adapter: "ContextualAdapter") -> tuple[torch.Tensor, ...]:
        """(keys, values, prior, subword ids) with ``<no-bias>`` as position 0, in ``dtype``: its
        key, a zero value, its learned offset; built once per catalog (a catalog is its adapter's,
        made with its weights)."""
        got = self.extended_cache.get(dtype)
        if got is None:
            keys, values = self.ext if self.ext is not None else (
                torch.cat([adapter.no_bias_key[None], self.keys]), torch.cat([torch.zeros_like(self.values[:1]), self.values]))
            prior = torch.cat([adapter.no_bias_offset.reshape(1), self.prior])
            ids = torch.cat([torch.zeros(1, dtype=torch.long), self.ids])
            # positions padded to a multiple of POSITION_BUCKET that no frame attends to (a zero
            # value, a prior of -inf): bfloat16 products build a kernel per new shape (~18 ms), so
            # lists of about the same size share kernels
            pad = -len(ids) % POSITION_BUCKET
            keys, values = F.pad(keys, (0, 0, 0, pad)), F.pad(values, (0, 0, 0, pad))
            prior, ids = F.pad(prior, (0, pad), value=-math.inf), F.pad(ids, (0, pad))
            got = self.extended_cache[dtype] = (keys.to(dtype), values.to(dtype), prior.to(dtype), ids)
        return got

    def compact(self, dtype: torch.dtype, adapter: "ContextualAdapter") -> "Catalog":
        """Keep only the ``dtype`` copy that inference reads (:meth:`extended`): the float32 keys
        and values it is built from become views of it. A cached list's catalog then holds a
        third of the memory (bfloat16: 1 KB per position instead of 3 KB)."""
        keys, values, _, _ = self.extended(dtype, adapter)
        n = len(self.ids) + 1
        self.ext = keys[:n], values[:n]
        self.keys, self.values = keys[1:n], values[1:n]
        return self


class ContextualAdapter(nn.Module):
    def __init__(self, c: AdapterConfig):
        super().__init__()
        self.config = c
        self.tok_emb = nn.Embedding(c.n_subwords, c.d, padding_idx=0)
        self.lstm = nn.LSTM(c.d, c.d_a // 2, batch_first=True, bidirectional=True)
        self.key_ctx, self.val_ctx = nn.Linear(c.d_a, c.d), nn.Linear(c.d_a, c.d)
        self.layer_weights = nn.Parameter(torch.zeros(c.layers))
        self.ln_q = nn.LayerNorm(c.d)
        self.q = nn.Linear(c.d, c.d)
        self.no_bias_key = nn.Parameter(torch.zeros(c.d))
        self.no_bias_offset = nn.Parameter(torch.zeros(()))
        self.log_temp = nn.Parameter(torch.zeros(()))
        self.gain = nn.Parameter(torch.tensor(float(c.gain)))
        # corrections start at zero: the untrained adapter is the plain adaptive boost above
        for lin in (self.key_ctx, self.val_ctx, self.q):
            nn.init.zeros_(lin.weight), nn.init.zeros_(lin.bias)
        self.drop = nn.Dropout(c.dropout)

    @torch.no_grad()
    def init_from_head(self, head: nn.Linear) -> "ContextualAdapter":
        """Start the subword embeddings as the final CTC head's rows: a key then scores a frame the
        way the head does, and a value pushes the head towards its subword."""
        self.tok_emb.weight.copy_(head.weight)
        return self

    def embed(self, entries: list[list[int]]) -> Catalog:
        """The catalog of subword id sequences (ids as the CTC heads number them); computed once per list."""
        n = len(entries)
        if not n:
            z = torch.zeros(0, self.config.d)
            return Catalog(torch.zeros(0, dtype=torch.long), torch.zeros(0, dtype=torch.long), z, z, torch.zeros(0), 0)
        real = np.fromiter((len(e) for e in entries), dtype=np.int64, count=n)
        lens = np.maximum(real, 1)  # an entry without subwords keeps one position (the blank)
        starts = np.cumsum(lens) - lens
        flat = np.zeros(int(lens.sum()), dtype=np.int64)
        if real.sum():
            flat[np.repeat(starts, real) + ranges(real)] = np.fromiter(
                (u for e in entries for u in e), dtype=np.int64, count=int(real.sum()))
        ids, owner = torch.from_numpy(flat), torch.from_numpy(np.repeat(np.arange(n), lens))
        counts = torch.bincount(ids, minlength=self.config.n_subwords)
        prior = -torch.log(counts[ids].float())
        if not torch.is_grad_enabled():  # inference: the same numbers, ~3x faster on big lists
            keys, values = self._embed_fast(flat, lens, starts)
            return Catalog(ids, owner, keys[1:], values[1:], prior, n, ext=(keys, values))
        # training: the modules as written, so gradients flow through every part
        pos = torch.from_numpy(ranges(lens))
        padded = torch.zeros(n, int(lens.max()), dtype=torch.long)
        padded[owner, pos] = ids
        packed = pack_padded_sequence(self.tok_emb(padded), torch.from_numpy(lens), batch_first=True,
                                      enforce_sorted=False)
        ctx = pad_packed_sequence(self.lstm(packed)[0], batch_first=True, total_length=padded.shape[1])[0][owner, pos]
        emb = self.tok_emb(ids)
        unit = _unit(emb)
        return Catalog(ids, owner, self.key_ctx(ctx) + emb, self.gain * unit + self.val_ctx(ctx), prior, n)

    def _embed_fast(self, flat: np.ndarray, lens: np.ndarray, starts: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values of every entry position (flat, entry after entry), without autograd.

        What :meth:`embed` computes for training, rearranged for a 10,000-entry list (~70,000
        positions): whatever depends only on the subword (the LSTM's input projection, two thirds
        of its products; the embedding and its unit value) is one row per vocabulary entry, looked
        up; entries sorted by length shrink the LSTM's batch as the shorter ones end; ``tanh`` is
        folded into one ``sigmoid`` over all four gates (tanh(x) = 2 sigmoid(2x) - 1); both
        directions step together as one batched product (a 30-entry shortlist is ~20 steps of
        small operations, whose count is its time)."""
        h = self.lstm.hidden_size
        order = np.argsort(-lens, kind="stable")
        slen = lens[order]
        steps = np.arange(int(slen[0]))
        active = (slen[None, :] > steps[:, None]).sum(1)  # entries still running at each step
        # flat index of (step, sorted entry), forwards and reversed within each entry's length
        fwd = torch.from_numpy(starts[order][None, :] + np.minimum(steps[:, None], slen[None, :] - 1))
        bwd = torch.from_numpy(starts[order][None, :] + np.maximum(slen[None, :] - 1 - steps[:, None], 0))
        table, w_hh_t = self._gate_tables()
        V, P, n = table.shape[1], len(flat), len(order)
        # per step, direction and entry: the row of the stacked tables it reads (its subword) and
        # the half row of the output it writes (its position's forward or backward half)
        where = torch.stack([fwd, bwd], 1)  # (step, direction, entry)
        side = torch.arange(2)[:, None]
        rows = torch.from_numpy(flat)[where] + side * V
        dest = where * 2 + side
        table, hs, cs = table.reshape(2 * V, -1), torch.zeros(2, n, h), torch.zeros(2, n, h)
        ctx = torch.empty(2 * P, h)
        for s, k in enumerate(active.tolist()):
            x = table.index_select(0, rows[s, :, :k].reshape(-1)).view(2, k, -1)
            gates = torch.baddbmm(x, hs[:, :k], w_hh_t).sigmoid_()
            i, f, g, o = gates.chunk(4, 2)
            c = cs[:, :k].mul_(f).add_(i * g.mul_(2).sub_(1))
            hk = hs[:, :k] = o * torch.tanh(c)
            ctx.index_copy_(0, dest[s, :, :k].reshape(-1), hk.reshape(-1, h))
        ctx = ctx.view(P, 2 * h)
        emb = self.tok_emb.weight
        unit = _unit(emb)
        ids = torch.from_numpy(flat)
        # row 0: <no-bias> (its key, a zero value), so the attention needs no copy to add it
        keys, values = torch.empty(1 + len(flat), emb.shape[1]), torch.empty(1 + len(flat), emb.shape[1])
        keys[0], values[0] = self.no_bias_key, 0.0
        torch.addmm((emb + self.key_ctx.bias)[ids], ctx, self.key_ctx.weight.T, out=keys[1:])
        torch.addmm((self.gain * unit + self.val_ctx.bias)[ids], ctx, self.val_ctx.weight.T, out=values[1:])
        return keys, values

    def _gate_tables(self) -> tuple[torch.Tensor, torch.Tensor]:
        """For :meth:`_embed_fast`, both LSTM directions stacked: every vocabulary subword's input
        projection (both biases added), ``(2, vocabulary, 4h)``, and the recurrent weights,
        transposed, ``(2, h, 4h)``, with the cell input gate's rows doubled. They depend on the
        weights alone, so they are kept until a weight changes (training steps and loaded state
        dicts bump a tensor's version): recomputing them was most of the time a 30-entry list
        took to embed (~2.7 of 3.9 ms)."""
        lstm, h = self.lstm, self.lstm.hidden_size
        params = [self.tok_emb.weight, *lstm.parameters()]
        key = tuple((p.data_ptr(), p._version) for p in params)
        got = self.__dict__.get("_tables")
        if got is not None and got[0] == key:
            return got[1]
        g2 = torch.ones(4 * h)
        g2[2 * h:3 * h] = 2.0  # the cell input gate's rows, doubled for the tanh-by-sigmoid fold
        tables, recurrent = [], []
        for sfx in ("", "_reverse"):
            w_ih, w_hh = getattr(lstm, "weight_ih_l0" + sfx), getattr(lstm, "weight_hh_l0" + sfx)
            bias = getattr(lstm, "bias_ih_l0" + sfx) + getattr(lstm, "bias_hh_l0" + sfx)
            tables.append((self.tok_emb.weight @ w_ih.T + bias) * g2)
            recurrent.append(w_hh.T * g2)
        got = torch.stack(tables), torch.stack(recurrent)
        self.__dict__["_tables"] = key, got
        return got

    def bias_fn(self, catalog: Catalog) -> "_Hook":
        """The hook :meth:`ctcbias.model.CTCStack.output` calls before the final head. A new hook
        per call, so concurrent calls never share attention weights."""
        return _Hook(self, catalog)


def _unit(emb: torch.Tensor) -> torch.Tensor:
    """Each embedding over its squared norm (its dot product with itself becomes 1)."""
    return emb / emb.pow(2).sum(-1, keepdim=True).clamp_min(1e-6)


def _logits_of(logits: torch.Tensor, ids: torch.Tensor) -> torch.Tensor:
    """``logits[..., ids]``: gathered as rows of the transposed logits, ~4x faster than indexing
    the last dimension (~10,000 positions for 1,000 entries)."""
    return logits.transpose(-1, -2).contiguous()[..., ids, :].transpose(-1, -2)


class _Hook:
    def __init__(self, a: ContextualAdapter, catalog: Catalog):
        self.a, self.cat = a, catalog
        self._att: torch.Tensor | None = None  # (batch, frames, 1 + positions), <no-bias> first
        self.logits: torch.Tensor | None = None  # inference: the base's logits it was handed

    @property
    def attention(self) -> torch.Tensor | None:
        """The last call's weights per entry, ``(batch, frames, 1 + entries)``, <no-bias> first: summed
        over each entry's subwords on request (plots), not on every call (training, decoding)."""
        if self._att is None:
            return None
        att, cat = self._att, self.cat
        per_entry = torch.zeros(*att.shape[:-1], 1 + cat.n_entries, dtype=att.dtype)
        per_entry[..., 0] = att[..., 0]
        per_entry[..., 1:] = per_entry[..., 1:].index_add(-1, cat.owner, att[..., 1:1 + len(cat.owner)])
        return per_entry

    def __call__(self, hidden: list[torch.Tensor], pad, z: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        a, cat = self.a, self.cat
        w = torch.softmax(a.layer_weights, 0)
        mix = sum(w[i] * h for i, h in enumerate(hidden[: a.config.layers]))
        q = a.drop(a.q(a.ln_q(mix)))  # the learned query correction (batch, frames, d)
        if not torch.is_grad_enabled():
            self.logits = logits
            return self._infer(q, logits)
        # training: a position's score is the base's logit for its subword + learned (query . key)
        # - log count, computed so that gradients reach every part
        keys_t, values, prior = cat.keys.T.to(q.dtype), cat.values, cat.prior.to(q.dtype)
        picked = _logits_of(logits, cat.ids)
        base = q @ keys_t + picked + prior
        none = logits.max(-1, keepdim=True).values + a.no_bias_offset + q @ a.no_bias_key[:, None].to(q.dtype)
        att = torch.softmax(torch.cat([none, base], -1) / a.log_temp.exp(), -1)
        self._att = att.detach()
        return att[..., 1:] @ (values if values.dtype == att.dtype else values.to(att.dtype))

    def _infer(self, q: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """What :meth:`__call__` computes, without autograd, in one layout: ``<no-bias>`` is
        row 0 of the keys (and a zero row of the values), so there is no concatenation or
        slice copy of the (frames x positions) scores, and the temperature is folded into the
        query and the additive terms (a 1,000-entry list: ~7,000 positions a frame)."""
        a, cat = self.a, self.cat
        keys, values, prior, ids = cat.extended(q.dtype, a)
        inv_temp = torch.exp(-a.log_temp)
        # the base's logit of each position's subword, the temperature folded in before the
        # gather (501 columns, not ~7,000); column 0: its best logit (<no-bias>)
        scaled = logits * inv_temp.to(logits.dtype)
        add = _logits_of(scaled, ids)
        add[..., 0] = scaled.max(-1).values
        flat_q = (q * inv_temp.to(q.dtype)).reshape(-1, q.shape[-1])  # (batch x frames, d)
        scores = torch.addmm((add + prior * inv_temp.to(prior.dtype)).reshape(len(flat_q), -1), flat_q,
                             keys.T).reshape(add.shape)
        att = torch.softmax(scores, -1)
        self._att = att
        return att.to(values.dtype) @ values  # under autocast the old path's product was bf16 too
