"""Real human speech from *Beneath a Steel Sky*, with Whisper's transcripts as labels: ``games-sky``.

Why: after *Flight of the Amazon Queen* (:mod:`ctcbias.data.games`) this is the other freeware
talkie in Debian main (``beneath-a-steel-sky`` 0.0372-8, CD version): about 2 h of acted English
speech by other actors. Its script is Huffman-coded with trees that live in the game engine's
source, not in the data, so the clips are labelled by Whisper-base (the offline weights of
:class:`ctcbias.evaluation.peers.WhisperPromptPeer`) and a clip is kept only where Whisper is
confident (:data:`KEEP`). Every item is marked ``label: "whisper"``; the set is for training only.

The game data:

- ``sky.dnr`` indexes ``sky.dsk``: a little-endian count, then 8 bytes a file: its number (16 bits),
  its offset (24 bits; bit 23 set: the offset counts 16-byte units) and its size and flags
  (24 bits: size in the low 22, bit 22 "the packed data holds the header", bit 23 "stored as is").
- A file starts with a 22-byte header whose first word's bit 7 says "RNC-packed" (:func:`rnc_unpack`).
- Speech line ``n`` of script section ``s`` is file ``50000 + first[s] + n``: the files numbered
  50000-55999. Its samples follow the header: 8-bit unsigned mono at 11,025 Hz.

Licence (``/usr/share/doc/beneath-a-steel-sky/copyright``): game content (C) Revolution Software,
"Beneath-a-Steel-Sky-License": free redistribution with the readme and notices intact, no fee for
the game itself, modification allowed if marked as modified. The derived audio stays out of git
(``data/games``) and is rebuilt from the package.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

__all__ = ["SKY_SET", "KEEP", "SkyFile", "rnc_unpack", "read_index", "load_file", "speech_files",
           "keep", "build_sky"]

SKY_SET = "games-sky"
PACKAGE, VERSION = "beneath-a-steel-sky", "0.0372-8"
GAME_DIR = "usr/share/scummvm/beneath-a-steel-sky"
GAME = "sky"
RATE = 11025
HEADER = 22
SPEECH = range(50000, 56000)
# Whisper's own retry limits are avg log-prob -1.0, no-speech 0.6, compression 2.4. On 102 script-
# labelled Amazon Queen training clips Whisper-base's WER was 10.5%; clips with every segment at
# -0.5 or better: 65% of them, 6.3% WER; at -0.8: 94%, 8.5%. The cleaner labels are the default
# (on sky.dsk: 2,513 clips, 1.44 h; at -0.8 3,328 clips, 1.85 h).
KEEP = {"avg_logprob": -0.5, "no_speech_prob": 0.5, "compression_ratio": 2.4}
_MIN_SEC, _MAX_SEC = 0.3, 30.0


@dataclass(frozen=True)
class SkyFile:
    number: int
    offset: int  # bytes into sky.dsk
    size: int
    flags: int


# --- RNC ProPack, method 1 -------------------------------------------------------------------
# An 18-byte header ("RNC\x01", unpacked and packed sizes, their CRC-16s, a slack byte, the block
# count), then a bit stream read least-significant bit first from little-endian 16-bit words, in
# which literal runs sit as whole bytes right after the last word taken. Each block has three
# canonical Huffman tables (literal-run length, match distance, match length) and a count of
# (literal run, match) pairs; the last pair has no match.

def _crc_table() -> list[int]:
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC = _crc_table()


def _crc16(data: bytes) -> int:
    c = 0
    for x in data:
        c = _CRC[(c ^ x) & 0xFF] ^ (c >> 8)
    return c


class _Bits:
    def __init__(self, data: bytes, pos: int):
        self.data, self.pos, self.held, self.count = data, pos, 0, 0

    def _word(self, p: int) -> int:
        return int.from_bytes(self.data[p:p + 2].ljust(2, b"\0"), "little")

    def peek16(self) -> int:
        v, c, p = self.held, self.count, self.pos
        while c < 16:
            v |= self._word(p) << c
            p, c = p + 2, c + 16
        return v & 0xFFFF

    def read(self, n: int) -> int:
        while self.count < n:
            self.held |= self._word(self.pos) << self.count
            self.pos, self.count = self.pos + 2, self.count + 16
        v = self.held & ((1 << n) - 1)
        self.held >>= n
        self.count -= n
        return v

    def raw(self, n: int) -> bytes:
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def _table(bits: _Bits) -> list[tuple[int, int, int, int]]:
    """(mask, bit-reversed code, length, symbol) in canonical order."""
    lengths = [bits.read(4) for _ in range(bits.read(5))]
    codes, code = [], 0
    for n in range(1, 17):
        for sym, length in enumerate(lengths):
            if length == n:
                codes.append(((1 << n) - 1, int(format(code >> (16 - n), f"0{n}b")[::-1], 2), n, sym))
                code += 1 << (16 - n)
    return codes


def _value(bits: _Bits, codes: list[tuple[int, int, int, int]]) -> int:
    w = bits.peek16()
    for mask, rev, n, sym in codes:
        if w & mask == rev:
            bits.read(n)
            return bits.read(sym - 1) | (1 << (sym - 1)) if sym >= 2 else sym
    raise ValueError("RNC: no Huffman code matches")


def rnc_unpack(data: bytes) -> bytes:
    """Unpack RNC ProPack method-1 data; both CRCs are checked.

    >>> rnc_unpack(b"RNC\\x02" + bytes(14))
    Traceback (most recent call last):
    ...
    ValueError: RNC: not method-1 packed data
    """
    if data[:4] != b"RNC\x01":
        raise ValueError("RNC: not method-1 packed data")
    size, packed, crc_out, crc_in = struct.unpack(">IIHH", data[4:16])
    if _crc16(data[18:18 + packed]) != crc_in:
        raise ValueError("RNC: packed data fails its CRC")
    bits = _Bits(data, 18)
    bits.read(2)  # lock and key flags, unused here
    out = bytearray()
    for _ in range(data[17]):
        runs, dists, lengths = _table(bits), _table(bits), _table(bits)
        for left in range(bits.read(16), 0, -1):
            out += bits.raw(_value(bits, runs))
            if left == 1:
                break
            dist, n = _value(bits, dists) + 1, _value(bits, lengths) + 2
            start = len(out) - dist
            if n <= dist:
                out += out[start:start + n]
            else:  # the match overlaps what it writes
                for k in range(n):
                    out.append(out[start + k])
    if len(out) != size or _crc16(out) != crc_out:
        raise ValueError("RNC: unpacked data fails its size or CRC")
    return bytes(out)


# --- sky.dnr / sky.dsk ------------------------------------------------------------------------

def read_index(dnr: Path) -> list[SkyFile]:
    data = Path(dnr).read_bytes()
    (n,) = struct.unpack("<I", data[:4])
    files = []
    for i in range(n):
        e = data[4 + 8 * i: 12 + 8 * i]
        number = int.from_bytes(e[0:2], "little")
        offset = int.from_bytes(e[2:5], "little")
        flags = int.from_bytes(e[5:8], "little")
        if offset >> 23 & 1:
            offset = (offset & 0x7FFFFF) << 4
        files.append(SkyFile(number, offset, flags & 0x3FFFFF, flags))
    return files


def load_file(dsk: BinaryIO, f: SkyFile) -> bytes:
    """A file's bytes, header included, unpacked where packed."""
    dsk.seek(f.offset)
    data = dsk.read(f.size)
    packed = not f.flags >> 23 & 1 and int.from_bytes(data[:2], "little") >> 7 & 1
    if not packed:
        return data
    body = rnc_unpack(data[HEADER:])
    return body if f.flags >> 22 & 1 else data[:HEADER] + body


