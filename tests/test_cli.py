import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ctcbias.cli import app

runner = CliRunner()


def test_data_build_rejects_unknown_set_and_bad_numbers(tmp_path):
    r = runner.invoke(app, ["data", "build", "--out", str(tmp_path), "--only", "bogus"])
    assert r.exit_code == 2 and "bogus" in r.output
    r = runner.invoke(app, ["data", "build", "--out", str(tmp_path), "--hours", "-1"])
    assert r.exit_code == 2


def test_bench_usage_errors(tmp_path):
    r = runner.invoke(app, ["bench", "full"])
    assert r.exit_code == 2 and "unknown suite" in r.output
    r = runner.invoke(app, ["bench", "--data", str(tmp_path)])
    assert r.exit_code == 2 and "medical-test.jsonl: missing" in r.output


def test_transcribe_usage_errors(tmp_path):
    r = runner.invoke(app, ["transcribe"])
    assert r.exit_code == 2 and "--manifest" in r.output
    r = runner.invoke(app, ["transcribe", "x.wav", "--format", "docx"])
    assert r.exit_code == 2 and "--format must be one of" in r.output
    r = runner.invoke(app, ["transcribe", "a.wav", "b.wav", "--format", "srt"])
    assert r.exit_code == 2 and "--out-dir" in r.output
    r = runner.invoke(app, ["transcribe", "a.wav", "b.wav", "--attention-plot", str(tmp_path / "a.png")])
    assert r.exit_code == 2 and "exactly one audio file" in r.output
    r = runner.invoke(app, ["transcribe", "x.wav", "--model", str(tmp_path)])
    assert r.exit_code == 3 and "cannot load the model" in r.output
    r = runner.invoke(app, ["transcribe", "x.wav", "--bias", "sideways"])
    assert r.exit_code == 2 and "bias must be one of" in r.output
    r = runner.invoke(app, ["transcribe", "x.wav", "--techniques", "subword,magic"])
    assert r.exit_code == 2 and "magic" in r.output
    bad = tmp_path / "m.jsonl"
    bad.write_text("{not json\n")
    r = runner.invoke(app, ["transcribe", "--manifest", str(bad)])
    assert r.exit_code == 2 and "m.jsonl:1" in r.output


def test_transcribe_with_and_without_the_guards():
    import json
    from pathlib import Path

    ex = Path(__file__).resolve().parents[1] / "examples"
    out = {}
    for flag in ("--guard", "--no-guard"):
        r = runner.invoke(app, ["transcribe", str(ex / "pharmacy.wav"), "--words", str(ex / "words.txt"),
                                "--json", flag])
        assert r.exit_code == 0, r.output
        out[flag] = json.loads(r.stdout.strip().splitlines()[-1])
    for d in out.values():
        assert d["text"] and all({"word", "start", "end", "confidence", "entity"} <= w.keys() for w in d["words"])
    listed = {w for e in (ex / "words.txt").read_text(encoding="utf-8").splitlines() for w in e.split()}
    for d in out.values():  # entities come only from the list, spelled as written there
        assert {w["word"].rstrip(",.?") for w in d["words"] if w["entity"]} <= listed  # a mark may follow


# --- usage mistakes are found before the model loads: exit 2, one line, no traceback ---------

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
WAV = str(EXAMPLES / "pharmacy.wav")


@pytest.fixture
def no_model(monkeypatch):
    """Loading the model fails the test: these checks must answer without it."""
    from ctcbias.inference.recognizer import Recognizer

    def load(*a, **k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(Recognizer, "load", load)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "object.json").write_text('{"Okafor": 1}')
    (tmp_path / "numbers.json").write_text("[1, 2]")
    (tmp_path / "broken.json").write_text('["Okafor", ')
    (tmp_path / "latin1.txt").write_bytes("Müller\n".encode("latin-1"))
    (tmp_path / "utf16.txt").write_text("Müller\n", encoding="utf-16")
    (tmp_path / "long.txt").write_text("a" * 201 + "\n")
    (tmp_path / "names.txt").write_text("Okafor\n")
    (tmp_path / "bad-words.jsonl").write_text('{"audio": "a.wav", "words": "Okafor"}\n')
    return tmp_path


