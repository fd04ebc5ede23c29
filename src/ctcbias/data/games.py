"""Real human speech from a freeware talkie adventure game in Debian main: ``games-train`` / ``games-dev``.

Why: the base model is trained on synthetic voices and is weak on real speech; the only real,
transcribed English speech that may be trained on here is acted game dialogue. *Flight of the Amazon
Queen* (Debian ``flight-of-the-amazon-queen`` 1.0.0-9, about 4.6 h, 6,745 MP3 clips at 11 kHz in
``queen.1c``) ships each clip beside its script: the ScummVM Queen engine derives a clip's name
from the line's place in the script, so most clips pair with their text by name alone:

- dialogue (``*.DOG``): ``"%2d%4xJ"`` / ``"%2d%4xP"`` of the file's talk key and the line's id
  (Joe / the other person), ``SSSS`` / ``XXXX`` for the opening lines;
- Joe's responses and object descriptions (``QUEEN2.JAS``): ``"JOE%04d"``;
- cutscenes (``*.CUT``): the file's base name padded with ``_`` to 5 characters + ``"%02d"`` of
  the object's index;

plus one hex digit, the segment of the line between ``*`` stage directions. Clips with no script
text (talkie-only lines, cutscene extras) are transcribed with Whisper-base (the same offline
weights as ``ctcbias.evaluation.peers``); when the transcript is within a normalized edit distance
of ``MAX_DIST`` of a script line that line is kept (``label: "script"``), otherwise Whisper's text
is a pseudo-label (``label: "whisper"``, train only).

Splits hold out whole characters (deterministic, about 10-15 % of the name-paired audio) as
``games-dev`` (name-paired lines only: their speaker is certain), so dev measures new voices, not
new lines of known ones; Joe, the narrator, unknown speakers and the ape (grunts) always train.
``games-train`` drops lines holding a reserved entity (:class:`ReservedGate`; "joe" is one) and
lines whose text is also a dev line of 4+ words.

Licence (``/usr/share/doc/flight-of-the-amazon-queen/copyright``): game content (C) 1995 John
Passfield and Steven Stamatiadis, "Flight-of-the-Amazon-Queen-License": free redistribution with
the readme and notices intact, no fee for the game itself, modification allowed if marked as
modified. We keep the derived audio out of git (``data/games``) and rebuild it from the package.

*Beneath a Steel Sky*'s speech has its own reader, :mod:`ctcbias.data.steel_sky`.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ..audio import SAMPLE_RATE

__all__ = ["GAME_SETS", "Entry", "Line", "read_toc", "segments", "dog_lines", "jas_lines", "cut_lines",
           "character", "script", "closest_line", "split_characters", "build_games"]

GAME_SETS = ("games-train", "games-dev")
PACKAGE, VERSION = "flight-of-the-amazon-queen", "1.0.0-9"
ARCHIVE = "usr/share/scummvm/flight-of-the-amazon-queen/queen.1c"
GAME = "fotaq"
MAX_DIST = 0.1  # normalized character edit distance at which a Whisper transcript takes a script line
# (0.2 took "where" for "here" and "how did you get down here" for "how did you get here")
MISMATCH = 0.5  # a name-paired line this far from a Whisper transcript of its clip is dropped
DEV_SHARE = (0.10, 0.15)  # share of the name-paired audio held out as whole characters
JOE_RESPONSE_MAX = 40  # Queen engine: Joe's responses precede the object descriptions in JOE%04d
_HEADER = 20  # every DOG / CUT / JAS file starts with a 20-byte header the engine skips
_MIN_SEC, _MAX_SEC = 0.3, 30.0

# DOG stems and cutscene object names -> one name per character, read off the lines ("TAM1.DOG":
# "Howdy Joe, I'm Mary-Lou Cook"; "LOU1.DOG": "I'm Skip"; "LARIS.DOG": "I'm Mike Laris the
# bellboy"); anything else speaking in a cutscene (a door, a note: the engine places a voice on an
# object) is "unknown".
_CHARACTERS = {
    "and": "anderson", "anderson": "anderson", "ape": "ape", "gorilla": "ape", "bob": "trader bob",
    "trader bob": "trader bob", "bud": "bud", "chef": "chef", "chief": "chief", "death": "death",
    "dog": "guard dog", "guard dog": "guard dog", "eddy": "eddy", "faye": "faye", "frank": "frank",
    "henry": "henry", "hugh": "hugh", "ian": "ian", "jim": "jimmy", "jimmy": "jimmy", "joe": "joe",
    "joe king": "joe", "john": "john", "klunk": "klunk", "laris": "mike laris", "lola": "lola",
    "lou": "skip", "mary-lou": "mary-lou", "man": "man", "naomi": "naomi", "oracle": "oracle",
    "prin": "princess azura", "princess azura": "princess azura", "azura obj": "princess azura",
    "rico": "rico", "rita": "rita", "sec": "secretary", "secretary": "secretary",
    "showeram": "showering amazon", "showering amazon": "showering amazon", "skip": "skip",
    "sparky": "sparky", "tallpyg": "tall pygmy", "tam": "mary-lou", "wedge": "wedgewood",
    "wedgewood": "wedgewood", "witch": "witch doctor", "witch doctor": "witch doctor",
    "zombie": "zombie", "zombie woman": "zombie", "guardian": "guardian",
    "bedraggled prisoner": "bedraggled prisoner", "tired prisoner": "tired prisoner",
    "bellboy": "mike laris", "guard": "guard",
}
# never held out: the hero speaks in every scene; "narrator" and "unknown" are no one voice; the
# ape's lines are grunts ("Whoop, chunga chunga!"), no measure of word recognition
TRAIN_ONLY = frozenset({"joe", "narrator", "unknown", "ape"})


@dataclass(frozen=True)
class Entry:
    name: str
    bundle: int
    offset: int
    size: int


@dataclass(frozen=True)
class Line:
    """One voice clip's script line (``text`` empty when the script has none for it)."""
    clip: str
    text: str
    speaker: str
    source: str


