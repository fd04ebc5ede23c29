"""The game-speech extractor (ctcbias.data.games) on small archives and script files built here,
laid out as the ScummVM Queen engine reads them."""

import doctest
import io
import json
import struct

import pytest

from ctcbias.data import games
from ctcbias.data.games import Line, closest_line, cut_lines, dog_lines, read_toc, script, segments, split_characters


def _pstr(buf: bytearray, s: str, align: int = 2) -> None:
    """A length-prefixed string, padded to ``align`` from the buffer's start when not empty."""
    buf += bytes([len(s)]) + s.encode("latin-1")
    if s:
        buf += b"\0" * (-len(buf) % align)


def _archive(files: dict[str, bytes]) -> bytes:
    """A rebuilt (QTBL) archive: header, table of contents, then the files."""
    names = sorted(files)
    pos = 15 + 21 * len(names)
    head = b"QTBL" + b"CEM10\0" + b"\0\0" + b"\x01" + struct.pack(">H", len(names))
    body = b""
    for n in names:
        head += n.encode().ljust(12, b"\0") + b"\x01" + struct.pack(">II", pos + len(body), len(files[n]))
        body += files[n]
    return head + body


def _dog() -> bytes:
    """A dialogue (after its 20-byte header): talk key 2; Joe's opening line (id 0) and line 6, the
    person's line 1, and the 'talked before' pair ('0': none for the person)."""
    b = bytearray(struct.pack(">5h", 1, 0, 2, 2, 1) + b"\0" * 12 + b"\0" * 10)  # level 1, keys, jMax 2, pMax 1
    b += b"\0" * 96  # the dialogue tree of one level
    assert len(b) == 128
    b += struct.pack(">hh", 0, 0)  # Joe's list: the first id (0) doubles as 'has no opening string'
    _pstr(b, "Hi there.", 4)
    b += struct.pack(">hh", 0, 6)
    _pstr(b, "Hello*FLthere 20 times", 4)
    p1 = len(b)
    b += struct.pack(">hh", 0, 1)
    _pstr(b, "Go away, Mr. King!", 4)
    p2 = len(b)
    _pstr(b, "0")
    _pstr(b, "Back again?")
    struct.pack_into(">HHH", b, 22, p1, 0, p2)
    return bytes(b)


def test_toc_reads_names_offsets_and_compression():
    data = _archive({"A.SB": b"abc", "QUEEN.JAS": b"xy"})
    version, compression, toc = read_toc(io.BytesIO(data))
    assert (version, compression) == ("CEM10", 1)
    assert set(toc) == {"A.SB", "QUEEN.JAS"}
    e = toc["QUEEN.JAS"]
    assert data[e.offset : e.offset + e.size] == b"xy"
    with pytest.raises(ValueError, match="QTBL"):
        read_toc(io.BytesIO(b"RIFF" + data[4:]))
    with pytest.raises(ValueError, match="cut short"):
        read_toc(io.BytesIO(data[:30]))


def test_segments_follow_stage_directions():
    # *XY takes 11 more characters; each direction ends a segment; spaces in the prefix become zeros
    assert segments("Walk*XY00(237,112)Stop.*03", "%2d%4xP" % (5, 0x1E)) == [("05001EP1", "Walk"),
                                                                           ("05001EP2", "Stop.")]
    assert segments("No.", "JOE%04d" % 7) == [("JOE00071", "No.")]


def test_dialogue_lines_pair_with_their_clip_names():
    lines = {ln.clip: ln for ln in dog_lines("BOB1.DOG", _dog())}
    assert lines["020000J1"] == Line("020000J1", "Hi there.", "joe", "BOB1.DOG")
    assert lines["02SSSSJ1"].text == "Hi there."
    assert (lines["020006J1"].text, lines["020006J2"].text) == ("Hello", "there 20 times")
    assert lines["020001P1"] == Line("020001P1", "Go away, Mr. King!", "trader bob", "BOB1.DOG")
    assert lines["02XXXXJ1"].text == "Back again?"
    assert not any(c.startswith("02XXXXP") for c in lines)  # "0" is no line


