"""Batch transcription of archives on Ray (``ctcbias batch``).

Why Ray Data and not a scheduler of our own: it already streams blocks to a pool of actors,
restarts a dead actor and retries its task, shows progress, and joins a cluster unchanged.

Data flow
    The driver reads the manifest (JSONL, CSV, Parquet, or a folder of audio), resolves shared
    word lists, drops the ids already done, and hands the rest to Ray Data as small blocks of
    ``block_rows`` rows. Each worker is an actor (:class:`Worker`) that loads the model once (on
    its first readable audio, so a run of only failing rows never loads it), caches compiled
    lists by the hash of their content, reads the audio itself (local paths, or ``s3://`` /
    ``gs://`` URIs through pyarrow's filesystems) and returns one row per input row. A row that
    fails (missing file, bad audio, unreadable URI, bad list) carries its ``error``; the batch
    goes on. A row read well carries ``notes``: the recording's flaws that may cost accuracy
    (clipping, a narrow band; :func:`ctcbias.audio.audio_notes`), none as an empty list. Output
    written before that column existed reads as null there, so such runs still resume.

Word lists
    A row's ``words`` (a list; in CSV a JSON list or ``a|b|c``) is its own list. A row's ``list``
    names a shared list: the file ``NAME`` (or ``NAME.txt``), one entry a line, in ``--lists
    DIR`` (default: the manifest's folder). Rows with neither get ``--words FILE`` (or no list).
    A named list that does not exist stops the run before any work (a config error, cheap to fix,
    and better than hours of transcripts without their list).

Output, resume, no loss, no duplicates
    The driver writes each block it receives as a Parquet part file in ``OUT.parts/`` (written to
    a temporary name, then renamed: a part is whole or absent). At the end the parts and any
    earlier OUT are merged into OUT (again a temporary file and a rename), one row per id (a
    successful row wins over a failed one, otherwise the first), and the parts folder is
    removed. A re-run with the same OUT reads OUT and any parts left by a killed run, skips the
    ids done without error, and retries the failed ones. A killed worker loses nothing: Ray
    restarts the actor and retries its task (``max_restarts=-1``, ``max_task_retries=-1``, Ray
    Data's defaults for actors). The driver, not the workers, writes, because the output is
    tiny next to the audio (a few kB a minute of audio) and OUT is a path on the driver's machine.

Clusters
    ``--address auto`` joins the cluster this machine is part of; ``--address ray://HOST:PORT``
    connects through Ray Client, where Ray Data runs in a small actor on the cluster (:class:`Pump`)
    and OUT is still written here. Every node needs ctcbias installed and the audio paths (or
    URIs) reachable. Ray 2.60 clusters require a token: a Ray Client needs ``RAY_AUTH_MODE=token``
    and the cluster's token (``RAY_AUTH_TOKEN`` or ``~/.ray/auth_token``).

Sizing (the 2-core trap)
    Actors get fractional CPUs: ``0.9 * cluster CPUs / workers`` each, and at most 90% of the
    largest node's, so the pool never asks for more CPUs than exist and Ray Data's own tasks still
    fit; a pool that asks for every CPU (two 1-CPU actors on 2 cores plus a read task) waits
    forever. Torch in each worker uses ``round(num_cpus)`` threads, at least one. By default there
    is one worker per CPU (one thread each: on a shared machine 2 x 1 thread beat 1 x 2 threads,
    bench/SCALE.md), fewer where memory is short (``WORKER_MEMORY`` each).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import sys
import time
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any, Optional

import typer

AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".opus", ".mp3", ".aiff", ".aif", ".au", ".caf", ".w64"}
WORKER_MEMORY = 2.5e9  # bytes a worker may need: ~0.5 GB on clips, 2.4 GB on an hour-long recording
LIST_CACHE = 1  # the list of the rows before; the compiled-list cache keeps others, by memory (CACHE_BYTES)


def schema():
    """OUT's columns (pyarrow is imported on use: ``ctcbias --help`` stays fast)."""
    import pyarrow as pa

    word = pa.struct([("word", pa.string()), ("start", pa.float64()), ("end", pa.float64()),
                      ("confidence", pa.float64()), ("entity", pa.bool_())])
    return pa.schema([("id", pa.string()), ("audio", pa.string()), ("text", pa.string()),
                      ("raw_text", pa.string()), ("words", pa.list_(word)), ("duration", pa.float64()), ("rtf", pa.float64()),
                      ("error", pa.string()), ("notes", pa.list_(pa.string()))])


