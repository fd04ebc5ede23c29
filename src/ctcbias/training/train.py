"""Train the CTC stack on cached encoder features: three CTC losses, checkpoints, resume.

Targets: subwords of the normalized transcript (final and intermediate heads) and phones of its
words (middle head; CMUdict, else espeak-ng G2P). Batches hold about ``batch_frames`` encoder
frames of similar-length utterances. SpecAugment-style masks on the features stand in for the
acoustic variety synthetic speech lacks. Everything needed to resume sits in ``work/last.pt``.
"""

from __future__ import annotations

import json
import logging
import random
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..encoder import EncoderTop, WhisperEncoder
from ..model import CTCStack, StackConfig
from ..tokenizer import PhoneSet, Tokenizer, train_sentencepiece
from ..inference.result import greedy_units
from .features import FeatureSet, require_layer
from .loop import LoopConfig, Run, batches, ctc_loss, load_weights, optimizer_step, stack_input

log = logging.getLogger("ctcbias.train")


@dataclass
class TrainConfig(LoopConfig):
    """The stack's training: :class:`~ctcbias.training.loop.LoopConfig` (whose defaults are this
    run's) and what only the stack has."""

    out: Path = Path("src/ctcbias/assets/base")
    vocab_size: int = 500
    units: str = "unigram"  # the output units: sentencepiece "unigram" subwords, or "char" (letters)
    weight_inter: float = 0.3
    weight_phone: float = 0.3
    tune_blocks: int = 0  # the encoder's last blocks fine-tuned with the stack (features: the block below's output)
    tune_lr_scale: float = 0.1  # their learning rate, relative to the stack's


def _items(manifest: Path, feats: FeatureSet, tok: Tokenizer, phones: PhoneSet, lexicon: dict) -> list[dict]:
    out = []
    for line in manifest.open():
        it = json.loads(line)
        if it["id"] not in feats:
            continue
        words = it["text"].split()
        out.append({"id": it["id"], "text": it["text"], "n": feats.index[it["id"]][2],
                    "sub": tok.encode(it["text"]), "ph": phones.encode_words(words, lexicon)})
    return out


@torch.no_grad()
def evaluate(model: CTCStack, items: list[dict], feats: FeatureSet, tok: Tokenizer, max_frames: int = 30000,
             top: EncoderTop | None = None) -> dict:
    """Greedy WER of the final and intermediate heads and PER of the phone head (``top``: the
    fine-tuned encoder blocks the cached features go through first)."""
    import jiwer

    model.eval()
    if top is not None:
        top.eval()
    refs, hyps, ihyps, pref, phyp = [], [], [], [], []
    for batch in batches(items, max_frames, random.Random(0)):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            o = model(*stack_input(batch, feats, None, None, top))
        for i, it in enumerate(batch):
            n = int(o.lengths[i])
            refs.append(it["text"])
            hyps.append(tok.decode(greedy_units(o.subword[i, :n].float())))
            ihyps.append(tok.decode(greedy_units(o.inter[i, :n].float())))
            pref.append(" ".join(map(str, it["ph"])))
            phyp.append(" ".join(map(str, greedy_units(o.phone[i, :n].float()))))
    model.train()
    if top is not None:
        top.train()
    return {"wer": jiwer.wer(refs, hyps), "wer_inter": jiwer.wer(refs, ihyps), "per": jiwer.wer(pref, phyp)}


def init_from(model: CTCStack, path: Path) -> list[str]:
    """Load an earlier stack's weights into ``model``. Where the output units differ (another
    tokenizer), the subword heads start afresh and the rest comes from the earlier stack; returns
    the names of the weights that started afresh."""
    init, own = load_weights(path), model.state_dict()
    fresh = sorted(k for k in init if k in own and init[k].shape != own[k].shape)
    if any(not k.startswith(("inter_head.", "out_head.")) for k in fresh):
        raise ValueError(f"{path}: a stack of another shape ({', '.join(fresh)})")
    model.load_state_dict({k: v for k, v in init.items() if k not in fresh}, strict=not fresh)
    return fresh


