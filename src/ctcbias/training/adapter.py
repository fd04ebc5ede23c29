"""Train the contextual adapter on the frozen base stack, with random biasing lists.

Each batch shares one list: the batch's true entities plus distractors drawn from the training
entities, from none to ``max_distractors``, and (``p_phrase``) a random span of each utterance's
own words. Each utterance's own entities are left out of the list
with probability ``p_absent`` and a whole batch gets no list with ``p_empty``, so the adapter
learns ``<no-bias>`` as well as the entities. With ``p_sound_alike``, a batch's list also holds each
utterance's shortlist of a big list of training entities (:func:`~ctcbias.inference.shortlist.shortlist`
on the phone head's output, as a big list is decoded): the entries that sound most like what was
said, which random distractors almost never are. The loss is the final head's CTC loss; the stack's
weights never change. Held-out (reserved) and dev entities never appear: the training manifest
holds none, and distractors come only from it. Resumable from ``work/adapter-last.pt``.
"""

from __future__ import annotations

import json
import logging
import math
import random
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from ..contextual_adapter import AdapterConfig, ContextualAdapter
from ..encoder import EncoderTop, WhisperEncoder
from ..model import CTCStack, StackConfig
from ..tokenizer import Tokenizer
from .features import FeatureSet, require_layer
from ..inference.result import greedy_units
from .loop import LoopConfig, Run, SpecAugment, ctc_loss, load_weights, optimizer_step, stack_input

if TYPE_CHECKING:
    from ..inference.biasing_list import BiasingList

log = logging.getLogger("ctcbias.adapter")


@dataclass
class AdapterTrainConfig(LoopConfig):
    """The adapter's training: :class:`~ctcbias.training.loop.LoopConfig` with the adapter's
    defaults, and its random lists."""

    model: Path = Path("src/ctcbias/assets/base")  # the frozen base; the adapter is written beside it
    work: Path = Path("data/adapter-work")
    epochs: float = 2.0
    lr: float = 1e-3
    warmup: int = 100
    # light masks, so the adapter cannot lean on perfect audio
    augment: SpecAugment = field(default_factory=lambda: SpecAugment(time_mask_max=10, dim_masks=0, dim_mask_max=0))
    max_distractors: int = 300
    p_absent: float = 0.2
    p_empty: float = 0.1
    p_phrase: float = 0.5  # per utterance: also list a random span of its own words (more positives)
    p_sound_alike: float = 0.0  # per batch: add each utterance's shortlist of a big list of training entities
    sound_alike_list: int = 20000  # that big list: at most this many training entities
    sound_alike_size: int = 30  # entries shortlisted per utterance


def load_base(model_dir: Path) -> tuple[CTCStack, Tokenizer, EncoderTop | None]:
    """The frozen stack, its tokenizer, and the encoder blocks it fine-tuned (None if none)."""
    meta = json.loads((model_dir / "config.json").read_text())
    stack = CTCStack(StackConfig(**meta["stack"]))
    stack.load_state_dict({k: v.float() for k, v in torch.load(model_dir / "stack.pt", weights_only=True).items()})
    for p in stack.parameters():
        p.requires_grad_(False)
    top = None
    if stack.config.tuned_blocks:
        top = EncoderTop.from_state(WhisperEncoder.from_ct2(), torch.load(model_dir / "encoder_top.pt", weights_only=True))
        top.eval().requires_grad_(False)
    return stack.eval(), Tokenizer(model_dir / "subwords.model"), top


def _items(manifest: Path, feats: FeatureSet, tok: Tokenizer) -> list[dict]:
    out = []
    for line in manifest.open():
        it = json.loads(line)
        if it["id"] in feats:
            ents = list(dict.fromkeys(e["spoken"] for e in it.get("entities", [])))  # game speech has none
            out.append({"id": it["id"], "text": it["text"], "n": feats.index[it["id"]][2],
                        "sub": tok.encode(it["text"]), "ents": ents})
    return out


