"""``ctcbias batch`` on a local Ray instance (loopback, 2 CPUs): equal to ``transcribe --manifest``,
failing rows reported, resume, a killed worker, and no hang when the actor pool fills the CPUs.

Every wait is bounded: each run goes through :func:`_run`, which fails the test after its timeout.
"""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="Ray is not installed (pip install '.[batch]')")

import soundfile as sf
from typer.testing import CliRunner

from ctcbias import batch
from ctcbias.batch import BatchError, read_manifest, read_output, run_batch, worker_cpus

EX = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture(scope="module")
def ray_local():
    """One local instance for the module (ray start costs ~7 s); run_batch reuses it."""
    import ray

    batch.start_ray(None, num_cpus=2)
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}  # loopback only
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Four short clips cut from the examples, a shared list file, a missing file and a bad file."""
    d = tmp_path_factory.mktemp("clips")
    x, sr = sf.read(EX / "pharmacy.wav", dtype="float32")
    y, _ = sf.read(EX / "travel.wav", dtype="float32")
    sf.write(d / "pharmacy.wav", x, sr)
    sf.write(d / "travel.wav", y, sr)
    sf.write(d / "pharmacy-head.flac", x[: int(2.6 * sr)], sr)
    sf.write(d / "travel-tail.wav", y[int(1.0 * sr):], sr)
    (d / "bad.wav").write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunk" * 8)
    (d / "medical.txt").write_text("Okafor\nLisinopril\nTocilizumab\n", encoding="utf-8")
    return d


GOOD = [
    {"id": "p", "audio": "pharmacy.wav", "list": "medical"},
    {"id": "t", "audio": "travel.wav", "words": ["Siobhan", "São Paulo", "Wrocław"]},
    {"id": "ph", "audio": "pharmacy-head.flac"},
    {"id": "tt", "audio": "travel-tail.wav", "list": "medical"},
]
BAD = [{"id": "missing", "audio": "nope.wav"}, {"id": "bad", "audio": "bad.wav"},
       {"id": "uri", "audio": "file:///nonexistent/ctcbias-batch/x.wav"}]


def _manifest(d: Path, rows: list[dict], name: str = "in.jsonl") -> Path:
    p = d / name
    p.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return p


def _run(timeout: float, **kw) -> dict:
    """run_batch in a thread, failed after ``timeout`` s: a hung dataset fails instead of waiting."""
    box: dict = {}

    def go():
        try:
            box["s"] = run_batch(progress=False, **kw)
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
            box["e"] = e

    th = threading.Thread(target=go, daemon=True)
    th.start()
    th.join(timeout)
    assert not th.is_alive(), f"ctcbias batch did not finish in {timeout} s (hung?)"
    if "e" in box:
        raise box["e"]
    return box["s"]


def _rows(out: Path) -> dict[str, dict]:
    rows = read_output(out).to_pylist()
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)), f"duplicate ids in {out.name}: {ids}"
    return {r["id"]: r for r in rows}


@pytest.fixture(scope="module")
def reference(clips, rec) -> dict[str, dict]:
    """``ctcbias transcribe --manifest`` on the good rows (lists expanded: it has no named lists)."""
    from ctcbias.cli import app
    from ctcbias.inference.recognizer import Recognizer

    rows = [{**r, "words": r.get("words") or (["Okafor", "Lisinopril", "Tocilizumab"] if r.get("list") else [])}
            for r in GOOD]
    m = _manifest(clips, [{k: v for k, v in r.items() if k != "list"} for r in rows], "ref.jsonl")
    load = Recognizer.__dict__["load"]
    Recognizer.load = classmethod(lambda cls, *a, **k: rec)  # the session's model: no second load
    try:
        r = CliRunner().invoke(app, ["transcribe", "--manifest", str(m), "--out", str(clips / "ref.out.jsonl")])
    finally:
        Recognizer.load = load
    assert r.exit_code == 0, r.output
    return {d["id"]: d for d in map(json.loads, (clips / "ref.out.jsonl").read_text(encoding="utf-8").splitlines())}


def _same(got: dict, want: dict) -> None:
    assert got["error"] is None and got["text"] == want["text"] and got["raw_text"] == want["raw_text"]
    assert [(w["word"], w["entity"]) for w in got["words"]] == [(w["word"], w["entity"]) for w in want["words"]]
    assert got["duration"] > 0 and got["rtf"] > 0
    assert got["notes"] == want.get("notes", [])  # the CLI writes notes only where there are some


# ---------------------------------------------------------------- no Ray needed


def test_actor_cpus_fit_the_cluster():
    for total, node, workers in ((2, 2, 1), (2, 2, 2), (2, 2, 3), (16, 16, 4), (1, 1, 1), (20, 2, 2)):
        c = worker_cpus(total, workers, node)
        assert 0 < c <= 0.9 * node and c * workers <= 0.9 * total + 1e-9
    assert batch.default_workers(2, 23e9) == 2 and batch.default_workers(16, 8e9) == 3
    assert batch.default_workers(4, 1e9) == 1


def test_manifest_formats_and_lists(tmp_path, clips):
    import pyarrow as pa
    import pyarrow.parquet as pq

    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "cities").write_text("São Paulo\nWrocław\n", encoding="utf-8")
    (tmp_path / "w.txt").write_text("Okafor\n", encoding="utf-8")
    (tmp_path / "in.csv").write_text('id,audio,words,list\n1,a.wav,,cities\n2,s3://bucket/b.wav,"x|y",\n3,c.wav,,\n',
                                     encoding="utf-8")
    rows, lists = read_manifest(tmp_path / "in.csv", tmp_path / "w.txt", tmp_path / "lists")
    assert [lists[r["key"]] for r in rows] == [["São Paulo", "Wrocław"], ["x", "y"], ["Okafor"]]
    assert rows[0]["path"] == str(tmp_path.resolve() / "a.wav") and rows[1]["path"] == "s3://bucket/b.wav"
    pq.write_table(pa.Table.from_pylist([{"id": "a", "audio": "a.wav", "words": ["Q"]}]), tmp_path / "in.parquet")
    rows, lists = read_manifest(tmp_path / "in.parquet")
    assert lists[rows[0]["key"]] == ["Q"]
    rows, _ = read_manifest(clips)  # a folder: every audio file, id = its relative path
    assert {r["id"] for r in rows} >= {"pharmacy.wav", "pharmacy-head.flac", "bad.wav"}
    with pytest.raises(BatchError, match="nowhere"):
        read_manifest(_manifest(tmp_path, [{"id": "a", "audio": "a.wav", "list": "nowhere"}]))
    with pytest.raises(BatchError, match="twice"):
        read_manifest(_manifest(tmp_path, [{"id": "a", "audio": "a.wav"}, {"id": "a", "audio": "b.wav"}]))
    # list files are read as the CLI and the service read them: a JSON list too, a broken one is an error
    (tmp_path / "lists" / "drugs.json").write_text('["Lisinopril", "Tocilizumab"]', encoding="utf-8")
    rows, lists = read_manifest(_manifest(tmp_path, [{"id": "a", "audio": "a.wav", "list": "drugs.json"}]),
                                lists_dir=tmp_path / "lists")
    assert lists[rows[0]["key"]] == ["Lisinopril", "Tocilizumab"]
    (tmp_path / "lists" / "broken").write_text('["Lisinopril", 3]', encoding="utf-8")
    with pytest.raises(BatchError, match="only strings"):
        read_manifest(_manifest(tmp_path, [{"id": "a", "audio": "a.wav", "list": "broken"}]), lists_dir=tmp_path / "lists")


def test_cli_usage_errors(tmp_path):
    from ctcbias.cli import app

    r = CliRunner().invoke(app, ["batch", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o.parquet")])
    assert r.exit_code == 2 and "no such file" in r.output
    m = _manifest(tmp_path, [{"id": "a", "audio": "a.wav"}])
    r = CliRunner().invoke(app, ["batch", str(m), "--out", str(tmp_path / "o.csv")])
    assert r.exit_code == 2 and ".parquet or .jsonl" in r.output
    r = CliRunner().invoke(app, ["batch", str(m), "--out", str(tmp_path / "o.jsonl"), "--bias", "sideways"])
    assert r.exit_code == 2 and "sideways" in r.output


def test_uris_are_read_through_pyarrow(clips):
    got = batch.fetch_audio((clips / "bad.wav").resolve().as_uri())
    assert got == (clips / "bad.wav").read_bytes()
    assert batch.fetch_audio("rel/a.wav") == "rel/a.wav"


def test_merge_keeps_one_row_per_id_and_prefers_success(tmp_path):
    import pyarrow as pa

    out = tmp_path / "out.jsonl"
    ok = {"id": "a", "audio": "a.wav", "text": "Hi.", "raw_text": "hi", "words": [], "duration": 1.0, "rtf": 0.1, "error": None}
    bad = {**ok, "text": None, "raw_text": None, "words": None, "duration": None, "rtf": None, "error": "AudioError: x"}
    out.write_text(json.dumps(bad) + "\n" + json.dumps({**ok, "id": "b"}) + "\n", encoding="utf-8")
    parts = batch.parts_dir(out)
    parts.mkdir()
    batch._write_part(parts, pa.Table.from_pylist([ok, {**ok, "id": "b", "text": "again"}], schema=batch.schema()))
    assert batch.done_ids(out) == {"a", "b"}
    assert batch.merge(out) == (2, 0)
    rows = _rows(out)
    assert rows["a"]["text"] == "Hi." and rows["b"]["text"] == "Hi." and not parts.exists()


def test_a_row_notes_its_recordings_flaws(tmp_path, rec, monkeypatch):
    """A worker (called in this process) notes a narrow band on telephone audio, as ``transcribe``
    does, and nothing on a clean clip."""
    import numpy as np
    import torch
    from scipy.signal import resample_poly

    from ctcbias.inference.recognizer import Recognizer

    x, sr = sf.read(EX / "pharmacy.wav", dtype="float32")
    sf.write(tmp_path / "phone.wav", resample_poly(x, 1, 2).astype(np.float32), sr // 2)
    monkeypatch.setattr(Recognizer, "load", classmethod(lambda cls, *a, **k: rec))
    # this process's thread count: a worker sets torch's, and later tests compare against decodes made with it
    w = batch.Worker({"k": ["Okafor"]}, threads=torch.get_num_threads())
    clean, phone = w._one(str(EX / "pharmacy.wav"), "k"), w._one(str(tmp_path / "phone.wav"), "k")
    assert clean["error"] is None and clean["notes"] == []
    assert phone["error"] is None and len(phone["notes"]) == 1 and "narrow band" in phone["notes"][0]
    assert phone["notes"] == rec.transcribe(tmp_path / "phone.wav", words=["Okafor"]).notes


def test_output_without_the_notes_column_still_resumes(tmp_path):
    """Parts and outputs written before ``notes`` existed read with it null and merge."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = tmp_path / "out.parquet"
    old = pa.schema([f for f in batch.schema() if f.name != "notes"])
    row = {"id": "a", "audio": "a.wav", "text": "Hi.", "raw_text": "hi", "words": [], "duration": 1.0, "rtf": 0.1,
           "error": None}
    pq.write_table(pa.Table.from_pylist([row], schema=old), out)
    parts = batch.parts_dir(out)
    parts.mkdir()
    batch._write_part(parts, pa.Table.from_pylist([{**row, "id": "b", "notes": ["clipped"]}], schema=batch.schema()))
    assert batch.done_ids(out) == {"a", "b"} and batch.merge(out) == (2, 0)
    rows = _rows(out)
    assert rows["a"]["notes"] is None and rows["b"]["notes"] == ["clipped"]


