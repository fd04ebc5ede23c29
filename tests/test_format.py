"""Readable transcripts: inverse text normalization, punctuation and casing, and what the user gets."""

from pathlib import Path

import numpy as np
import pytest

from ctcbias.evaluation.format_bench import itn_pairs, itn_scores, punctuation_scores
from ctcbias.inference.inverse_normalize import inverse_normalize, inverse_normalize_text
from ctcbias.inference.punctuation import PunctuationModel
from ctcbias.inference.readable import format_words
from ctcbias.inference.recognizer import DEFAULT_MODEL
from ctcbias.inference.result import Result, Word
from ctcbias.normalize import normalize
from ctcbias.training.punctuation import PunctTrainConfig, labeled, train_punctuation

EX = Path(__file__).resolve().parent.parent / "examples"


@pytest.fixture(scope="module")
def model():
    return PunctuationModel.load(DEFAULT_MODEL / "punctuation.npz")


def test_itn_pairs_meet_the_bar():
    pairs = itn_pairs()
    assert len(pairs) >= 200
    r = itn_scores(pairs)
    assert r["accuracy"] >= 0.95, r["wrong"]


@pytest.mark.parametrize("spoken,written", [
    ("take five hundred milligrams at two thirty pm", "take 500 mg at 2:30 pm"),
    ("on march third nineteen ninety nine", "on March 3rd, 1999"),
    ("it cost forty dollars and fifty cents", "it cost $40.50"),
    ("two tablets for fourteen days", "two tablets for 14 days"),
    ("you may go", "you may go"),
])
def test_itn_examples(spoken, written):
    assert inverse_normalize_text(spoken) == written


def test_itn_round_trips_the_normalizer():
    # what normalize() spells out, the inverse writes back (the forms the recognizer learned)
    for written in ("500 mg", "2:30 pm", "1500 mg", "7:05", "2.5 mg", "the 21st century", "50 cents"):
        assert inverse_normalize_text(normalize(written)) == written, written


def test_itn_spans_keep_their_words_and_skip_entities():
    words = "meet at two thirty pm with covid nineteen".split()
    spans = inverse_normalize(words)
    assert [(s.start, s.end, s.text) for s in spans] == [(2, 5, "2:30 pm"), (6, 8, "COVID-19")]
    assert spans[0].parts == (("2:30", 2, 4), ("pm", 4, 5))
    frozen = [False] * 6 + [True, True]  # a listed entity is the user's, never rewritten
    assert [s.text for s in inverse_normalize(words, frozen)] == ["2:30 pm"]


def _words(text, entity=()):
    return [Word(w, i * 0.5, i * 0.5 + 0.4, 0.9 - i * 0.01, i in entity) for i, w in enumerate(text.split())]


def test_format_words_times_marks_and_entities(model):
    words = _words("siobhan is flying from São Paulo to wroclaw on friday at two thirty", entity=(4, 5))
    out = format_words(words, model)
    assert out[0].word == "Siobhan"  # a sentence starts with a capital
    assert [w.word for w in out if w.entity] == ["São", "Paulo"]  # the user's spelling, never re-cased
    last = out[-1]
    assert last.word == "2:30."  # merged, and the transcript ends a sentence
    assert (last.start, last.end) == (words[-2].start, words[-1].end)
    assert last.confidence == min(words[-2].confidence, words[-1].confidence)
    assert all(a.start <= b.start for a, b in zip(out, out[1:]))


def test_entity_at_a_sentence_start_keeps_its_case(model):
    out = format_words(_words("iPhone is ready", entity=(0,)), model)
    assert out[0].word == "iPhone" and out[0].entity and out[-1].word.endswith(".")


def test_questions_and_sentences(model):
    text = " ".join(w.word for w in format_words(_words("what time is it"), model))
    assert text == "What time is it?"
    out = format_words(_words("i think we should go home now"), model)
    assert out[0].word == "I" and out[-1].word.endswith(".")


def test_labels_from_written_sentences():
    t = "Is McDonald open at 8:30, Dr. O'Brien? Yes, NASA said so."
    lab = labeled(t, normalize(t))
    assert [(w, m) for w, m, _, _ in lab if m] == [("thirty", 1), ("o'brien", 3), ("yes", 1), ("so", 2)]
    cases = {w: c for w, _, c, _ in lab}
    assert cases["is"] == -1 and cases["yes"] == -1  # sentence starts: their own casing is unknown
    assert cases["mcdonald"] == 3 and cases["nasa"] == 2 and cases["doctor"] == 1 and cases["open"] == 0
    assert labeled("Hello there.", "something else") is None


def test_training_learns_marks_and_names(tmp_path):
    rng = np.random.default_rng(0)
    names = ["Okafor", "Nakamura", "Smith", "Garcia"]
    sents = []
    for i in range(150):
        n = names[rng.integers(len(names))]
        s = (f"Did {n} call you today?", f"Please ask {n} to call me, thanks.", f"We met {n} at noon.")[i % 3]
        sents.append((s, normalize(s)))
    out = tmp_path / "p.npz"
    r = train_punctuation(PunctTrainConfig(out=out, iterations=30, min_count=1), sents)
    assert r["sentences"] == 150 and out.stat().st_size < 200_000
    m = PunctuationModel.load(out)
    got = " ".join(w.word for w in format_words(_words("did okafor call you today we met smith at noon"), m))
    assert got == "Did Okafor call you today? We met Smith at noon."
    scores = punctuation_scores(m, sents[:60])
    assert scores["marks"]["?"]["f1"] > 0.9 and scores["casing_accuracy"] > 0.95


def test_result_raw_text_and_dict():
    r = Result("hello world", _words("hello world"), 1.0)
    assert r.raw_text == "hello world" and r.to_dict()["raw_text"] == "hello world"


def test_transcribe_formats_by_default(rec):
    on = rec.transcribe(EX / "travel.wav", words=["Siobhan", "São Paulo", "Wrocław"], bias="decoder")
    off = rec.transcribe(EX / "travel.wav", words=["Siobhan", "São Paulo", "Wrocław"], bias="decoder", format=False)
    assert on.raw_text == off.text == off.raw_text  # the recognized words are the same either way
    assert on.text != off.text and on.text[0].isupper() and on.text[-1] in ".?"
    assert [w.word for w in on.words] == on.text.split()
    assert {w.word.rstrip(",.?") for w in on.words if w.entity} <= {"Siobhan", "São", "Paulo", "Wrocław"}


def test_a_long_pause_ends_a_sentence(model):
    words = _words("please call my mother tomorrow morning")
    plain = [w.word for w in format_words(words, model, pause=1.0)]
    assert plain[3] == "mother" and plain[4] == "tomorrow"
    words[4:] = [Word(w.word, w.start + 1.5, w.end + 1.5, w.confidence) for w in words[4:]]  # 1.5 s after "mother"
    paused = [w.word for w in format_words(words, model, pause=1.0)]
    assert paused[3] == "mother." and paused[4] == "Tomorrow" and paused[-1] == "morning."
    assert [w.word for w in format_words(words, model)][3] == "mother"  # no pause rule: the text decides