def sound_alikes(batch: list[dict], phone_logp: list[np.ndarray], big: BiasingList, lst: list[str],
                 size: int) -> list[str]:
    """``lst`` and, unless it is empty (a batch without a list), each utterance's ``size`` entries of
    the compiled list ``big`` shortlisted on its phone log-probabilities, less the batch's entities
    that ``lst`` leaves out (they stay absent)."""
    from ..inference.shortlist import shortlist

    if not lst:
        return lst
    absent = {e for it in batch for e in it["ents"]} - set(lst)
    near = [big.entries[k].spoken for p in phone_logp for k in shortlist(big, p, size=size)]
    return list(dict.fromkeys(lst + [e for e in near if e not in absent]))


def batch_list(batch: list[dict], pool: list[str], cfg: AdapterTrainConfig, rng: random.Random) -> list[str]:
    """The shared list of one training batch (spoken forms).

    Besides the batch's catalog entities, an utterance contributes a random span of one or two of
    its own words with probability ``p_phrase`` (as CLAS-style training samples n-grams of the
    reference): the adapter learns to match any listed subword sequence to the audio, from far
    more examples than the entities alone give."""
    if rng.random() < cfg.p_empty:
        return []
    true = [e for it in batch if rng.random() >= cfg.p_absent for e in it["ents"]]
    for it in batch:
        words = it.get("text", "").split()
        starts = [i for i, w in enumerate(words) if len(w) > 3]  # not "the", "of": too easy, too common
        if starts and rng.random() < cfg.p_phrase:
            i = rng.choice(starts)
            true.append(" ".join(words[i: i + rng.choice((1, 1, 2))]))
    # log-uniform list sizes: short lists are common in use, long ones must not confuse it
    n = int(math.exp(rng.uniform(0, math.log(cfg.max_distractors + 1)))) - 1
    lst = list(dict.fromkeys(true + rng.sample(pool, n)))
    rng.shuffle(lst)
    return lst


@torch.no_grad()
def evaluate(stack: CTCStack, adapter: ContextualAdapter, items: list[dict], feats: FeatureSet, tok: Tokenizer,
             lists: list[list[str]], top: EncoderTop | None = None) -> dict:
    """Greedy WER and entity hit rate on dev, without a list and with each utterance's own list."""
    import jiwer

    adapter.eval()
    refs, plain, biased, hits, total, loss0, loss1 = [], [], [], 0, 0, 0.0, 0.0
    for it, lst in zip(items, lists):
        low = stack.lower(*stack_input([it], feats, None, None, top))
        n = int(low[2][0])
        emb = adapter.embed([tok.encode(e) for e in lst])
        o0 = stack.upper(*low)
        logp1 = stack.output(o0.hidden, low[1], adapter.bias_fn(emb))  # the blocks are the same: reuse them
        # the paired CTC loss says whether the list helps long before greedy output changes
        loss0 += ctc_loss(o0.subword, o0.lengths, [it["sub"]]).item()
        loss1 += ctc_loss(logp1, o0.lengths, [it["sub"]]).item()
        h0, h1 = tok.decode(greedy_units(o0.subword[0, :n])), tok.decode(greedy_units(logp1[0, :n]))
        refs.append(it["text"]), plain.append(h0), biased.append(h1)
        for e in it["ents"]:
            total += 1
            hits += f" {e} " in f" {h1} "
    adapter.train()
    return {"wer_no_list": round(jiwer.wer(refs, plain), 4), "wer_list": round(jiwer.wer(refs, biased), 4),
            "entity_hit_rate": round(hits / max(1, total), 4), "ctc_no_list": round(loss0 / len(items), 3),
            "ctc_list": round(loss1 / len(items), 3)}