# ---------------------------------------------------------------- on Ray


def _worker_pids() -> list[int]:
    from ray._private import state

    return [a["Pid"] for a in state.actors().values()
            if a["State"] == "ALIVE" and "MapWorker" in a.get("ActorClassName", "") and a["Pid"]]


@pytest.fixture(scope="module")
def killed_run(ray_local, clips) -> dict:
    """One run (model loads are the cost) that the tests below share: seven rows, two 1-thread
    actors on 2 CPUs (the pool must fit, fractional CPUs, or this hangs), one task a row, and one
    worker SIGKILLed as soon as it is up, while its first rows are queued or under way (a kill after
    the first row's output lost the race on a loaded machine: the other rows were written first)."""
    out = clips / "out.jsonl"
    kw = dict(inp=_manifest(clips, GOOD + BAD), out=out, workers=2, block_rows=1)
    box: dict = {}

    def go():
        try:
            box["s"] = run_batch(progress=False, **kw)
        except BaseException as e:  # noqa: BLE001 - reported in the test's thread
            box["e"] = e

    th = threading.Thread(target=go, daemon=True)
    th.start()
    parts, killed, done_then, t0 = batch.parts_dir(out), None, None, time.monotonic()
    while killed is None and th.is_alive() and time.monotonic() - t0 < 180:
        if pids := _worker_pids():  # an actor is up: its model is loaded and rows are handed out
            done_then = len(list(parts.glob("part-*.parquet"))) if parts.is_dir() else 0
            killed = pids[0]
            os.kill(killed, signal.SIGKILL)
        time.sleep(0.02)
    th.join(max(1.0, 300 - (time.monotonic() - t0)))  # generous: a loaded machine is slow, not hung
    assert not th.is_alive(), "ctcbias batch did not finish (hung?)"
    if "e" in box:
        raise box["e"]
    return {"out": out, "summary": box["s"], "killed": killed, "done_then": done_then}


