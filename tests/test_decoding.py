"""Decoder biasing pieces on crafted CTC posteriors: each technique does what it claims, and
what it must not do (boost distractors, keep a dead prefix's boost, replace well-heard words)."""

import numpy as np
import pytest

from ctcbias.inference.beam_search import BeamConfig, beam_search
from ctcbias.inference.biasing_list import MAX_ENTRIES, BiasingList, BiasingListError, TokenTrie
from ctcbias.inference.g2g import variants
from ctcbias.inference.lexicon_lookup import candidates, lookup
from ctcbias.inference.lookup_judge import FEATURES, LookupModel
from ctcbias.training.lookup import fit_judge
from ctcbias.inference.phonetic_rescoring import rescore
from ctcbias.inference.recognizer import DEFAULT_MODEL
from ctcbias.inference.subword_boosting import BoostConfig
from ctcbias.inference.unigram_boosting import UnigramBoostedLM
from ctcbias.language_model import LanguageModel
from ctcbias.tokenizer import PhoneSet, Tokenizer

TOK = Tokenizer(DEFAULT_MODEL / "subwords.model")
PH = PhoneSet()


def posteriors(units: list[int], n_units: int, second: list[int | None] | None = None, gap: float = 1.5,
               per_unit: int = 2) -> np.ndarray:
    """Peaked CTC posteriors spelling ``units`` (blank between); ``second[i]`` is a runner-up
    ``gap`` nats below unit i."""
    rows = []
    for i, u in enumerate(units):
        for _ in range(per_unit):
            r = np.full(n_units, -12.0)
            r[u] = -0.05
            if second and second[i] is not None:
                r[second[i]] = -0.05 - gap
            rows.append(r)
        r = np.full(n_units, -12.0)
        r[0] = -0.01
        rows.append(r)
    lp = np.array(rows)
    return lp - np.logaddexp.reduce(lp, axis=1, keepdims=True)


def greedy_text(lp):
    best = lp.argmax(1)
    return TOK.decode([int(b) for i, b in enumerate(best) if b and (i == 0 or b != best[i - 1])])


def test_beam_without_list_agrees_with_greedy():
    lp = posteriors(TOK.encode("please call my mother tomorrow"), len(TOK))
    assert beam_search(lp, TOK)[0].text == greedy_text(lp) == "please call my mother tomorrow"


def _entity_case(entity: str, heard: str):
    """Posteriors where each unit of ``entity`` is the runner-up of the unit actually heard."""
    a, b = TOK.encode(heard), TOK.encode(entity)
    assert len(a) == len(b), (a, b)
    return posteriors(a, len(TOK), second=[y if y != x else None for x, y in zip(a, b)])


def _pair():
    # two spellings with the same number of units, for a clean runner-up construction
    for ent, heard in [("call stellios now", "call stellar us now"), ("take lisinopril", "take lisinoprol"),
                       ("call zelenskyy", "call zelenskyi")]:
        if len(TOK.encode(ent)) == len(TOK.encode(heard)):
            return ent, heard
    pytest.skip("no equal-length pair under this tokenizer")


def test_subword_boosting_brings_in_the_entity_and_only_it():
    ent, heard = _pair()
    word = [w for w in ent.split() if w not in heard.split()][0]
    lp = _entity_case(ent, heard)
    cfg = BoostConfig()
    assert beam_search(lp, TOK)[0].text == heard
    biased = BiasingList.compile([word.title(), "Metformin", "Oslo"], TOK)
    assert beam_search(lp, TOK, bias=biased, boost=cfg)[0].text == ent
    distractors = BiasingList.compile(["Metformin", "Oslo", "Quetiapine"], TOK)
    assert beam_search(lp, TOK, bias=distractors, boost=cfg)[0].text == heard


def test_dead_prefix_gives_its_boost_back():
    # heard "lisa", list has "lisinopril": the shared prefix is boosted, then taken back
    lp = posteriors(TOK.encode("call lisa now"), len(TOK))
    plain = beam_search(lp, TOK)[0]
    biased = beam_search(lp, TOK, bias=BiasingList.compile(["Lisinopril"], TOK), boost=BoostConfig())[0]
    assert biased.text == plain.text
    assert biased.score == pytest.approx(plain.score, abs=1e-6)