def speech_files(index: list[SkyFile]) -> list[SkyFile]:
    return sorted((f for f in index if f.number in SPEECH), key=lambda f: f.number)


def keep(segments: list[dict]) -> bool:
    """Whether Whisper was sure enough of every segment of a clip for its text to be a label."""
    return bool(segments) and all(s["avg_logprob"] >= KEEP["avg_logprob"]
                                  and s["no_speech_prob"] <= KEEP["no_speech_prob"]
                                  and s["compression_ratio"] <= KEEP["compression_ratio"] for s in segments)


# --- the set ----------------------------------------------------------------------------------


def _clip(args: tuple[int, bytes, str]) -> dict:
    """One clip's 8-bit samples -> 16 kHz FLAC, and Whisper's transcript with its confidences."""
    number, data, path = args
    import numpy as np

    from .games import save_clip, whisper

    try:
        duration, audio = save_clip((np.frombuffer(data, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0,
                                    RATE, path)
        rec: dict = {"file": number, "duration": duration}
        if _MIN_SEC <= duration <= _MAX_SEC:
            rec["segments"] = [{"text": s.text.strip(), "avg_logprob": round(s.avg_logprob, 4),
                                "no_speech_prob": round(s.no_speech_prob, 4),
                                "compression_ratio": round(s.compression_ratio, 3)}
                               for s in whisper().segments(audio)]
        return rec
    except Exception as e:  # one bad clip must not stop the build
        return {"file": number, "error": str(e)[:300]}


def build_sky(out: Path, jobs: int = 1, cache: Path | None = None) -> dict[str, dict]:
    """Extract, transcribe and write ``games-sky.jsonl`` under ``out`` (audio in
    ``audio/games/sky/``); resumable through ``games-sky.done.jsonl``. Returns stats."""
    from ..normalize import normalize
    from .build import sources
    from .games import fetch_archive, process_clips, read_done

    out = Path(out)
    game = fetch_archive(cache or out / "cache", PACKAGE, VERSION, GAME_DIR)
    files = speech_files(read_index(game / "sky.dnr"))
    done_path = out / f"{SKY_SET}.done.jsonl"
    done = read_done(done_path, "file")
    rel = {f.number: f"audio/games/{GAME}/{f.number}.flac" for f in files}
    todo, unreadable = [], 0
    with open(game / "sky.dsk", "rb") as dsk:
        for f in files:
            if f.number in done and (out / rel[f.number]).exists():
                continue
            try:
                todo.append((f.number, load_file(dsk, f)[HEADER:], str(out / rel[f.number])))
            except ValueError:
                unreadable += 1
    process_clips(_clip, todo, done, "file", done_path, jobs, f"games:{GAME}")

    gate = sources()[2]
    counts = {"clips": len(files), "unreadable": unreadable, "failed": len(files) - unreadable - len(done),
              "dropped_length": 0, "dropped_unsure": 0, "dropped_no_speech": 0, "reserved_entity": 0}
    rows = []
    for number, r in sorted(done.items()):
        if "segments" not in r:
            counts["dropped_length"] += 1
            continue
        if not keep(r["segments"]):
            counts["dropped_unsure"] += 1
            continue
        display = " ".join(s["text"] for s in r["segments"]).strip()
        text = normalize(display)
        if not text:
            counts["dropped_no_speech"] += 1
            continue
        if text in gate:
            counts["reserved_entity"] += 1
            continue
        rows.append({"id": f"{GAME}-{number}", "audio": rel[number], "duration": r["duration"],
                     "voice": f"game:{GAME}", "source": f"sky.dsk#{number}", "clip": str(number), "text": text,
                     "display": display, "label": "whisper", "pairing": "whisper", "split": SKY_SET,
                     "avg_logprob": min(s["avg_logprob"] for s in r["segments"])})
    with open(out / f"{SKY_SET}.jsonl", "w") as f:
        for it in rows:
            f.write(json.dumps(it, ensure_ascii=False) + "\n")
    stats = {SKY_SET: {"utterances": len(rows), "hours": round(sum(it["duration"] for it in rows) / 3600, 3),
                       "heard_hours": round(sum(r["duration"] for r in done.values()) / 3600, 3), **counts}}
    path = out / "stats.json"
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged.update(stats)
    path.write_text(json.dumps(merged, indent=2))
    return stats
