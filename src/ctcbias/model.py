"""The CTC stack on the frozen encoder, with CTC heads at intermediate layers.

Encoder frames (50 Hz) are stacked in pairs (25 Hz, halves the stack's cost) and projected to
``d``. Transformer blocks follow; as in the method, a phone CTC head reads a middle block, a
subword CTC head a higher intermediate block, and the final subword head the top. The contextual
adapter (encoder biasing) adds its bias to the input of the final head (``CTCStack.output``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["StackConfig", "CTCStack"]


@dataclass
class StackConfig:
    in_dim: int = 512  # encoder width
    d: int = 256
    heads: int = 4
    ff: int = 1024
    layers: int = 6
    phone_layer: int = 2  # 1-based block whose output feeds the phone head
    inter_layer: int = 4  # ... the intermediate subword head
    n_subwords: int = 501  # including blank
    n_phones: int = 40  # including blank
    dropout: float = 0.1
    stack: int = 2  # encoder frames per stack frame
    encoder_pad: float = 0.0  # seconds of zeros after each clip in the encoder (see encoder.encode)
    tuned_blocks: int = 0  # the encoder's last blocks fine-tuned with the stack (encoder_top.pt; see encoder.EncoderTop)

    def to_dict(self) -> dict:
        return asdict(self)


class _Block(nn.Module):
    def __init__(self, c: StackConfig):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(c.d), nn.LayerNorm(c.d)
        self.attn = nn.MultiheadAttention(c.d, c.heads, dropout=c.dropout, batch_first=True)
        self.ff = nn.Sequential(nn.Linear(c.d, c.ff), nn.GELU(), nn.Dropout(c.dropout), nn.Linear(c.ff, c.d))
        self.drop = nn.Dropout(c.dropout)

    def forward(self, x: torch.Tensor, pad: torch.Tensor | None) -> torch.Tensor:
        h = self.ln1(x)
        x = x + self.drop(self.attn(h, h, h, key_padding_mask=pad, need_weights=False)[0])
        return x + self.drop(self.ff(self.ln2(x)))


@dataclass
class StackOutput:
    """Log-probabilities ``(batch, frames, units)`` of each head, every block's output, frame counts."""

    subword: torch.Tensor
    inter: torch.Tensor
    phone: torch.Tensor
    hidden: list[torch.Tensor] = field(default_factory=list)
    lengths: torch.Tensor | None = None


class CTCStack(nn.Module):
    def __init__(self, c: StackConfig):
        super().__init__()
        self.config = c
        self.proj = nn.Sequential(nn.LayerNorm(c.in_dim * c.stack), nn.Linear(c.in_dim * c.stack, c.d),
                                  nn.Dropout(c.dropout))
        self.pos = nn.Conv1d(c.d, c.d, 15, padding=7, groups=c.d)  # relative position, cheaply
        self.blocks = nn.ModuleList(_Block(c) for _ in range(c.layers))
        self.ln_phone, self.ln_inter, self.ln_out = nn.LayerNorm(c.d), nn.LayerNorm(c.d), nn.LayerNorm(c.d)
        self.phone_head = nn.Linear(c.d, c.n_phones)
        self.inter_head = nn.Linear(c.d, c.n_subwords)
        self.out_head = nn.Linear(c.d, c.n_subwords)

    def frames(self, enc_lengths: torch.Tensor) -> torch.Tensor:
        return enc_lengths // self.config.stack

    def forward(self, feats: torch.Tensor, lengths: torch.Tensor | None = None, bias=None) -> StackOutput:
        """feats: (batch, enc_frames, in_dim). ``bias``: optional contextual-adapter hook, see
        :meth:`output`."""
        return self.upper(*self.lower(feats, lengths), bias=bias)

    def lower(self, feats: torch.Tensor, lengths: torch.Tensor | None = None):
        """Blocks up to ``inter_layer``, the input of the intermediate heads; :meth:`upper` runs the
        rest. Split so a caller also gets the padding mask that :meth:`output` takes (adapter training)."""
        c = self.config
        b, t, _ = feats.shape
        t = t // c.stack
        x = self.proj(feats[:, : t * c.stack].reshape(b, t, c.in_dim * c.stack))
        lengths = self.frames(lengths) if lengths is not None else torch.full((b,), t)
        pad = torch.arange(t)[None, :] >= lengths[:, None]
        if pad.any():  # padding reads as the convolution's own zeros: a padded item gets what it would alone
            x = x.masked_fill(pad[..., None], 0.0)
        x = x + self.pos(x.transpose(1, 2)).transpose(1, 2)
        hidden = []
        for blk in self.blocks[: c.inter_layer]:
            x = blk(x, pad if pad.any() else None)
            hidden.append(x)
        return hidden, pad, lengths

    def upper(self, hidden: list[torch.Tensor], pad: torch.Tensor, lengths: torch.Tensor, bias=None) -> StackOutput:
        c = self.config
        x = hidden[-1]
        hidden = list(hidden)
        for blk in self.blocks[c.inter_layer:]:
            x = blk(x, pad if pad.any() else None)
            hidden.append(x)
        return StackOutput(
            subword=self.output(hidden, pad, bias),
            inter=F.log_softmax(self.inter_head(self.ln_inter(hidden[c.inter_layer - 1])), -1),
            phone=F.log_softmax(self.phone_head(self.ln_phone(hidden[c.phone_layer - 1])), -1),
            hidden=hidden, lengths=lengths)

    def output(self, hidden: list[torch.Tensor], pad: torch.Tensor, bias=None) -> torch.Tensor:
        """The final head's log-probabilities from every block's output. ``bias`` (the contextual
        adapter's hook) is called with the blocks' outputs, the padding, the final head's input and
        its logits; what it returns is added to that input, the representation feeding the head."""
        z = self.ln_out(hidden[-1])
        logits = self.out_head(z)
        if bias is not None:
            logits = logits + F.linear(bias(hidden, pad, z, logits), self.out_head.weight)
        return F.log_softmax(logits, -1)
