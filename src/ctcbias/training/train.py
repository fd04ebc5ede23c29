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

from ..model import CTCStack, StackConfig
from ..tokenizer import PhoneSet, Tokenizer, train_sentencepiece
from ..inference.result import greedy_units
from .features import FeatureSet, feature_kind
from .loop import LoopConfig, Run, batches, collate, ctc_loss, load_weights, optimizer_step

log = logging.getLogger("ctcbias.train")


@dataclass
class TrainConfig(LoopConfig):
    """The stack's training: :class:`~ctcbias.training.loop.LoopConfig` (whose defaults are this
    run's) and what only the stack has."""

    out: Path = Path("src/ctcbias/assets/base")
    vocab_size: int = 500
    weight_inter: float = 0.3
    weight_phone: float = 0.3


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
def evaluate(model: CTCStack, items: list[dict], feats: FeatureSet, tok: Tokenizer, max_frames: int = 30000) -> dict:
    """Greedy WER of the final and intermediate heads and PER of the phone head."""
    import jiwer

    model.eval()
    refs, hyps, ihyps, pref, phyp = [], [], [], [], []
    for batch in batches(items, max_frames, random.Random(0)):
        x, lengths = collate(batch, feats, None, None)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            o = model(x, lengths)
        for i, it in enumerate(batch):
            n = int(o.lengths[i])
            refs.append(it["text"])
            hyps.append(tok.decode(greedy_units(o.subword[i, :n].float())))
            ihyps.append(tok.decode(greedy_units(o.inter[i, :n].float())))
            pref.append(" ".join(map(str, it["ph"])))
            phyp.append(" ".join(map(str, greedy_units(o.phone[i, :n].float()))))
    model.train()
    return {"wer": jiwer.wer(refs, hyps), "wer_inter": jiwer.wer(refs, ihyps), "per": jiwer.wer(pref, phyp)}


def train(cfg: TrainConfig) -> Path:
    cfg.work.mkdir(parents=True, exist_ok=True)
    cfg.out.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    texts = [json.loads(l)["text"] for l in (cfg.data / "train.jsonl").open()]
    sp_model = cfg.out / "subwords.model"
    if not sp_model.exists():
        train_sentencepiece(texts, cfg.out / "subwords", cfg.vocab_size)
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

    pad = feature_kind(cfg.feats / "train")["pad"]
    if feature_kind(cfg.feats / "dev")["pad"] != pad:
        raise ValueError(f"{cfg.feats}: train and dev features were encoded with different padding")
    mcfg = StackConfig(in_dim=ftrain.chunks[0].shape[1], n_subwords=len(tok), n_phones=len(phones),
                       encoder_pad=pad)
    model = CTCStack(mcfg)
    log.info("stack parameters: %.2f M", sum(p.numel() for p in model.parameters()) / 1e6)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    ckpt = cfg.work / "last.pt"
    if cfg.init is not None and not ckpt.exists():
        model.load_state_dict(load_weights(cfg.init))
        log.info("initialized from %s", cfg.init)
    run = Run(ckpt, model, opt, train_items, cfg, "train")
    model.train()
    for epoch, bi, batch, last in run.stream():
        x, lengths = collate(batch, ftrain, cfg.augment, np.random.default_rng([cfg.seed, epoch, bi]))
        with torch.autocast("cpu", dtype=torch.bfloat16):
            o = model(x, lengths)
        l_out = ctc_loss(o.subword, o.lengths, [it["sub"] for it in batch])
        l_int = ctc_loss(o.inter, o.lengths, [it["sub"] for it in batch])
        l_ph = ctc_loss(o.phone, o.lengths, [it["ph"] for it in batch])
        loss = (l_out + cfg.weight_inter * l_int + cfg.weight_phone * l_ph) / (1 + cfg.weight_inter + cfg.weight_phone)
        lr = optimizer_step(opt, loss, model.parameters(), run.lr)
        run.advance(loss=f"{loss.item():.2f}", ph=f"{l_ph.item():.2f}")
        if run.step % 20 == 0:
            log.info("step %d/%d epoch %.2f loss %.3f out %.3f inter %.3f phone %.3f lr %.2e %.0fs", run.step,
                     run.total, run.epoch, loss.item(), l_out.item(), l_int.item(), l_ph.item(), lr, run.elapsed)
        if last and run.step < run.total:
            log.info("dev at step %d: %s", run.step, json.dumps(evaluate(model, dev_items, fdev, tok)))
        if run.out_of_time():
            break
    run.close()
    dev = evaluate(model, dev_items, fdev, tok)
    log.info("final dev: %s", json.dumps(dev))
    export(model, cfg, hours, run.step, run.total, run.elapsed, dev)
    return cfg.out


def export(model: CTCStack, cfg: TrainConfig, hours: float, step: int, total: int, elapsed: float,
           dev: dict) -> None:
    """Write the shipped artifacts: float16 weights, config, phone set, training summary."""
    sd = {k: v.half() if v.is_floating_point() else v for k, v in model.state_dict().items()}
    torch.save(sd, cfg.out / "stack.pt")
    (cfg.out / "phones.txt").write_text("\n".join(PhoneSet.units) + "\n")
    meta = {"stack": model.config.to_dict(), "train": {k: str(v) for k, v in asdict(cfg).items()},
            "train_hours": round(hours, 2), "steps": step, "planned_steps": total,
            "wall_minutes": round(elapsed / 60, 1), "dev": dev,
            "parameters": sum(p.numel() for p in model.parameters())}
    (cfg.out / "config.json").write_text(json.dumps(meta, indent=2) + "\n")