def read_toc(f) -> tuple[str, int, dict[str, Entry]]:
    """The table of a rebuilt Queen archive (``QTBL``): version, compression (1 = MP3), entries.

    Layout as ScummVM's ``Resource::readTableEntries``: 'QTBL', 6-byte version, 2 bytes, 1 byte
    compression, uint16 BE count, then per entry a 12-byte name, 1-byte bundle, uint32 BE offset and size.
    """
    head = f.read(15)
    if len(head) < 15 or head[:4] != b"QTBL":
        raise ValueError("not a rebuilt Queen archive (no QTBL table)")
    version, compression = head[4:10].rstrip(b"\0").decode("ascii"), head[12]
    (n,) = struct.unpack_from(">H", head, 13)
    table = f.read(21 * n)
    if len(table) < 21 * n:
        raise ValueError(f"table of contents cut short: {len(table) // 21} of {n} entries")
    entries = {}
    for i in range(n):
        p = 21 * i
        name = table[p : p + 12].rstrip(b"\0").decode("ascii")
        off, size = struct.unpack_from(">II", table, p + 13)
        entries[name] = Entry(name, table[p + 12], off, size)
    return version, compression, entries


def _string(b: bytes, o: int, align: int = 2) -> tuple[str, int]:
    """A length-prefixed string and the next offset (``Talk::getString``: padded to ``align`` if non-empty)."""
    n = b[o]
    o += 1
    s = b[o : o + n].decode("latin-1")
    return s, ((o + n + align - 1) & ~(align - 1)) if n else o


def _i16(b: bytes, o: int) -> int:
    return struct.unpack_from(">h", b, o)[0]


def segments(sentence: str, prefix: str) -> list[tuple[str, str]]:
    """(clip name, text) for each spoken segment of a line, as ``Talk::speak`` names them.

    ``*`` starts a two-character stage direction (``*XY`` takes 11 more); every direction ends a
    segment, and segment k plays ``prefix + hex(k + 1)`` with spaces turned to zeros.

    >>> segments("Hello there...*16*03*WTI don't think so*24", "JOE%04d" % 25)
    [('JOE00251', 'Hello there...'), ('JOE00252', ''), ('JOE00253', ''), ('JOE00254', "I don't think so")]
    """
    out, start, i, k = [], 0, 0, 0
    while i < len(sentence):
        if sentence[i] == "*":
            seg = sentence[start:i]
            i += 1 + 2 + (11 if sentence[i + 1 : i + 3] == "XY" else 0)
            out.append((seg, k))
            k, start = k + 1, i
        else:
            i += 1
    if start < len(sentence):
        out.append((sentence[start:], k))
    return [((prefix + "%x" % (k + 1)).replace(" ", "0").upper(), s.strip()) for s, k in out]


