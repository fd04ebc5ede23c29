"""Everyday inputs (a BOM, emoji in list entries, file objects as audio) and what comes out with
the words (their extents, calibrated confidence, subtitle cues, the progress bar)."""

import io
import logging
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from ctcbias.audio import AudioError, load_audio
from ctcbias.inference.biasing_list import BiasingList
from ctcbias.inference.formats import SubtitleOptions, cues, lines_of, to_srt, to_vtt
from ctcbias.inference.result import Result, Word

EX = Path(__file__).resolve().parent.parent / "examples"
WORDS = [l.strip() for l in (EX / "words.txt").read_text(encoding="utf-8").splitlines() if l.strip()]


def test_bom_and_emoji_leave_the_written_form(rec, caplog):
    with caplog.at_level(logging.WARNING, logger="ctcbias.inference.biasing_list"):
        lst = BiasingList.compile(["\ufeffOkafor", "Lisinopril \U0001F48A", "\U0001F48A\u2764\ufe0f", "Tocilizumab"],
                                  rec.tokenizer)
    assert [e.display for e in lst.entries] == ["Okafor", "Lisinopril", "Tocilizumab"]
    assert [raw for raw, _ in lst.rejected] == ["\U0001F48A\u2764\ufe0f"]
    assert any("Lisinopril" in w and "emoji" in w for w in lst.warnings)
    assert sum("emoji" in r.getMessage() for r in caplog.records) == 2
    # the API path: a plain list given to transcribe goes through the same compile
    r = rec.transcribe(EX / "pharmacy.wav", words=["\ufeffOkafor", "Lisinopril \U0001F48A", "Tocilizumab"])
    assert "\ufeff" not in r.text and "\U0001F48A" not in r.text
    assert {"Okafor", "Lisinopril"} <= {w.word for w in r.words if w.entity}


def test_service_answers_list_warnings(rec):
    from fastapi.testclient import TestClient

    from ctcbias.service.app import create_app

    with TestClient(create_app(rec)) as c:
        with open(EX / "pharmacy.wav", "rb") as f:
            j = c.post("/v1/transcribe", files={"audio": ("p.wav", f, "audio/wav")},
                       data={"words": "Okafor\nLisinopril \U0001F48A\n\U0001F48A"}).json()
    assert "\U0001F48A" not in j["text"] and "Lisinopril" in j["text"]
    assert len(j["warnings"]) == 2 and all(w.startswith("words: ") for w in j["warnings"])
    with open(EX / "pharmacy.wav", "rb") as f:
        with TestClient(create_app(rec)) as c:
            assert "warnings" not in c.post("/v1/transcribe", files={"audio": ("p.wav", f, "audio/wav")},
                                            data={"words": "Okafor"}).json()


def test_file_objects_as_audio(rec, tmp_path):
    want = load_audio(EX / "travel.wav")
    with open(EX / "travel.wav", "rb") as f:
        assert (load_audio(f) == want).all()
    assert (load_audio(io.BytesIO((EX / "travel.wav").read_bytes())) == want).all()
    with open(EX / "travel.wav", "rb") as f:
        assert rec.transcribe(f, bias="none").text == rec.transcribe(EX / "travel.wav", bias="none").text
    with open(EX / "words.txt", encoding="utf-8") as f, pytest.raises(AudioError, match="binary mode"):
        load_audio(f)
    with pytest.raises(AudioError, match="empty"):
        load_audio(io.BytesIO(b""))
    with pytest.raises(AudioError, match="cannot read audio"):
        load_audio(io.BytesIO(b"not audio at all" * 10))
    with pytest.raises(AudioError, match="not int"):
        load_audio(42)


def test_words_span_their_sound_not_their_spike(rec):
    r = rec.transcribe(EX / "pharmacy.wav", words=WORDS)
    dur = sf.info(EX / "pharmacy.wav").duration
    ws = r.words
    assert ws[0].word.lower() == "please" and ws[0].end - ws[0].start >= 0.2  # 0.08 s at its CTC spike
    assert all(a.end <= b.start + 1e-6 for a, b in zip(ws, ws[1:]))  # never overlapping
    assert all(w.end - w.start >= 0.08 for w in ws) and ws[-1].end <= dur + 0.01
    spikes = rec.transcribe(EX / "pharmacy.wav", words=WORDS, word_pause=0.0, word_tail=0.0).words
    assert sum(w.end - w.start for w in ws) > 1.5 * sum(w.end - w.start for w in spikes)


def test_confidence_is_calibrated(rec):
    r = rec.transcribe(EX / "travel.wav", words=WORDS)
    raw = rec.transcribe(EX / "travel.wav", words=WORDS, calibrated=False)
    assert all(0 < w.confidence <= 1 for w in r.words)
    # the lookup's entities: near zero raw (the subword head hardly said them), likely right once calibrated
    got = {w.word: (w.confidence, v.confidence) for w, v in zip(r.words, raw.words) if w.entity}
    low = [w for w, (_, raw_c) in got.items() if raw_c < 0.1]
    assert {"Siobhan", "Wrocław"} <= set(low) and min(got[w][1] for w in low) < 0.05, got
    assert all(got[w][0] > 0.6 for w in low), got