def test_batch_equals_transcribe_and_reports_failed_rows(killed_run, reference):
    s, out = killed_run["summary"], killed_run["out"]
    assert (s["ok"], s["failed"], s["skipped"]) == (4, 3, 0) and s["audio_hours"] > 0
    rows = _rows(out)
    assert set(rows) == {r["id"] for r in GOOD + BAD}
    for r in GOOD:
        _same(rows[r["id"]], reference[r["id"]])
    assert "no such file" in rows["missing"]["error"] and "cannot read audio" in rows["bad"]["error"]
    assert rows["uri"]["error"].startswith("FileNotFoundError")
    assert rows["missing"]["text"] is None and not batch.parts_dir(out).exists()


def test_killed_worker_loses_and_duplicates_nothing(killed_run):
    assert killed_run["killed"] is not None, "no worker to kill while the batch ran"
    assert killed_run["done_then"] < len(GOOD + BAD), "the batch was over before the kill"
    with pytest.raises(ProcessLookupError):
        os.kill(killed_run["killed"], 0)
    out = killed_run["out"]
    lines = [json.loads(l) for l in out.read_text(encoding="utf-8").splitlines()]
    assert sorted(d["id"] for d in lines) == sorted(r["id"] for r in GOOD + BAD)  # each exactly once


