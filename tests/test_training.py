"""The training loop's batch order: resumable, and never stuck when epochs differ in length."""

import itertools
import random

import pytest

from ctcbias.training.loop import batch_stream, batches


def _items(n=300, seed=1):
    r = random.Random(seed)
    return [{"id": str(i), "n": r.randint(50, 400)} for i in range(n)]


def test_epochs_of_different_lengths_follow_each_other():
    items = _items()
    sizes = [len(batches(items, 1000, random.Random(f"0:{e}"))) for e in range(4)]
    assert len(set(sizes)) > 1  # the length jitter regroups: the case that once looped forever
    got = list(itertools.islice(batch_stream(items, 1000, 0), sum(sizes)))
    assert [e for e, *_ in got] == [e for e, n in enumerate(sizes) for _ in range(n)]
    assert sum(last for *_, last in got) == 4
    for e in range(4):  # every epoch holds every item once
        ids = sorted(it["id"] for ep, _, b, _ in got if ep == e for it in b)
        assert ids == sorted(it["id"] for it in items)


def test_resuming_at_a_step_continues_the_same_order():
    items = _items()
    whole = list(itertools.islice(batch_stream(items, 3000, 7), 60))
    for step in (0, 1, 17, 33, 59):
        resumed = next(batch_stream(items, 3000, 7, step))
        assert resumed[:2] == whole[step][:2] and resumed[2] == whole[step][2]


def test_no_items_no_batches():
    assert list(batch_stream([], 3000, 0)) == []


def test_a_second_phase_starts_from_a_checkpoint_or_a_shipped_half_precision_file(tmp_path):
    import torch

    from ctcbias.training.loop import load_weights, save_checkpoint

    model = torch.nn.Linear(3, 2)
    save_checkpoint(tmp_path / "last.pt", model, torch.optim.AdamW(model.parameters()), 7, 1.0)
    torch.save({k: v.half() for k, v in model.state_dict().items()}, tmp_path / "stack.pt")
    full, half = load_weights(tmp_path / "last.pt"), load_weights(tmp_path / "stack.pt")
    assert torch.equal(full["weight"], model.weight.detach())
    assert half["weight"].dtype == torch.float32  # ready for training, not half precision
    assert torch.allclose(half["weight"], model.weight.detach(), atol=1e-3)
    fresh = torch.nn.Linear(3, 2)
    fresh.load_state_dict(half)
    assert torch.allclose(fresh(torch.ones(1, 3)), model(torch.ones(1, 3)), atol=1e-2)


def test_run_resumes_where_its_checkpoint_left_off(tmp_path):
    import types

    import torch

    from ctcbias.training.loop import Run

    items = [{"id": str(i), "n": 100} for i in range(40)]
    cfg = types.SimpleNamespace(epochs=1.0, batch_frames=1000, lr=1e-3, warmup=2, limit_minutes=0.0, seed=0,
                                ckpt_every=3)
    model = torch.nn.Linear(2, 2)
    run = Run(tmp_path / "last.pt", model, torch.optim.AdamW(model.parameters()), items, cfg, "test")
    assert run.total == run.steps_per_epoch > 3
    seen = []
    for _, bi, batch, _ in run.stream():
        seen.append([it["id"] for it in batch])
        run.advance()
        if run.step == 3:  # checkpointed every 3 steps: a stop here loses nothing
            break
    again = Run(tmp_path / "last.pt", model, torch.optim.AdamW(model.parameters()), items, cfg, "test")
    assert again.step == 3
    rest = [[it["id"] for it in batch] for _, _, batch, _ in again.stream() if not again.advance()]
    assert len(seen) + len(rest) == run.total and again.step == run.total
    assert sorted(i for b in seen + rest for i in b) == sorted(it["id"] for it in items)


