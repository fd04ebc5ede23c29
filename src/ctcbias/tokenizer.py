"""Subword units (sentencepiece) and phone units (ARPAbet) of the CTC heads.

Index 0 is the CTC blank in both. Subwords come from a unigram sentencepiece model trained on the
normalized training transcripts (which never contain a reserved entity); any word, seen or not,
tokenizes into pieces of it, which is what lets a user's new words be boosted subword by subword.
"""

from __future__ import annotations

from pathlib import Path

from .pronounce import PHONES, pronounce

__all__ = ["Tokenizer", "PhoneSet", "train_sentencepiece"]


class Tokenizer:
    """Sentencepiece pieces shifted by one: 0 = blank, i + 1 = piece i."""

    def __init__(self, model_file: str | Path):
        import sentencepiece as spm

        self.sp = spm.SentencePieceProcessor(model_file=str(model_file))
        self.pieces = ["<blank>"] + [self.sp.id_to_piece(i) for i in range(self.sp.get_piece_size())]

    def __len__(self) -> int:
        return len(self.pieces)

    def encode(self, text: str) -> list[int]:
        return [i + 1 for i in self.sp.encode(text)]

    def decode(self, ids: list[int]) -> str:
        return self.sp.decode([i - 1 for i in ids if i > 0])

    def word_start(self, i: int) -> bool:
        """Whether unit ``i`` begins a new word (sentencepiece's ▁ marker)."""
        return i > 0 and self.pieces[i].startswith("\u2581")


class PhoneSet:
    """0 = blank, then the 39 ARPAbet phones."""

    units = ["<blank>", *PHONES]
    index = {p: i for i, p in enumerate(units)}

    def __len__(self) -> int:
        return len(self.units)

    @staticmethod
    def fill_lexicon(lexicon: dict[str, list[str]], words) -> dict[str, list[str]]:
        """Add the first pronunciation (CMUdict, else G2P) of every word ``lexicon`` lacks, in one
        G2P call; call it with a whole corpus's words rather than per sentence."""
        missing = sorted(set(words) - set(lexicon))
        for w, prons in zip(missing, pronounce(missing)):
            lexicon[w] = prons[0] if prons else []
        return lexicon

    def encode_words(self, words: list[str], lexicon: dict[str, list[str]] | None = None) -> list[int]:
        """Phone ids of a word sequence, first pronunciation of each word (lexicon, else CMUdict/G2P)."""
        lexicon = self.fill_lexicon(lexicon if lexicon is not None else {}, words)
        return [self.index[p] for w in words for p in lexicon[w]]


def train_sentencepiece(texts: list[str], prefix: Path, vocab_size: int = 500, model_type: str = "unigram") -> Path:
    """Train a sentencepiece model on normalized texts; writes ``prefix.model`` and ``prefix.vocab``.
    ``model_type`` "unigram": ``vocab_size`` subwords; "char": one unit per character seen (and
    the word-start marker), ``vocab_size`` ignored."""
    import sentencepiece as spm

    if model_type not in ("unigram", "char"):
        raise ValueError(f"units {model_type!r}: 'unigram' or 'char'")
    if model_type == "char":  # every character, the word-start marker and <unk>
        vocab_size = len(set("".join(texts)) - {" "}) + 2
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts), model_prefix=str(prefix), model_type=model_type, vocab_size=vocab_size,
        character_coverage=1.0, bos_id=-1, eos_id=-1, pad_id=-1, num_threads=1, minloglevel=2,
        normalization_rule_name="identity")
    return Path(f"{prefix}.model")
