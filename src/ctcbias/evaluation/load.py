"""The service under load: many concurrent requests with different lists against a real server.

``ctcbias bench load`` starts ``ctcbias serve`` as its own process on loopback, asks it once per
list one request at a time (the expected answers and the single-request latency), then twice sends
``n`` requests at once, each with one of the lists, and checks that every answer equals the
sequential answer for its own list. It writes ``LOAD.md`` and ``load.json``: wall time,
throughput, latency percentiles, and the server's resident memory before and after.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from .base import write_results

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
LISTS = [[], "examples", ["Okafor"], ["Tocilizumab", "Lisinopril"], ["Wrocław", "Zelenskyy", "São Paulo"]]


def _rss_mb(pid: int) -> tuple[float, float]:
    """Resident memory now and its peak (MB) of a process."""
    vals = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("VmRSS", "VmHWM"):
            vals[k] = int(v.split()[0]) / 1024
    return vals.get("VmRSS", 0.0), vals.get("VmHWM", 0.0)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(out: Path, n: int = 50, audio: Path | None = None) -> dict:
    import httpx

    audio = audio or EXAMPLES / "pharmacy.wav"
    words = [w for w in (EXAMPLES / "words.txt").read_text(encoding="utf-8").splitlines() if w.strip()]
    lists = [words if l == "examples" else l for l in LISTS]
    data = audio.read_bytes()
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    # the server's log goes to a file: a pipe nobody reads would fill up and stall it
    log = tempfile.TemporaryFile("w+")
    server = subprocess.Popen([sys.executable, "-m", "ctcbias.cli", "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=log, text=True)
    try:
        t0 = time.time()
        while True:
            if server.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"the server did not start: {log.read()[-2000:]}")
            try:
                if httpx.get(url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.time() - t0 > 120:
                raise RuntimeError("the server did not answer /health within 120 s")
            time.sleep(0.2)
        startup = time.time() - t0

        def post(lst):
            t = time.perf_counter()
            with httpx.Client(timeout=600) as c:
                r = c.post(url + "/v1/transcribe", files={"audio": (audio.name, data)},
                           data={"words": json.dumps(lst)})
            return r.status_code, r.json(), time.perf_counter() - t

        post([])  # warm up (first-call allocations) before anything is measured
        rss_before, _ = _rss_mb(server.pid)
        seq = [post(l) for l in lists]
        expected = [j for _, j, _ in seq]
        single = [s for _, _, s in seq]
        # two rounds: the first shows the cost of n requests at once, the second that memory stays
        # where the first left it (bounded, not leaking per request)
        rounds = []
        for _ in range(2):
            t = time.perf_counter()
            with ThreadPoolExecutor(n) as ex:
                rounds.append(list(ex.map(lambda i: (i, *post(lists[i % len(lists)])), range(n))))
            rounds[-1] = (rounds[-1], time.perf_counter() - t, _rss_mb(server.pid)[0])
        got, wall, rss_after = rounds[0]
        rss_peak = _rss_mb(server.pid)[1]
    finally:
        server.terminate()
        server.wait(30)
        log.close()

    both = rounds[0][0] + rounds[1][0]
    errors = [(i, s, j) for i, s, j, _ in both if s != 200]
    wrong = [i for i, s, j, _ in both if s == 200 and (j["text"], j["words"]) !=
             (expected[i % len(lists)]["text"], expected[i % len(lists)]["words"])]
    lat = np.array([x for *_, x in got])
    import soundfile as sf

    dur = round(sf.info(str(audio)).duration, 2)
    r = {
        "machine": f"{os.cpu_count()} cores, {platform.machine()}", "python": platform.python_version(),
        "audio": audio.name, "audio_seconds": dur, "requests": n, "lists": [len(l) for l in lists],
        "server_startup_s": round(startup, 1), "single_request_s": [round(s, 3) for s in single],
        "wall_s": round(wall, 2), "requests_per_s": round(n / wall, 2),
        "latency_s": {"p50": round(float(np.percentile(lat, 50)), 2), "p95": round(float(np.percentile(lat, 95)), 2),
                      "max": round(float(lat.max()), 2)},
        "errors": len(errors), "wrong_answers": len(wrong),
        "server_rss_mb": {"before": round(rss_before), "after": round(rss_after),
                          "after_second_round": round(rounds[1][2]), "peak": round(rss_peak)},
        "second_round_wall_s": round(rounds[1][1], 2),
    }
    write_results(out, "load", r, _markdown(r))
    return r


def _markdown(r: dict) -> str:
    lat, rss = r["latency_s"], r["server_rss_mb"]
    return "\n".join([
        "# The service under load", "",
        f"`ctcbias bench load`: one `ctcbias serve` process (default limits: 2 decodes at a time) on loopback, "
        f"{r['machine']}. Audio `{r['audio']}` ({r['audio_seconds']} s); lists of {r['lists']} entries, "
        f"request *i* gets list *i* mod {len(r['lists'])}.", "",
        "| | |", "|---|---|",
        f"| concurrent requests | {r['requests']} |",
        f"| errors / answers that differ from the sequential answer for the same list (both rounds) | "
        f"{r['errors']} / {r['wrong_answers']} |",
        f"| wall time (second round) | {r['wall_s']} s ({r['second_round_wall_s']} s) |",
        f"| throughput | {r['requests_per_s']} requests/s |",
        f"| latency p50 / p95 / max | {lat['p50']} / {lat['p95']} / {lat['max']} s |",
        f"| one request alone (per list) | {', '.join(f'{s} s' for s in r['single_request_s'])} |",
        f"| server resident memory before / after round 1 / after round 2 / peak | {rss['before']} / "
        f"{rss['after']} / {rss['after_second_round']} / {rss['peak']} MB |",
        f"| server start (model load) | {r['server_startup_s']} s |", ""])
