"""Join manifests from several sources into one training folder (``train.jsonl``, ``dev.jsonl``).

The base model trains on one ``train.jsonl``; its speech comes from several builds (synthetic
voices, Kokoro pseudo-speakers, game speech). A joined manifest names each source's audio by a
path relative to the new folder and prefixes ids with the source's folder name, since two builds
both number their utterances ``train-000000``. No audio is copied.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path


def _lines(manifest: Path, out: Path) -> list[dict]:
    """The manifest's items with ids prefixed by its folder's name and audio paths relative to ``out``."""
    if not manifest.is_file():
        raise FileNotFoundError(f"{manifest}: no such manifest")
    tag = manifest.resolve().parent.name
    items = []
    for line in manifest.open(encoding="utf-8"):
        if not line.strip():
            continue
        it = json.loads(line)
        it["id"] = f"{tag}-{it['id']}"
        it["audio"] = os.path.relpath((manifest.parent / it["audio"]).resolve(), out.resolve())
        items.append(it)
    return items


def mix(out: Path, train: list[Path], dev: Path) -> dict:
    """Write ``out/train.jsonl`` (every ``train`` manifest, in order) and ``out/dev.jsonl`` (``dev``);
    returns hours and utterances per source folder."""
    out.mkdir(parents=True, exist_ok=True)
    stats: dict = {}
    for name, manifests in (("train", train), ("dev", [dev])):
        if len({m.resolve() for m in manifests}) < len(manifests):
            raise ValueError(f"{name}: the same manifest twice: give each manifest once")
        parts: dict[str, list[dict]] = {}  # two manifests of one folder (games-train, games-sky) share a tag
        for m in manifests:
            parts.setdefault(m.resolve().parent.name, []).extend(_lines(m, out))
        items = [it for part in parts.values() for it in part]
        dup = [k for k, n in Counter(it["id"] for it in items).items() if n > 1]
        if dup:
            raise ValueError(f"{name}: the same utterance twice ({dup[0]}): ids would clash")
        with (out / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            for it in items:
                f.write(json.dumps(it, ensure_ascii=False) + "\n")
        stats[name] = {tag: {"utterances": len(part), "hours": round(sum(it.get("duration", 0.0) for it in part) / 3600, 3)}
                       for tag, part in parts.items()}
    (out / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    return stats
