from typer.testing import CliRunner

from ctcbias.cli import app

runner = CliRunner()


def test_data_build_rejects_unknown_set_and_bad_numbers(tmp_path):
    r = runner.invoke(app, ["data", "build", "--out", str(tmp_path), "--only", "bogus"])
    assert r.exit_code == 2 and "bogus" in r.output
    r = runner.invoke(app, ["data", "build", "--out", str(tmp_path), "--hours", "-1"])
    assert r.exit_code == 2


def test_commands_of_later_issues_say_so():
    for cmd in ("train", "transcribe", "bench", "serve"):
        r = runner.invoke(app, [cmd])
        assert r.exit_code == 3 and "not built yet" in r.output
