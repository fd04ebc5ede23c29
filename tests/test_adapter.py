"""The contextual adapter's contract: identity when it adds nothing, attention over the list,
gradients only into the adapter, per-list caching, the attention plot."""

import random
from pathlib import Path

import numpy as np
import pytest
import torch

from ctcbias.contextual_adapter import AdapterConfig, ContextualAdapter
from ctcbias.inference.recognizer import Recognizer
from ctcbias.model import CTCStack, StackConfig
from ctcbias.training.adapter import AdapterTrainConfig, batch_list, sound_alikes

EX = Path(__file__).resolve().parents[1] / "examples"
WORDS = [l for l in (EX / "words.txt").read_text(encoding="utf-8").splitlines() if l.strip()]


def _fresh(rec) -> Recognizer:
    c = rec.stack.config
    torch.manual_seed(0)
    a = ContextualAdapter(AdapterConfig(n_subwords=c.n_subwords, d=c.d, layers=c.layers)).eval()
    a.init_from_head(rec.stack.out_head)
    a.gain.data.zero_()  # with the context values still zero: an adapter that adds nothing
    return Recognizer(rec.encoder, rec.stack, rec.tokenizer, rec.model_dir, a)


def test_untrained_adapter_is_the_identity_and_attends_over_the_list(rec):
    r = _fresh(rec)
    feats = r.features(EX / "pharmacy.wav")
    base = r.posteriors(None, features=feats)
    lst = r.compile(WORDS)
    biased = r.posteriors(None, bias=lst, features=feats, attention=True)
    np.testing.assert_array_equal(base.subword, biased.subword)  # zero values: adds nothing
    att = biased.attention
    assert att.shape == (len(base.subword), 1 + len(lst))
    np.testing.assert_allclose(att.sum(1), 1.0, atol=1e-2)
    # the phone and intermediate heads sit below the adapter: never biased
    np.testing.assert_array_equal(base.phone, biased.phone)
    # embeddings are computed once per compiled list
    assert r.entity_embeddings(lst) is r.entity_embeddings(lst)


def test_a_nonzero_adapter_changes_only_the_upper_heads(rec):
    r = _fresh(rec)
    r.adapter.gain.data.fill_(4.0)
    feats = r.features(EX / "pharmacy.wav")
    base = r.posteriors(None, features=feats)
    biased = r.posteriors(None, bias=r.compile(WORDS), features=feats)
    assert np.abs(base.subword - biased.subword).max() > 0.1
    np.testing.assert_array_equal(base.inter, biased.inter)
    # an empty list leaves the base model alone
    np.testing.assert_array_equal(base.subword, r.posteriors(None, bias=r.compile([]), features=feats).subword)


def test_encoder_modes_need_an_adapter_and_return_attention(rec):
    plain = Recognizer(rec.encoder, rec.stack, rec.tokenizer, rec.model_dir, None)
    with pytest.raises(RuntimeError, match="contextual adapter"):
        plain.transcribe(EX / "pharmacy.wav", words=WORDS, bias="joint")
    assert plain.resolve().bias == "decoder" and _fresh(rec).resolve().bias == "joint"
    res = _fresh(rec).transcribe(EX / "pharmacy.wav", words=WORDS, bias="encoder", attention=True)
    assert res.attention_entries[0] == "<no-bias>" and res.attention_entries[1:] == WORDS
    d = res.to_dict()
    assert len(d["attention"]["weights"][0]) == 1 + len(WORDS)

    from ctcbias.inference.attention_plot import plot_attention

    assert plot_attention(res).startswith(b"\x89PNG")
    with pytest.raises(ValueError, match="no attention"):
        plot_attention(plain.transcribe(EX / "pharmacy.wav", words=WORDS))


def test_joint_decoding_lets_the_lookup_judge_weigh_the_adapters_attention(rec, monkeypatch):
    import ctcbias.inference.lexicon_lookup as LL

    judge = rec.joint_lookup_model  # shipped beside the adapter
    assert judge is not None and judge.uses_attention and not rec.lookup_model.uses_attention
    seen, orig = [], LL.lookup

    def spy(*a, **kw):
        seen.append((a[6], kw.get("attention")))
        return orig(*a, **kw)

    monkeypatch.setattr(LL, "lookup", spy)
    joint = rec.transcribe(EX / "pharmacy.wav", words=WORDS)  # the default: joint
    rec.transcribe(EX / "pharmacy.wav", words=WORDS, bias="decoder")
    (j, att), (d, none) = seen
    assert j is judge and att.shape[1] == 1 + len(WORDS) and d is rec.lookup_model and none is None
    assert {"Lisinopril", "Okafor"} <= {w.word.rstrip(",.?") for w in joint.words if w.entity}


