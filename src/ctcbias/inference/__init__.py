"""Inference: from audio and an optional word list to a transcript."""
