"""The ``ctcbias`` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import NoReturn, Optional

import typer
from typer.core import TyperGroup

# what people type for an option, mapped to the option that does it
_ALIASES = {"output": "--out", "output-file": "--out", "output-dir": "--out-dir", "outdir": "--out-dir",
            "word-list": "--words", "wordlist": "--words", "words-file": "--words", "list": "--words",
            "plot": "--attention-plot", "attention": "--attention-plot"}


def _suggest(typed: str, ctx) -> str | None:
    """The option meant by an unknown ``typed`` one: a known alias, the one option it abbreviates,
    the longest option it extends, or one spelled almost alike; else none. (Click offers every
    option that looks a little alike: ``--bais`` got ``--bias, --manifest``.)"""
    import difflib

    params = ctx.command.params if ctx is not None else []
    longs = [o for p in params for o in (*p.opts, *getattr(p, "secondary_opts", ())) if o[:2] == "--"]
    names = {o[2:]: o for o in longs}
    name = typed.lstrip("-").lower()
    if _ALIASES.get(name) in longs:
        return _ALIASES[name]
    abbreviates = [o for n, o in names.items() if n.startswith(name)] if len(name) >= 3 else []
    if len(abbreviates) == 1:
        return abbreviates[0]
    extends = [o for n, o in names.items() if len(n) >= 3 and name.startswith(n)]
    if extends:
        return max(extends, key=len)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.75)
    return names[close[0]] if close else None


class _Group(TyperGroup):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except Exception as e:
            # a subcommand's unknown option (click's NoSuchOption; typer ships its own copy of
            # click, so it is known by its fields): a sensible suggestion or none
            if hasattr(e, "possibilities") and hasattr(e, "option_name"):
                best, e.possibilities = _suggest(e.option_name, getattr(e, "ctx", None)), None
                if best:
                    e.message = f"{e.message}; did you mean {best}?"
            raise


app = typer.Typer(cls=_Group, add_completion=False, no_args_is_help=True,
                  help="Teach a CTC recognizer new words at inference time.")


@app.command()
def data(
    action: str = typer.Argument("build", help="build: synthesize the sets; mix: join built manifests "
                                               "(--train, --dev) into one training folder"),
    out: Path = typer.Option(..., "--out", help="output folder for audio and manifests"),
    hours: float = typer.Option(40.0, min=0.001, help="hours of training speech"),
    dev_utts: int = typer.Option(500, min=1, help="dev utterances"),
    test_utts: int = typer.Option(500, min=1, help="utterances in each test set"),
    seed: int = typer.Option(0),
    jobs: int = typer.Option(os.cpu_count() or 1, min=1, help="parallel workers"),
    only: Optional[list[str]] = typer.Option(None, help="build only these sets (train, dev, dev-heldout, medical-test, names-test, games-train, games-dev, games-sky)"),
    kokoro_share: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="share of training utterances in "
                                                 "Kokoro pseudo-speakers (default: BuildConfig's; 0 with "
                                                 "--light-augment: the shipped model's training set)"),
    heavy_augment: Optional[bool] = typer.Option(None, "--heavy-augment/--light-augment",
                                                 help="the heavier training chain (pitch, band limit, codecs) or "
                                                      "the light one (default: BuildConfig's)"),
    train: Optional[list[Path]] = typer.Option(None, help="mix: a training manifest (repeat for each)"),
    dev: Optional[Path] = typer.Option(None, help="mix: the dev manifest"),
):
    """Synthesize the training, dev and test sets (resumable), or mix built ones into one folder."""
    if action == "mix":
        from .data.mix import mix

        if not train or dev is None:
            typer.echo("data mix: give --train (one or more manifests) and --dev", err=True)
            raise typer.Exit(2)
        try:
            typer.echo(json.dumps(mix(out, train, dev), indent=2))
        except (OSError, ValueError) as e:
            typer.echo(f"data mix: {e}", err=True)
            raise typer.Exit(2)
        return
    if action != "build":
        typer.echo(f"unknown action {action!r}: use 'build' or 'mix'", err=True)
        raise typer.Exit(2)
    from .data.build import DEV_SETS, TEST_SETS, BuildConfig, build
    from .data.games import GAME_SETS  # real game speech: --only games-train --only games-dev
    from .data.steel_sky import SKY_SET  # the other game's speech, Whisper-labelled: --only games-sky

    unknown = set(only or []) - {"train", *DEV_SETS, *TEST_SETS, *GAME_SETS, SKY_SET}
    if unknown:
        typer.echo(f"unknown set(s): {', '.join(sorted(unknown))}", err=True)
        raise typer.Exit(2)

    cfg = BuildConfig(out=out, hours=hours, dev_utts=dev_utts, test_utts=test_utts, seed=seed, jobs=jobs,
                      **_given(kokoro_share=kokoro_share, heavy_augment=heavy_augment))
    try:
        stats = build(cfg, only=only)
    except RuntimeError as e:  # a missing synthesizer or data package: the message says which
        typer.echo(f"data build: {e}", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps(stats, indent=2))


def _log_to(path: Path) -> None:
    """Training logs go to the work folder's file and to stderr."""
    import logging

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s",
                        handlers=[logging.FileHandler(path), logging.StreamHandler(sys.stderr)])


