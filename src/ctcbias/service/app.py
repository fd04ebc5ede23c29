"""The HTTP service: ``POST /v1/transcribe``, ``GET /health``, and a web page at ``/``.

Every request brings its own word list; nothing of one request's list is kept for another (lists
are compiled into immutable objects, cached only by their content). Audio is read into memory,
decoded and dropped when the answer is sent; nothing is written to disk. Decoding runs at most
``Limits.concurrent`` requests at a time, so memory stays bounded however many arrive; the rest
wait their turn.

    ctcbias serve --port 8000
    curl -F audio=@examples/pharmacy.wav -F words="$(cat examples/words.txt)" localhost:8000/v1/transcribe
"""

from __future__ import annotations

import base64
import json
import threading
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, File, Form, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse

from ..audio import AudioError, load_audio
from ..inference.biasing_list import BiasingListError
from ..inference.recognizer import BIAS_MODES, DecodingOptions, Recognizer

__all__ = ["Limits", "create_app"]

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Limits:
    max_request_bytes: int = 50 * 1024 * 1024
    max_audio_seconds: float = 600.0
    max_entries: int = 10_000
    max_entry_chars: int = 200
    concurrent: int = 2  # decodes at once (2 cores)


class _BodyLimit:
    """ASGI middleware: 413 for a request body over the limit, whether or not it says its size."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await _too_big(self.limit, send)
        seen = 0

        async def counted():
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:
                    raise _TooBig()
            return msg

        try:
            await self.app(scope, counted, send)
        except _TooBig:
            await _too_big(self.limit, send)


class _TooBig(Exception):
    pass


async def _too_big(limit: int, send) -> None:
    body = json.dumps({"error": f"request larger than {limit // (1024 * 1024)} MiB"}).encode()
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def parse_words(raw: str | None, limits: Limits) -> list[str]:
    """The ``words`` form field: a JSON list of strings, or one entry a line."""
    if raw is None or not raw.strip():
        return []
    text = raw.strip()
    if text.startswith("["):
        try:
            words = json.loads(text)
        except ValueError as e:
            raise BiasingListError(f"words: looks like JSON but does not parse ({e.msg})") from None
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise BiasingListError("words: a JSON value must be a list of strings")
    else:
        words = [l.strip() for l in text.splitlines() if l.strip()]
    if len(words) > limits.max_entries:
        raise BiasingListError(f"words: {len(words):,} entries; this service takes at most {limits.max_entries:,}")
    for w in words:
        if len(w) > limits.max_entry_chars:
            raise BiasingListError(f"words: an entry of {len(w)} characters (limit {limits.max_entry_chars}): "
                                   f"{w[:40]!r}...")
    return words


def create_app(recognizer: Recognizer | None = None, limits: Limits = Limits()) -> FastAPI:
    """The service around one loaded recognizer (default: the shipped model, loaded at start)."""
    @asynccontextmanager
    async def lifespan(_app):
        rec()  # load the model before the first request, not during it
        yield

    app = FastAPI(title="ctcbias", version=_version(), lifespan=lifespan,
                  description="Speech recognition that learns your words at inference time.")
    app.add_middleware(_BodyLimit, limit=limits.max_request_bytes)
    state = {"rec": recognizer}
    gate = threading.BoundedSemaphore(limits.concurrent)
    lock = threading.Lock()

    def rec() -> Recognizer:
        with lock:
            if state["rec"] is None:
                state["rec"] = Recognizer.load()
            return state["rec"]

    @app.get("/health")
    def health() -> dict:
        r = rec()
        return {"status": "ok", "version": _version(), "adapter": r.adapter is not None,
                "default_bias": r.resolve().bias, "limits": limits.__dict__}

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def page() -> str:
        return (STATIC / "index.html").read_text(encoding="utf-8")

    @app.post("/v1/transcribe", responses={413: {"description": "request too large"},
                                           422: {"description": "unreadable audio or a bad word list"}})
    def transcribe(audio: UploadFile = File(..., description="audio in any format soundfile reads"),
                   words: str | None = Form(None, description="JSON list of strings, or one entry a line"),
                   bias: str = Form("auto", description=f"one of {', '.join(BIAS_MODES)}"),
                   compare: bool = Form(False, description="also return the transcript without the list"),
                   attention: bool = Form(False, description="also return the adapter's attention plot (PNG)")):
        """Transcribe one recording with this request's word list."""
        if bias not in BIAS_MODES:
            return _error(422, f"bias must be one of {', '.join(BIAS_MODES)}")
        r = rec()
        opts = r.resolve(DecodingOptions(bias=bias))
        if opts.bias in ("encoder", "joint") and r.adapter is None:
            return _error(422, f"bias={opts.bias!r} needs the contextual adapter, which this model lacks")
        try:
            wlist = parse_words(words, limits)
            data = audio.file.read()
            with gate:  # decoded audio and model state exist for at most `concurrent` requests at once
                x = load_audio(data, max_seconds=limits.max_audio_seconds)
                del data
                res = r.transcribe(x, 16000, words=wlist, options=opts, attention=attention)
                plain = r.transcribe(x, 16000, options=opts, bias="none") if compare else None
        except (AudioError, BiasingListError) as e:
            return _error(422, str(e))
        finally:
            audio.file.close()
        out = {"audio": audio.filename, **res.to_dict(), "duration": round(res.duration, 3), "bias": opts.bias}
        out.pop("attention", None)
        if plain is not None:
            out["without_list"] = plain.to_dict()
        if attention and res.attention is not None:
            from ..inference.attention_plot import plot_attention

            out["attention_png"] = base64.b64encode(plot_attention(res)).decode()
        return out

    return app


def _error(status: int, msg: str) -> JSONResponse:
    return JSONResponse({"error": msg}, status_code=status)


def _version() -> str:
    from .. import __version__

    return __version__
