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