train_app = typer.Typer(no_args_is_help=True, help="Build the trained artifacts.")


def _given(**options) -> dict:
    """The options given on the command line; the rest keep their config dataclass's defaults."""
    return {k: v for k, v in options.items() if v is not None}


class _LoopOptions:
    """The options of the commands that run a training loop: the settings every
    :class:`~ctcbias.training.loop.LoopConfig` has, declared once (:func:`_loop_command`)."""

    def __init__(self, data: Path, feats: Path, work: Path, epochs: float | None, limit_minutes: float,
                 lr: float | None, warmup: int | None, init: Path | None):
        self.data, self.feats, self.work, self.init = data, feats, work, init
        self.limit_minutes, self.epochs, self.lr, self.warmup = limit_minutes, epochs, lr, warmup

    def start_log(self) -> None:
        """The work folder made, and the run's log going to its ``train.log`` and to stderr."""
        self.work.mkdir(parents=True, exist_ok=True)
        _log_to(self.work / "train.log")

    def config(self, cls, **fields):
        """A ``cls`` (a LoopConfig) with these options and ``fields``; what was not given keeps its default."""
        return cls(data=self.data, feats=self.feats, work=self.work, limit_minutes=self.limit_minutes, init=self.init,
                   **_given(epochs=self.epochs, lr=self.lr, warmup=self.warmup), **fields)


def _loop_command(name: str, config: str, work: Path, work_help: str, init_help: str):
    """Register ``f(loop, **own)`` as the training command ``train NAME``: its options are the
    loop's (``config``: the config class whose defaults apply), given to it as ``loop``, then its own."""
    import functools
    import inspect
    import typing

    shared = {
        "data": (Path, typer.Option(Path("data/synth"), help="data factory output")),
        "feats": (Path, typer.Option(Path("data/feats"), help="encoder feature cache (made by 'train base')")),
        "work": (Path, typer.Option(work, help=work_help)),
        "epochs": (Optional[float], typer.Option(None, min=0.01, help=f"passes over the training set (default: "
                                                                     f"{config}'s)")),
        "limit_minutes": (float, typer.Option(0.0, min=0.0, help="stop (resumable) after this long; 0 = no limit")),
        "lr": (Optional[float], typer.Option(None, min=0.0, help=f"default: {config}'s")),
        "warmup": (Optional[int], typer.Option(None, min=1, help=f"warm-up steps (default: {config}'s)")),
        "init": (Optional[Path], typer.Option(None, help=init_help)),
    }

    def wrap(command):
        hints = typing.get_type_hints(command)
        kind = inspect.Parameter.POSITIONAL_OR_KEYWORD
        params = [inspect.Parameter(n, kind, default=d, annotation=t) for n, (t, d) in shared.items()]
        params += [p.replace(annotation=hints[p.name]) for p in inspect.signature(command).parameters.values()
                   if p.name != "loop"]

        @functools.wraps(command)
        def run(**kw):
            return command(_LoopOptions(**{n: kw.pop(n) for n in shared}), **kw)

        run.__signature__ = inspect.Signature(params)
        run.__annotations__ = {p.name: p.annotation for p in params}
        return train_app.command(name)(run)

    return wrap


app.add_typer(train_app, name="train")


@_loop_command("base", "TrainConfig", Path("data/train-work"), "checkpoints and lexicon",
               "start from an earlier run's checkpoint (last.pt) or a shipped stack.pt")
