"""The Beneath a Steel Sky reader: RNC unpacking, the disk index, which Whisper labels are kept."""

import io
import struct

import pytest

from ctcbias.data.steel_sky import HEADER, SkyFile, _crc16, keep, load_file, read_index, rnc_unpack


class _Writer:
    """RNC method-1 bit stream: bits LSB first into 16-bit little-endian words; a literal run goes
    right after the words the reader has taken so far (every word with a bit written)."""

    def __init__(self):
        self.out, self.word_at, self.nbits, self.cur = bytearray(), None, 16, 0

    def bits(self, v: int, n: int):
        for i in range(n):
            if self.nbits == 16:
                self.word_at, self.nbits, self.cur = len(self.out), 0, 0
                self.out += b"\0\0"
            self.cur |= (v >> i & 1) << self.nbits
            self.nbits += 1
            self.out[self.word_at:self.word_at + 2] = self.cur.to_bytes(2, "little")

    def literal(self, data: bytes):
        self.out += data


def _packed(plain: bytes) -> bytes:
    """'abc' + a 6-byte match 3 back (overlapping itself) + 'xy', with one-code tables."""
    w = _Writer()
    w.bits(0, 2)
    for n_codes, sym in ((3, 2), (3, 2), (4, 3)):  # runs, distances, lengths: one code "0" each
        w.bits(n_codes, 5)
        for s in range(n_codes):
            w.bits(1 if s == sym else 0, 4)
    w.bits(2, 16)  # two (run, match) pairs, the last without a match
    w.bits(0, 1), w.bits(1, 1), w.literal(b"abc")  # run 3 = symbol 2 + extra bit 1
    w.bits(0, 1), w.bits(0, 1)  # distance 3 = value 2 + 1
    w.bits(0, 1), w.bits(0, 2)  # length 6 = value 4 + 2
    w.bits(0, 1), w.bits(0, 1), w.literal(b"xy")  # run 2
    body = bytes(w.out)
    return b"RNC\x01" + struct.pack(">IIHH", len(plain), len(body), _crc16(plain), _crc16(body)) + b"\0\x01" + body


def test_crc16_is_crc16_arc():
    assert _crc16(b"123456789") == 0xBB3D  # the standard check value of CRC-16/ARC


def test_rnc_unpack_literals_and_an_overlapping_match():
    assert rnc_unpack(_packed(b"abcabcabcxy")) == b"abcabcabcxy"


def test_rnc_unpack_rejects_damage():
    data = bytearray(_packed(b"abcabcabcxy"))
    data[-1] ^= 0xFF
    with pytest.raises(ValueError, match="CRC"):
        rnc_unpack(bytes(data))
    wrong_size = _packed(b"abcabcabcxyz")  # header promises 12 bytes, the stream gives 11
    with pytest.raises(ValueError, match="size or CRC"):
        rnc_unpack(wrong_size)


def test_index_and_files_packed_or_stored(tmp_path):
    header = (1 << 7).to_bytes(2, "little") + bytes(HEADER - 2)  # bit 7: packed
    packed = header + _packed(b"abcabcabcxy")
    stored = bytes(HEADER) + b"\x80\x81\x7f"
    dsk = packed + stored
    entries = [(50001, 0, len(packed)), (50002, len(packed), len(stored) | 1 << 23)]
    (tmp_path / "sky.dnr").write_bytes(struct.pack("<I", 2) + b"".join(
        n.to_bytes(2, "little") + off.to_bytes(3, "little") + flags.to_bytes(3, "little") for n, off, flags in entries))
    index = read_index(tmp_path / "sky.dnr")
    assert [f.number for f in index] == [50001, 50002]
    f = io.BytesIO(dsk)
    assert load_file(f, index[0]) == header + b"abcabcabcxy"
    assert load_file(f, index[1])[HEADER:] == b"\x80\x81\x7f"
    # an offset with bit 23 set counts 16-byte units
    (tmp_path / "units.dnr").write_bytes(struct.pack("<I", 1) + (1).to_bytes(2, "little")
                                         + (0x800002).to_bytes(3, "little") + bytes(3))
    assert read_index(tmp_path / "units.dnr") == [SkyFile(1, 32, 0, 0)]


def test_keep_only_confident_transcripts():
    sure = {"text": "no harm done", "avg_logprob": -0.2, "no_speech_prob": 0.01, "compression_ratio": 0.8}
    assert keep([sure])
    assert not keep([])
    assert not keep([sure, {**sure, "avg_logprob": -0.9}])
    assert not keep([{**sure, "no_speech_prob": 0.9}])
    assert not keep([{**sure, "compression_ratio": 3.0}])