def test_resume_skips_done_rows(killed_run, clips):
    out = killed_run["out"]
    before = _rows(out)
    (clips / "bad2.wav").write_bytes(b"")
    s = _run(240, inp=_manifest(clips, GOOD + BAD + [{"id": "empty", "audio": "bad2.wav"}]), out=out, workers=1)
    # the four done rows are skipped; the failed ones are tried again, with the new row
    assert (s["skipped"], s["ok"], s["failed"]) == (4, 0, 4)
    rows = _rows(out)
    assert set(rows) == set(before) | {"empty"} and "empty file" in rows["empty"]["error"]
    assert all(rows[r["id"]] == before[r["id"]] for r in GOOD)
    s = _run(120, inp=_manifest(clips, GOOD), out=out)  # all done: no Ray work at all
    assert (s["skipped"], s["ok"], s["failed"]) == (4, 0, 0)


def test_pump_runs_the_dataset_in_an_actor(ray_local, tmp_path):
    """The ray:// path (Ray Data inside a 0-CPU actor, blocks handed over one by one), on rows
    that fail before any model; the Ray Client transport itself was checked by hand."""
    rows = [{"id": f"n{i}", "audio": f"n{i}.wav", "path": str(tmp_path / f"n{i}.wav"), "key": "k"}
            for i in range(5)]
    pump = ray_local.remote(batch.Pump).options(num_cpus=0).remote(
        rows, ray_local.put({"k": []}), 1, 0.5, 2, "auto", None, False)
    got = []
    while (b := ray_local.get(pump.next.remote(), timeout=180)) is not None:
        got += b.to_pylist()
    assert sorted(r["id"] for r in got) == [f"n{i}" for i in range(5)]
    assert all("no such file" in r["error"] for r in got)
    ray_local.kill(pump)