def train_base(
    loop: _LoopOptions,
    out: Path = typer.Option(Path("src/ctcbias/assets/base"), help="where the shipped model goes"),
    jobs: int = typer.Option(2, min=1, help="encoder workers for the feature cache"),
    time_mask_max: Optional[int] = typer.Option(None, min=0, help="SpecAugment: longest time mask, encoder frames "
                                                                  "(default: SpecAugment's)"),
    dim_mask_max: Optional[int] = typer.Option(None, min=0, help="SpecAugment: widest feature mask (default: "
                                                                 "SpecAugment's)"),
    pad: float = typer.Option(0.0, min=0.0, max=30.0,
                              help="seconds of zero audio after each clip in the encoder (30: Whisper's own window)"),
    pack: bool = typer.Option(False, help="with --pad 30: several training clips share one window (cheaper)"),
    tune_blocks: int = typer.Option(0, min=0, max=5, help="fine-tune the encoder's last blocks (up to 5 of Whisper-base's 6) with the stack "
                                                          "(the cache then holds the output of the block below)"),
    tune_lr_scale: Optional[float] = typer.Option(None, min=0.0, help="those blocks' learning rate relative to "
                                                                      "the stack's (default: TrainConfig's)"),
    units: str = typer.Option("unigram", help="output units of a new tokenizer: 'unigram' (sentencepiece "
                                              "subwords) or 'char' (letters); an --out that holds subwords.model "
                                              "keeps its units"),
):
    """Cache encoder features (resumable), then train the CTC stack (resumable) and export it."""
    from .training.features import cache_features
    from .training.loop import SpecAugment
    from .training.train import TrainConfig, train

    for name in ("train", "dev"):
        if not (loop.data / f"{name}.jsonl").exists():
            typer.echo(f"{loop.data / (name + '.jsonl')}: missing; run 'ctcbias data build' first", err=True)
            raise typer.Exit(2)
    loop.start_log()
    if pack and pad < 30:
        typer.echo("--pack needs --pad 30", err=True)
        raise typer.Exit(2)
    for name in ("dev", "train"):
        cache_features(loop.data / f"{name}.jsonl", loop.feats, jobs=jobs, pad=pad, pack=pack and name == "train",
                       layer=-1 - tune_blocks)
    augment = SpecAugment(**_given(time_mask_max=time_mask_max, dim_mask_max=dim_mask_max))
    if units not in ("unigram", "char"):
        typer.echo(f"--units {units}: 'unigram' or 'char'", err=True)
        raise typer.Exit(2)
    train(loop.config(TrainConfig, out=out, augment=augment, tune_blocks=tune_blocks, units=units,
                      **_given(tune_lr_scale=tune_lr_scale)))


@_loop_command("adapter", "AdapterTrainConfig", Path("data/adapter-work"), "checkpoints and log",
               "start from this adapter (adapter.pt or a checkpoint): a second phase with its own schedule")
def train_adapter_cmd(
    loop: _LoopOptions,
    model: Path = typer.Option(Path("src/ctcbias/assets/base"), help="the frozen base; adapter.pt goes beside it"),
    max_distractors: Optional[int] = typer.Option(None, min=0, help="most distractors in a training list "
                                                                    "(default: AdapterTrainConfig's)"),
    sound_alikes: Optional[float] = typer.Option(None, min=0.0, max=1.0, help="share of batches whose list also "
                                                 "holds each utterance's shortlist of a big list of training "
                                                 "entities (default: AdapterTrainConfig's)"),
):
    """Train the contextual adapter (encoder biasing) on the frozen base stack, resumable."""
    from .training.adapter import AdapterTrainConfig, train_adapter

    if not (model / "stack.pt").exists() or not (loop.feats / "train").exists():
        typer.echo(f"need a trained base in {model} and its feature cache in {loop.feats} ('ctcbias train base')",
                   err=True)
        raise typer.Exit(2)
    loop.start_log()
    train_adapter(loop.config(AdapterTrainConfig, model=model,
                              **_given(max_distractors=max_distractors, p_sound_alike=sound_alikes)))


@train_app.command("lm")
def train_lm(
    data: Path = typer.Option(Path("data/synth"), help="data factory output"),
    out: Path = typer.Option(Path("src/ctcbias/assets/base"), help="where lm.bin goes"),
    kenlm_bin: Path = typer.Option(Path("build/kenlm/bin"), help="folder with kenlm's lmplz and build_binary"),
    order: int = typer.Option(3, min=1, max=6),
    text: Optional[list[Path]] = typer.Option(None, help="more training manifests whose transcripts join the "
                                                        "text (repeat for each)"),
):
    """Build the word n-gram LM (kenlm) from the training text, reserved and dev entities left out."""
    import logging

    from .training.lm import build_lm

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if not (kenlm_bin / "lmplz").exists():
        typer.echo(f"{kenlm_bin}/lmplz not found: build kenlm's tools first (scripts/build_kenlm.sh)", err=True)
        raise typer.Exit(2)
    missing = [str(p) for p in text or [] if not p.is_file()]
    if missing:
        typer.echo(f"{missing[0]}: no such manifest", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps(build_lm(data, out, kenlm_bin, order, tuple(text or ())), indent=2))


def _need_dev(data: Path, log: bool = False) -> None:
    """Exit with a clear error when the data factory's dev set is not there; ``log``: then show the
    fitting's progress lines."""
    if not (data / "dev.jsonl").exists():
        typer.echo(f"{data}/dev.jsonl not found: build the dev set first ('ctcbias data build --only dev')", err=True)
        raise typer.Exit(2)
    if log:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")