def _words(text: str, step: float = 0.4, length: float = 0.3, t0: float = 0.0) -> list[Word]:
    return [Word(w, round(t0 + i * step, 2), round(t0 + i * step + length, 2), 0.9) for i, w in enumerate(text.split())]


def test_cues_follow_reading_conventions():
    o = SubtitleOptions()
    text = ("the patient should take two tablets of lisinopril every morning with food and a full glass of water "
            "and should not drive until the dizziness has passed")
    cs = cues(_words(text, 0.3, 0.25), o)
    assert " ".join(w.word for c in cs for w in c.words) == text
    for c in cs:
        assert len(c.lines) <= 2 and all(len(line) <= 42 for line in c.lines)
        assert 1.0 <= c.end - c.start <= 7.0 + 1e-6
    assert all(a.end <= b.start for a, b in zip(cs, cs[1:]))
    # a short cue stays up 1 s, but never over the next cue
    cs = cues(_words("yes", 0.3, 0.2) + _words("no", 0.3, 0.2, t0=1.5), o)
    assert [(c.start, c.end) for c in cs] == [(0.0, 1.0), (1.5, 2.5)]
    cs = cues(_words("yes", 0.3, 0.2) + _words("no", 0.3, 0.2, t0=1.3), o)
    assert cs[0].end == 1.0 and cs[1].start == 1.3
    # a sentence's end ends its cue once it has been up a second; a lone last word joins the cue before
    cs = cues(_words("Take it twice a day. Then call me.", 0.4, 0.3), o)
    assert [c.text for c in cs] == ["Take it twice a day.", "Then call me."]
    cs = cues(_words("Take it twice a day with food. Thanks", 0.4, 0.3), o)
    assert len(cs) == 1 and cs[0].text == "Take it twice a day with food. Thanks"
    # after a pause a word is a cue of its own, and 7 s is the most a cue stays
    cs = cues(_words("hello there", 0.4, 0.3) + _words("bye", 0.4, 0.3, t0=5.0), o, duration=6.0)
    assert [c.text for c in cs] == ["hello there", "bye"] and cs[-1].end == 6.0
    long = cues(_words(" ".join(["ok"] * 40), 0.5, 0.3), o)
    assert all(c.end - c.start <= 7.0 + 1e-6 for c in long) and len(long) >= 3
    assert lines_of(["x" * 50], 42, 2) == ["x" * 50]  # a word longer than a line keeps its own line


def test_srt_and_vtt_of_a_recording(rec):
    r = rec.transcribe(EX / "pharmacy.wav", words=WORDS)
    srt, vtt = to_srt(r), to_vtt(r)
    assert srt.startswith("1\n00:00:00,") and vtt.startswith("WEBVTT\n\n00:00:00.")
    body = [l for l in srt.splitlines() if l and "-->" not in l and not l.isdigit()]
    assert all(len(l) <= 42 for l in body) and " ".join(body).split() == r.text.split()


def test_progress_bar_over_a_long_recording(rec, capsys):
    rec.transcribe(EX / "travel.wav", bias="none", progress=True)  # short: no bar
    assert "decoding" not in capsys.readouterr().err
    rec.transcribe(EX / "travel.wav", bias="none", progress=True, progress_over=1.0)
    assert "s of audio" in capsys.readouterr().err


def test_cli_says_what_it_did_to_the_list():
    from typer.testing import CliRunner

    from ctcbias.cli import app

    r = CliRunner().invoke(app, ["transcribe", str(EX / "pharmacy.wav"), "--word", "Lisinopril \U0001F48A",
                                 "--word", "\U0001F48A", "--word", "\ufeffOkafor"])
    assert r.exit_code == 0, r.output
    assert "word list: 'Lisinopril \U0001F48A': emoji and pictographs left out: written 'Lisinopril'" in r.output
    assert "word list: skipped '\U0001F48A'" in r.output
    assert "\U0001F48A" not in r.stdout and "\ufeff" not in r.stdout and "Lisinopril" in r.stdout


def test_a_lone_word_start_unit_leaves_one_space(rec):
    from ctcbias.inference.result import timed_words

    tok = rec.tokenizer
    lone = next(i for i in range(1, len(tok.pieces)) if tok.pieces[i] == "\u2581")
    tokens = tok.encode("with") + [lone] + tok.encode("tas")
    text = tok.decode(tokens)
    assert "  " in text  # what the beam search's text holds
    logp = np.log(np.full((40, len(tok.pieces)), 1.0 / len(tok.pieces), dtype=np.float32))
    r = timed_words(text, tokens, logp, tok, 1.6)
    assert r.raw_text == "with tas" and [w.word for w in r.words] == ["with", "tas"]