def _character(raw: str) -> str:
    key = raw.lower().strip()
    return _CHARACTERS.get(key) or _CHARACTERS.get(key.rstrip("0123456789"), "unknown")


character = _character


def dog_lines(name: str, b: bytes) -> list[Line]:
    """Lines of a dialogue file (``Talk::load``, ``initialTalk``, ``findDialogueString``), header skipped."""
    person = _character(name.rsplit(".", 1)[0])
    level_max = abs(_i16(b, 0))
    talk_key, j_max, p_max = _i16(b, 4), _i16(b, 6), _i16(b, 8)
    p1, p2 = struct.unpack_from(">H", b, 22)[0], struct.unpack_from(">H", b, 26)[0]
    joe = 32 + level_max * 96
    out: list[Line] = []

    def add(text: str, prefix: str, who: str) -> None:
        if text.strip() not in ("", "0"):  # "0": no line
            out.extend(Line(c, t, who, name) for c, t in segments(text, prefix))

    for off, n, tag, who in ((joe, j_max, "J", "joe"), (p1, p_max, "P", person)):
        for _ in range(n):
            off += 2
            line_id = _i16(b, off)
            s, off = _string(b, off + 2, 4)
            add(s, "%2d%4x%s" % (talk_key, line_id, tag), who)
    if not struct.unpack_from(">H", b, joe + 2)[0]:
        add(_string(b, joe + 4)[0], "%2dSSSSJ" % talk_key, "joe")
    s1, o = _string(b, p2)
    add(s1, "%2dXXXXP" % talk_key, person)
    add(_string(b, o)[0], "%2dXXXXJ" % talk_key, "joe")
    return out


def _jas(jas: bytes, jas2: bytes) -> tuple[list, list[str], list[str], list[str]]:
    """QUEEN.JAS objects (name, ..., image) and QUEEN2.JAS strings: descriptions, names, Joe's responses."""
    n_rooms, n_names, n_objects, n_desc = struct.unpack_from(">4H", jas, 0)
    objects = [None] + [struct.unpack_from(">hHHHhHHh", jas, 8 + 16 * i) for i in range(n_objects)]
    text = jas2.decode("latin-1").replace("\r", "").split("\n")
    names = text[n_desc : n_desc + n_names]
    joe = text[n_desc + n_names + n_rooms + 12 :][:JOE_RESPONSE_MAX]  # after the 12 verbs
    return objects, text[:n_desc], names, joe


def jas_lines(jas: bytes, jas2: bytes) -> list[Line]:
    """Joe's responses (``JOE0001``..) and object descriptions (``JOE%04d`` of 40 + number)."""
    _, desc, _, joe = _jas(jas, jas2)
    out = []
    for i, s in [(i + 1, s) for i, s in enumerate(joe)] + [(JOE_RESPONSE_MAX + k + 1, s) for k, s in enumerate(desc)]:
        out += [Line(c, t, "joe", "QUEEN2.JAS") for c, t in segments(s, "JOE%04d" % i)]
    return out


def cut_lines(name: str, b: bytes, objects: list, names: list[str]) -> list[Line]:
    """Lines of a cutscene (``Cutaway::load`` / ``run``): after the entry string (Joe's facing,
    read by ``load``), one sentence per object, spoken by a person object (0: Joe) or as narration
    (-2, -3). Walks the objects to tell animations (which carry frames and never speak) from speakers."""
    count = abs(_i16(b, 2))
    sent = _string(b, struct.unpack_from(">H", b, 8)[0])[1]  # skip the entry string
    base = name.rsplit(".", 1)[0]
    p, out = 12, []
    for i in range(count):
        o = struct.unpack_from(">17h", b, p)
        p += 34
        num, anim_list, execute, from_obj = o[0], o[4], o[5], o[12]
        p += 2 + 2 * _i16(b, p)  # the people it turns on
        s, sent = _string(b, sent)
        person = 0 < num < len(objects) and objects[num][7] in (-3, -4)
        kind = "anim"
        if (num > 0 and not anim_list and person) or (num == 0 and not anim_list):
            kind = "person"
        if from_obj > 0:
            kind = "none"
        if num in (-2, -3):
            kind = "text"
        elif num == -4:
            kind = "none"
        if kind == "anim" and not execute:
            kind = "none"
        if kind == "anim":
            while _i16(b, p) != -2:  # frames of 9 int16 each, ended by -2
                p += 2 + 18
            p += 2
        if kind in ("person", "text"):
            name_no = objects[num][0] if num > 0 else 0
            who = ("joe" if num == 0 else "narrator" if num < 0
                   else _character(names[abs(name_no) - 1]) if name_no else "unknown")
            text = "" if s.strip() in ("*", "") or s.startswith("#") else s
            prefix = f"{base}{'_' * (5 - len(base))}{i + 1:02d}"
            segs = segments(text, prefix) if text else []
            out += [Line(c, t, who, name) for c, t in segs]
            # talkie-only segments have clips but no text: their speaker is still known
            out += [Line(f"{prefix}{k:x}".upper(), "", who, name) for k in range(len(segs) + 1, 10)]
    return out


