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
from ctcbias.normalize import normalize

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
    hyps = [rec.transcribe(p).raw_text for p, _ in clips]
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
    assert jiwer.wer(clips[0][1], rec.transcribe(y, sample_rate=44100).raw_text) <= 0.34
    assert rec.transcribe(np.zeros(32000, np.float32), sample_rate=16000).text == ""
    # -90 dBFS noise is silence too; speech at a -40 dBFS peak is quiet, not silent
    hiss = np.random.default_rng(0).uniform(-3e-5, 3e-5, 32000).astype(np.float32)
    assert rec.transcribe(hiss, sample_rate=16000).text == ""
    assert jiwer.wer(clips[0][1], rec.transcribe(x * (0.01 / np.abs(x).max()), sample_rate=sr).raw_text) <= 0.5


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
    assert not said & set(plain.raw_text.split())
    got = {w.word.rstrip(",.?") for w in biased.words if w.entity}  # a mark may follow
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
    assert jiwer.wer(clips[0][1], normalize(" ".join(l for l in srt.splitlines()[2:] if l and "-->" not in l
                                                      and not l.isdigit()))) <= 0.34


def test_a_list_of_strangers_leaves_ordinary_words_as_without_a_list(rec):
    """300 names, none of them said: where biasing (joint) brings no entity in, the words are those
    of decoding without the list. (Without the ordinary-word guard these clips came out "nice to
    day" and "a imr" instead of "nice day" and "a ter".)"""
    import random

    from ctcbias.data.catalogs import DOMAIN_KINDS, load_catalog

    cat = load_catalog()
    names = sorted({e.display for k in DOMAIN_KINDS["names"] for e in cat[k]})
    strangers = random.Random(0).sample(names, 300)
    guarded = 0
    for text in ("the weather is nice today and the sun is shining", "start a timer for ten minutes and then call me"):
        x = synthesize({"engine": "pico", "name": "en-US"}, text)
        plain = rec.transcribe(x, 16000, bias="none").text
        biased = rec.transcribe(x, 16000, words=strangers)
        if not any(w.entity for w in biased.words):
            assert biased.text == plain
            guarded += 1
    assert guarded, "no clip came out without an entity: the guard went untested"


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


def test_long_audio_runs_the_stack_in_windows_stitched(rec, clips):
    import torch

    from ctcbias.inference.recognizer import STACK_OVERLAP, STACK_WINDOW

    feats, _ = rec.features(clips[1][0])
    long = feats.repeat(-(-2 * (STACK_WINDOW + 200) // len(feats)), 1)[: 2 * (STACK_WINDOW + 200)]  # ~38 s
    bias = rec.compile(["Zelenskyy", "São Paulo"])
    post = rec.posteriors(None, bias=bias, features=(long, 38.0))
    assert post.subword.shape[0] == post.attention.shape[0] == post.plain.shape[0] == STACK_WINDOW + 200
    # two windows: frames 0-749 keep 0-699, frames 650-949 keep the rest; each as if alone
    cut = STACK_WINDOW - STACK_OVERLAP // 2
    first = rec.posteriors(None, bias=bias, features=(long[: 2 * STACK_WINDOW], 30.0))
    second = rec.posteriors(None, bias=bias, features=(long[2 * (STACK_WINDOW - STACK_OVERLAP):], 12.0))
    assert np.allclose(post.subword[:cut], first.subword[:cut], atol=1e-3)
    assert np.allclose(post.subword[cut:], second.subword[STACK_OVERLAP // 2:], atol=1e-3)
    assert np.allclose(post.attention[cut:], second.attention[STACK_OVERLAP // 2:], atol=1e-3)


def test_long_posteriors_are_decoded_in_pieces_cut_in_pauses(rec, clips):
    import doctest

    from ctcbias.inference.recognizer import STACK_WINDOW, Posteriors, pieces
    from ctcbias.inference.result import FRAME_SECONDS

    runner = doctest.DocTestRunner()
    for t in doctest.DocTestFinder().find(pieces, "pieces", globs={"np": np, "pieces": pieces}):
        runner.run(t)
    assert runner.failures == 0 and runner.tries == 3

    # each clip's posteriors followed by 28 s of certain blank, twice over: about 66 s
    parts = [rec.posteriors(p) for p, _ in clips]
    pause = lambda w: np.where(np.arange(w) == 0, 0.0, -30.0)[None].repeat(700, 0).astype(np.float32)
    heads = [np.concatenate([h for q in parts * 2 for h in (getattr(q, name), pause(getattr(q, name).shape[1]))])
             for name in ("subword", "inter", "phone")]
    post = Posteriors(*heads, len(heads[0]) * FRAME_SECONDS)
    cuts = pieces(post.subword)
    assert len(cuts) >= 5 and cuts[0][0] == 0 and cuts[-1][1] == len(post.subword)
    assert all(b - a <= STACK_WINDOW for a, b in cuts) and all(p[1] == q[0] for p, q in zip(cuts, cuts[1:]))
    assert all(post.subword[b - 5: b + 5].argmax(-1).max() == 0 for _, b in cuts[:-1])  # in the pauses
    opts = rec.resolve(bias="none")
    alone = [rec.decode(q, rec.compile([]), opts) for q in parts]
    r = rec.decode(post, rec.compile([]), opts)
    assert r.text == " ".join(a.text for a in alone * 2)
    # word times run on across the pieces: the last clip's words are where that clip was put
    start = 2 * len(parts[0].subword) + len(parts[1].subword) + 3 * 700
    n = len(alone[1].words)
    assert [w.start for w in r.words[-n:]] == [round(w.start + start * FRAME_SECONDS, 2) for w in alone[1].words]


def test_a_model_whose_encoder_blocks_are_missing_says_so(tmp_path):
    import shutil

    from ctcbias.inference.recognizer import DEFAULT_MODEL

    shutil.copytree(DEFAULT_MODEL, tmp_path / "m", ignore=shutil.ignore_patterns("encoder_top.pt"))
    with pytest.raises(FileNotFoundError, match="encoder_top.pt"):
        Recognizer.load(tmp_path / "m")
