"""The benchmark's peers really use the list they are given (or the comparison means nothing)."""

from pathlib import Path

import soundfile as sf

from ctcbias.normalize import normalize

EX = Path(__file__).resolve().parents[1] / "examples"
WORDS = [l for l in (EX / "words.txt").read_text(encoding="utf-8").splitlines() if l.strip()]


def _audio():
    x, sr = sf.read(EX / "pharmacy.wav", dtype="float32")
    assert sr == 16000
    return x


def test_pocketsphinx_learns_the_added_words():
    from ctcbias.evaluation.peers import PocketSphinxPeer

    p = PocketSphinxPeer()
    assert "lisinopril" not in normalize(p.transcribe(_audio(), [])).split()
    assert "lisinopril" in normalize(p.transcribe(_audio(), WORDS)).split()
    # a fresh decoder per call: the words of the last call are gone
    assert "lisinopril" not in normalize(p.transcribe(_audio(), [])).split()


def test_whisper_prompt_peer_runs_offline_and_uses_the_prompt():
    from ctcbias.evaluation.peers import WhisperPromptPeer

    p = WhisperPromptPeer()
    plain, prompted = normalize(p.transcribe(_audio(), [])), normalize(p.transcribe(_audio(), WORDS))
    assert "lisinopril" in prompted.split() and "tocilizumab" in prompted.split(), prompted
    assert plain != prompted
