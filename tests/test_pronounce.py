import random
import shutil

import pytest

from ctcbias.pronounce import PHONES, _cmu, cmudict_prons, g2p, pronounce

needs_espeak = pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng not installed")


def _ed(a, b):
    d = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        p, d[0] = d[:], i
        for j, y in enumerate(b, 1):
            d[j] = min(p[j] + 1, d[j - 1] + 1, p[j - 1] + (x != y))
    return d[-1]


def test_cmudict_without_stress():
    assert cmudict_prons("hello")[0] in (["HH", "AH", "L", "OW"], ["HH", "EH", "L", "OW"])


@needs_espeak
def test_g2p_agrees_with_cmudict_on_dictionary_words():
    words = [w for w in sorted(_cmu()) if w.isalpha()]
    random.Random(1).shuffle(words)
    words = words[:200]
    hyp = g2p(words)
    errs = sum(min(_ed(h, r) for r in _cmu()[w]) for w, h in zip(words, hyp))
    per = errs / sum(len(_cmu()[w][0]) for w in words)
    assert per < 0.18, per  # measured 0.099 on 400 words
    assert all(p in PHONES for h in hyp for p in h)


@needs_espeak
def test_rare_words_get_phones():
    (lis,), (zel,), (ob,) = pronounce(["lisinopril", "zelenskyy", "o'brien"])
    assert lis[:3] == ["L", "IH", "S"] and "P" in lis and lis[-1] == "L"
    assert zel[0] == "Z" and "S" in zel and "K" in zel
    assert ob[:2] == ["OW", "B"] and "R" in ob


def test_in_process_espeak_matches_the_command():
    from ctcbias import pronounce as P

    words = ["okafor", "lisinopril", "tocilizumab", "siobhan", "wroclaw", "zelenskyy", "o'brien", "kubernetes"]
    lib = P.g2p(words)
    saved = dict(P._ESPEAK)
    try:
        P._ESPEAK["en-us"] = None  # force the command-line path
        cmd = P.g2p(words)
    finally:
        P._ESPEAK.clear()
        P._ESPEAK.update(saved)
    assert lib == cmd and all(lib)
