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
        assert {w["word"] for w in d["words"] if w["entity"]} <= listed
