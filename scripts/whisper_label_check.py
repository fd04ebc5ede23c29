"""How good Whisper-base's transcripts are as training labels, by how sure Whisper was.

Transcribes script-labelled game clips (``games-train``, paired by name) as the games-sky set does
and prints, per avg log-prob limit, the share of clips kept and their WER against the script:
the numbers behind ``ctcbias.data.steel_sky.KEEP``.

    python scripts/whisper_label_check.py data/games --clips 100
"""

import argparse
import json
import random
from pathlib import Path

import jiwer
import soundfile as sf

from ctcbias.data.steel_sky import KEEP
from ctcbias.evaluation.peers import WhisperPromptPeer
from ctcbias.normalize import normalize

ap = argparse.ArgumentParser()
ap.add_argument("games", type=Path, help="folder with games-train.jsonl")
ap.add_argument("--clips", type=int, default=100)
args = ap.parse_args()

rows = [json.loads(line) for line in open(args.games / "games-train.jsonl")]
rows = [r for r in rows if r["label"] == "script" and r["pairing"] == "name"]
random.Random(0).shuffle(rows)
whisper = WhisperPromptPeer(threads=1)
heard = []
for r in rows[:args.clips]:
    audio, _ = sf.read(args.games / r["audio"], dtype="float32")
    segs = whisper.segments(audio)  # as the games-sky build transcribes
    heard.append((r["text"], normalize(" ".join(s.text for s in segs)), segs))

print(f"all: {len(heard)} clips, WER {jiwer.wer([h[0] for h in heard], [h[1] or '-' for h in heard]):.3f}")
for limit in (-1.0, -0.8, -0.6, -0.5, -0.4):
    kept = [h for h in heard if h[2] and all(s.avg_logprob >= limit and s.no_speech_prob <= KEEP["no_speech_prob"]
                                             and s.compression_ratio <= KEEP["compression_ratio"] for s in h[2])]
    if kept:
        wer = jiwer.wer([h[0] for h in kept], [h[1] or "-" for h in kept])
        print(f"avg log-prob >= {limit}: {len(kept)} clips ({len(kept) / len(heard):.0%}), WER {wer:.3f}")
