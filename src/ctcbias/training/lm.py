"""Build the word n-gram LM from training text only, with every reserved entity kept out.

Text: the training transcripts (which the data factory already gated; when the folder holds no
``train.jsonl``, the factory's plan gives the same sentences without synthesizing them), the
training split of the carrier sentences, and the transcripts of any other training manifests
given (game speech, say), each checked again against the reserved-entity gate and against the dev
entities (so tuning on dev stays honest). kenlm's ``lmplz`` estimates a pruned 3-gram with
modified Kneser-Ney; ``build_binary`` stores it quantized.
"""

from __future__ import annotations

import json
import logging
import subprocess
from pathlib import Path

log = logging.getLogger("ctcbias.lm")


def build_lm(data: Path, out: Path, bin_dir: Path, order: int = 3, extra: tuple[Path, ...] = ()) -> dict:
    from ..data.build import BuildConfig, plan, sources
    from ..data.catalogs import dev_entity
    from ..data.catalogs import ReservedGate
    from ..data.text import split_of

    carriers, catalog, gate = sources()
    dev_gate = ReservedGate({e.spoken for ents in catalog.values() for e in ents
                             if not e.reserved and dev_entity(e.display)})
    train = data / "train.jsonl"
    if train.exists():
        texts = [json.loads(l)["text"] for l in train.open()]
    else:
        log.info("%s: missing; the factory's plan gives its sentences", train)
        texts = [it["text"] for it in plan(BuildConfig(out=data))["train"]]
    for manifest in extra:
        texts += [json.loads(l)["text"] for l in manifest.open() if l.strip()]
    texts += [c[1] for c in carriers if split_of(c[1]) == "train"]
    kept = [t for t in dict.fromkeys(texts) if t not in gate and t not in dev_gate]
    log.info("LM text: %d sentences (%d dropped by the reserved/dev gates)", len(kept), len(set(texts)) - len(kept))
    out.mkdir(parents=True, exist_ok=True)
    arpa = out / "lm.arpa.tmp"
    r = subprocess.run([str(bin_dir / "lmplz"), "-o", str(order), "--prune", "0", "1", "--discount_fallback",
                        "-S", "10%", "--arpa", str(arpa)], input="\n".join(kept) + "\n", text=True,
                       capture_output=True)
    if r.returncode != 0:
        raise RuntimeError(f"lmplz failed: {r.stderr[-800:]}")
    r = subprocess.run([str(bin_dir / "build_binary"), "-q", "8", "-b", "8", "trie", str(arpa), str(out / "lm.bin")],
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"build_binary failed: {r.stderr[-800:]}")
    arpa.unlink()
    (out / "lm.vocab").write_text("\n".join(sorted({w for t in kept for w in t.split()})) + "\n")
    stats = {"sentences": len(kept), "words": sum(len(t.split()) for t in kept), "order": order,
             "vocabulary": len({w for t in kept for w in t.split()}),
             "bytes": (out / "lm.bin").stat().st_size}
    (out / "lm.json").write_text(json.dumps(stats, indent=2) + "\n")
    return stats