@train_app.command("confidence")
def train_confidence(
    data: Path = typer.Option(Path("data/synth"), help="data factory output (its dev set is used)"),
    out: Path = typer.Option(Path("src/ctcbias/assets/base/confidence.json"), help="the calibration's file"),
    n: int = typer.Option(150, min=10, help="dev utterances with entities (from the first)"),
):
    """Fit the word-confidence calibration (a monotone map per word kind) on dev decodes."""
    from .evaluation.calibration import fit

    _need_dev(data)
    typer.echo(json.dumps(fit(data, out, n), indent=2))


@train_app.command("lookup")
def train_lookup(
    data: Path = typer.Option(Path("data/synth"), help="data factory output (its dev set is used)"),
    out: Path = typer.Option(Path("src/ctcbias/assets/base/lexicon_lookup.json"), help="the judge's file"),
    model: Optional[Path] = typer.Option(None, help="model folder whose heads it judges (default: shipped)"),
    n: int = typer.Option(200, min=10, help="dev utterances with entities"),
    hidden: int = typer.Option(16, min=0, help="the judge's hidden units (0: a logistic regression)"),
):
    """Fit the lexicon lookup's judges (small networks over alignment evidence; with an adapter, also
    the joint one that weighs its attention, written beside OUT as *_joint.json) on dev lists."""
    from .training.lookup import fit

    _need_dev(data, log=True)
    typer.echo(json.dumps(fit(data, out, model, n, hidden=hidden), indent=2))


@train_app.command("shortlist-check")
def train_shortlist_check(
    data: Path = typer.Option(Path("data/synth"), help="data factory output (its dev set is used)"),
    out: Path = typer.Option(Path("src/ctcbias/assets/base/shortlist_check.json"), help="the check's file"),
    model: Optional[Path] = typer.Option(None, help="model folder whose decodes it checks (default: shipped)"),
    n: int = typer.Option(200, min=10, help="dev utterances with entities"),
    hidden: int = typer.Option(8, min=0, help="the network's hidden units (0: logistic regression)"),
    heldout_from: Optional[int] = typer.Option(
        None, min=0, help="also fit on dev-heldout's utterances with entities from this one on (keep the "
                          "ones before it for scoring)"),
):
    """Fit the check of big lists' shortlist decodes (a small network over each decoded entity's
    phone evidence; with the adapter's attention too in <out>_joint.json) on dev utterances with
    1,000- to 20,000-entry lists of unreserved catalog entities."""
    from .training.shortlist_check import fit

    _need_dev(data, log=True)
    typer.echo(json.dumps(fit(data, out, model, n, hidden=hidden, heldout_from=heldout_from), indent=2))


@train_app.command("punctuation")
def train_punctuation_cmd(
    out: Path = typer.Option(Path("src/ctcbias/assets/base/punctuation.npz"), help="the model's file"),
    seed: int = typer.Option(0, help="the data factory's plan seed (the same sentences as 'data build')"),
    iterations: Optional[int] = typer.Option(None, min=1, help="L-BFGS iterations (default: PunctTrainConfig's)"),
):
    """Fit the punctuation and casing model on the data factory's training sentences (text only, no
    audio: the factory's plan, its data packages installed)."""
    import logging

    from .training.punctuation import PunctTrainConfig, train_punctuation

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    try:
        r = train_punctuation(PunctTrainConfig(out=out, seed=seed, **_given(iterations=iterations)))
    except RuntimeError as e:  # a data package missing: the message says which
        typer.echo(f"train punctuation: {e}", err=True)
        raise typer.Exit(2)
    typer.echo(json.dumps(r, indent=2))


def _usage(msg: str) -> NoReturn:
    """Bad usage: one line on stderr, exit 2."""
    typer.echo(msg, err=True)
    raise typer.Exit(2)


def _read_words(words_file: Optional[Path], word: Optional[list[str]]) -> list[str]:
    """``--word`` entries and the ``--words`` file's (a JSON list of strings or one entry a line),
    checked against the list limits; a problem exits 2 with one line."""
    from .inference.wordlist import BiasingListError, check_word_list, decode_word_list, parse_word_list

    out = [w.strip() for w in word or [] if w.strip()]
    if words_file is not None:
        if words_file.is_dir():
            _usage(f"--words {words_file}: is a folder, not a word list file")
        try:
            text, note = decode_word_list(words_file.read_bytes())
            entries = parse_word_list(text)
            out += entries
            if note:  # read all the same, as the service reads the same bytes
                typer.echo(f"--words {words_file}: {note}", err=True)
            if not entries:  # an empty contact list is no mistake, but a wrong file might be
                typer.echo(f"--words {words_file}: no entries in it; transcribing without them", err=True)
        except OSError as e:
            _usage(f"--words {words_file}: {_os_why(e)}")
        except BiasingListError as e:
            _usage(f"--words {words_file}: {e}")
    try:
        check_word_list(out)
    except BiasingListError as e:
        _usage(f"word list: {e}")
    return out


