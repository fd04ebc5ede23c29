"""The README's first command, decoded in the default (joint) mode: the travel example's entities
come out whole, with no piece of one entry left beside another."""

from pathlib import Path

EX = Path(__file__).resolve().parent.parent / "examples"
WORDS = [l.strip() for l in (EX / "words.txt").read_text(encoding="utf-8").splitlines() if l.strip()]


def test_travel_example_has_no_lone_piece_of_a_multi_word_entry(rec):
    r = rec.transcribe(EX / "travel.wav", words=WORDS, format=False)
    words = r.raw_text.split()
    assert {"Siobhan", "Wrocław"} <= set(words) and "São Paulo" in r.raw_text
    pieces = [i for i, w in enumerate(words) if w.lower() in {"sao", "são", "paulo"}]
    # "São" and "Paulo" appear only together, as the entry
    assert all(words[i:i + 2] == ["São", "Paulo"] or words[i - 1:i + 1] == ["São", "Paulo"] for i in pieces)