# (arguments, with {d} the folder of test files; the one line expected)
USAGE = [
    (["--out-dir", "{d}/a-file"], "--out-dir {d}/a-file: is a file, not a folder"),
    (["--out-dir", "{d}/a-file/sub"], "--out-dir {d}/a-file/sub: cannot be created: {d}/a-file is a file"),
    (["--out", "{d}/no-folder/out.txt"], "--out {d}/no-folder/out.txt: no such folder {d}/no-folder"),
    (["--out", "{d}/a-folder"], "--out {d}/a-folder: is a folder"),
    (["--out", "{d}/o.txt", "--out-dir", "{d}/o"],
     "--out (everything in one file) or --out-dir (one file per audio file), not both"),
    (["--words", "{d}/names.txt", "--attention-plot", "{d}/no-folder/att.png"],
     "--attention-plot {d}/no-folder/att.png: no such folder {d}/no-folder"),
    (["--words", "{d}/names.txt", "--attention-plot", "{d}/a-folder"], "--attention-plot {d}/a-folder: is a folder"),
    (["--words", "{d}/names.txt", "--attention-plot", "{d}/att.png", "--bias", "decoder"],
     "--attention-plot draws the contextual adapter's attention; --bias decoder does not use the adapter "
     "(use encoder, joint or auto)"),
    (["--words", "{d}/names.txt", "--attention-plot", "{d}/att.png", "--bias", "none"],
     "--attention-plot draws the contextual adapter's attention; --bias none does not use the adapter "
     "(use encoder, joint or auto)"),
    (["--attention-plot", "{d}/att.png"],
     "--attention-plot needs a word list (--words or --word): the adapter attends over its entries"),
    (["--words", "{d}/object.json"],
     "--words {d}/object.json: a JSON object is not a word list; give a JSON list of strings or one entry a line"),
    (["--words", "{d}/numbers.json"], "--words {d}/numbers.json: a JSON word list must hold only strings, not 1"),
    (["--words", "{d}/broken.json"], "--words {d}/broken.json: looks like JSON but does not parse (Expecting value, "
                                     "line 1 column 11); give a JSON list of strings or one entry a line"),
    (["--words", "{d}/utf16.txt"],
     "--words {d}/utf16.txt: not text: it holds NUL bytes (UTF-16, or not a text file); save the list as UTF-8"),
    (["--words", "{d}/missing.txt"], "--words {d}/missing.txt: no such file"),
    (["--words", "{d}/a-folder"], "--words {d}/a-folder: is a folder, not a word list file"),
    (["--words", "{d}/long.txt"], "word list: an entry of 201 characters (limit 200): 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'..."),
    (["--word", "b" * 300], "word list: an entry of 300 characters (limit 200): 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb'..."),
]


@pytest.mark.parametrize("args,line", USAGE, ids=[" ".join(a)[:60] for a, _ in USAGE])
def test_usage_mistakes_exit_2_with_one_line_before_the_model_loads(no_model, files, args, line):
    r = runner.invoke(app, ["transcribe", WAV, *[a.format(d=files) for a in args]])
    assert r.exit_code == 2, r.output
    assert r.output.strip() == line.format(d=files) and r.stdout == ""
    assert "Traceback" not in r.output and isinstance(r.exception, SystemExit)  # typer's exit, nothing raised


def test_a_latin1_or_blank_word_list_is_read_with_a_note(files, capsys):
    """Read as the service reads the same bytes (tests/test_service.py checks the two agree)."""
    from ctcbias.cli import _read_words

    assert _read_words(files / "latin1.txt", None) == ["Müller"]
    assert capsys.readouterr().err.strip() == f"--words {files}/latin1.txt: not UTF-8 text; read as Latin-1 (ISO 8859-1)"
    assert _read_words(files / "names.txt", None) == ["Okafor"] and capsys.readouterr().err == ""
    (files / "blank.txt").write_text("\n  \n")
    assert _read_words(files / "blank.txt", ["Okafor"]) == ["Okafor"]
    assert capsys.readouterr().err.strip() == f"--words {files}/blank.txt: no entries in it; transcribing without them"


@pytest.mark.parametrize("args,line", [
    (["a/x.wav", "b/x.wav", "--out-dir", "{d}/out"],
     "--out-dir: several audio files are named 'x'; their outputs would overwrite each other"),
    (["--manifest", "{d}/a-folder"], "--manifest {d}/a-folder: is a folder, not a JSON lines file"),
    (["--manifest", "{d}/missing.jsonl"], "--manifest {d}/missing.jsonl: no such file"),
    (["--manifest", "{d}/bad-words.jsonl"], '{d}/bad-words.jsonl:1: "words" must be a list of strings'),
    (["--manifest", "{d}/bad-words.jsonl", "--out-dir", "{d}/out"],
     "--manifest writes JSON lines to --out or stdout; --out-dir is for audio files"),
])
def test_more_usage_mistakes_before_the_model_loads(no_model, files, args, line):
    r = runner.invoke(app, ["transcribe", *[a.format(d=files) for a in args]])
    assert r.exit_code == 2 and r.output.strip() == line.format(d=files), r.output


@pytest.mark.parametrize("typed,meant", [
    ("--bais", "--bias"), ("--wrods", "--words"), ("--word-list", "--words"), ("--words-file", "--words"),
    ("--output", "--out"), ("--out-directory", "--out-dir"), ("--plot", "--attention-plot"),
    ("--no-guards", "--no-guard"), ("--form", "--format"), ("--lang", None), ("--verbose", None),
])
def test_an_unknown_option_suggests_the_one_meant_or_none(no_model, typed, meant):
    r = runner.invoke(app, ["transcribe", WAV, typed, "x"])
    text = " ".join(r.output.replace("│", " ").split())
    assert r.exit_code == 2 and f"No such option: {typed}" in text, r.output
    if meant:
        assert f"No such option: {typed}; did you mean {meant}?" in text
    else:
        assert "did you mean" not in text and "Possible options" not in text
    assert "--manifest" not in text  # click offered it for --bais