def script(archive: Path) -> tuple[dict[str, Entry], dict[str, Line]]:
    """The archive's speech clips (sound effects left out) and every line the script gives a clip name."""
    with open(archive, "rb") as f:
        version, compression, toc = read_toc(f)
        if compression != 1:
            raise ValueError(f"{archive}: compression {compression}, expected 1 (MP3)")

        def load(n: str, skip: int = _HEADER) -> bytes:
            f.seek(toc[n].offset + skip)
            return f.read(toc[n].size - skip)

        objects, _, names, _ = _jas(load("QUEEN.JAS"), load("QUEEN2.JAS", 0))
        lines = jas_lines(load("QUEEN.JAS"), load("QUEEN2.JAS", 0))
        for n in sorted(toc):
            if n.endswith(".DOG"):
                lines += dog_lines(n, load(n))
            elif n.endswith(".CUT"):
                lines += cut_lines(n, load(n), objects, names)
    clips = {n[:-3]: e for n, e in toc.items() if n.endswith(".SB") and not n[:-3].endswith("SSSS")}
    by_clip: dict[str, Line] = {}
    for ln in lines:
        if ln.clip in clips and (ln.text or ln.clip not in by_clip):
            by_clip[ln.clip] = ln
    return clips, by_clip


def closest_line(heard: str, candidates: list[str]) -> tuple[str, float] | None:
    """The normalized script line nearest to a normalized transcript, if within ``MAX_DIST``.

    >>> closest_line("i hate yo", ["give up joe", "i hate you"])
    ('i hate you', 0.1)
    >>> closest_line("give up ciao", ["give up joe", "i hate you"]) is None
    True
    """
    from rapidfuzz import process
    from rapidfuzz.distance import Levenshtein

    if not heard:
        return None
    hit = process.extractOne(heard, candidates, scorer=Levenshtein.normalized_distance, score_cutoff=MAX_DIST)
    return (hit[0], round(hit[1], 4)) if hit else None


def split_characters(hours: dict[str, float], share: tuple[float, float] = DEV_SHARE) -> set[str]:
    """Characters held out for dev: in sha1 order, each added while the held-out share stays within
    ``share``, until it reaches the lower bound. Deterministic, and no character is split."""
    total = sum(hours.values())
    dev: set[str] = set()
    held = 0.0
    order = sorted((c for c in hours if c not in TRAIN_ONLY),
                   key=lambda c: hashlib.sha1(f"{GAME}:{c}".encode()).hexdigest())
    for c in order:
        if held >= share[0] * total:
            break
        if held + hours[c] <= share[1] * total:
            dev.add(c)
            held += hours[c]
    return dev


def fetch_archive(cache: Path, package: str = PACKAGE, version: str = VERSION, archive: str = ARCHIVE) -> Path:
    """``apt-get download`` the package into ``cache`` (``apt-get update`` once if apt has no list)
    and unpack it with ``dpkg-deb -x``; cached. Returns the path of ``archive`` inside it."""
    cache.mkdir(parents=True, exist_ok=True)
    root = cache / f"{package}_{version}"
    if (root / archive).exists():
        return root / archive
    deb = cache / f"{package}_{version}_all.deb"
    if not deb.exists():
        cmd = ["apt-get", "download", f"{package}={version}"]
        if subprocess.run(cmd, cwd=cache, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update"], check=True, capture_output=True)
            subprocess.run(cmd, cwd=cache, check=True, capture_output=True)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(root)], check=True)
    return root / archive


