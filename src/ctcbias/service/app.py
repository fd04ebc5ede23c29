"""The HTTP service: ``POST /v1/transcribe``, ``GET /health``, and a web page at ``/``.

Every request brings its own word list; nothing of one request's list is kept for another (lists
are compiled into immutable objects, cached only by their content). Audio is read into memory,
decoded and dropped when the answer is sent; nothing is written to disk. Decoding runs in two
lanes: ``Limits.concurrent`` decodes of any length, and ``Limits.short_concurrent`` more for
recordings up to ``Limits.short_seconds``, so a short request does not wait behind long ones.
Memory stays bounded however many arrive; the rest wait their turn.

    ctcbias serve --port 8000
    curl -F audio=@examples/pharmacy.wav -F words="$(cat examples/words.txt)" localhost:8000/v1/transcribe
"""

from __future__ import annotations

import base64
import io
import json
import threading
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile as StarletteUpload  # what forms hold (FastAPI's is a subclass)
from starlette.exceptions import HTTPException

from ..audio import SAMPLE_RATE, AudioError, load_audio
from ..inference.align import warm_up
from ..inference.biasing_list import BiasingListError, screen, warning_lines
from ..inference.recognizer import BIAS_MODES, DecodingOptions, ModeError, Recognizer
from ..inference.wordlist import check_word_list, decode_word_list, parse_word_list

__all__ = ["Limits", "create_app"]

STATIC = Path(__file__).parent / "static"


@dataclass(frozen=True)
class Limits:
    """What one request may bring, and how many decode at once.

    Decodes run in two lanes. ``concurrent`` decodes of any length run at once; a recording of at
    most ``short_seconds`` also has ``short_concurrent`` slots of its own, so it never waits for a
    long decode to end. A short request takes a free slot of either lane, a long slot only when no
    long request waits for it. At most ``concurrent`` long recordings, and ``concurrent +
    short_concurrent`` in all, are in memory decoded at once.
    """

    max_request_bytes: int = 50 * 1024 * 1024
    max_audio_seconds: float = 600.0
    max_entries: int = 20_000  # a formulary or a catalog; bigger lists lose accuracy (bench/SCALING.md)
    max_entry_chars: int = 200
    concurrent: int = 2  # decodes at once of any length (2 cores)
    # 30 s holds a command or a voicemail; kept short so that the short lane's own queue moves
    # fast, and its decoded audio (under 2 MB) adds little to memory
    short_seconds: float = 30.0
    short_concurrent: int = 1


class _Lanes:
    """Decode slots: ``long`` ones for any recording, ``short`` ones kept for short recordings."""

    def __init__(self, long: int, short: int):
        self.free = {"long": long, "short": short}
        self.long_waiting = 0
        self.cond = threading.Condition()

    def _lane(self, short: bool) -> str | None:
        if short and self.free["short"]:
            return "short"
        if self.free["long"] and (not short or not self.long_waiting):  # short ones don't starve long ones
            return "long"
        return None

    @contextmanager
    def slot(self, short: bool):
        """Wait for a slot of a lane this recording may use; hold it until the block ends."""
        with self.cond:
            if not short:
                self.long_waiting += 1
            try:
                self.cond.wait_for(lambda: self._lane(short) is not None)
            finally:
                if not short:
                    self.long_waiting -= 1
            lane = self._lane(short)
            self.free[lane] -= 1
        try:
            yield lane
        finally:
            with self.cond:
                self.free[lane] += 1
                self.cond.notify_all()


def _seconds(data: bytes) -> float:
    """The recording's length from its header, without decoding it (0: unreadable; load_audio,
    which reads the same header first, then answers why at once)."""
    import soundfile as sf

    try:
        info = sf.info(io.BytesIO(data))
        return info.frames / info.samplerate if info.samplerate else 0.0
    except Exception:  # soundfile/libsndfile errors are many types
        return 0.0


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
        seen, over, answered = 0, False, False

        async def counted():
            nonlocal seen, over
            if over:
                raise _TooBig()
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > self.limit:  # stop reading here: nothing more of the body is taken in
                    over = True
                    raise _TooBig()
            return msg

        async def answer(msg):
            nonlocal answered
            if over:
                # FastAPI turns any failure while reading a form (ours included) into its own 400;
                # once the body went over the limit, the answer is the 413, whatever the app says
                if not answered:
                    answered = True
                    await _too_big(self.limit, send)
                return
            if msg["type"] == "http.response.start":
                answered = True
            await send(msg)

        try:
            await self.app(scope, counted, answer)
        except _TooBig:
            pass
        if over and not answered:
            await _too_big(self.limit, send)