def test_gradients_reach_only_the_adapter():
    c = StackConfig(in_dim=16, d=32, heads=2, ff=64, layers=4, phone_layer=1, inter_layer=2, n_subwords=30,
                    n_phones=10)
    stack = CTCStack(c).eval()
    for p in stack.parameters():
        p.requires_grad_(False)
    a = ContextualAdapter(AdapterConfig(n_subwords=30, d=32, d_a=16, layers=4)).init_from_head(stack.out_head)
    o = stack.upper(*stack.lower(torch.randn(2, 40, 16)), bias=a.bias_fn(a.embed([[3, 4, 5], [7]])))
    o.subword[:, :, 3].sum().backward()
    # the zero-initialized corrections get gradient at once (else training could never move them)
    for p in (a.gain, a.q.weight, a.tok_emb.weight, a.no_bias_offset, a.log_temp):
        assert p.grad is not None and p.grad.abs().sum() > 0
    assert all(p.grad is None for p in stack.parameters())


def test_the_attention_boosts_a_listed_subword_where_the_base_half_believes_it():
    """Before training, the adapter is an adaptive boost: a listed subword whose logit is close to the
    base's best gets attention and a higher log-prob; an unlisted one is left alone; a subword that
    many entries share gets no more attention in total than one entry's."""
    a = ContextualAdapter(AdapterConfig(n_subwords=6, d=6, d_a=4, layers=1, dropout=0.0)).eval()
    head = torch.nn.Linear(6, 6)
    with torch.no_grad():
        head.weight.copy_(torch.eye(6)), head.bias.zero_()
    a.init_from_head(head)
    z = torch.tensor([[[0.0, 0.0, 3.0, 2.5, 2.5, 0.0]]])  # frame: unit 2 first, 3 and 4 close behind
    logits = head(z)

    def boosted(entries):
        hook = a.bias_fn(a.embed(entries))
        new = logits + torch.nn.functional.linear(hook([z], None, z, logits), head.weight)
        return (new - logits)[0, 0], hook.attention[0, 0]

    gain, att = boosted([[3]])
    assert gain[3] > 0.5 and abs(gain[4]) < 1e-6 and att[1] > 0.3
    _, att_many = boosted([[3]] * 10)
    assert abs(att_many[1:].sum() - att[1]) < 1e-4


def test_training_lists_mix_true_entities_distractors_and_empty_lists():
    cfg = AdapterTrainConfig(max_distractors=50, p_absent=0.2, p_empty=0.1, p_phrase=0.0)
    pool = [f"distractor {i}" for i in range(500)]
    batch = [{"ents": ["okafor"]}, {"ents": ["lisinopril", "okafor"]}, {"ents": []}]
    rng = random.Random(0)
    lists = [batch_list(batch, pool, cfg, rng) for _ in range(400)]
    empty = sum(not l for l in lists) / len(lists)
    assert 0.05 < empty < 0.2
    nonempty = [l for l in lists if l]
    assert all(len(l) == len(set(l)) and len(l) <= 52 for l in nonempty)
    with_true = sum("lisinopril" in l for l in nonempty) / len(nonempty)
    assert 0.7 < with_true < 0.9  # left out about p_absent of the time
    assert max(len(l) for l in nonempty) > 30 and min(len(l) for l in nonempty) <= 3


def test_training_lists_can_add_spans_of_the_utterances_own_words():
    cfg = AdapterTrainConfig(max_distractors=0, p_absent=1.0, p_empty=0.0, p_phrase=1.0)
    batch = [{"ents": ["okafor"], "text": "ask doctor okafor about the dose"}]
    lists = [batch_list(batch, [], cfg, random.Random(i)) for i in range(50)]
    spans = {e for l in lists for e in l}
    assert all(f" {e} " in " ask doctor okafor about the dose " for e in spans)  # contiguous spans
    assert {"doctor", "about"} <= spans and any(len(e.split()) == 2 for e in spans)
    assert all(e.split()[0] not in {"ask", "the"} for e in spans)  # short words never start one


def test_sound_alike_negatives_are_the_big_lists_entries_heard_in_the_utterance(rec):
    """The training list's hard negatives: what a big list's shortlist holds for the utterance, as
    at inference; an entity left out of the batch's list is not brought back by them."""
    from ctcbias.inference.biasing_list import BiasingList
    from ctcbias.inference.shortlist import shortlist
    from ctcbias.pronounce import _cmu

    words = sorted(w for w in _cmu() if w.isalpha() and len(w) > 3)
    big = BiasingList.compile(["lisinopril", "tocilizumab", "okafor"] + random.Random(0).sample(words, 2000),
                              rec.tokenizer, variants=False)
    run = rec.pipeline(EX / "pharmacy.wav")
    phone = run.posteriors(rec.compile([]), rec.resolve()).phone
    batch = [{"ents": ["lisinopril", "tocilizumab"]}]
    got = sound_alikes(batch, [phone], big, ["lisinopril", "okafor"], 30)
    assert got[:2] == ["lisinopril", "okafor"] and len(got) == len(set(got)) and 10 < len(got) <= 32
    assert "tocilizumab" in {big.entries[k].spoken for k in shortlist(big, phone)}  # heard, and
    assert "tocilizumab" not in got  # left out of this batch's list: stays out
    assert sound_alikes(batch, [phone], big, ["lisinopril", "tocilizumab"], 30).count("tocilizumab") == 1
    assert sound_alikes(batch, [phone], big, [], 30) == []  # a batch without a list stays without one
    assert set(got[2:]) <= {e.spoken for e in big.entries}