_WHISPER = None  # one Whisper-base per worker process


def whisper():
    """This process's Whisper-base (one thread), loaded on first use."""
    global _WHISPER
    if _WHISPER is None:
        from ..evaluation.peers import WhisperPromptPeer

        _WHISPER = WhisperPromptPeer(threads=1)
    return _WHISPER


def save_clip(audio, sr: int, path: str) -> tuple:
    """``audio`` (mono float at ``sr`` Hz) resampled to 16 kHz and written as FLAC at ``path``
    (atomically: an interrupted build leaves no half file); returns its seconds and the 16 kHz
    samples."""
    import numpy as np
    import soundfile as sf
    import soxr

    audio = soxr.resample(audio, sr, SAMPLE_RATE).astype(np.float32)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = path + ".tmp.flac"
    sf.write(tmp, np.clip(audio, -1, 1), SAMPLE_RATE, subtype="PCM_16")
    os.replace(tmp, path)
    return round(len(audio) / SAMPLE_RATE, 3), audio


def _decode(args: tuple[str, bytes, str, bool]) -> dict:
    """MP3 clip -> 16 kHz mono FLAC (and Whisper's transcript when the script has no line)."""
    clip, data, path, transcribe = args
    import soundfile as sf

    try:
        audio, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        duration, audio = save_clip(audio.mean(axis=1), sr, path)
        rec = {"clip": clip, "duration": duration}
        if transcribe and _MIN_SEC <= duration <= _MAX_SEC:
            rec["whisper"] = whisper().transcribe(audio, [])
        return rec
    except Exception as e:  # one bad clip must not stop the build
        return {"clip": clip, "error": str(e)[:300]}


def read_done(path: Path, key: str) -> dict:
    """The finished clips of a resumable build's log, by ``key``; failed ones are tried again."""
    done = {}
    for raw in path.read_text().splitlines() if path.exists() else []:
        r = json.loads(raw)
        if "error" not in r:
            done[r[key]] = r
    return done


def process_clips(fn, todo: list, done: dict, key: str, path: Path, jobs: int, desc: str) -> None:
    """Run ``fn`` on every item of ``todo`` (``jobs`` processes), logging each result to ``path`` as
    it comes (so an interrupted build resumes) and adding the good ones to ``done`` by ``key``."""
    from multiprocessing import Pool

    from tqdm import tqdm

    with open(path, "a") as log:
        pool = Pool(jobs) if jobs > 1 else None
        results = pool.imap_unordered(fn, todo, chunksize=4) if pool else map(fn, todo)
        for r in tqdm(results, total=len(todo), desc=desc, unit="clip", file=sys.stderr):
            log.write(json.dumps(r, ensure_ascii=False) + "\n")
            log.flush()
            if "error" not in r:
                done[r[key]] = r
        if pool:
            pool.close()


