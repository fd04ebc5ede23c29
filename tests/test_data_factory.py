"""A real, small build: synthesis with real engines, manifests, spans, and the reserved-entity gate."""

import json
import shutil

import pytest
import soundfile as sf

from ctcbias.data.catalogs import is_reserved
from ctcbias.data.voices import HELDOUT_VOICES, TRAIN_VOICES, Voice, synthesize

pytestmark = pytest.mark.skipif(not (shutil.which("espeak-ng") and shutil.which("flite")),
                                reason="speech synthesizers not installed (scripts/setup.sh --synth)")


def test_two_engines_give_16k_mono_speech():
    for spec in ({"engine": "espeak", "name": "en-us", "variant": "m3", "rate": 1.0, "pitch": 50},
                 {"engine": "flite", "name": "kal", "rate": 1.0, "pitch": 50}):
        a = synthesize(spec, "take twenty milligrams of lisinopril")
        assert a.ndim == 1 and 1.0 < len(a) / 16000 < 5.0
        assert 0.05 < abs(a).max() <= 1.0


def test_voice_split_is_disjoint():
    assert not {v.id for v in TRAIN_VOICES} & {v.id for v in HELDOUT_VOICES}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    from ctcbias.data.build import BuildConfig, build

    out = tmp_path_factory.mktemp("tiny")
    stats = build(BuildConfig(out=out, hours=0.01, dev_utts=4, test_utts=6, seed=3, jobs=2))
    return out, stats


def _read(path):
    return [json.loads(l) for l in path.read_text().splitlines()]


def test_manifests_audio_and_fields(tiny):
    out, stats = tiny
    for name in ("train", "dev", "dev-heldout", "medical-test", "names-test"):
        rows = _read(out / f"{name}.jsonl")
        assert rows and stats[name]["utterances"] == len(rows)
        for r in rows:
            for k in ("id", "audio", "duration", "text", "display", "entities", "voice", "domain", "split"):
                assert k in r
            info = sf.info(str(out / r["audio"]))
            assert info.samplerate == 16000 and info.channels == 1
            assert abs(info.duration - r["duration"]) < 0.01
            words = r["text"].split()
            for e in r["entities"]:
                assert " ".join(words[e["word_start"]:e["word_end"]]).removesuffix("'s") == e["spoken"]


def test_test_sets_use_reserved_entities_held_out_voices_and_lists(tiny):
    out, _ = tiny
    held = {v.id for v in HELDOUT_VOICES}
    for name in ("medical-test", "names-test"):
        for r in _read(out / f"{name}.jsonl"):
            assert Voice(r["voice_settings"]["engine"], r["voice_settings"]["name"]).id in held
            assert r["entities"] and all(is_reserved(e["display"])
                                         for e in r["entities"])
            for n in ("100", "1000"):
                lst = r["bias_lists"][n]
                assert len(lst) == int(n) and len(set(lst)) == len(lst)
                assert all(e["display"] in lst for e in r["entities"])


def test_no_reserved_entity_in_training_manifests(tiny):
    out, _ = tiny
    from ctcbias.data.build import sources

    gate = sources()[2]
    held = {v.id for v in HELDOUT_VOICES}
    for name in ("train", "dev"):
        for r in _read(out / f"{name}.jsonl"):
            assert r["text"] not in gate, r["text"]
            assert not any(e.get("display") and is_reserved(e["display"])
                           for e in r["entities"])
            assert Voice(r["voice_settings"]["engine"], r["voice_settings"]["name"]).id not in held


def test_dev_heldout_is_dev_in_the_held_out_voices(tiny):
    """Same texts and entities as dev (so the same lists), only the voices differ: held-out ones."""
    out, _ = tiny
    from ctcbias.data.dev_lists import dev_items

    held = {v.id for v in HELDOUT_VOICES}
    dev, dh = _read(out / "dev.jsonl"), _read(out / "dev-heldout.jsonl")
    assert [(r["text"], r["entities"]) for r in dh] == [(r["text"], r["entities"]) for r in dev]
    assert all(Voice(r["voice_settings"]["engine"], r["voice_settings"]["name"]).id in held for r in dh)
    assert all(r["audio"].startswith("audio/dev-heldout/") for r in dh)
    assert [r["bias_lists"] for r in dev_items(out, name="dev-heldout")] == [r["bias_lists"] for r in dev_items(out)]