def _echo_list_warnings() -> None:
    """Entries a word list skips or changes as it compiles (the manifest's lists too), one line
    each on stderr, between the progress bar's updates."""
    import logging

    from tqdm import tqdm

    class Echo(logging.Handler):
        def emit(self, record):
            tqdm.write(record.getMessage(), file=sys.stderr)

    log = logging.getLogger("ctcbias.inference.biasing_list")
    if not any(type(h).__name__ == "Echo" for h in log.handlers):  # once per process, however often called
        log.addHandler(Echo())


def _os_why(e: OSError) -> str:
    """An OS error in a few words, without the path (the caller's line names it once)."""
    return {FileNotFoundError: "no such file", IsADirectoryError: "is a folder",
            PermissionError: "permission denied"}.get(type(e), (e.strerror or str(e)).lower())


def _unwritable(path: Path) -> str | None:
    """Why a file cannot be written at ``path`` (checked before the model loads), or None."""
    if path.is_dir():
        return "is a folder"
    parent = path.parent
    if not parent.exists():
        return f"no such folder {parent}"
    if not parent.is_dir():
        return f"{parent} is not a folder"
    if not os.access(path if path.exists() else parent, os.W_OK):
        return "permission denied"
    return None


def _unusable_dir(d: Path) -> str | None:
    """Why ``d`` cannot be (created and) written as an output folder, or None."""
    if d.exists():
        if not d.is_dir():
            return "is a file, not a folder"
        return None if os.access(d, os.W_OK) else "permission denied"
    up = d.parent
    while not up.exists():
        up = up.parent
    if not up.is_dir():
        return f"cannot be created: {up} is a file"
    return None if os.access(up, os.W_OK) else f"cannot be created in {up}: permission denied"