def build_games(out: Path, jobs: int = 1, cache: Path | None = None) -> dict[str, dict]:
    """Extract, pair, split and write ``games-train.jsonl`` / ``games-dev.jsonl`` under ``out``
    (audio in ``audio/games/<game>/``); resumable through ``games.done.jsonl``. Returns stats."""
    from rapidfuzz.distance import Levenshtein

    from ..normalize import normalize
    from .build import sources

    out = Path(out)
    archive = fetch_archive(cache or out / "cache")
    clips, lines = script(archive)
    done_path = out / "games.done.jsonl"
    done = read_done(done_path, "clip")
    rel = {c: f"audio/games/{GAME}/{c.lower()}.flac" for c in clips}
    todo = []
    with open(archive, "rb") as f:
        for c in sorted(clips):
            no_text = not normalize(lines[c].text if c in lines else "")
            r = done.get(c)
            # a clip whose script line went away (a parser fix) still needs Whisper's transcript
            heard = r is not None and ("whisper" in r or not no_text or not _MIN_SEC <= r["duration"] <= _MAX_SEC)
            if not heard or not (out / rel[c]).exists():
                f.seek(clips[c].offset)
                todo.append((c, f.read(clips[c].size), str(out / rel[c]), no_text))
    process_clips(_decode, todo, done, "clip", done_path, jobs, f"games:{GAME}")

    # Pair: by name, else Whisper's transcript to the nearest script line, else Whisper alone.
    candidates = sorted({normalize(ln.text) for ln in lines.values()} - {""})
    display_of = {}
    for ln in lines.values():
        display_of.setdefault(normalize(ln.text), ln.text)
    items, counts = [], {"clips": len(clips), "by_name": 0, "by_whisper_match": 0, "whisper_only": 0,
                         "dropped_no_speech": 0, "dropped_length": 0, "dropped_mismatch": 0, "failed": 0}
    for c in sorted(clips):
        r = done.get(c)
        ln = lines.get(c, Line(c, "", "unknown", "?"))
        if r is None:
            counts["failed"] += 1
            continue
        if not _MIN_SEC <= r["duration"] <= _MAX_SEC:
            counts["dropped_length"] += 1
            continue
        rec = {"id": f"{GAME}-{c.lower()}", "audio": rel[c], "duration": r["duration"],
               "voice": f"game:{GAME}:{ln.speaker.replace(' ', '-')}", "character": ln.speaker,
               "source": ln.source, "clip": c}
        if normalize(ln.text):
            if "whisper" in r:  # transcribed before its line was found: a check of the pairing
                dist = round(Levenshtein.normalized_distance(normalize(r["whisper"]), normalize(ln.text)), 4)
                if dist > MISMATCH:
                    counts["dropped_mismatch"] += 1
                    continue
                rec.update(whisper=r["whisper"], distance=dist)
            rec.update(text=normalize(ln.text), display=ln.text, label="script", pairing="name")
            counts["by_name"] += 1
        else:
            heard = normalize(r.get("whisper", ""))
            hit = closest_line(heard, candidates)
            if hit:
                rec.update(text=hit[0], display=display_of[hit[0]], label="script", pairing="whisper-match",
                           whisper=r["whisper"], distance=hit[1])
                counts["by_whisper_match"] += 1
            elif heard:
                rec.update(text=heard, display=r["whisper"].strip(), label="whisper", pairing="whisper")
                counts["whisper_only"] += 1
            else:
                counts["dropped_no_speech"] += 1
                continue
        items.append(rec)

    # Split by character on the name-paired lines, whose speaker is certain (a cutscene's talkie-only
    # clips take their object's speaker, which may be the other party); dev keeps only those.
    hours: dict[str, float] = {}
    for it in items:
        if it["pairing"] == "name":
            hours[it["character"]] = hours.get(it["character"], 0.0) + it["duration"] / 3600
    dev_chars = split_characters(hours)
    gate = sources()[2]
    dev = [it for it in items if it["character"] in dev_chars and it["pairing"] == "name"]
    dev_texts = {it["text"] for it in dev if len(it["text"].split()) >= 4}
    train, dropped = [], {"reserved_entity": 0, "dev_text": 0, "dev_character_unsure": 0}
    for it in items:
        if it["character"] in dev_chars:
            dropped["dev_character_unsure"] += it["pairing"] != "name"
        elif it["text"] in gate:
            dropped["reserved_entity"] += 1
        elif it["text"] in dev_texts:
            dropped["dev_text"] += 1
        else:
            train.append(it)
    stats: dict[str, dict] = {}
    for name, rows in (("games-train", train), ("games-dev", dev)):
        with open(out / f"{name}.jsonl", "w") as f:
            for it in rows:
                f.write(json.dumps({**it, "split": name}, ensure_ascii=False) + "\n")
        by_char: dict[str, float] = {}
        for it in rows:
            by_char[it["character"]] = by_char.get(it["character"], 0.0) + it["duration"] / 3600
        stats[name] = {"utterances": len(rows), "hours": round(sum(by_char.values()), 3),
                       "characters": len(by_char),
                       "labels": {k: sum(it["label"] == k for it in rows) for k in ("script", "whisper")},
                       "hours_by_character": {k: round(v, 3) for k, v in sorted(by_char.items())}}
    stats["games-train"]["dropped"] = dropped
    stats["games-dev"]["held_out_characters"] = sorted(dev_chars)
    stats[f"games:{GAME}"] = {**counts, "hours": round(sum(r["duration"] for r in done.values()) / 3600, 3),
                              "characters": len({it["character"] for it in items})}
    path = out / "stats.json"  # merged like the synthetic sets' stats
    merged = json.loads(path.read_text()) if path.exists() else {}
    merged.update(stats)
    path.write_text(json.dumps(merged, indent=2))
    return stats