def _cut() -> bytes:
    """A cutscene: Joe speaks, an animation (one frame) runs, then person object 1 speaks a line
    the script leaves out ('*'). Its sentences start with the entry string that ``Cutaway::load`` reads."""
    objs = bytearray(struct.pack(">17h", *([0] * 17)) + struct.pack(">h", 0))  # Joe, no people turned on
    anim = [5, 0, 0, 0, 1, 1] + [0] * 11  # object 5, an anim list, execute
    objs += struct.pack(">17h", *anim) + struct.pack(">hh", 1, 1)  # turns on one person
    objs += struct.pack(">h9h", 0, *range(1, 10)) + struct.pack(">h", -2)
    objs += struct.pack(">17h", *([1] + [0] * 16)) + struct.pack(">h", 0)
    b = bytearray(12) + objs
    sent = len(b)
    for s in ("*FL", "Right.*01Let's go", "(anim)", "*"):  # the entry string (Joe's facing), then one per object
        _pstr(b, s)
    struct.pack_into(">HhhHHH", b, 0, 0, 3, 0, len(b), sent, len(b))
    return bytes(b)


def test_cutscene_walk_skips_animation_frames():
    objects = [None, (1, 0, 0, 0, 0, 1, 0, -4)] + [(2, 0, 0, 0, 0, 1, 0, 0)] * 4  # object 1 is a person
    lines = cut_lines("C1A.CUT", _cut(), objects, ["Trader Bob", "rock"])
    by = {ln.clip: ln for ln in lines}
    assert (by["C1A__011"].text, by["C1A__012"].text) == ("Right.", "Let's go")
    assert by["C1A__011"].speaker == "joe"
    assert not any(c.startswith("C1A__02") for c in by)  # the animation says nothing
    assert by["C1A__031"] == Line("C1A__031", "", "trader bob", "C1A.CUT")  # talkie-only: speaker known


def test_script_pairs_clips_and_leaves_out_sound_effects(tmp_path):
    jas = b"\0" * 20 + struct.pack(">4H", 1, 1, 1, 2) + struct.pack(">hHHHhHHh", 1, 0, 0, 0, 0, 1, 0, -4)
    verbs = ["v"] * 12
    jas2 = "\r\n".join(["It's a rock*14", "Nice", "Trader Bob", "room"] + verbs + ["It doesn't open"] + ["x"] * 39)
    files = {"QUEEN.JAS": jas, "QUEEN2.JAS": jas2.encode(), "BOB1.DOG": b"\0" * 20 + _dog(),
             "C1A.CUT": b"\0" * 20 + _cut()}
    for clip in ("020001P1", "JOE00011", "JOE00411", "JOE00421", "C1A__031", "27SSSSSS", "MIK_0019"):
        files[clip + ".SB"] = b"mp3"
    path = tmp_path / "queen.1c"
    path.write_bytes(_archive(files))
    clips, lines = script(path)
    assert "27SSSSSS" not in clips and len(clips) == 6  # a sound effect is not speech
    assert lines["JOE00011"].text == "It doesn't open"
    assert (lines["JOE00411"].text, lines["JOE00421"].text) == ("It's a rock", "Nice")  # descriptions after 40
    assert lines["020001P1"].speaker == "trader bob"
    assert lines["C1A__031"].text == "" and "MIK_0019" not in lines  # Whisper's to transcribe


def test_closest_line_and_doctests():
    assert closest_line("okay that's one good reason", ["okay that's one good reason", "no"])[1] == 0.0
    assert closest_line("something else entirely", ["okay that's one good reason"]) is None
    assert closest_line("", ["a"]) is None
    res = doctest.testmod(games)
    assert res.attempted >= 3 and res.failed == 0


def test_split_holds_out_whole_characters_within_share():
    hours = {"joe": 2.0, "narrator": 0.1, "unknown": 0.1, **{f"c{i}": 0.1 + 0.01 * i for i in range(20)}}
    dev = split_characters(hours)
    assert dev == split_characters(dict(reversed(hours.items())))  # order of the input does not matter
    assert not dev & games.TRAIN_ONLY
    share = sum(hours[c] for c in dev) / sum(hours.values())
    assert 0.10 <= share <= 0.15


def test_wer_by_character(tmp_path):
    m, h = tmp_path / "m.jsonl", tmp_path / "h.jsonl"
    m.write_text("\n".join(json.dumps(x) for x in [{"id": "a", "text": "give up joe", "character": "faye"},
                                                     {"id": "b", "text": "i hate you", "character": "frank"}]))
    h.write_text("\n".join(json.dumps(x) for x in [{"id": "a", "text": "give up"}, {"id": "b", "text": "i hate you"}]))
    from ctcbias.evaluation.manifest_wer import wer

    r = wer(m, h)
    assert r["all"] == {"wer": round(1 / 6, 4), "utterances": 2}
    assert r["faye"]["wer"] == round(1 / 3, 4) and r["frank"]["wer"] == 0.0