def test_a_compiled_list_never_hands_one_adapter_another_adapters_catalog(rec):
    """Compiled lists are shared (cached by content); each adapter gets its own catalog, and a freed
    adapter's catalog goes with it, so a later adapter (which may reuse its id) cannot pick it up."""
    import gc

    lst = rec.compile(WORDS[:3])
    a, b = _fresh(rec), _fresh(rec)
    b.adapter.gain.data.fill_(4.0)
    assert a.entity_embeddings(lst).values.abs().max() == 0 and b.entity_embeddings(lst).values.abs().max() > 0
    cache = lst.derived("adapter_catalogs", lambda _: None)
    n = len(cache)
    del a, b
    gc.collect()
    assert len(cache) == n - 2


def test_the_fast_catalog_for_inference_equals_the_trained_modules():
    """Inference embeds a list by table lookups and a length-sorted LSTM loop; it must give the
    numbers the modules give in training (where gradients need the modules as written)."""
    torch.manual_seed(1)
    a = ContextualAdapter(AdapterConfig(n_subwords=40, d=32, d_a=16, layers=2)).eval()
    for lin in (a.key_ctx, a.val_ctx):  # trained corrections are non-zero: make them count here
        torch.nn.init.normal_(lin.weight, std=0.3), torch.nn.init.normal_(lin.bias, std=0.3)
    rng = random.Random(0)
    entries = [[rng.randrange(1, 40) for _ in range(rng.randrange(0, 9))] for _ in range(200)]
    with torch.inference_mode():
        fast = a.embed(entries)
    slow = a.embed(entries)  # gradients on: the modules' path
    assert slow.keys.requires_grad and not fast.keys.requires_grad
    for f in ("ids", "owner", "prior"):
        assert torch.equal(getattr(fast, f), getattr(slow, f)), f
    for f in ("keys", "values"):
        assert torch.allclose(getattr(fast, f), getattr(slow, f).detach(), atol=1e-5), f
    assert fast.n_entries == 200 and len(fast.ids) == sum(max(1, len(e)) for e in entries)



def test_the_fast_catalog_follows_the_weights_as_they_change():
    """The per-vocabulary gate tables are kept between lists; a weight changed in place (an
    optimizer step, a loaded state dict) must not leave a list embedded with the old ones."""
    torch.manual_seed(2)
    cfg = AdapterConfig(n_subwords=40, d=32, d_a=16, layers=2)
    a = ContextualAdapter(cfg).eval()
    entries = [[3, 4, 5], [7], [9, 9, 2, 30]]
    with torch.inference_mode():
        first = a.embed(entries)
        assert torch.equal(a.embed(entries).ext[0], first.ext[0])  # kept: the same numbers
    with torch.no_grad():
        a.lstm.weight_ih_l0.add_(0.5)
        a.tok_emb.weight[5].mul_(2.0)
    fresh = ContextualAdapter(cfg).eval()
    fresh.load_state_dict(a.state_dict())
    with torch.inference_mode():
        moved, want = a.embed(entries), fresh.embed(entries)
    assert torch.equal(moved.ext[0], want.ext[0]) and torch.equal(moved.ext[1], want.ext[1])
    assert not torch.equal(moved.ext[0], first.ext[0])

def test_the_inference_attention_equals_the_trained_one():
    """Inference puts <no-bias> in the catalog as position 0 and folds the temperature in; the
    biased representation and the attention weights must be the training path's."""
    torch.manual_seed(0)
    a = ContextualAdapter(AdapterConfig(n_subwords=30, d=16, d_a=8, layers=2)).eval()
    for p in a.parameters():
        torch.nn.init.normal_(p, std=0.5)
    entries = [[3, 4], [5], [7, 8, 9], []]
    hidden, z, logits = [torch.randn(2, 9, 16) for _ in range(2)], torch.randn(2, 9, 16), torch.randn(2, 9, 30)
    trained = a.bias_fn(a.embed(entries))
    out = trained(hidden, None, z, logits)
    with torch.inference_mode():
        fast = a.bias_fn(a.embed(entries))
        out_fast = fast(hidden, None, z, logits)
    assert torch.allclose(out.detach(), out_fast, atol=1e-5)
    assert fast.attention.shape == (2, 9, 5)  # <no-bias> + 4 entries
    assert torch.allclose(trained.attention, fast.attention, atol=1e-6)
