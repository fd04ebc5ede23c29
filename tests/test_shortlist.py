"""Big lists: each utterance decodes with a shortlist of the entries its phones may hold."""

import random
from dataclasses import replace
from pathlib import Path

import numpy as np

from ctcbias.inference.shortlist import PhoneIndex, phone_index, shortlist, sub_list
from ctcbias.pronounce import _cmu

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SAID = ["Okafor", "Lisinopril", "Tocilizumab"]


def _big_list(n: int = 3000) -> list[str]:
    """The example's entities among ``n`` dictionary words and pairs of them (no G2P needed)."""
    words = sorted(w for w in _cmu() if w.isalpha() and len(w) > 3)
    rng = random.Random(0)
    out = SAID + [w.capitalize() for w in rng.sample(words, n // 2)]
    out += [f"{a.capitalize()} {b.capitalize()}" for a, b in zip(rng.sample(words, n), rng.sample(words, n))]
    return list(dict.fromkeys(out))[:n]


def test_the_index_finds_an_entry_where_its_phones_are_heard():
    idx = PhoneIndex([["L", "AY", "S", "IH", "N"], ["T", "OW", "K", "Y", "OW"], ["M"]])
    heard = np.full((8, 40), -9.0)
    for t, p in enumerate([0, 21, 6, 29, 17, 23, 0, 0]):  # blank L AY S IH N blank blank
        heard[t, p] = 0.0
    s = idx.scores(heard)
    assert s[0] > 0.5 and s[1] == 0 and s[2] == 0  # a one-phone entry has no pair to match


def test_a_big_list_is_shortlisted_per_utterance(rec):
    big = rec.compile(_big_list())
    opts = rec.resolve()
    assert opts.shortlists(len(big)) and opts.shortlists(1000) and not opts.shortlists(100)
    run = rec.pipeline(EXAMPLES / "pharmacy.wav")
    sub = run.shortlisted(big, opts)
    assert len(sub) <= opts.shortlist.size and sub.counts_as == len(big)
    have = {e.display for e in sub.entries}
    assert {"Lisinopril", "Tocilizumab"} <= have
    # the shortlist is a slice of the big list's compiled entries: nothing recompiled
    assert all(any(e is f for f in big.entries) for e in sub.entries)
    assert run.shortlisted(big, opts) is sub  # once per list and options
    text = run.decode(big, opts).text
    assert "Lisinopril" in text and "Tocilizumab" in text


def test_the_shortlist_can_be_turned_off(rec):
    big = rec.compile(_big_list(1500), rec.resolve(bias="decoder"))
    opts = rec.resolve(bias="decoder")
    off = replace(opts, shortlist=replace(opts.shortlist, enabled=False))
    run = rec.pipeline(EXAMPLES / "pharmacy.wav")
    assert run.shortlisted(big, off) is big
    assert len(run.shortlisted(big, opts)) < len(big)


def test_sub_list_keeps_spellings_and_subwords(rec):
    big = rec.compile(_big_list(1500))
    ks = [0, 1, 2]
    sub = sub_list(big, ks)
    assert [e.display for e in sub.entries] == SAID
    node = 0
    for t in sub.entries[1].tokens[0]:
        node = sub.trie.step(node, t)
    assert sub.trie.ends[node] == (1,)
    assert phone_index(big) is phone_index(big)  # built once per list
    assert shortlist(big, np.zeros((0, 40))) == []


def test_a_shortlist_hands_the_pronunciations_it_works_out_back_to_its_big_list(rec):
    big = rec.compile(_big_list(1500))
    first = sub_list(big, [7, 1, 5])
    prons = first.prons(2)  # entry 5 of the big list: its G2P and grapheme-to-grapheme readings
    assert prons and all(prons)
    assert big.prons(5) is prons  # kept by the big list: a later utterance's shortlist reuses it
    assert sub_list(big, [5, 9]).prons(0) is prons


def test_a_big_list_slices_its_spotting_graphs_from_one_array_of_phones(rec):
    from ctcbias.inference.align import KeywordGraph
    from ctcbias.tokenizer import PhoneSet

    big = rec.compile(_big_list(1500))
    ks = [1499, 3, 3, 0, 700]
    got = big.quick_graph(ks)
    want = KeywordGraph([[PhoneSet().index[p] for p in big.entries[k].quick] for k in ks])
    for name in ("ext", "first", "last", "enter", "from1", "from2", "lengths"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name
    assert len(big.quick_graph([]).first) == 0


def test_compiled_lists_are_cached_by_their_memory(rec):
    from ctcbias.inference import biasing_list as bl

    cache = bl.CompiledLists(max_bytes=3 * 1500 * bl.ENTRY_BYTES, make=lambda key: bl._compile(*key))
    words = _big_list(4500)
    lists = [cache.get((tuple(words[i * 1500:(i + 1) * 1500]), rec.tokenizer, True)) for i in range(3)]
    assert len(cache) == 3 and cache.nbytes == sum(b.nbytes() for b in lists)
    phone_index(lists[2])  # derived arrays count: the list grew past the budget
    assert lists[2].nbytes() > 1500 * bl.ENTRY_BYTES
    cache.get((tuple(words[1500:3000]), rec.tokenizer, True))  # the second used last: the first goes
    assert len(cache) == 2 and cache.nbytes <= cache.max_bytes
    assert cache.get((tuple(words[1500:3000]), rec.tokenizer, True)) is lists[1]


def test_an_entry_compiles_once_across_lists(rec):
    from ctcbias.inference.biasing_list import BiasingList

    words = _big_list(1200)
    a = BiasingList.compile(words[:1000], rec.tokenizer)
    b = BiasingList.compile(words[200:], rec.tokenizer)
    assert a is not b and len(b) == 1000
    assert all(x is y for x, y in zip(a.entries[200:], b.entries[:800]))  # the same compiled entries
    node = 0
    for t in b.entries[-1].tokens[0]:  # the prefix tree, built on first use, holds the new ones
        node = b.trie.step(node, t)
    assert b.trie.ends[node] == (999,)


def test_a_cached_catalog_keeps_one_copy_in_the_attention_precision(rec):
    import torch

    bias = rec.compile(SAID + ["Metformin", "Oslo"])
    cat = rec.entity_embeddings(bias)
    keys, values, _, _ = cat.extended(torch.bfloat16, rec.adapter)
    assert cat.keys.dtype == torch.bfloat16 and cat.keys.untyped_storage().data_ptr() == keys.untyped_storage().data_ptr()
    with torch.inference_mode():
        fresh = rec.adapter.embed([list(e.tokens[0]) for e in bias.entries])
    assert torch.equal(fresh.keys.to(torch.bfloat16), cat.keys)
    assert bias.nbytes() >= keys.untyped_storage().nbytes() + values.untyped_storage().nbytes()


def test_a_shortlist_decode_keeps_the_entities_the_check_believes(rec):
    from ctcbias.inference.result import Result
    from ctcbias.inference.shortlist import ATTENTION_CHECK_FEATURES, CHECK_FEATURES, check_features, confirmed
    from ctcbias.normalize import normalize

    big = rec.compile(_big_list())
    opts = rec.resolve()
    run = rec.pipeline(EXAMPLES / "pharmacy.wav")
    text = run.decode(big, opts).text
    assert "Lisinopril" in text and "Tocilizumab" in text
    # a decode that also names an entry the audio does not hold: that entity goes, the others stay
    sub = sub_list(big, [1, 2, 2000], counts_as=len(big))
    opts = opts.shortlist.decoding(opts)
    said = normalize(text)
    fake = Result(f"{said} {sub.entries[2].spoken}")
    _, spans, rows, _ = check_features(run, fake, sub, opts)
    # joint biasing: the adapter's view of each entity too, and the check that weighs it
    assert all(set(r) == set(CHECK_FEATURES + ATTENTION_CHECK_FEATURES) for r in rows)
    odds = dict(zip([k for _, _, k in spans], rec.joint_shortlist_check.scores(rows)))
    assert sorted(odds) == [0, 1, 2]
    assert odds[0] > 0 and odds[1] > 0
    assert odds[2] < opts.shortlist.confirm_threshold < min(odds[0], odds[1])
    out = normalize(confirmed(run, fake, sub, opts).raw_text)
    assert sub.entries[2].spoken not in out and "lisinopril" in out and "tocilizumab" in out
    assert confirmed(run, Result(said), sub, opts).raw_text == said  # every entity believed: as it was
    # decoder biasing: no attention, the check over the phone evidence alone judges
    from dataclasses import replace

    dec = replace(opts, bias="decoder")
    _, _, rows, _ = check_features(run, fake, sub, dec)
    assert all(set(r) == set(CHECK_FEATURES) for r in rows)
    assert sub.entries[2].spoken not in normalize(confirmed(run, fake, sub, dec).raw_text)


def test_a_shortlist_decodes_without_the_entity_guard_unless_asked(rec):
    from dataclasses import replace

    opts = rec.resolve()
    assert opts.guard_distance is not None and opts.shortlist.decoding(opts).guard_distance is None
    on = replace(opts, shortlist=replace(opts.shortlist, entity_guard=True))
    assert on.shortlist.decoding(on).guard_distance == opts.guard_distance


def _noisy_posteriors(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Phone log-posteriors with runs of a best phone (blank often) and second choices above 0.1."""
    p = rng.dirichlet(np.full(40, 0.3), size=frames)
    best = rng.integers(0, 40, size=frames)
    best[rng.random(frames) < 0.4] = 0
    p[np.arange(frames), best] += 2.0
    return np.log(p / p.sum(1, keepdims=True)).astype(np.float32)


def test_index_scores_and_spotting_equal_their_plain_forms(monkeypatch):
    from ctcbias.inference import shortlist
    from ctcbias.inference.align import KeywordGraph, ctc_keyword_scores
    from ctcbias.inference.align import ctc_keyword_best as _spot
    from ctcbias.inference.shortlist import _PH

    def plain_scores(logp):  # the index's scores with numpy's own unique: the fast path must equal it
        with monkeypatch.context() as m:
            m.setattr(shortlist, "_distinct", np.unique)
            m.setattr(shortlist, "_runs", lambda x: np.unique(x, return_counts=True))
            return idx.scores(logp)

    assert shortlist._distinct(np.array([3, 1, 3, 2, 1])).tolist() == [1, 2, 3]
    rng = np.random.default_rng(3)
    phones = _PH.units[1:]
    prons = [[phones[i] for i in rng.integers(0, len(phones), size=rng.integers(0, 9))] for _ in range(3000)]
    idx = PhoneIndex(prons)
    for frames in (0, 1, 3, 60, 200):
        logp = _noisy_posteriors(rng, frames)
        assert np.array_equal(idx.scores(logp), plain_scores(logp))
        if frames:
            graph = KeywordGraph([[_PH.index[p] for p in pron] for pron in prons[:300]])
            assert np.array_equal(_spot(logp, graph), ctc_keyword_scores(logp, graph)[0])
    assert _spot(np.zeros((0, 40), dtype=np.float32), KeywordGraph([[3, 4]])).tolist() == [-np.inf]


def test_the_adapter_pass_after_a_shortlist_reuses_the_stack_to_the_same_numbers(rec):
    from ctcbias.audio import load_audio

    feats = rec.features(load_audio(EXAMPLES / "pharmacy.wav"))
    bias = rec.compile(SAID + ["Metformin", "Oslo"])
    plain = rec.posteriors(None, features=feats, keep=True)
    assert plain.stack is not None and rec.posteriors(None, features=feats).stack is None
    whole = rec.posteriors(None, features=feats, bias=bias)
    reused = rec.posteriors(None, features=feats, bias=bias, base=plain)
    for name in ("subword", "inter", "phone", "plain", "attention"):
        assert np.array_equal(getattr(whole, name), getattr(reused, name)), name
    # the pipeline keeps the stack for a shortlist's adapter pass only
    big = rec.compile(_big_list())
    run = rec.pipeline(features=feats)
    run.shortlisted(big, rec.resolve())
    assert run._plain.stack is not None
    # the model's time is counted once per pass (the benches time the decoder apart from it)
    spent = run.model_seconds
    assert spent > 0
    run.shortlisted(big, rec.resolve())
    assert run.model_seconds == spent
    assert rec.pipeline(features=feats).posteriors(bias, rec.resolve(bias="none")).stack is None


def test_a_big_list_compiled_leaves_the_collector_nothing_of_it(rec):
    import gc

    before = gc.get_freeze_count()
    rec.compile(_big_list(2500))
    assert gc.get_freeze_count() > before


def test_a_long_entry_heard_with_a_slip_outranks_a_short_one_that_fits(rec):
    from ctcbias.inference.shortlist import _PH

    lst = rec.compile(["Bo", "Tocilizumab"] + _big_list(1200)[3:])
    short, long_ = lst.entries[0].quick, list(lst.entries[1].quick)
    slip = long_[:3] + ["ZH"] + long_[4:]  # one phone misheard
    seq = [0, *(_PH.index[p] for p in short), 0, 0, *(_PH.index[p] for p in slip), 0]
    logp = np.log(np.eye(40)[seq] * 0.96 + 0.001).astype(np.float32)
    # per phone, the short entry fits better; over its length, the long one is the likelier said
    (per_phone,) = shortlist(lst, logp, size=1, prefer_long=0.0)
    assert len(lst.entries[per_phone].quick) <= 3  # "Bo", or "Boat" across the pause
    assert shortlist(lst, logp, size=1) == [1]


def test_a_keyword_graph_lays_out_each_sequence_between_blanks():
    from ctcbias.inference.align import KeywordGraph

    g = KeywordGraph([[1, 1, 2], [], [3]])  # a repeated unit, an empty sequence
    assert g.ext.tolist() == [0, 1, 0, 1, 0, 2, 0, 0, 0, 3, 0]
    assert g.first.tolist() == [0, 7, 8] and g.last.tolist() == [6, 7, 10] and g.lengths.tolist() == [3, 0, 1]
    assert np.flatnonzero(g.from2).tolist() == [5]  # the blank between two different units may be skipped
    assert np.flatnonzero(g.enter).tolist() == [1, 7, 9]
    assert np.flatnonzero(~g.from1).tolist() == [0, 7, 8]
    assert len(KeywordGraph([]).ext) == 0


def test_the_heard_phones_are_each_run_of_a_phone_with_its_likely_alternatives():
    from ctcbias.inference.shortlist import _ALT, _heard

    def plain(logp):  # one run at a time, as written out
        best, out, t = logp.argmax(-1), [], 0
        while t < len(best):
            u = t
            while u + 1 < len(best) and best[u + 1] == best[t]:
                u += 1
            if best[t]:
                p = logp[t:u + 1, 1:].max(0)
                out.append(np.union1d(np.flatnonzero(p >= np.log(_ALT)) + 1, [best[t]]))
            t = u + 1
        return out

    rng = np.random.default_rng(5)
    for frames in (0, 1, 2, 40, 150):
        logp = _noisy_posteriors(rng, frames)
        got, want = _heard(logp), plain(logp)
        assert len(got) == len(want) and all(np.array_equal(a, b) for a, b in zip(got, want))
    logp = np.log(np.eye(40)[[0, 7, 7, 0, 7, 3, 3, 0]] * 0.96 + 0.001)
    assert [h.tolist() for h in _heard(logp)] == [[7], [7], [3]]  # a blank parts two runs of one phone


def test_a_sound_alike_decoded_in_place_of_the_said_entry_gives_way_to_it(rec):
    from dataclasses import replace

    from ctcbias.inference.result import Result
    from ctcbias.inference.shortlist import confirmed
    from ctcbias.normalize import normalize

    big = rec.compile(_big_list() + ["Lisinoprol"])
    opts = rec.resolve()
    run = rec.pipeline(EXAMPLES / "pharmacy.wav")
    said = normalize(run.decode(big, opts).raw_text)
    assert "lisinopril" in said.split()
    sub = sub_list(big, [1, 2, len(big) - 1], counts_as=len(big))  # Lisinopril, Tocilizumab, Lisinoprol
    opts = opts.shortlist.decoding(opts)
    fake = Result(said.replace("lisinopril", "lisinoprol"))
    out = normalize(confirmed(run, fake, sub, opts).raw_text).split()
    assert "lisinopril" in out and "lisinoprol" not in out
    # without rivals the sound-alike is only judged: kept or dropped, never swapped
    off = replace(opts, shortlist=replace(opts.shortlist, rivals=0))
    assert "lisinopril" not in normalize(confirmed(run, fake, sub, off).raw_text).split()