class _TooBig(Exception):
    pass


async def _too_big(limit: int, send) -> None:
    body = json.dumps({"error": f"request larger than {limit // (1024 * 1024)} MiB"}).encode()
    # "connection: close": the server drops the connection instead of reading the rest of the body
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def parse_words(raw: str | bytes | None, limits: Limits) -> tuple[list[str], str | None]:
    """The ``words`` field, typed or an uploaded file: a JSON list of strings, or one entry a line.

    Bytes are read as the CLI reads a list file: UTF-8, or else Latin-1, which is also what the
    form parser does with a typed field. Returns the entries and a note when the file was Latin-1.
    """
    note = None
    if isinstance(raw, bytes):
        raw, note = decode_word_list(raw)
    try:
        words = parse_word_list(raw or "")
        check_word_list(words, limits.max_entries, limits.max_entry_chars)
    except BiasingListError as e:
        raise BiasingListError(f"words: {e}") from None
    return words, note


def create_app(recognizer: Recognizer | None = None, limits: Limits = Limits()) -> FastAPI:
    """The service around one loaded recognizer (default: the shipped model, loaded at start)."""
    @asynccontextmanager
    async def lifespan(_app):
        rec()  # load the model before the first request, not during it
        warm_up()  # and the compiled alignment loops
        yield

    app = FastAPI(title="ctcbias", version=_version(), lifespan=lifespan,
                  description="Speech recognition that learns your words at inference time.")
    app.add_middleware(_BodyLimit, limit=limits.max_request_bytes)

    # every 4xx in the documented shape, {"error": "..."}, FastAPI's own answers included
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _error(*_validation_message(request, exc))

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        allow = (getattr(exc, "headers", None) or {}).get("Allow")
        msg = {404: f"no such page: {request.url.path}",
               405: f"{request.method} is not allowed on {request.url.path}" + (f" (use {allow})" if allow else "")
               }.get(exc.status_code, str(exc.detail))
        if exc.status_code == 400 and request.url.path == "/v1/transcribe":
            msg = f"cannot read the request as a multipart form ({exc.detail})"
        return JSONResponse({"error": msg}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    state = {"rec": recognizer}
    lanes = _Lanes(limits.concurrent, limits.short_concurrent)
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

    @app.post("/v1/transcribe", response_model=Transcription, response_model_exclude_unset=True, responses={
        200: {"description": "the transcript; warnings, without_list and attention_png only when they apply"},
        400: {"model": ErrorBody, "description": "not a multipart/form-data request"},
        413: {"model": ErrorBody, "description": "request too large"},
        422: {"model": ErrorBody, "description": "missing or bad fields, unreadable audio or a bad word list"}})
    def transcribe(audio: UploadFile = File(..., description="audio in any format soundfile reads"),
                   words: UploadFile | str | None = Form(None, description="JSON list of strings, or one entry a "
                                                                           "line; typed or a file (-F words=@names.txt)"),
                   bias: str = Form("auto", description=f"one of {', '.join(BIAS_MODES)}"),
                   compare: bool = Form(False, description="also return the transcript without the list"),
                   attention: bool = Form(False, description="also return the adapter's attention plot (PNG)"),
                   readable: bool = Form(True, alias="format", description="punctuation, casing and written numbers "
                                                                           "in text and words (false: the recognizer's "
                                                                           "words; raw_text has them either way)")):
        """Transcribe one recording with this request's word list."""
        if bias not in BIAS_MODES:
            return _error(422, f"bias must be one of {', '.join(BIAS_MODES)}")
        try:
            wlist, note = parse_words(words.file.read() if isinstance(words, StarletteUpload) else words, limits)
        except BiasingListError as e:
            return _error(422, str(e))
        finally:
            if isinstance(words, StarletteUpload):
                words.file.close()
        r = rec()
        opts = r.resolve(DecodingOptions(bias=bias, format=readable))
        try:
            r.check(opts)
        except ModeError as e:
            return _error(422, str(e))
        try:
            data = audio.file.read()
            # decoded audio and model state exist for at most concurrent + short_concurrent requests
            # at once, long recordings for at most `concurrent`
            with lanes.slot(short=_seconds(data) <= limits.short_seconds):
                notes: list[str] = []
                x = load_audio(data, max_seconds=limits.max_audio_seconds, notes=notes)
                del data
                res = r.transcribe(x, SAMPLE_RATE, words=wlist, options=opts, attention=attention)
                plain = r.transcribe(x, SAMPLE_RATE, options=opts, bias="none") if compare else None
        except (AudioError, BiasingListError) as e:
            return _error(422, str(e))
        finally:
            audio.file.close()
        out = {"audio": audio.filename, **res.to_dict(), "duration": round(res.duration, 3), "bias": opts.bias}
        out.pop("attention", None)
        out.pop("notes", None)  # the upload's own (its rate before resampling), in the warnings
        if plain is not None:
            plain.notes = []
        warnings = ([note] if note else []) + (warning_lines(*screen(wlist)[1:]) if opts.bias != "none" else [])
        # list entries skipped or changed (a duplicate, emoji left out), and the recording's flaws
        warnings = [f"words: {w}" for w in warnings] + [f"audio: {n}" for n in notes]
        if warnings:
            out["warnings"] = warnings
        if plain is not None:
            out["without_list"] = plain.to_dict()
        if attention and res.attention is not None:
            from ..inference.attention_plot import plot_attention

            out["attention_png"] = base64.b64encode(plot_attention(res)).decode()
        return out

    return app


class TimedWord(BaseModel):
    word: str
    start: float = Field(description="seconds from the start of the recording")
    end: float = Field(description="seconds")
    confidence: float = Field(description="0 to 1")
    entity: bool = Field(description="an entry of this request's word list, spelled as listed")


class Transcript(BaseModel):
    text: str = Field(description="the transcript (readable unless format=false)")
    raw_text: str = Field(description="the recognizer's words: spoken form, entities as listed")
    words: list[TimedWord]


class Transcription(Transcript):
    """The answer to ``POST /v1/transcribe``."""
    audio: str | None = Field(description="the uploaded file's name")
    duration: float = Field(description="seconds of audio")
    bias: str = Field(description="the biasing mode used (auto resolved)")
    warnings: list[str] | None = Field(None, description="word-list entries skipped or changed, or the list "
                                                         "read as Latin-1 (\"words: ...\"); flaws of the recording "
                                                         "that may cost accuracy, such as clipping or a narrow "
                                                         "band (\"audio: ...\"); only when there are some")
    without_list: Transcript | None = Field(None, description="the transcript without the list; with compare=true")
    attention_png: str | None = Field(None, description="base64 PNG of the adapter's attention; with "
                                                        "attention=true and a contextual adapter")


class ErrorBody(BaseModel):
    """Every 4xx answer: what is wrong, in one sentence."""
    error: str


def _error(status: int, msg: str) -> JSONResponse:
    return JSONResponse({"error": msg}, status_code=status)


_AUDIO_HINT = "send the recording as a file field named audio (curl -F audio=@call.wav)"


def _validation_message(request: Request, exc: RequestValidationError) -> tuple[int, str]:
    """One sentence for FastAPI's list of validation errors, without its internal names."""
    ctype = request.headers.get("content-type", "")
    if request.method == "POST" and not ctype.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        return 400, (f"{request.url.path} takes a multipart/form-data request (curl -F audio=@call.wav "
                     f"-F words=@names.txt), not {ctype.split(';')[0] or 'a body without a content type'}")
    parts = []
    for err in exc.errors():
        loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path", "header")]
        field = ".".join(loc) or "request"
        kind, given = err.get("type", ""), err.get("input")
        if kind == "missing":
            parts.append(f"{field}: missing; " + (_AUDIO_HINT if field == "audio" else "this field is required"))
        elif kind == "bool_parsing":
            parts.append(f"{field} must be true or false, not {given!r}")
        elif field == "audio":
            parts.append(f"audio must be a file upload, not a text field; {_AUDIO_HINT}")
        else:
            parts.append(f"{field}: {err.get('msg', 'invalid value').removeprefix('Value error, ')}")
    return 422, "; ".join(dict.fromkeys(parts)) or "invalid request"


def _version() -> str:
    from .. import __version__

    return __version__
