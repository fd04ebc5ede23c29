"""The ``ctcbias`` command line."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Teach a CTC recognizer new words at inference time.")


@app.command()
def data(
    action: str = typer.Argument("build", help="build"),
    out: Path = typer.Option(..., "--out", help="output folder for audio and manifests"),
    hours: float = typer.Option(40.0, min=0.001, help="hours of training speech"),
    dev_utts: int = typer.Option(500, min=1, help="dev utterances"),
    test_utts: int = typer.Option(500, min=1, help="utterances in each test set"),
    seed: int = typer.Option(0),
    jobs: int = typer.Option(os.cpu_count() or 1, min=1, help="parallel workers"),
    only: Optional[list[str]] = typer.Option(None, help="build only these sets (train, dev, medical-test, names-test)"),
):
    """Synthesize the training, dev and test sets (resumable)."""
    if action != "build":
        typer.echo(f"unknown action {action!r}: use 'build'", err=True)
        raise typer.Exit(2)
    from .data.build import TEST_SETS, BuildConfig, build

    unknown = set(only or []) - {"train", "dev", *TEST_SETS}
    if unknown:
        typer.echo(f"unknown set(s): {', '.join(sorted(unknown))}", err=True)
        raise typer.Exit(2)

    stats = build(BuildConfig(out=out, hours=hours, dev_utts=dev_utts, test_utts=test_utts, seed=seed, jobs=jobs),
                  only=only)
    typer.echo(json.dumps(stats, indent=2))


def _later(what: str, issue: str):
    typer.echo(f"ctcbias {what}: not built yet ({issue}).", err=True)
    raise typer.Exit(3)


@app.command()
def train():
    """Train the CTC stack (base model issue)."""
    _later("train", "the base model issue")


@app.command()
def transcribe():
    """Transcribe audio (base model issue)."""
    _later("transcribe", "the base model issue")


@app.command()
def bench():
    """Run the benchmark (benchmark issue)."""
    _later("bench", "the benchmark issue")


@app.command()
def serve():
    """Run the HTTP service (product surface issue)."""
    _later("serve", "the product surface issue")


if __name__ == "__main__":
    sys.exit(app())
