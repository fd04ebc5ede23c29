import json

from typer.testing import CliRunner

from ctcbias.cli import app


def _manifest(folder, ids, seconds=1.5):
    folder.mkdir(parents=True)
    lines = [json.dumps({"id": i, "audio": f"audio/{i}.flac", "duration": seconds, "text": "hello there"})
             for i in ids]
    (folder / "train.jsonl").write_text("\n".join(lines) + "\n")
    return folder / "train.jsonl"


def test_mix_joins_sources_with_distinct_ids_and_paths(tmp_path):
    a = _manifest(tmp_path / "synth", ["train-000000", "train-000001"])
    b = _manifest(tmp_path / "kokoro", ["train-000000"], seconds=3.6)
    r = CliRunner().invoke(app, ["data", "mix", "--out", str(tmp_path / "mix"), "--train", str(a), "--train", str(b),
                                 "--dev", str(b)])
    assert r.exit_code == 0, r.output
    items = [json.loads(l) for l in (tmp_path / "mix" / "train.jsonl").open()]
    assert [it["id"] for it in items] == ["synth-train-000000", "synth-train-000001", "kokoro-train-000000"]
    assert items[2]["audio"] == "../kokoro/audio/train-000000.flac"  # relative to the mix folder
    stats = json.loads((tmp_path / "mix" / "stats.json").read_text())
    assert stats["train"]["kokoro"] == {"utterances": 1, "hours": 0.001}


def test_mix_takes_two_manifests_of_one_folder(tmp_path):
    a = _manifest(tmp_path / "games", ["fotaq-1"])
    b = tmp_path / "games" / "games-sky.jsonl"
    b.write_text(json.dumps({"id": "sky-50001", "audio": "audio/sky/50001.flac", "duration": 3.6, "text": "hi"}) + "\n")
    r = CliRunner().invoke(app, ["data", "mix", "--out", str(tmp_path / "mix"), "--train", str(a), "--train", str(b),
                                 "--dev", str(a)])
    assert r.exit_code == 0, r.output
    assert [json.loads(l)["id"] for l in (tmp_path / "mix" / "train.jsonl").open()] == ["games-fotaq-1", "games-sky-50001"]
    assert json.loads((tmp_path / "mix" / "stats.json").read_text())["train"]["games"]["utterances"] == 2


def test_mix_rejects_missing_or_repeated_manifests(tmp_path):
    a = _manifest(tmp_path / "synth", ["train-000000"])
    runner = CliRunner()
    r = runner.invoke(app, ["data", "mix", "--out", str(tmp_path / "mix"), "--train", str(a), "--train", str(a),
                            "--dev", str(a)])
    assert r.exit_code == 2 and "same manifest twice" in r.output
    clash = tmp_path / "synth" / "more.jsonl"  # another manifest of the same folder with an id already given
    clash.write_text(a.read_text())
    r = runner.invoke(app, ["data", "mix", "--out", str(tmp_path / "mix"), "--train", str(a), "--train", str(clash),
                            "--dev", str(a)])
    assert r.exit_code == 2 and "ids would clash" in r.output
    r = runner.invoke(app, ["data", "mix", "--out", str(tmp_path / "mix"), "--train", str(tmp_path / "nope.jsonl"),
                            "--dev", str(a)])
    assert r.exit_code == 2 and "no such manifest" in r.output
    r = runner.invoke(app, ["data", "mix", "--out", str(tmp_path / "mix"), "--dev", str(a)])
    assert r.exit_code == 2 and "--train" in r.output
