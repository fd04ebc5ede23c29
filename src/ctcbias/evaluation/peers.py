"""Peers on our own log-probabilities: pyctcdecode's beam search with its ``hotwords``."""

from __future__ import annotations

import numpy as np

from ..tokenizer import Tokenizer


class PyCTCDecodePeer:
    def __init__(self, tok: Tokenizer, lm_path: str | None, alpha: float = 0.5, beta: float = 1.0,
                 hotword_weight: float = 10.0, beam: int = 10):
        import logging

        from pyctcdecode import build_ctcdecoder

        logging.getLogger("pyctcdecode").setLevel(logging.ERROR)
        labels = [""] + ["\u2047" if p == "<unk>" else p for p in tok.pieces[1:]]
        self.decoder = build_ctcdecoder(labels, kenlm_model_path=lm_path, alpha=alpha, beta=beta)
        self.hotword_weight, self.beam = hotword_weight, beam

    def decode(self, logp: np.ndarray, hotwords: list[str]) -> str:
        return self.decoder.decode(logp, beam_width=self.beam, hotwords=hotwords or None,
                                   hotword_weight=self.hotword_weight)