class TinyLM(LanguageModel):
    """Unigram LM: known words log 0.1, the OOV class log 1e-6."""

    vocab = {"call", "now", "take", "please"}

    def start(self):
        return ()

    def score(self, state, word):
        return (np.log(0.1) if word in self.vocab else np.log(1e-6)), ()

    def unk(self, state):
        return np.log(1e-6)

    def end(self, state):
        return 0.0

    def __contains__(self, w):
        return w in self.vocab


class PrefixLM(TinyLM):
    """TinyLM that tells the beam search its words' prefixes (so unknown words pay the offset)."""

    @property
    def prefixes(self):
        return frozenset(w[:i] for w in self.vocab for i in range(1, len(w) + 1))


def test_a_list_makes_its_words_cheap_not_their_pieces():
    """A partial word that is the start of a list word escapes the unknown-word offset while it
    grows; if it ends there ("lisin" of "lisinopril") it pays the offset after all, as it would
    with no list. The list word itself never pays it."""
    bias = BiasingList.compile(["Lisinopril"], TOK)
    lm = PrefixLM()
    for text, listed_pays in (("call lisin now", True), ("call lisinopril now", False)):
        lp = posteriors(TOK.encode(text), len(TOK))
        plain = beam_search(lp, TOK, lm)[0]
        biased = beam_search(lp, TOK, UnigramBoostedLM(lm, bias.words, boost=0.0), bias=bias)[0]
        assert plain.text == biased.text == text
        gain = biased.score - plain.score  # what the list saved this hypothesis
        assert gain == pytest.approx(0.0 if listed_pays else -BeamConfig().unk_offset, abs=1e-6), text


def test_unigram_boosting_scores_list_words_through_the_oov_class():
    lm = UnigramBoostedLM(TinyLM(), frozenset({"stellios"}), boost=8.0)
    assert lm.score((), "stellios")[0] == pytest.approx(np.log(1e-6) + 8.0)
    assert lm.score((), "stellar")[0] == pytest.approx(np.log(1e-6))  # other OOVs unchanged
    assert lm.score((), "call")[0] == pytest.approx(np.log(0.1))


def _phone_posteriors(phones: list[str], per: int = 3) -> np.ndarray:
    return posteriors([PH.index[p] for p in phones], len(PH), per_unit=per)


def test_phonetic_rescoring_prefers_the_hypothesis_that_sounds_right():
    from ctcbias.inference.result import Hypothesis

    bias = BiasingList.compile(["Lisinopril"], TOK)
    heard = "T EY K L IH S IH N AA P R IH L".split()
    plp = _phone_posteriors(heard)
    wrong = Hypothesis((), "take listen april", 0.0, 0.0, 0.0)
    right = Hypothesis((), "take lisinopril", -2.0, -2.0, 0.0)
    out = rescore([wrong, right], plp, bias, weight=0.5)
    assert out[0].text == "take lisinopril"
    assert rescore([wrong, right], plp, bias, weight=0.0)[0].text == "take listen april"