def train(cfg: TrainConfig) -> Path:
    cfg.work.mkdir(parents=True, exist_ok=True)
    cfg.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    texts = [json.loads(l)["text"] for l in (cfg.data / "train.jsonl").open()]
    sp_model = cfg.out / "subwords.model"
    if not sp_model.exists():
        train_sentencepiece(texts, cfg.out / "subwords", cfg.vocab_size, cfg.units)
    tok, phones = Tokenizer(sp_model), PhoneSet()
    lex_file = cfg.work / "lexicon.json"
    lexicon = json.loads(lex_file.read_text()) if lex_file.exists() else {}
    vocab = {w for f in ("train", "dev") for l in (cfg.data / f"{f}.jsonl").open() for w in json.loads(l)["text"].split()}
    phones.fill_lexicon(lexicon, vocab)  # one G2P call for every word, not one per utterance
    ftrain, fdev = FeatureSet.open(cfg.feats / "train"), FeatureSet.open(cfg.feats / "dev")
    train_items = _items(cfg.data / "train.jsonl", ftrain, tok, phones, lexicon)
    dev_items = _items(cfg.data / "dev.jsonl", fdev, tok, phones, lexicon)
    lex_file.write_text(json.dumps(lexicon))
    hours = sum(it["n"] for it in train_items) / 50 / 3600
    log.info("train: %d utterances, %.2f h; dev: %d", len(train_items), hours, len(dev_items))

    kind = require_layer(cfg.feats, cfg.tune_blocks)
    mcfg = StackConfig(in_dim=ftrain.chunks[0].shape[1], n_subwords=len(tok), n_phones=len(phones),
                       encoder_pad=kind["pad"], tuned_blocks=cfg.tune_blocks)
    model = CTCStack(mcfg)
    top = EncoderTop(WhisperEncoder.from_ct2(), cfg.tune_blocks).requires_grad_(True) if cfg.tune_blocks else None
    log.info("stack parameters: %.2f M; fine-tuned encoder blocks: %d (%.2f M)",
             sum(p.numel() for p in model.parameters()) / 1e6, cfg.tune_blocks,
             sum(p.numel() for p in top.parameters()) / 1e6 if top is not None else 0.0)
    groups = [{"params": list(model.parameters())}]
    if top is not None:  # the pretrained blocks move slowly; no weight decay pulls them toward zero
        groups.append({"params": list(top.parameters()), "lr_scale": cfg.tune_lr_scale, "weight_decay": 0.0})
    opt = torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=0.01)
    # one module for checkpoints: the stack alone, or the stack and the encoder's top
    trained = model if top is None else torch.nn.ModuleDict({"stack": model, "top": top})
    ckpt = cfg.work / "last.pt"
    if cfg.init is not None and not ckpt.exists():
        fresh = init_from(model, cfg.init)
        log.info("initialized from %s%s", cfg.init, f" (new units: {', '.join(fresh)} start afresh)" if fresh else "")
    run = Run(ckpt, trained, opt, train_items, cfg, "train")
    trained.train()
    params = list(trained.parameters())
    for epoch, bi, batch, last in run.stream():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            x, lengths = stack_input(batch, ftrain, cfg.augment, np.random.default_rng([cfg.seed, epoch, bi]), top)
            o = model(x, lengths)
        l_out = ctc_loss(o.subword, o.lengths, [it["sub"] for it in batch])
        l_int = ctc_loss(o.inter, o.lengths, [it["sub"] for it in batch])
        l_ph = ctc_loss(o.phone, o.lengths, [it["ph"] for it in batch])
        loss = (l_out + cfg.weight_inter * l_int + cfg.weight_phone * l_ph) / (1 + cfg.weight_inter + cfg.weight_phone)
        lr = optimizer_step(opt, loss, params, run.lr)
        run.advance(loss=f"{loss.item():.2f}", ph=f"{l_ph.item():.2f}")
        if run.step % 20 == 0:
            log.info("step %d/%d epoch %.2f loss %.3f out %.3f inter %.3f phone %.3f lr %.2e %.0fs", run.step,
                     run.total, run.epoch, loss.item(), l_out.item(), l_int.item(), l_ph.item(), lr, run.elapsed)
        if last and run.step < run.total:
            log.info("dev at step %d: %s", run.step, json.dumps(evaluate(model, dev_items, fdev, tok, top=top)))
        if run.out_of_time():
            break
    run.close()
    dev = evaluate(model, dev_items, fdev, tok, top=top)
    log.info("final dev: %s", json.dumps(dev))
    export(model, cfg, hours, run.step, run.total, run.elapsed, dev, top)
    return cfg.out


def export(model: CTCStack, cfg: TrainConfig, hours: float, step: int, total: int, elapsed: float,
           dev: dict, top: EncoderTop | None = None) -> None:
    """Write the shipped artifacts: float16 weights (``encoder_top.pt``: the fine-tuned encoder
    blocks), config, phone set, training summary."""
    def half(m):
        return {k: v.half() if v.is_floating_point() else v for k, v in m.state_dict().items()}

    torch.save(half(model), cfg.out / "stack.pt")
    if top is not None:
        torch.save(half(top), cfg.out / "encoder_top.pt")
    else:
        (cfg.out / "encoder_top.pt").unlink(missing_ok=True)
    (cfg.out / "phones.txt").write_text("\n".join(PhoneSet.units) + "\n")
    meta = {"stack": model.config.to_dict(), "train": {k: str(v) for k, v in asdict(cfg).items()},
            "train_hours": round(hours, 2), "steps": step, "planned_steps": total,
            "wall_minutes": round(elapsed / 60, 1), "dev": dev,
            "parameters": sum(p.numel() for p in model.parameters())}
    (cfg.out / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