class BatchError(ValueError):
    """Bad usage: manifest, list or output path; the message says what is wrong."""


# ---------------------------------------------------------------- manifest


def _parse_words(v: Any) -> list[str] | None:
    """A row's own list: a list, a JSON list string, or ``a|b|c`` (CSV)."""
    if v is None or (isinstance(v, float) and v != v) or v == "":
        return None
    if isinstance(v, str):
        v = json.loads(v) if v.lstrip().startswith("[") else v.split("|")
    return [str(w).strip() for w in v if str(w).strip()]


def _manifest_rows(inp: Path) -> list[dict]:
    """Raw rows of a JSONL / CSV / Parquet manifest, or one row per audio file of a folder."""
    if inp.is_dir():
        return [{"id": p.relative_to(inp).as_posix(), "audio": str(p)}
                for p in sorted(inp.rglob("*")) if p.is_file() and p.suffix.lower() in AUDIO_SUFFIXES]
    import pyarrow as pa
    import pyarrow.parquet as pq

    suffix = inp.suffix.lower()
    try:
        if suffix in (".jsonl", ".json", ".ndjson"):
            rows = []
            for n, line in enumerate(inp.read_text(encoding="utf-8").splitlines(), 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        raise BatchError(f"{inp}:{n}: not a JSON object") from None
            return rows
        if suffix == ".csv":
            with open(inp, newline="", encoding="utf-8") as f:
                return list(csv.DictReader(f))
        if suffix in (".parquet", ".pq"):
            return pq.read_table(inp).to_pylist()
    except (OSError, UnicodeDecodeError, pa.ArrowException) as e:
        raise BatchError(f"{inp}: cannot read ({e})") from None
    raise BatchError(f"{inp}: a manifest is .jsonl, .csv or .parquet, or a folder of audio")


def _read_list(path: Path) -> list[str]:
    """A list file, as the CLI and the service read one (one entry a line, or a JSON list)."""
    from .inference.wordlist import BiasingListError, decode_word_list, parse_word_list

    try:
        return parse_word_list(decode_word_list(path.read_bytes())[0])
    except BiasingListError as e:
        raise BatchError(f"{path}: {e}") from None


def list_key(words: list[str]) -> str:
    """A list's identity is its content: equal lists share one compiled list in a worker."""
    return hashlib.sha256("\n".join(words).encode("utf-8")).hexdigest()[:32]


def read_manifest(inp: Path, words_file: Path | None = None,
                  lists_dir: Path | None = None) -> tuple[list[dict], dict[str, list[str]]]:
    """Rows ``{id, audio, path, key}`` and the lists ``{key: words}`` they refer to.

    ``audio`` is as the manifest wrote it; ``path`` is what workers read: relative paths are taken
    from the manifest's folder, URIs (``s3://...``) pass as they are.
    """
    inp = Path(inp)
    if not inp.exists():
        raise BatchError(f"{inp}: no such file or folder")
    base = (inp if inp.is_dir() else inp.parent).resolve()  # workers' cwd is not the driver's
    lists_dir = Path(lists_dir) if lists_dir is not None else base
    lists: dict[str, list[str]] = {}

    def keep(words: list[str]) -> str:
        k = list_key(words)
        lists[k] = words
        return k

    try:
        default = keep(_read_list(words_file)) if words_file is not None else keep([])
    except (OSError, UnicodeDecodeError) as e:
        raise BatchError(f"{words_file}: cannot read the word list ({e})") from None
    named: dict[str, str] = {}
    rows, seen, missing = [], set(), set()
    for n, r in enumerate(_manifest_rows(inp), 1):
        if not isinstance(r, dict):
            raise BatchError(f"{inp}: row {n} is not an object")
        audio = r.get("audio") or r.get("path") or r.get("uri")
        if not audio:
            raise BatchError(f"{inp}: row {n} has no \"audio\" (or \"path\" / \"uri\")")
        audio = str(audio)
        path = audio if "://" in audio or Path(audio).is_absolute() else str(base / audio)
        rid = str(r["id"]) if r.get("id") not in (None, "") else audio
        if rid in seen:
            raise BatchError(f"{inp}: id {rid!r} appears twice (ids key the output and resume)")
        seen.add(rid)
        try:
            own = _parse_words(r.get("words"))
        except (ValueError, TypeError):
            raise BatchError(f"{inp}: row {n}: \"words\" is not a list") from None
        name = r.get("list")
        if own is not None:
            key = keep(own)
        elif name not in (None, "") and not (isinstance(name, float) and name != name):
            name = str(name)
            if name not in named:
                p = next((q for q in (lists_dir / name, lists_dir / f"{name}.txt") if q.is_file()), None)
                if p is None:
                    missing.add(name)
                    continue
                named[name] = keep(_read_list(p))
            key = named[name]
        else:
            key = default
        rows.append({"id": rid, "audio": audio, "path": path, "key": key})
    if missing:
        raise BatchError(f"word list(s) not found in {lists_dir}: {', '.join(sorted(missing))} "
                         "(a list NAME is the file NAME or NAME.txt, one entry a line; see --lists)")
    return rows, lists


# ---------------------------------------------------------------- worker


def fetch_audio(uri: str) -> str | bytes:
    """A local path as is; ``scheme://`` URIs (``s3``, ``gs``, ``file``...) read whole through
    pyarrow's filesystems (credentials from the environment, as pyarrow finds them)."""
    if "://" not in uri:
        return uri
    from pyarrow import fs

    filesystem, path = fs.FileSystem.from_uri(uri)
    with filesystem.open_input_stream(path) as f:
        return f.read()


class Worker:
    """One Ray actor: a model loaded once, compiled lists cached by content hash."""

    def __init__(self, lists, bias: str = "auto", model: str | None = None, threads: int = 1):
        import ray

        # ``lists``: an ObjectRef the driver holds, so a restarted actor can always fetch it again
        self.lists: dict[str, list[str]] = ray.get(lists) if isinstance(lists, ray.ObjectRef) else lists
        self.bias, self.model, self.threads = bias, model, threads
        self.rec = None
        self.compiled: OrderedDict[str, Any] = OrderedDict()

    def _words(self, key: str):
        if key not in self.compiled:
            self.compiled[key] = self.rec.compile(self.lists[key], self.opts)
            if len(self.compiled) > LIST_CACHE:
                self.compiled.popitem(last=False)
        self.compiled.move_to_end(key)
        return self.compiled[key]

    def _one(self, path: str, key: str) -> dict:
        from .audio import SAMPLE_RATE, AudioError, load_audio

        t0 = time.perf_counter()
        src = fetch_audio(path)
        notes: list[str] = []  # the recording's own flaws (its rate before resampling, clipping)
        try:  # decoded before the model is needed: a bad row costs no model load
            x = load_audio(src, notes=notes)
        except AudioError as e:
            if isinstance(src, bytes):  # load_audio calls bytes "audio": name the URI instead
                raise AudioError(path + str(e)[len("audio"):]) from None
            raise
        fetched = time.perf_counter() - t0
        if self.rec is None:  # here, not in __init__: rows that cannot be read never load the model
            import torch

            from .inference.recognizer import DecodingOptions, Recognizer

            torch.set_num_threads(max(1, self.threads))
            self.rec = Recognizer.load(self.model)
            self.opts = self.rec.resolve(DecodingOptions(bias=self.bias))
        t1 = time.perf_counter()
        r = self.rec.transcribe(x, sample_rate=SAMPLE_RATE, words=self._words(key), options=self.opts)
        d = r.to_dict()
        dt = fetched + time.perf_counter() - t1  # rtf: reading + compiling + transcribing, not loading
        return {"text": d["text"], "raw_text": d["raw_text"], "words": d["words"], "duration": r.duration,
                "rtf": dt / r.duration if r.duration else None, "error": None, "notes": notes}

    def __call__(self, batch):
        import pyarrow as pa

        out: list[dict] = []
        for rid, audio, path, key in zip(*(batch[c].to_pylist() for c in ("id", "audio", "path", "key"))):
            try:
                res = self._one(path, key)
            except Exception as e:  # any one row's failure is that row's, never the batch's
                res = {"text": None, "raw_text": None, "words": None, "duration": None, "rtf": None,
                       "error": f"{type(e).__name__}: {e}", "notes": None}
            out.append({"id": str(rid), "audio": str(audio), **res})
        return pa.Table.from_pylist(out, schema=schema())


# ---------------------------------------------------------------- output


def parts_dir(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


def _out_format(out: Path) -> str:
    s = out.suffix.lower()
    if s in (".parquet", ".pq"):
        return "parquet"
    if s in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise BatchError(f"{out}: OUT is .parquet or .jsonl")


def read_output(path: Path, columns: list[str] | None = None):
    """An OUT (Parquet or JSONL) or a part file as a pyarrow table of :func:`schema`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if _out_format(path) == "parquet":
        return pq.read_table(path, columns=columns, schema=schema())
    rows = [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]
    t = pa.Table.from_pylist([{k: r.get(k) for k in schema().names} for r in rows], schema=schema())
    return t.select(columns) if columns else t


def _sources(out: Path) -> list[Path]:
    parts = sorted(parts_dir(out).glob("part-*.parquet")) if parts_dir(out).is_dir() else []
    return ([out] if out.is_file() else []) + parts


def done_ids(out: Path) -> set[str]:
    """Ids finished without error, in OUT or in parts a killed run left behind."""
    done: set[str] = set()
    for src in _sources(out):
        t = read_output(src, ["id", "error"])
        done.update(i for i, e in zip(t["id"].to_pylist(), t["error"].to_pylist()) if e is None)
    return done


def _write_part(parts: Path, table) -> None:
    import pyarrow.parquet as pq

    name = f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.parquet"
    tmp = parts / f".{name}.tmp"
    pq.write_table(table.cast(schema()), tmp)
    os.replace(tmp, parts / name)  # atomic: a part is whole or absent


def merge(out: Path) -> tuple[int, int]:
    """OUT := earlier OUT + parts, one row per id (an ok row beats a failed one, else the first).

    Two passes (ids, then rows) so that memory holds one source at a time. Returns (ok, failed).
    """
    srcs = _sources(out)
    if not srcs:
        return 0, 0
    pick: dict[str, tuple[int, int, bool]] = {}  # id -> (source, row, ok)
    for s, src in enumerate(srcs):
        t = read_output(src, ["id", "error"])
        for i, (rid, err) in enumerate(zip(t["id"].to_pylist(), t["error"].to_pylist())):
            old = pick.get(rid)
            if old is None or (err is None and not old[2]):
                pick[rid] = (s, i, err is None)
    fmt = _out_format(out)
    tmp = out.with_name(f".{out.name}.tmp")
    import pyarrow.parquet as pq

    writer = pq.ParquetWriter(tmp, schema()) if fmt == "parquet" else open(tmp, "w", encoding="utf-8")
    try:
        for s, src in enumerate(srcs):
            rows = sorted(i for (ss, i, _) in pick.values() if ss == s)
            if not rows:
                continue
            t = read_output(src).take(rows)
            if fmt == "parquet":
                writer.write_table(t)
            else:
                for r in t.to_pylist():
                    writer.write(json.dumps(r, ensure_ascii=False) + "\n")
    finally:
        writer.close()
    os.replace(tmp, out)
    shutil.rmtree(parts_dir(out), ignore_errors=True)
    ok = sum(1 for v in pick.values() if v[2])
    return ok, len(pick) - ok


# ---------------------------------------------------------------- driver


def start_ray(address: str | None, num_cpus: int | None = None) -> bool:
    """Join ``address``, or start a bounded local instance on loopback. True when we started it."""
    import ray

    if ray.is_initialized():
        return False
    if address:
        ray.init(address=address, log_to_driver=False)
        return False
    # loopback only, as Ray does on macOS: with a node IP of 127.0.0.1 its servers listen there alone
    # (on Linux Ray swaps 127.0.0.1 for the machine's address unless this flag is off)
    from ray._private import ray_constants

    cluster = getattr(ray_constants, "ENABLE_RAY_CLUSTER", True)
    ray_constants.ENABLE_RAY_CLUSTER = False
    try:
        ray.init(address="local", num_cpus=num_cpus or os.cpu_count() or 1, include_dashboard=False,
                 object_store_memory=256 * 1024 ** 2, log_to_driver=False)
    finally:
        ray_constants.ENABLE_RAY_CLUSTER = cluster
    return True


def worker_cpus(total_cpus: float, workers: int, node_cpus: float | None = None) -> float:
    """CPUs an actor asks for: the pool fits in 90% of the cluster and each actor in 90% of the
    largest node, so the pool can always be placed and Ray Data's own tasks still fit."""
    return round(max(0.05, min(0.9 * total_cpus / workers, 0.9 * (node_cpus or total_cpus))), 2)


def default_workers(total_cpus: float, memory: float) -> int:
    """One worker per CPU, fewer where memory is short."""
    return max(1, min(int(total_cpus), int(memory // WORKER_MEMORY)))


def _blocks(todo: list[dict], lists_ref, workers: int, cpus: float, block_rows: int, bias: str,
            model: str | None, progress: bool):
    """The transcribed blocks, as Ray Data streams them out of the actor pool."""
    import ray.data

    ray.data.DataContext.get_current().enable_progress_bars = progress
    ds = ray.data.from_items(todo, override_num_blocks=max(1, -(-len(todo) // block_rows)))
    ds = ds.map_batches(Worker, batch_size=block_rows, batch_format="pyarrow",
                        compute=ray.data.ActorPoolStrategy(size=workers), num_cpus=cpus,
                        fn_constructor_kwargs={"lists": lists_ref, "bias": bias, "model": model,
                                               "threads": max(1, round(cpus))})
    return ds.iter_batches(batch_size=None, batch_format="pyarrow")


class Pump:
    """Runs :func:`_blocks` on the cluster and hands its blocks over one at a time.

    Why: under Ray Client (``--address ray://``) Ray Data's streaming executor cannot run in the
    client process (it needs a core worker: ``'Worker' object has no attribute 'core_worker'``
    in 2.60). This 0-CPU actor runs it on the cluster; the client still writes the part files
    and OUT on its own disk, so resume works the same.
    """

    def __init__(self, *args):
        self.it = iter(_blocks(*args))

    def next(self):
        return next(self.it, None)


def run_batch(inp: Path, out: Path, address: str | None = None, workers: int | None = None,
              words_file: Path | None = None, lists_dir: Path | None = None, bias: str = "auto",
              model: Path | None = None, block_rows: int = 4,
              progress: bool = True, log=None, on_block=None) -> dict:
    """Transcribe the rows of ``inp`` not yet done in ``out``; returns the run's summary.

    ``on_block(table)`` is called for each block once its part file is written (benches time it).
    """
    import ray
    import ray.data

    if bias not in ("auto", "none", "decoder", "encoder", "joint"):
        raise BatchError(f"--bias {bias!r}: use auto, none, decoder, encoder or joint")
    log = log or (lambda s: print(s, file=sys.stderr, flush=True))
    t0 = time.perf_counter()
    out = Path(out)
    fmt = _out_format(out)
    rows, lists = read_manifest(Path(inp), words_file, lists_dir)
    done = done_ids(out)
    todo = [r for r in rows if r["id"] not in done]
    parts = parts_dir(out)
    ok = failed = 0
    seconds = 0.0
    if todo:
        started = start_ray(address)
        try:
            res = ray.cluster_resources()
            total = float(res.get("CPU", 1.0))
            node_cpus = max((float(nd["Resources"].get("CPU", 0)) for nd in ray.nodes() if nd.get("Alive")),
                            default=total)
            n = workers or default_workers(total, float(res.get("memory", WORKER_MEMORY)))
            cpus = worker_cpus(total, n, node_cpus)
            lists_ref = ray.put({k: lists[k] for k in {r["key"] for r in todo}})
            args = (todo, lists_ref, n, cpus, block_rows, bias, str(Path(model).resolve()) if model else None,
                    progress)
            if ray.util.client.ray.is_connected():  # ray://: Ray Data runs on the cluster, see Pump
                pump = ray.remote(Pump).options(num_cpus=0).remote(*args)
                blocks = iter(lambda: ray.get(pump.next.remote()), None)
            else:
                blocks = _blocks(*args)
            parts.mkdir(parents=True, exist_ok=True)
            for b in blocks:
                if b.num_rows:
                    _write_part(parts, b)
                    err = b["error"].to_pylist()
                    failed += sum(e is not None for e in err)
                    ok += sum(e is None for e in err)
                    seconds += sum(d for d, e in zip(b["duration"].to_pylist(), err) if e is None and d)
                    if on_block is not None:
                        on_block(b)
        finally:
            if started:
                ray.shutdown()
    total_ok, total_failed = merge(out)
    wall = time.perf_counter() - t0
    hours = seconds / 3600
    summary = {"rows": len(rows), "skipped": len(rows) - len(todo), "ok": ok, "failed": failed,
               "audio_hours": round(hours, 4), "wall_s": round(wall, 2),
               "throughput": round(hours / (wall / 3600), 2) if wall > 0 else None,
               "out_ok": total_ok, "out_failed": total_failed, "out": str(out), "format": fmt}
    log(f"batch: {ok} ok, {failed} failed, {summary['skipped']} skipped (done before); "
        f"{hours:.3f} h of audio in {wall:.1f} s = {summary['throughput']} h of audio per hour; "
        f"{out}: {total_ok} ok, {total_failed} failed")
    return summary


def command(
    inp: Path = typer.Argument(..., metavar="IN", help="manifest (.jsonl, .csv, .parquet: id, audio path or "
                                                         "URI, optional words or list) or a folder of audio"),
    out: Path = typer.Option(..., "--out", help="results, .parquet or .jsonl (re-run to resume)"),
    address: Optional[str] = typer.Option(None, help="auto | ray://HOST:PORT: join that Ray cluster "
                                                     "(default: start Ray here, on loopback)"),
    workers: Optional[int] = typer.Option(None, min=1, help="model actors, one model each "
                                                            "(default: one per CPU, fewer if memory is short)"),
    words: Optional[Path] = typer.Option(None, "--words", help="list for rows with no words or list of their own"),
    lists: Optional[Path] = typer.Option(None, "--lists", help="folder of named lists, NAME or NAME.txt "
                                                               "(default: the manifest's folder)"),
    bias: str = typer.Option("auto", help="none | decoder | encoder | joint | auto"),
    model: Optional[Path] = typer.Option(None, help="trained model folder (default: the shipped one)"),
    block_rows: int = typer.Option(4, min=1, help="rows a task (the unit of retry and of a part file)"),
) -> None:
    """Transcribe an archive on Ray: resumable, a failing row does not stop the batch.

    Exit codes: 0 every row in OUT done; 1 some rows failed (their error in OUT); 2 bad usage."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        typer.echo("ctcbias batch needs Ray: pip install 'ctcbias[batch]'", err=True)
        raise typer.Exit(2)
    try:
        s = run_batch(inp, out, address=address, workers=workers, words_file=words, lists_dir=lists,
                      bias=bias, model=model, block_rows=block_rows)
    except BatchError as e:
        typer.echo(str(e), err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps(s))
    raise typer.Exit(1 if s["out_failed"] else 0)