def _spoken(words_ph: dict[str, str]):
    """Subword posteriors spelling the keys and phone posteriors saying the values, frames lined
    up: 4 frames per subword unit (3 + blank)."""
    text = " ".join(words_ph)
    toks = TOK.encode(text)
    lp = posteriors(toks, len(TOK), per_unit=3)
    rows = []
    for w, ph in words_ph.items():
        ph, n = ph.split(), sum(len(TOK.encode(x)) for x in w.split()) * 4
        seg = _phone_posteriors(ph, per=max(1, n // len(ph) - 1))
        rows.append(seg[:n] if len(seg) >= n else np.vstack([seg, np.tile(seg[-1:], (n - len(seg), 1))]))
    plp = np.vstack(rows)
    assert len(plp) == len(lp)
    return text, toks, lp, plp


def _take_listen_april_now():
    """"take listen april now" where the middle sounds like "lisinopril"."""
    return _spoken({"take": "T EY K", "listen april": "L IH S IH N AA P R AH L", "now": "N AW"})


JUDGE = LookupModel.load(DEFAULT_MODEL / "lexicon_lookup.json")


def test_lexicon_lookup_replaces_only_spans_that_sound_like_an_entity():
    text, toks, lp, plp = _take_listen_april_now()
    bias = BiasingList.compile(["Lisinopril", "Oslo"], TOK)
    assert lookup(toks, text, lp, plp, TOK, bias, JUDGE) == "take lisinopril now"
    # the evidence behind it: the entity's phones fit the window far better than "listen april"'s
    best = max(candidates(toks, text, lp, plp, TOK, bias), key=JUDGE.score)
    assert (best["start"], best["end"], bias.entries[best["entry"]].spoken) == (1, 3, "lisinopril")
    assert best["phone_gain"] > 5 and best["fit"] < best["fit_current"]
    # distractors only: ordinary words stay
    assert lookup(toks, text, lp, plp, TOK, BiasingList.compile(["Oslo", "Metformin", "Takeda"], TOK), JUDGE) == text
    # a judge that demands more than any evidence gives changes nothing
    assert lookup(toks, text, lp, plp, TOK, bias, JUDGE, threshold=1e9) == text


def test_lookup_never_swaps_well_heard_words_for_a_worse_fitting_entry():
    # "cake" heard exactly; "Cay" fits inside it, so spotting loves it, but both heads prefer "cake"
    text, toks, lp, plp = _spoken({"take": "T EY K", "the": "DH AH", "cake": "K EY K", "now": "N AW"})
    bias = BiasingList.compile(["Cay", "Oslo"], TOK)
    (c,) = [c for c in candidates(toks, text, lp, plp, TOK, bias) if (c["start"], c["end"]) == (2, 3)]
    assert bias.entries[c["entry"]].spoken == "cay" and c["heard_distance_current"] == 0
    assert c["phone_gain"] < 0 and c["subword_gain"] < 0 and c["spotted_fit"] < 0.1
    # a threshold the judge's score clears does not take it: the veto keeps "cake"
    assert lookup(toks, text, lp, plp, TOK, bias, JUDGE, threshold=JUDGE.score(c) - 0.1).split()[2] == "cake"
    # while a misheard span still takes the entity that sounds like it
    text, toks, lp, plp = _take_listen_april_now()
    assert lookup(toks, text, lp, plp, TOK, BiasingList.compile(["Lisinopril", "Oslo"], TOK), JUDGE,
                  threshold=-1e9) == "take lisinopril now"


def test_lookup_candidates_are_the_closest_to_what_was_heard_and_capped():
    text, toks, lp, plp = _take_listen_april_now()
    # the entity among many distractors, some of which sound near the spans too
    bias = BiasingList.compile(["Lisinopril", "Listerine", "Lisbon", "Oslo", "Takeda", "Nowak", "Aprilia",
                                "Tecumseh", "Lysine", "Listeria"], TOK)
    all_ = candidates(toks, text, lp, plp, TOK, bias)
    assert len(all_) > 4
    for c in all_:  # each candidate carries how far the heard phones are from the entry and from the words
        assert 0.0 <= c["heard_distance"] <= 0.7 and 0.0 <= c["heard_distance_current"] <= 1.0
    capped = candidates(toks, text, lp, plp, TOK, bias, max_candidates=4)
    assert len(capped) == 4
    # the cap keeps the closest to what was heard, the true entity's span among them
    assert max(c["heard_distance"] for c in capped) <= sorted(c["heard_distance"] for c in all_)[3] + 1e-6
    assert any(bias.entries[c["entry"]].spoken == "lisinopril" and (c["start"], c["end"]) == (1, 3) for c in capped)
    assert lookup(toks, text, lp, plp, TOK, bias, JUDGE) == "take lisinopril now"


def test_lookup_judge_learns_which_evidence_matters(tmp_path):
    rng = np.random.default_rng(0)
    rows, labels = [], []
    for _ in range(400):
        y = int(rng.random() < 0.3)
        r = {k: float(rng.normal()) for k in FEATURES}
        r["phone_gain"] = float(rng.normal(8.0 if y else -8.0, 4.0))  # the only informative feature
        rows.append(r)
        labels.append(y)
    judge = fit_judge(rows, labels)
    w = dict(zip(FEATURES, judge.weights))
    assert w["phone_gain"] > 1.0 and all(abs(v) < 0.5 for k, v in w.items() if k != "phone_gain")
    acc = np.mean([(judge.score(r) > 0) == bool(y) for r, y in zip(rows, labels)])
    assert acc > 0.9
    judge.save(tmp_path / "j.json")
    assert LookupModel.load(tmp_path / "j.json") == judge
    (tmp_path / "old.json").write_text('{"features": ["phone_gain"], "weights": [1, 0], "mean": [0], "std": [1]}')
    with pytest.raises(ValueError, match="features"):
        LookupModel.load(tmp_path / "old.json")



def test_network_judge_learns_evidence_that_only_counts_together(tmp_path):
    # a said entity: a phone gain AND a good fit; either alone is a distractor. One weight per
    # feature cannot say "both", the network's hidden units can
    rng = np.random.default_rng(1)
    rows, labels = [], []
    for _ in range(1200):
        r = {k: float(rng.normal()) for k in FEATURES}
        r["phone_gain"], r["fit"] = float(rng.normal(0, 3)), float(rng.normal(0, 1))
        rows.append(r)
        labels.append(int(r["phone_gain"] > 0 and r["fit"] < 0))
    test, test_y = rows[800:], np.array(labels[800:])
    acc = {h: np.mean((fit_judge(rows[:800], labels[:800], hidden=h, **kw).scores(test) > 0) == test_y)
           for h, kw in ((0, {}), (16, {"l2": 0.001, "steps": 1500}))}
    assert acc[16] > 0.9 and acc[16] > acc[0] + 0.05
    net = fit_judge(rows[:200], labels[:200], hidden=4, steps=50)
    net.save(tmp_path / "net.json")
    back = LookupModel.load(tmp_path / "net.json")
    assert back == net and len(back.hidden) == 4
    assert back.score(test[0]) == pytest.approx(float(net.scores(test[:1])[0]))

def test_biasing_list_normalizes_keeps_display_and_rejects_junk():
    bl = BiasingList.compile(["O'Brien", "COVID-19", "Zelenskyy", "São Paulo", "sao paulo", "  ", "🙂", "!!!"], TOK)
    assert [e.display for e in bl.entries] == ["O'Brien", "COVID-19", "Zelenskyy", "São Paulo"]
    assert [e.spoken for e in bl.entries] == ["o'brien", "covid nineteen", "zelenskyy", "sao paulo"]
    assert {r[0] for r in bl.rejected} == {"sao paulo", "🙂", "!!!"}
    for k, e in enumerate(bl.entries):
        assert e.tokens and all(TOK.decode(list(s)) == e.spoken for s in e.tokens)
        assert e.quick and bl.prons(k) and all(bl.prons(k))
    assert len(bl.prons(2)) > 1  # zelenskyy: G2P plus grapheme-to-grapheme variants
    assert len(BiasingList.compile(["Zelenskyy"], TOK, variants=False).prons(0)) == 1
    assert BiasingList.compile(["Zelenskyy"], TOK) is BiasingList.compile(["Zelenskyy"], TOK)  # cached
    with pytest.raises(BiasingListError, match="limit"):
        BiasingList.compile(["x"] * (MAX_ENTRIES + 1), TOK)
    with pytest.raises(BiasingListError, match="characters"):
        BiasingList.compile(["a" * 500], TOK)
    with pytest.raises(BiasingListError, match="list of strings"):
        BiasingList.compile("Zelenskyy", TOK)


def test_trie_matches_phrases_across_words():
    bl = BiasingList.compile(["Angina Pectoris"], TOK)
    node = 0
    for t in bl.entries[0].tokens[0]:
        node = bl.trie.step(node, t)
        assert node is not None
    assert bl.trie.ends[node] == (0,)
    t = TokenTrie()
    t.add((1, 2), 0)
    assert t.step(t.step(0, 1), 3) is None


def test_g2g_variants_differ_from_each_other():
    v = variants("cyra", 3)
    assert len(v) == 3 and len({tuple(x) for x in v}) == 3
    assert ["K", "IY", "R", "AH"] in v and ["S", "IY", "R", "AH"] in v


def test_entity_guard_keeps_only_entities_that_sound_like_the_audio():
    from ctcbias.inference.result import Hypothesis
    from ctcbias.inference.entity_guard import entity_distances, verified

    text, toks, lp, plp = _take_listen_april_now()
    bias = BiasingList.compile(["Lisinopril", "Oslo"], TOK)

    def hyp(t):
        return Hypothesis(tuple(TOK.encode(t)), t, 0.0, 0.0, 0.0)

    right, wrong, plain = hyp("take lisinopril now"), hyp("take oslo now"), hyp(text)
    (s, e, k, d_right), = entity_distances(list(right.tokens), right.text, lp, plp, TOK, bias)
    (_, _, _, d_wrong), = entity_distances(list(wrong.tokens), wrong.text, lp, plp, TOK, bias)
    assert (s, e, bias.entries[k].display) == (1, 2, "Lisinopril") and d_right <= 0.2 and d_wrong >= 0.6
    assert verified([wrong, right], lp, plp, TOK, bias, 0.4) is right  # the distractor is passed over
    assert verified([wrong], lp, plp, TOK, bias, 0.4) is None
    assert verified([plain, right], lp, plp, TOK, bias, 0.4) is plain  # no entity: nothing to check


def test_word_frames_memo_aligns_each_hypothesis_once():
    from ctcbias.inference.align import word_frames

    toks = TOK.encode("please call my mother tomorrow")
    lp = posteriors(toks, len(TOK))
    memo: dict = {}
    plain = word_frames(toks, lp, TOK, with_confidence=True)
    assert len(plain) == 5 and word_frames(toks, lp, TOK, with_confidence=True, memo=memo) == plain
    assert list(memo) == [tuple(toks)]
    memo[tuple(toks)] = None  # what is in the memo is used: an unalignable entry stays unaligned
    assert word_frames(toks, lp, TOK, memo=memo) is None


def test_word_frames_follow_the_words_the_text_shows():
    from ctcbias.inference.align import word_frames

    # the beam may spell a lone "▁" before a word-start unit ("calls from  use"): no word of its own,
    # or every later word would take its neighbour's frames (and the lookup skipped the utterance)
    sp = TOK.pieces.index("\u2581")
    toks = [sp] + TOK.encode("calls from") + [sp] + TOK.encode("use") + [sp]
    lp = posteriors(toks, len(TOK))
    assert TOK.decode(toks).split() == ["calls", "from", "use"]
    frames = word_frames(toks, lp, TOK)
    assert len(frames) == 3
    # each word's frames are its own units': "use" starts at its "▁us", after the lone "▁"
    first = [3 * i for i in range(len(toks))]  # posteriors(): 2 frames a unit, then a blank
    assert frames == [(first[1], first[2] + 1), (first[3], first[3] + 1), (first[5], first[6] + 1)]


def test_batched_window_costs_equal_one_call_per_window():
    from ctcbias.inference.align import ctc_cost, ctc_cost_windows

    rng = np.random.default_rng(0)
    lp = rng.normal(size=(80, 40))
    lp -= np.logaddexp.reduce(lp, axis=1, keepdims=True)
    jobs = [(3, 50, [5, 5, 7, 2]), (0, 79, [1, 2, 3]), (10, 20, [9]), (40, 45, [4, 4, 4]), (0, 1, [6, 6])]
    got = ctc_cost_windows(lp, jobs)
    want = [ctc_cost(lp[a:b + 1], [u])[0] for a, b, u in jobs]
    assert np.allclose(got[:4], want[:4], rtol=1e-5)
    assert not np.isfinite(got[4]) and not np.isfinite(want[4])  # a repeat needs a blank: 3 frames


def test_ctc_cost_is_the_likelihood_summed_over_every_labelling():
    """The scaled forward pass against its definition (every labelling of a few frames that
    collapses to the units, summed), and against torch's loss on a long, peaky utterance, where
    renormalizing each frame is what keeps the probabilities from underflowing."""
    import itertools

    import torch
    import torch.nn.functional as F

    from ctcbias.inference.align import ctc_cost

    rng = np.random.default_rng(5)
    for units, T in (([1, 2], 5), ([2, 2], 6), ([3, 1, 3], 6), ([1], 1), ([], 3), ([2, 2, 2], 4)):
        lp = rng.normal(size=(T, 4)) * 2
        lp -= np.logaddexp.reduce(lp, axis=1, keepdims=True)
        paths = [lp[np.arange(T), path].sum() for path in itertools.product(range(4), repeat=T)
                 if [u for u, _ in itertools.groupby(path) if u] == units]
        want = -np.logaddexp.reduce(paths) if paths else np.inf
        got = ctc_cost(lp, [units])[0]
        assert (got == want == np.inf) or abs(got - want) < 1e-9, (units, T, got, want)
    # 400 frames, mostly blank and sure of itself; sequences the audio says and ones it does not
    said = rng.integers(1, 40, size=60)
    best = np.zeros(400, dtype=np.int64)
    best[np.arange(60) * 6 + 20] = said
    lp = np.log(np.full((400, 40), 1e-6) + np.eye(40)[best]).astype(np.float32)
    lp -= np.logaddexp.reduce(lp, axis=1, keepdims=True)
    seqs = [said.tolist(), said[::-1].tolist(), rng.integers(1, 40, size=90).tolist(), [7]]
    want = F.ctc_loss(torch.from_numpy(lp)[:, None].expand(-1, len(seqs), -1), torch.tensor(sum(seqs, [])),
                      torch.full((len(seqs),), 400), torch.tensor([len(q) for q in seqs]), reduction="none").numpy()
    got = ctc_cost(lp, seqs)
    assert got[0] < 1.0 and got[1] > 100  # what was said costs next to nothing, backwards a lot
    assert np.allclose(got, want, rtol=1e-5, atol=1e-4)  # torch sums in float32


def test_forced_alignment_is_the_best_path_among_all_of_them():
    """ctc_align against every labelling of a few frames: the best one that collapses to the units
    (blank between repeats) gives each unit's first and last frame."""
    import itertools

    from ctcbias.inference.align import ctc_align

    rng = np.random.default_rng(4)
    for units, T in (([1, 2], 5), ([2, 2], 6), ([3, 1, 3], 6), ([1], 1), ([2, 2, 2], 4)):
        lp = rng.normal(size=(T, 4)) * 2
        best, want = -np.inf, None
        for path in itertools.product(range(4), repeat=T):
            runs = [(u, [t for t, _ in g]) for u, g in itertools.groupby(enumerate(path), key=lambda x: x[1])]
            if [u for u, _ in runs if u] != units:
                continue
            score = lp[np.arange(T), path].sum()
            if score > best:
                best, want = score, [(ts[0], ts[-1]) for u, ts in runs if u]
        assert ctc_align(lp, units) == want
    assert ctc_align(np.zeros((2, 4)), [2, 2]) is None  # a repeat needs a blank between: 3 frames
    assert ctc_align(np.zeros((3, 4)), []) == []


def test_the_compiled_loops_work_where_numba_finds_no_cache_location():
    """A read-only install without a writable home: numba cannot cache the loops, so they compile
    in the process; importing and aligning still work (in a fresh interpreter, no locator left)."""
    import subprocess
    import sys

    code = ("import numba.core.caching as c; c.CacheImpl._locator_classes = []; import numpy as np; "
            "from ctcbias.inference import align; "
            "assert type(align._keyword_best._cache).__name__ == 'NullCache'; "
            "print(align.ctc_align(np.log(np.full((4, 3), 1 / 3, dtype=np.float32)), [1, 2]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[(0, 0), (1, 1)]"


def _best_window_path(em: np.ndarray, units: list[int]) -> float:
    """Brute force for keyword spotting: the best Viterbi path of ``units`` over every window
    a..b that starts on the first unit and ends on the last (blank between repeats)."""
    ext = [u for x in units for u in (x, 0)][:-1]  # u1 blank u2 ... uL (no leading or trailing blank)
    best = -np.inf
    for a in range(len(em)):
        score = np.full(len(ext), -np.inf)
        score[0] = em[a, ext[0]]
        for t in range(a, len(em)):
            if t > a:
                new = score.copy()
                for s in range(1, len(ext)):
                    new[s] = max(new[s], score[s - 1])
                    if s >= 2 and ext[s] and ext[s] != ext[s - 2]:
                        new[s] = max(new[s], score[s - 2])
                score = new + em[t, ext]
            best = max(best, score[-1])
    return best


def test_keyword_spotting_finds_each_keyword_where_it_fits_best():
    from ctcbias.inference.align import KeywordGraph, ctc_keyword_scores

    rng = np.random.default_rng(1)
    lp = rng.normal(size=(12, 5)) * 2
    lp -= np.logaddexp.reduce(lp, axis=1, keepdims=True)
    em = lp - lp.max(1, keepdims=True)
    keys = [[1, 2, 3], [2, 2], [4], [3, 1, 3, 1]]
    score, first, last = ctc_keyword_scores(lp, KeywordGraph(keys))
    assert np.allclose(score, [_best_window_path(em, k) for k in keys], atol=1e-4)
    # the reported frames hold that score: the same search on just those frames finds it again
    for k, a, b, s in zip(keys, first, last, score):
        assert np.isclose(_best_window_path(em[a:b + 1], k), s, atol=1e-4)

    # on peaked posteriors spelling 3 3 _ 4 5 5: the keyword 4 5 sits on frames 3-5 at no cost
    lp = posteriors([3, 4, 5], 6)  # frames: 3 3 _ 4 4 _ 5 5 _
    score, first, last = ctc_keyword_scores(lp, KeywordGraph([[4, 5], [5, 4]]))
    assert (first[0], last[0]) == (3, 7) and score[0] > -0.2 and score[1] < -10
    # an entry without phones is never spotted (not a perfect match everywhere)
    assert ctc_keyword_scores(lp, KeywordGraph([[], [4, 5]]))[0][0] == -np.inf


def test_lookup_spots_an_entity_the_words_hide():
    text, toks, lp, plp = _take_listen_april_now()
    bias = BiasingList.compile(["Lisinopril", "Oslo", "Takeda"], TOK)
    # no shortlist at all (distance below zero): keyword spotting alone puts the entity forward
    got = candidates(toks, text, lp, plp, TOK, bias, shortlist_distance=-1.0)
    spotted = {bias.entries[c["entry"]].spoken: c for c in got}
    assert set(spotted) == {"lisinopril"}
    c = spotted["lisinopril"]
    assert (c["start"], c["end"]) == (1, 3) and c["spotted_fit"] < 0.5 and c["spotted_here"] > 0.9
    assert lookup(toks, text, lp, plp, TOK, bias, JUDGE, shortlist_distance=-1.0) == "take lisinopril now"
    # without spotting, nothing is found
    assert candidates(toks, text, lp, plp, TOK, bias, shortlist_distance=-1.0, spotted=0) == []


def test_pronunciation_cache_is_bounded_and_only_saves_time(monkeypatch):
    from ctcbias.inference import biasing_list as bl
    from ctcbias.pronounce import pronounce

    monkeypatch.setattr(bl, "_PRON_CACHE", {})
    monkeypatch.setattr(bl, "_PRON_CACHE_MAX", 5)
    first = bl.word_prons({"zelenskyy", "okafor", "lisinopril"})
    bl.word_prons({"metformin", "takeda", "oslo", "nowak"})
    assert len(bl._PRON_CACHE) == 5 and "nowak" in bl._PRON_CACHE  # the oldest went
    again = bl.word_prons({"zelenskyy", "okafor", "lisinopril"})  # asked again after leaving the cache
    assert again == first == dict(zip(["zelenskyy", "okafor", "lisinopril"],
                                      pronounce(["zelenskyy", "okafor", "lisinopril"])))
    # a list compiles to the same quick pronunciations whatever earlier calls left in the cache
    a = BiasingList.compile(["Okafor", "Zelenskyy", "Lisinopril"], TOK)
    bl.COMPILED.clear()
    monkeypatch.setattr(bl, "_PRON_CACHE", {})
    b = BiasingList.compile(["Okafor", "Zelenskyy", "Lisinopril"], TOK)
    assert a is not b and [e.quick for e in a.entries] == [e.quick for e in b.entries]
    assert all(e.quick for e in b.entries)


def test_lookup_candidates_take_the_entries_the_adapter_attends_to():
    from ctcbias.inference.align import word_frames
    from ctcbias.inference.lookup_judge import ATTENTION_FEATURES

    text, toks, lp, plp = _spoken({"take": "T EY K", "the": "DH AH", "coffee": "K AO F IY", "now": "N AW"})
    bias = BiasingList.compile(["Oslo", "Zelenskyy", "Lisbon"], TOK)
    z = [e.spoken for e in bias.entries].index("zelenskyy")
    # nothing heard sounds like "Zelenskyy": without the adapter it is no candidate anywhere
    assert not [c for c in candidates(toks, text, lp, plp, TOK, bias) if c["entry"] == z]
    # the adapter attends to it while "coffee" is said, and a little to "Oslo" everywhere
    a, b = word_frames(toks, lp, TOK)[2]
    att = np.zeros((len(lp), 1 + len(bias)), dtype=np.float32)
    att[:, 0], att[:, 1 + [e.spoken for e in bias.entries].index("oslo")] = 0.9, 0.1
    att[a:b + 1, 0], att[a:b + 1, 1 + z] = 0.2, 0.7
    got = candidates(toks, text, lp, plp, TOK, bias, attention=att, attended=1)
    (c,) = [c for c in got if c["entry"] == z]
    assert (c["start"], c["end"], c["attended"]) == (2, 3, True)
    assert c["attention_peak"] == pytest.approx(0.7) and c["attention_rank"] == 0.0
    assert c["attention_none"] < 0.5
    # every candidate carries the adapter's evidence, nominated or not
    assert all(set(ATTENTION_FEATURES) <= set(r) for r in got)
    assert all(not r["attended"] for r in got if r["entry"] != z)
    # a judge fitted without attention ignores it; one fitted with it cannot go without it
    assert lookup(toks, text, lp, plp, TOK, bias, JUDGE, attention=att) == lookup(toks, text, lp, plp, TOK, bias, JUDGE)
    # (the shipped judge, extended with zero weights on the attention: it must decide the same)
    joint = LookupModel(JUDGE.weights, JUDGE.mean + (0.0,) * 3, JUDGE.std + (1.0,) * 3, FEATURES + ATTENTION_FEATURES,
                        tuple(u[:-1] + (0.0,) * 3 + u[-1:] for u in JUDGE.hidden))
    assert lookup(toks, text, lp, plp, TOK, bias, joint, attention=att) == lookup(toks, text, lp, plp, TOK, bias, JUDGE)
    with pytest.raises(ValueError, match="attention"):
        lookup(toks, text, lp, plp, TOK, bias, joint)


def test_the_techniques_on_the_n_best_share_one_call_shape():
    """Phonetic rescoring, the lexicon lookup and both guards: ``apply(nbest, evidence)`` gives
    hypotheses, best first, as their functions decide."""
    import types

    from ctcbias.inference.entity_guard import EntityGuard, verified
    from ctcbias.inference.lexicon_lookup import LexiconLookup
    from ctcbias.inference.phonetic_rescoring import PhoneticRescoring
    from ctcbias.inference.result import Evidence, Hypothesis
    from ctcbias.inference.word_guard import WordGuard

    text, toks, lp, plp = _take_listen_april_now()
    bias = BiasingList.compile(["Lisinopril", "Oslo"], TOK)
    ev = Evidence(types.SimpleNamespace(subword=lp, phone=plp, attention=None), bias, TOK)

    def hyp(t, score=0.0):
        return Hypothesis(tuple(TOK.encode(t)), t, score, score, 0.0)

    heard, right, wrong = hyp(text), hyp("take lisinopril now", -2.0), hyp("take oslo now", -1.0)
    assert PhoneticRescoring(0.5).apply([heard, right], ev) == rescore([heard, right], plp, bias, 0.5)
    assert EntityGuard(0.4).apply([wrong, right], ev) == [verified([wrong, right], lp, plp, TOK, bias, 0.4)] == [right]
    assert EntityGuard(0.4).apply([wrong], ev) == []
    found = LexiconLookup(JUDGE, None, 0.0).apply([heard, wrong], ev)
    assert [h.text for h in found] == ["take lisinopril now", "take oslo now"]
    assert found[0].tokens == tuple(TOK.encode("take lisinopril now")) and found[1] is wrong
    assert LexiconLookup(JUDGE, None, 1e9).apply([heard], ev) == [heard]
    # the ordinary-word guard: without an entity the plain words stand; with one, the biased words
    plain = WordGuard("take the nose now please".split())
    assert [h.text for h in plain.apply([hyp("take a list now pleas"), heard], ev)] == \
        ["take the nose now please", text]
    assert plain.apply([hyp("take lisinopril now pleas")], ev)[0].text == "take lisinopril now pleas"
