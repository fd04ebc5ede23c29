"""The training loop's batch order: resumable, and never stuck when epochs differ in length."""

import itertools
import random

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