def test_other_commands_get_the_same_suggestions():
    r = runner.invoke(app, ["train", "base", "--epoch", "3"])
    assert r.exit_code == 2 and "did you mean --epochs?" in " ".join(r.output.replace("│", " ").split())


# --- per-file errors: one line each, the path once, the batch goes on (exit 1) -----------------

@pytest.fixture
def shared_model(monkeypatch, rec):
    """The session's loaded model instead of a fresh load in every command."""
    from ctcbias.inference.recognizer import Recognizer

    monkeypatch.setattr(Recognizer, "load", lambda *a, **k: rec)
    return rec


def test_bad_inputs_get_one_line_each_and_the_batch_goes_on(shared_model, files):
    folder, missing, not_audio = files / "a-folder", files / "missing.wav", files / "names.txt"
    r = runner.invoke(app, ["transcribe", str(folder), str(missing), str(not_audio), WAV,
                            "--json", "--bias", "none", "--greedy"])
    assert r.exit_code == 1, r.output
    errors = [l for l in r.stderr.splitlines() if l.startswith("error:")]
    assert errors[:2] == [f"error: {folder}: is a folder, not an audio file", f"error: {missing}: no such file"]
    assert errors[2].startswith(f"error: {not_audio}: cannot read audio (") and len(errors) == 3
    for line, path in zip(errors, (folder, missing, not_audio)):
        assert line.count(str(path)) == 1  # the path once, not "x: x: ..."
    out = [json.loads(l) for l in r.stdout.splitlines()]
    assert [o["audio"] for o in out] == [str(folder), str(missing), str(not_audio), WAV]
    assert [bool(o.get("error")) for o in out] == [True, True, True, False] and out[3]["text"]
    assert "Traceback" not in r.output


@pytest.mark.parametrize("fmt,ext", [("json", "json"), ("text", "txt"), ("srt", "srt")])
def test_out_dir_writes_one_file_per_audio_file_in_every_format(shared_model, tmp_path, fmt, ext):
    wavs = [WAV, str(EXAMPLES / "travel.wav")]
    r = runner.invoke(app, ["transcribe", *wavs, "--format", fmt, "--out-dir", str(tmp_path / "out"),
                            "--bias", "none", "--greedy"])
    assert r.exit_code == 0, r.output
    assert r.stdout == ""  # everything went to the files
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"pharmacy.{ext}", f"travel.{ext}"]
    body = (tmp_path / "out" / f"pharmacy.{ext}").read_text(encoding="utf-8")
    if fmt == "json":
        assert json.loads(body)["audio"] == WAV and json.loads(body)["text"]
    elif fmt == "text":
        assert body.strip() and "\t" not in body
    else:
        assert "-->" in body


def test_an_attention_plot_that_cannot_be_written_is_one_line(shared_model, tmp_path, monkeypatch):
    if shared_model.adapter is None:
        pytest.skip("the model has no contextual adapter")
    import ctcbias.inference.attention_plot as ap

    def refuse(result, out=None, **k):  # the disk filled up or the folder went away after the checks
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ap, "plot_attention", refuse)
    r = runner.invoke(app, ["transcribe", WAV, "--word", "Okafor", "--bias", "encoder", "--greedy",
                            "--attention-plot", str(tmp_path / "att.png")])
    assert r.exit_code == 1 and r.stdout.strip()  # the transcript is there
    assert r.stderr.strip() == f"error: {WAV}: cannot write the attention plot {tmp_path / 'att.png'}: permission denied"


def test_fitting_the_shortlist_check_needs_the_dev_set(tmp_path):
    r = runner.invoke(app, ["train", "shortlist-check", "--data", str(tmp_path), "--out", str(tmp_path / "c.json")])
    assert r.exit_code == 2 and "dev.jsonl not found" in r.output and not (tmp_path / "c.json").exists()


def test_a_clipped_recording_gets_a_note_and_its_json_the_notes(shared_model, tmp_path):
    import numpy as np
    import soundfile as sf

    x, sr = sf.read(WAV, dtype="float32")
    loud = tmp_path / "loud.wav"
    sf.write(loud, np.clip(x * 8 / np.abs(x).max(), -1, 1), sr)
    r = runner.invoke(app, ["transcribe", str(loud), WAV, "--json", "--bias", "none", "--greedy"])
    assert r.exit_code == 0, r.output
    notes = [l for l in r.stderr.splitlines() if l.startswith("note: ")]
    assert len(notes) == 1 and notes[0].startswith(f"note: {loud}: clipped: "), r.stderr
    out = [json.loads(l) for l in r.stdout.splitlines()]
    assert [o.get("notes", []) for o in out] == [[notes[0][len(f"note: {loud}: "):]], []] and out[0]["text"]
