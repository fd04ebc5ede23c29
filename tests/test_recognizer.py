"""The shipped model end to end on speech from held-out voices (never heard in training)."""

import json

import jiwer
import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from ctcbias import Recognizer
from ctcbias.cli import app
from ctcbias.data.voices import synthesize

SENTENCES = ["please call my mother tomorrow morning", "the weather is nice today and the sun is shining"]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("speech")
    out = []
    for i, (voice, text) in enumerate(zip(["en-US", "en-GB"], SENTENCES)):
        p = d / f"u{i}.wav"
        sf.write(p, synthesize({"engine": "pico", "name": voice}, text), 16000)
        out.append((p, text))
    return out


def test_transcribes_held_out_voices(rec, clips):
    hyps = [rec.transcribe(p).text for p, _ in clips]
    assert jiwer.wer([t for _, t in clips], hyps) <= 0.25, hyps


def test_word_times_and_confidence(rec, clips):
    p, text = clips[0]
    r = rec.transcribe(p)
    dur = sf.info(p).duration
    assert r.words and [w.word for w in r.words] == r.text.split()
    assert all(0 <= w.start < w.end <= dur + 0.05 for w in r.words)
    assert all(a.start <= b.start for a, b in zip(r.words, r.words[1:]))
    assert all(0 < w.confidence <= 1 for w in r.words)


def test_array_input_any_rate_and_silence(rec, clips):
    x, sr = sf.read(clips[0][0], dtype="float32")
    import soxr

    y = soxr.resample(x, 16000, 44100)
    assert jiwer.wer(clips[0][1], rec.transcribe(y, sample_rate=44100).text) <= 0.34
    assert rec.transcribe(np.zeros(32000, np.float32), sample_rate=16000).text == ""
    # -90 dBFS noise is silence too; speech at a -40 dBFS peak is quiet, not silent
    hiss = np.random.default_rng(0).uniform(-3e-5, 3e-5, 32000).astype(np.float32)
    assert rec.transcribe(hiss, sample_rate=16000).text == ""
    assert jiwer.wer(clips[0][1], rec.transcribe(x * (0.01 / np.abs(x).max()), sample_rate=sr).text) <= 0.5


def test_cli_json_manifest_and_bad_file(tmp_path, clips):
    runner = CliRunner()
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    man = tmp_path / "in.jsonl"
    man.write_text("\n".join(json.dumps({"id": f"x{i}", "audio": str(a)}) for i, a in
                             enumerate([clips[0][0], bad, clips[1][0]])) + "\n")
    out = tmp_path / "out.jsonl"
    r = runner.invoke(app, ["transcribe", "--manifest", str(man), "--out", str(out)])
    assert r.exit_code == 1  # one file failed, the batch went on
    lines = [json.loads(l) for l in out.read_text().splitlines()]
    assert [l["id"] for l in lines] == ["x0", "x1", "x2"]
    assert "error" in lines[1] and "cannot read audio" in lines[1]["error"]
    assert lines[2]["text"] and {"word", "start", "end", "confidence"} <= set(lines[2]["words"][0])
    r = runner.invoke(app, ["transcribe", str(clips[0][0]), "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout.splitlines()[0])["audio"] == str(clips[0][0])
    silent = tmp_path / "silent.wav"
    sf.write(silent, np.zeros(16000, np.float32), 16000)
    r = runner.invoke(app, ["transcribe", str(silent)])
    assert r.exit_code == 0 and r.stdout.strip() == "" and "no speech found" in r.stderr


def test_word_list_brings_in_entities_spelled_as_given(rec):
    from pathlib import Path

    ex = Path(__file__).resolve().parents[1] / "examples"
    words = (ex / "words.txt").read_text(encoding="utf-8").splitlines()
    said = {"Okafor", "Lisinopril", "Tocilizumab"}
    plain = rec.transcribe(ex / "pharmacy.wav", bias="none")
    biased = rec.transcribe(ex / "pharmacy.wav", words=words)
    assert not said & {w.word for w in plain.words}
    got = {w.word for w in biased.words if w.entity}
    assert len(got & said) >= 2, biased.text
    assert got <= set(words)  # only list entries are flagged, in the user's spelling
    # nothing of this call's list reaches the next call
    assert not {w.word for w in rec.transcribe(ex / "pharmacy.wav", words=["Metformin"]).words} & said


def test_cli_subtitles(tmp_path, clips):
    runner = CliRunner()
    r = runner.invoke(app, ["transcribe", str(clips[1][0]), "--format", "vtt", "--bias", "none"])
    assert r.exit_code == 0 and r.stdout.startswith("WEBVTT\n\n00:00:0")
    r = runner.invoke(app, ["transcribe", str(clips[0][0]), str(clips[1][0]), "-f", "srt", "--out-dir", str(tmp_path / "s")])
    assert r.exit_code == 0
    srt = (tmp_path / "s" / "u0.srt").read_text()
    assert srt.startswith("1\n00:00:0") and " --> " in srt
    assert jiwer.wer(clips[0][1], " ".join(l for l in srt.splitlines()[2:] if l and "-->" not in l
                                            and not l.isdigit())) <= 0.34


def test_a_list_of_strangers_leaves_ordinary_words_as_without_a_list(rec):
    """300 names, none of them said: biasing (joint) may only change words next to an entity it
    brings in; everywhere else the words are those of decoding without the list. (Without the
    ordinary-word guard these clips came out "nice to day" and "a imr" instead of "nice day" and
    "a ter".)"""
    import random

    from ctcbias.data.catalogs import DOMAIN_KINDS, load_catalog

    cat = load_catalog()
    names = sorted({e.display for k in DOMAIN_KINDS["names"] for e in cat[k]})
    strangers = random.Random(0).sample(names, 300)
    for text in ("the weather is nice today and the sun is shining", "start a timer for ten minutes and then call me"):
        x = synthesize({"engine": "pico", "name": "en-US"}, text)
        plain = rec.transcribe(x, 16000, bias="none").text.split()
        biased = rec.transcribe(x, 16000, words=strangers)
        near = {i for k, w in enumerate(biased.words) if w.entity for i in (k - 1, k, k + 1)}
        far = [w.word for k, w in enumerate(biased.words) if k not in near]
        assert all(w in plain for w in far), (plain, biased.text)
        if not near:
            assert biased.text.split() == plain


def test_padded_frames_leave_the_stack_and_its_outputs_as_alone(rec, clips):
    import torch

    feats, _ = rec.features(clips[0][0])
    t = len(feats) // 2 * 2
    with torch.inference_mode():
        alone = rec.stack(feats[None, :t])
        padded = rec.stack(torch.cat([feats[:t], torch.full((30, feats.shape[1]), 2.0)])[None], torch.tensor([t]))
    assert torch.allclose(padded.subword[0, : t // 2], alone.subword[0], atol=1e-4)
    assert torch.allclose(padded.phone[0, : t // 2], alone.phone[0], atol=1e-4)
    # posteriors() rounds the frames up to a bucket inside; the caller sees the clip's frames only,
    # the adapter's attention included
    post = rec.posteriors(None, bias=rec.compile(["Zelenskyy", "São Paulo"]), features=(feats, 1.0))
    assert post.subword.shape[0] == post.phone.shape[0] == post.plain.shape[0] == t // 2
    assert post.attention.shape == (t // 2, 3)