def _audio_why(e: Exception, path: Path) -> str:
    """An audio error's message without the path it may start with (the error line names it once)."""
    msg = str(e)
    for prefix in (f"{path}: ", "audio: "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    return msg


def _read_manifest(manifest: Path, words: list[str]) -> list[dict]:
    """The manifest's jobs, ``{"id", "audio", "path", "words"}``; a bad line exits 2 with its number."""
    if manifest.is_dir():
        _usage(f"--manifest {manifest}: is a folder, not a JSON lines file")
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        _usage(f"--manifest {manifest}: not UTF-8 text")
    except OSError as e:
        _usage(f"--manifest {manifest}: {_os_why(e)}")
    from .inference.wordlist import BiasingListError, check_word_list

    jobs = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            it = json.loads(line)
            p = Path(it["audio"])
        except (ValueError, KeyError, TypeError):
            _usage(f"{manifest}:{n}: not a JSON object with an \"audio\" field")
        own = it.get("words", words)
        if not isinstance(own, list) or not all(isinstance(w, str) for w in own):
            _usage(f"{manifest}:{n}: \"words\" must be a list of strings")
        try:
            check_word_list(own)
        except BiasingListError as e:
            _usage(f"{manifest}:{n}: \"words\": {e}")
        jobs.append({"id": it.get("id", str(n)), "audio": it["audio"],
                     "path": p if p.is_absolute() else manifest.parent / p, "words": own})
    return jobs


FORMATS = ("text", "json", "srt", "vtt")


@app.command()
def transcribe(
    audio: Optional[list[Path]] = typer.Argument(None, help="audio files (any format soundfile reads)"),
    fmt: str = typer.Option("text", "--format", "-f", help="text | json (one object per file) | srt | vtt"),
    as_json: bool = typer.Option(False, "--json", help="same as --format json"),
    manifest: Optional[Path] = typer.Option(None, help='JSON lines {"id", "audio", "words"} to transcribe'),
    out: Optional[Path] = typer.Option(None, help="write the output here instead of stdout (JSON lines with --manifest)"),
    out_dir: Optional[Path] = typer.Option(None, help="one file per audio file, written here: <name>.txt, .json, "
                                                      ".srt or .vtt as --format says"),
    model: Optional[Path] = typer.Option(None, help="trained model folder (default: the shipped one)"),
    encoder: Optional[Path] = typer.Option(None, help="CTranslate2 Whisper model.bin or folder (default: Whisper-base)"),
    words_file: Optional[Path] = typer.Option(None, "--words", help="biasing list file: one entry a line, or a "
                                                                    "JSON list of strings"),
    word: Optional[list[str]] = typer.Option(None, "--word", help="a biasing entry (repeatable)"),
    bias: str = typer.Option("auto", help="none | decoder | encoder (adapter) | joint | auto (joint when the "
                                          "model has an adapter, else decoder)"),
    techniques: str = typer.Option(",".join(("subword", "unigram", "phonetic", "lexicon", "g2g")),
                                   help="decoder techniques, comma-separated: subword,unigram,phonetic,lexicon,g2g"),
    greedy: bool = typer.Option(False, help="best unit per frame: no beam search, no LM, no list"),
    guard: bool = typer.Option(True, help="the false-positive guards: entities must sound like the audio, "
                                          "stricter with longer lists (--no-guard: more recall, more false entities)"),
    word_guard: bool = typer.Option(True, help="where biasing brings no entity in, the words are those of decoding "
                                                "without the list (--no-word-guard: biasing may change any word)"),
    attention_plot: Optional[Path] = typer.Option(None, help="PNG of the adapter's attention over the list "
                                                             "(one audio file, encoder or joint biasing)"),
    readable: bool = typer.Option(True, " /--no-format", help="--no-format: the recognizer's words as they are "
                                                              "(lower case, no punctuation, numbers spelled out)"),
):
    """Transcribe audio files or a manifest.

    Exit codes: 0 all transcribed; 1 some inputs failed (their errors on stderr, the rest done);
    2 bad usage (options, word list, manifest); 3 the model could not be loaded."""
    # usage first, all of it before the model loads (seconds): a mistake costs one line, at once
    fmt = "json" if as_json else fmt
    if fmt not in FORMATS:
        _usage(f"--format must be one of {', '.join(FORMATS)}")
    if not audio and manifest is None:
        _usage("give audio files or --manifest")
    if manifest is not None and fmt in ("srt", "vtt"):
        _usage("--manifest writes JSON lines; --format srt/vtt is for audio files")
    if manifest is not None and out_dir is not None:
        _usage("--manifest writes JSON lines to --out or stdout; --out-dir is for audio files")
    if out is not None and out_dir is not None:
        _usage("--out (everything in one file) or --out-dir (one file per audio file), not both")
    if fmt in ("srt", "vtt") and len(audio or []) > 1 and out_dir is None:
        _usage(f"--format {fmt} with several files needs --out-dir")
    if attention_plot is not None:
        if len(audio or []) != 1 or manifest is not None:
            _usage("--attention-plot takes exactly one audio file")
        if bias in ("none", "decoder"):
            _usage(f"--attention-plot draws the contextual adapter's attention; --bias {bias} does not use the "
                   "adapter (use encoder, joint or auto)")
    for flag, path in (("--out", out), ("--attention-plot", attention_plot)):
        if path is not None and (why := _unwritable(path)):
            _usage(f"{flag} {path}: {why}")
    if out_dir is not None:
        if why := _unusable_dir(out_dir):
            _usage(f"--out-dir {out_dir}: {why}")
        stems = [Path(a).stem for a in audio or []]
        if dup := next((x for x in stems if stems.count(x) > 1), None):
            _usage(f"--out-dir: several audio files are named {dup!r}; their outputs would overwrite each other")
    words = _read_words(words_file, word)
    if attention_plot is not None and not words:
        _usage("--attention-plot needs a word list (--words or --word): the adapter attends over its entries")
    jobs: list[dict] = [{"audio": str(a), "path": a, "words": words} for a in audio or []]
    if manifest is not None:
        jobs += _read_manifest(manifest, words)
    from .inference.recognizer import NO_GUARDS, DecodingOptions

    try:
        opts = DecodingOptions(bias=bias, greedy=greedy, word_guard=word_guard, format=readable,
                               techniques=tuple(t.strip() for t in techniques.split(",") if t.strip()),
                               **({} if guard else NO_GUARDS))
    except ValueError as e:
        _usage(str(e))
    from tqdm import tqdm

    from .audio import AudioError
    from .inference.biasing_list import BiasingListError
    from .inference.recognizer import ModeError, Recognizer

    try:
        rec = Recognizer.load(model, encoder)
    except (FileNotFoundError, ValueError, RuntimeError, OSError) as e:
        typer.echo(f"cannot load the model: {e}", err=True)
        raise typer.Exit(3)
    opts = rec.resolve(opts)
    try:
        rec.check(opts)
    except ModeError as e:
        _usage(f"--bias {opts.bias}: {e}")
    if attention_plot is not None and rec.adapter is None:
        _usage(f"--attention-plot: {rec.model_dir} has no contextual adapter, so there is no attention to draw")
    _echo_list_warnings()
    if words and manifest is None:  # one list for all files: check it (and compile it) once
        try:
            words = rec.compile(words, opts)
        except BiasingListError as e:
            typer.echo(f"word list: {e}", err=True)
            raise typer.Exit(2)
        for job in jobs:
            job["words"] = words
    # the checks above make these rare (a full disk, a folder removed meanwhile): one line, not a traceback
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            _usage(f"--out-dir {out_dir}: {_os_why(e)}")
    try:
        sink = open(out, "w", encoding="utf-8") if out else sys.stdout
    except OSError as e:
        _usage(f"--out {out}: {_os_why(e)}")
    json_lines = fmt == "json" or manifest is not None
    failed = 0

    def fail(job: dict, why: str) -> None:
        nonlocal failed
        failed += 1
        tqdm.write(f"error: {job['audio']}: {why}", file=sys.stderr)  # on a line of its own, not after the bar
        if json_lines and out_dir is None:  # JSON lines keep one line per input, failed ones included
            print(json.dumps({**({"id": job["id"]} if "id" in job else {}), "audio": job["audio"], "error": why},
                             ensure_ascii=False), file=sink, flush=True)

    try:
        for job in tqdm(jobs, unit="file", disable=len(jobs) < 2, file=sys.stderr):
            if job["path"].is_dir():
                fail(job, "is a folder, not an audio file")
                continue
            try:
                r = rec.transcribe(job["path"], words=job["words"], options=opts,
                                   attention=attention_plot is not None, progress=len(jobs) == 1)
            except (AudioError, BiasingListError) as e:
                fail(job, _audio_why(e, job["path"]))
                continue
            for note in r.notes:  # clipping, a narrow band
                tqdm.write(f"note: {job['audio']}: {note}", file=sys.stderr)
            if not r.text:  # an empty line alone would look like a failure
                tqdm.write(f"note: {job['audio']}: no speech found (silent or too unclear)", file=sys.stderr)
            if json_lines:
                obj = {**({"id": job["id"]} if "id" in job else {}), "audio": job["audio"], **r.to_dict()}
                text = json.dumps(obj, ensure_ascii=False) + "\n"
            elif fmt in ("srt", "vtt"):
                from .inference.formats import to_srt, to_vtt

                text = (to_srt if fmt == "srt" else to_vtt)(r)
            else:
                text = (r.text if len(jobs) == 1 or out_dir is not None else f"{job['audio']}\t{r.text}") + "\n"
            if out_dir is not None:
                dest = out_dir / f"{Path(job['audio']).stem}.{'txt' if fmt == 'text' else fmt}"
                try:
                    dest.write_text(text, encoding="utf-8")
                except OSError as e:
                    fail(job, f"cannot write {dest}: {_os_why(e)}")
                    continue
            else:
                print(text, end="", file=sink, flush=True)
            if attention_plot is not None:
                if r.attention is None:
                    fail(job, "no attention to plot (silent audio, or a model without a contextual adapter)")
                    continue
                from .inference.attention_plot import plot_attention

                try:
                    plot_attention(r, attention_plot)
                except OSError as e:
                    fail(job, f"cannot write the attention plot {attention_plot}: {_os_why(e)}")
    finally:
        if out:
            sink.close()
    if failed:
        raise typer.Exit(1)


from .batch import command as _batch  # noqa: E402  (its implementation lives in batch.py)

app.command("batch")(_batch)


@app.command()
def bench(
    suite: str = typer.Argument("all", help="all: the full report (bench/RESULTS.md); base: the base model's "
                                            "bars; decoder: the decoder-biasing ablation; load: the service "
                                            "under concurrent requests (bench/LOAD.md); long: recordings of "
                                            "20 test utterances against the same utterances alone (bench/LONG.md); "
                                            "confidence: reliability of word confidences on dev-heldout "
                                            "(bench/CONFIDENCE.md); format: punctuation, casing and written "
                                            "numbers (bench/FORMAT.md); scaling: lists of up "
                                            "to 20,000 entries (bench/SCALING.md)"),
    data: Path = typer.Option(Path("data/synth"), help="data factory output"),
    realspeech: Path = typer.Option(Path("../shared/realspeech"), help="real speech eval set"),
    out: Path = typer.Option(Path("bench"), help="where results go"),
    quick: bool = typer.Option(False, help="all: a small subset of every section, a few minutes"),
    limit: int = typer.Option(0, min=0, help="base / decoder: only the first N utterances of each set; long: N "
                                             "recordings a set (default 5); confidence: N utterances (default 126); "
                                             "scaling: N utterances a set (default 30)"),
    dev: bool = typer.Option(False, help="decoder: also run the dev set (with dev-entity lists)"),
    dev_from: int = typer.Option(0, min=0, help="decoder: dev from its N-th utterance with entities (200: "
                                                "those the lookup's judge was not fitted on)"),
    dev_only: bool = typer.Option(False, help="decoder: the dev set only, no test sets"),
    dev_set: str = typer.Option("dev", help="decoder: which dev set, dev (training voices) or dev-heldout "
                                            "(the same utterances in the held-out voices)"),
    requests: int = typer.Option(50, min=1, max=500, help="load: concurrent requests"),
):
    """Run a benchmark and write its results file."""
    if suite not in ("all", "base", "decoder", "load", "long", "confidence", "format", "scaling"):
        typer.echo(f"unknown suite {suite!r}: all, base, decoder, load, long, confidence, format or scaling", err=True)
        raise typer.Exit(2)
    from .data.build import DEV_SETS

    if dev_set not in DEV_SETS:
        typer.echo(f"unknown dev set {dev_set!r}: {' or '.join(DEV_SETS)}", err=True)
        raise typer.Exit(2)
    if suite == "format":
        from .evaluation.format_bench import run as run_format

        r = run_format(out, data)
        typer.echo(json.dumps({"punctuation": r["punctuation"]["marks"], "casing": r["punctuation"]["casing_accuracy"],
                               "itn": r["itn"]["accuracy"], "format_share": r["time"]["format_share"]}, indent=2))
        typer.echo(f"written to {out}/FORMAT.md")
        return
    if suite == "scaling":
        from .evaluation.scaling import run as run_scaling

        r = run_scaling(data, out, limit=limit or 30)
        typer.echo(json.dumps(r["sizes"], indent=2))
        typer.echo(f"written to {out}/SCALING.md")
        return
    if suite == "load":
        from .evaluation.load import run as run_load

        r = run_load(out, requests)
        typer.echo(json.dumps(r, indent=2))
        typer.echo(f"written to {out}/LOAD.md")
        raise typer.Exit(1 if r["errors"] or r["wrong_answers"] else 0)
    if suite == "confidence":
        from .evaluation.calibration import BENCH_N, run as run_confidence

        if not (data / "dev-heldout.jsonl").exists():
            typer.echo(f"{data}/dev-heldout.jsonl: missing (ctcbias data build --only dev-heldout)", err=True)
            raise typer.Exit(2)
        r = run_confidence(data, out, n=limit or BENCH_N)
        typer.echo(json.dumps({k: {"words": v["words"], "raw_ece": v["raw_ece"], "calibrated_ece": v["calibrated_ece"]}
                               for k, v in r["kinds"].items()}, indent=2))
        typer.echo(f"written to {out}/CONFIDENCE.md")
        return
    for p in [data / f"{s}.jsonl" for s in ("medical-test", "names-test")] + [realspeech / "manifest.jsonl"]:
        if not p.exists():
            typer.echo(f"{p}: missing (build the test sets with 'ctcbias data build'; realspeech ships in ../shared)",
                       err=True)
            raise typer.Exit(2)
    if suite == "long":
        from .evaluation.long_audio import run as run_long

        run_long(data, out, recordings=limit or 5)
        typer.echo(f"written to {out}/LONG.md")
        return
    if suite == "all":
        from .evaluation.report import run as run_all

        r = run_all(data, realspeech, out, quick=quick)
        typer.echo(f"written to {out}/RESULTS.md in {r['wall_seconds'] / 60:.1f} min")
        return
    if suite == "decoder":
        from .evaluation.biasing import run as run_decoder

        if (dev or dev_only) and not (data / f"{dev_set}.jsonl").exists():
            typer.echo(f"{data / dev_set}.jsonl: missing (ctcbias data build --only {dev_set})", err=True)
            raise typer.Exit(2)
        run_decoder(data, out, limit, with_dev=dev or dev_only, dev_from=dev_from, dev_set=dev_set,
                    **({"sets": ()} if dev_only else {}))
        typer.echo(f"written to {out}/DECODER.md")
        return
    from .evaluation.base import run

    r = run(data, realspeech, out, limit)
    typer.echo(json.dumps({k: r[k] for k in ("sets", "dev", "rtf_10s")}, indent=2))
    typer.echo(f"realspeech WER {r['realspeech']['wer']:.1%}; written to {out}/BASE.md")


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", help="address to listen on"),
    port: int = typer.Option(8000, min=1, max=65535),
    workers: int = typer.Option(1, min=1, help="processes, each with its own copy of the model"),
):
    """Run the HTTP service: POST /v1/transcribe, GET /health, the web page at /, OpenAPI at /docs."""
    import uvicorn

    uvicorn.run("ctcbias.service.app:create_app", factory=True, host=host, port=port, workers=workers)


if __name__ == "__main__":
    sys.exit(app())
