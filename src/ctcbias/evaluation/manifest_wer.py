"""WER of any manifest (a game-speech dev set, say) against ``ctcbias transcribe --manifest``
output, overall and by speaker, and Whisper-base's transcripts of the same clips as the reference
point::

    ctcbias transcribe --manifest data/games/games-dev.jsonl --bias none --out hyp.jsonl
    python -m ctcbias.evaluation.manifest_wer wer data/games/games-dev.jsonl hyp.jsonl
    python -m ctcbias.evaluation.manifest_wer whisper data/games/games-dev.jsonl whisper.jsonl
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

__all__ = ["wer", "whisper_hyps"]


def wer(manifest: Path, hyps: Path) -> dict:
    """WER of ``ctcbias transcribe --manifest`` output against a manifest (jiwer, as the base bench's
    real-speech WER), overall and by the manifest's ``character`` field.

    ``python -m ctcbias.evaluation.manifest_wer wer data/games/games-dev.jsonl hyp.jsonl``
    """
    import jiwer

    refs = {}
    for raw in Path(manifest).read_text().splitlines():
        it = json.loads(raw)
        refs[it["id"]] = (it["text"], it.get("character", "?"))
    pairs: dict[str, tuple[list, list]] = {}
    for raw in Path(hyps).read_text().splitlines():
        h = json.loads(raw)
        if h.get("id") in refs:
            ref, who = refs[h["id"]]
            for k in ("all", who):
                pairs.setdefault(k, ([], []))
                pairs[k][0].append(ref)
                pairs[k][1].append(h.get("raw_text", h.get("text", "")))  # the recognized words, unformatted
    return {k: {"wer": round(jiwer.wer(r, h), 4), "utterances": len(r)} for k, (r, h) in sorted(pairs.items())}


def whisper_hyps(manifest: Path, out: Path) -> None:
    """Whisper-base's transcripts of a manifest's clips as JSON lines like ``ctcbias transcribe``'s:
    the reference point for :func:`wer`, and a check of the name pairing (one thread)."""
    from tqdm import tqdm

    from ..audio import load_audio
    from ..normalize import normalize
    from .peers import WhisperPromptPeer

    model = WhisperPromptPeer(threads=1)
    rows = [json.loads(raw) for raw in Path(manifest).read_text().splitlines()]
    with open(out, "w") as f:
        for it in tqdm(rows, unit="clip", file=sys.stderr):
            text = normalize(model.transcribe(load_audio(Path(manifest).parent / it["audio"]), []))
            f.write(json.dumps({"id": it["id"], "text": text}) + "\n")


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] in ("wer", "whisper"):
        if sys.argv[1] == "wer":
            print(json.dumps(wer(Path(sys.argv[2]), Path(sys.argv[3])), indent=2))
        else:
            whisper_hyps(Path(sys.argv[2]), Path(sys.argv[3]))
    else:
        sys.exit("usage: python -m ctcbias.evaluation.manifest_wer wer MANIFEST HYPS | whisper MANIFEST OUT")