def test_masks_fall_on_what_the_stack_reads(tmp_path):
    import json

    import numpy as np
    import torch

    from ctcbias.training.features import FeatureSet
    from ctcbias.training.loop import SpecAugment, collate, stack_input

    lens = [40, 25]
    (tmp_path / "chunk-00000.json").write_text(json.dumps({"ids": ["a", "b"], "lengths": lens}))
    np.save(tmp_path / "chunk-00000.npy", np.random.default_rng(0).normal(size=(65, 8)).astype(np.float16) + 3)
    feats = FeatureSet.open(tmp_path)
    batch = [{"id": "a", "n": 40}, {"id": "b", "n": 25}]
    aug = SpecAugment(time_masks=1, time_mask_max=5, dim_masks=1, dim_mask_max=2)
    x0, l0 = collate(batch, feats, aug, np.random.default_rng(1))
    x1, l1 = stack_input(batch, feats, aug, np.random.default_rng(1))
    assert torch.equal(x0, x1) and torch.equal(l0, l1)  # without a top: collate, masks and all
    assert 0 < int((x0[0] == 0).all(-1).sum()) <= 5 and bool((x0[1, 25:] == 0).all())
    # with a top (a stand-in for the fine-tuned blocks that moves every value), the same masks
    # zero its output, not its input
    x2, _ = stack_input(batch, feats, aug, np.random.default_rng(1), top=lambda x, n: x * 2 + 1)
    valid = torch.arange(40)[None, :, None] < l0[:, None, None]  # (the stack ignores padding)
    assert torch.equal((x2 == 0) & valid, (x0 == 0) & valid)
    kept = (x0 != 0) & valid
    assert torch.allclose(x2[kept], x0[kept] * 2 + 1)


def test_letters_as_units_and_a_stack_that_starts_from_a_subword_one(tmp_path):
    import pytest
    import torch

    from ctcbias.model import CTCStack, StackConfig
    from ctcbias.tokenizer import Tokenizer, train_sentencepiece
    from ctcbias.training.train import init_from

    texts = ["the quick brown fox", "jumps over o'brien's lazy dog"] * 20
    tok = Tokenizer(train_sentencepiece(texts, tmp_path / "chars", 500, "char"))
    letters = set("".join(texts)) - {" "}
    assert len(tok) == len(letters) + 3  # blank, <unk>, the word-start marker
    ids = tok.encode("lazy fox")
    assert len(ids) == 9 and tok.decode(ids) == "lazy fox" and [tok.word_start(i) for i in ids].count(True) == 2

    small = dict(d=32, heads=2, ff=64, layers=4, phone_layer=1, inter_layer=2)
    old = CTCStack(StackConfig(**small, n_subwords=501))
    torch.save({k: v.half() for k, v in old.state_dict().items()}, tmp_path / "stack.pt")
    new = CTCStack(StackConfig(**small, n_subwords=len(tok)))
    fresh = init_from(new, tmp_path / "stack.pt")
    assert fresh == ["inter_head.bias", "inter_head.weight", "out_head.bias", "out_head.weight"]
    assert torch.allclose(new.blocks[0].ff[0].weight, old.blocks[0].ff[0].weight, atol=1e-3)
    assert new.out_head.weight.shape[0] == len(tok)
    with pytest.raises(ValueError, match="another shape"):
        init_from(CTCStack(StackConfig(**{**small, "d": 48})), tmp_path / "stack.pt")


def test_features_of_the_wrong_layer_are_refused_with_what_they_hold(tmp_path):
    import json

    from ctcbias.training.features import require_layer

    for name, layer in (("train", -4), ("dev", -4)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "kind.json").write_text(json.dumps({"pad": 0.0, "pack": False, "layer": layer}))
    assert require_layer(tmp_path, 3)["layer"] == -4
    with pytest.raises(ValueError, match="holds encoder output -4.*reads output -2"):
        require_layer(tmp_path, 1)
    (tmp_path / "dev" / "kind.json").write_text(json.dumps({"layer": -1}))
    with pytest.raises(ValueError, match="different padding or layers"):
        require_layer(tmp_path, 3)