def train_adapter(cfg: AdapterTrainConfig) -> Path:
    from ..data.dev_lists import dev_items
    from ..normalize import normalize

    cfg.work.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    stack, tok, top = load_base(cfg.model)
    ftrain, fdev = FeatureSet.open(cfg.feats / "train"), FeatureSet.open(cfg.feats / "dev")
    require_layer(cfg.feats, stack.config.tuned_blocks)
    train_items = _items(cfg.data / "train.jsonl", ftrain, tok)
    pool = sorted({e for it in train_items for e in it["ents"]})
    dev = _items(cfg.data / "dev.jsonl", fdev, tok)
    dev_lists = {it["id"]: [normalize(e) for e in it["bias_lists"]["100"]] for it in dev_items(cfg.data, (100,))}
    dev = [it for it in dev if it["id"] in dev_lists][:200]
    dlists = [dev_lists[it["id"]] for it in dev]
    log.info("train: %d utterances, %.2f h, %d distinct entities; dev: %d", len(train_items),
             sum(it["n"] for it in train_items) / 50 / 3600, len(pool), len(dev))

    acfg = AdapterConfig(n_subwords=stack.config.n_subwords, d=stack.config.d, layers=stack.config.layers)
    adapter = ContextualAdapter(acfg).init_from_head(stack.out_head)
    ckpt = cfg.work / "adapter-last.pt"
    if cfg.init is not None and not ckpt.exists():  # a resumed run takes its own checkpoint instead
        adapter.load_state_dict(load_weights(cfg.init))
        log.info("initialized from %s", cfg.init)
    log.info("adapter parameters: %.2f M", sum(p.numel() for p in adapter.parameters()) / 1e6)
    # the few scalars (gain, temperature, <no-bias> offset) calibrate the boost: let them move faster
    scalars = [p for p in adapter.parameters() if p.dim() == 0]
    rest = [p for p in adapter.parameters() if p.dim() > 0]
    opt = torch.optim.AdamW([{"params": rest}, {"params": scalars, "lr_scale": 10.0, "weight_decay": 0.0}],
                            lr=cfg.lr, weight_decay=0.01)
    big = None
    if cfg.p_sound_alike > 0:
        from ..inference.biasing_list import BiasingList

        big = BiasingList.compile(random.Random(cfg.seed).sample(pool, min(len(pool), cfg.sound_alike_list)),
                                  tok, variants=False)
        log.info("sound-alikes from a list of %d training entities, %d per utterance", len(big), cfg.sound_alike_size)
    run = Run(ckpt, adapter, opt, train_items, cfg, "adapter")
    adapter.train()
    for epoch, bi, batch, _ in run.stream():
        lrng = random.Random(f"{cfg.seed}:{epoch}:{bi}")  # the same list again on resume
        lst = batch_list(batch, pool, cfg, lrng)
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
            low = stack.lower(*stack_input(batch, ftrain, cfg.augment, np.random.default_rng([cfg.seed, epoch, bi]), top))
            base = stack.upper(*low)  # the frozen stack runs once, without gradients
        if big is not None and lrng.random() < cfg.p_sound_alike:
            phone = [base.phone[i, :n].float().numpy() for i, n in enumerate(base.lengths.tolist())]
            lst = sound_alikes(batch, phone, big, lst, cfg.sound_alike_size)
        hook = adapter.bias_fn(adapter.embed([tok.encode(e) for e in lst]))
        logp = stack.output([h.float() for h in base.hidden], low[1], hook)
        loss = ctc_loss(logp, base.lengths, [it["sub"] for it in batch])
        lr = optimizer_step(opt, loss, adapter.parameters(), run.lr)
        run.advance(loss=f"{loss.item():.2f}", n=len(lst))
        if run.step % 20 == 0:
            log.info("step %d/%d epoch %.2f loss %.3f list %d lr %.2e gain %.2f temp %.2f offset %.2f %.0fs",
                     run.step, run.total, run.epoch, loss.item(), len(lst), lr, adapter.gain.item(),
                     adapter.log_temp.exp().item(), adapter.no_bias_offset.item(), run.elapsed)
        if run.step % 300 == 0:
            log.info("dev at step %d: %s", run.step, json.dumps(evaluate(stack, adapter, dev, fdev, tok, dlists, top)))
        if run.out_of_time():
            break
    run.close()
    dev_scores = evaluate(stack, adapter, dev, fdev, tok, dlists, top)
    log.info("final dev: %s", json.dumps(dev_scores))
    sd = {k: v.half() if v.is_floating_point() else v for k, v in adapter.state_dict().items()}
    torch.save(sd, cfg.model / "adapter.pt")
    meta = {"adapter": acfg.to_dict(), "train": {k: str(v) for k, v in asdict(cfg).items()}, "steps": run.step,
            "planned_steps": run.total, "wall_minutes": round(run.elapsed / 60, 1), "dev": dev_scores,
            "parameters": sum(p.numel() for p in adapter.parameters())}
    (cfg.model / "adapter.json").write_text(json.dumps(meta, indent=2) + "\n")
    return cfg.model / "adapter.pt"
