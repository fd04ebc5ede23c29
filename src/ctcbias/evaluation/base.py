"""Benchmark of the base model (greedy, no list): the bars of the base-model issue.

- U-WER / B-WER / WER on the held-out-voice test sets (entity words are the biased words);
- WER on ``../shared/realspeech`` (real human speech, never trained on);
- phone error rate of the intermediate phone head on dev;
- real-time factor for 10 s of audio, encoder alone and encoder + stack, on this machine.

Writes ``<out>/base.json`` and ``<out>/BASE.md``.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

from ..audio import SAMPLE_RATE
from ..normalize import normalize
from .metrics import Counts, score


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).parent).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def run(data: Path, realspeech: Path, out: Path, limit: int = 0) -> dict:
    import jiwer
    import torch
    from tqdm import tqdm

    from ..audio import load_audio
    from ..encoder import encode
    from ..inference.recognizer import Recognizer
    from ..inference.result import greedy_decode, greedy_units

    rec = Recognizer.load()
    res: dict = {"machine": f"{os.cpu_count()} cores, {platform.processor() or platform.machine()}",
                 "torch_threads": torch.get_num_threads(), "commit": git_commit(), "sets": {}}
    t_start = time.time()

    for name in ("medical-test", "names-test"):
        items = [json.loads(l) for l in (data / f"{name}.jsonl").open()][: limit or None]
        total, by_voice, secs = Counts(), {}, 0.0
        for it in tqdm(items, desc=name, unit="utt"):
            p = rec.posteriors(data / it["audio"])
            hyp = greedy_decode(p.subword, rec.tokenizer).text
            biased = {i for e in it["entities"] for i in range(e["word_start"], e["word_end"])}
            vocab = {w for e in it["bias_lists"]["100"] for w in normalize(e).split()}
            c = score(it["text"], hyp, biased, vocab)
            total.add(c)
            by_voice.setdefault(it["voice"], Counts()).add(c)
            secs += p.duration
        res["sets"][name] = {**total.summary(), "utterances": len(items), "hours": round(secs / 3600, 3),
                             "by_voice": {v: c.summary() for v, c in sorted(by_voice.items())}}

    # Dev: phone error rate of the phone head, WER of both subword heads.
    items = [json.loads(l) for l in (data / "dev.jsonl").open()][: limit or None]
    lex = rec.phones.fill_lexicon({}, {w for it in items for w in it["text"].split()})
    refs, hyps, ihyps, pref, phyp = [], [], [], [], []
    for it in tqdm(items, desc="dev", unit="utt"):
        p = rec.posteriors(data / it["audio"])
        refs.append(it["text"])
        hyps.append(greedy_decode(p.subword, rec.tokenizer).text)
        ihyps.append(greedy_decode(p.inter, rec.tokenizer).text)
        pref.append(" ".join(map(str, rec.phones.encode_words(it["text"].split(), lex))))
        phyp.append(" ".join(map(str, greedy_units(p.phone))))
    res["dev"] = {"wer": round(jiwer.wer(refs, hyps), 4), "wer_intermediate_head": round(jiwer.wer(refs, ihyps), 4),
                  "per": round(jiwer.wer(pref, phyp), 4), "utterances": len(items)}

    # Real speech.
    rs = [json.loads(l) for l in (realspeech / "manifest.jsonl").open()][: limit or None]
    by_corpus: dict[str, list] = {}
    refs, hyps = [], []
    for it in tqdm(rs, desc="realspeech", unit="utt"):
        hyp = greedy_decode(rec.posteriors(realspeech / it["audio"]).subword, rec.tokenizer).text
        ref = normalize(it["text"])
        refs.append(ref)
        hyps.append(hyp)
        by_corpus.setdefault(it["corpus"], [[], []])
        by_corpus[it["corpus"]][0].append(ref)
        by_corpus[it["corpus"]][1].append(hyp)
    res["realspeech"] = {"wer": round(jiwer.wer(refs, hyps), 4), "utterances": len(rs),
                         "by_corpus": {k: {"wer": round(jiwer.wer(*v), 4), "utterances": len(v[0])}
                                       for k, v in sorted(by_corpus.items())},
                         "examples": [{"ref": r, "hyp": h} for r, h in list(zip(refs, hyps))[:5]]}

    # Real-time factor on 10 s of real speech (median of 5 after a warm-up).
    clip = np.concatenate([load_audio(realspeech / it["audio"]) for it in rs[:4]])[:10 * SAMPLE_RATE]
    clip = np.pad(clip, (0, max(0, 10 * SAMPLE_RATE - len(clip))))
    enc_t, all_t = [], []
    for i in range(6):
        t0 = time.perf_counter()
        feats = encode(rec.encoder, clip, pad=rec.stack.config.encoder_pad)[-1]
        t1 = time.perf_counter()
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            o = rec.stack(feats[None])
        greedy_decode(o.subword[0].float().numpy(), rec.tokenizer)
        t2 = time.perf_counter()
        if i:
            enc_t.append(t1 - t0)
            all_t.append(t2 - t0)
    res["rtf_10s"] = {"encoder": round(float(np.median(enc_t)) / 10, 4),
                      "encoder_stack_greedy": round(float(np.median(all_t)) / 10, 4)}
    res["wall_seconds"] = round(time.time() - t_start, 1)
    write_results(out, "base", res, _markdown(res))
    return res


def write_results(out: Path, name: str, results: dict, report: str) -> None:
    """A bench's figures as ``out/<name>.json`` and its report as ``out/<NAME>.md``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / f"{name.upper()}.md").write_text(report)


def _markdown(r: dict) -> str:
    L = ["# Base model benchmark (greedy, no list)\n", f"Machine: {r['machine']}, torch threads "
         f"{r['torch_threads']}; commit {r['commit']}; wall {r['wall_seconds']} s.\n",
         "| set | utts | hours | WER | U-WER | B-WER |", "|---|---|---|---|---|---|"]
    for name, s in r["sets"].items():
        L.append(f"| {name} | {s['utterances']} | {s['hours']} | {s['wer']:.1%} | {s['u_wer']:.1%} | {s['b_wer']:.1%} |")
    rs = r["realspeech"]
    L += ["", f"Real speech (`../shared/realspeech`, {rs['utterances']} utterances): WER **{rs['wer']:.1%}**", "",
          "| corpus | utts | WER |", "|---|---|---|"]
    L += [f"| {k} | {v['utterances']} | {v['wer']:.1%} |" for k, v in rs["by_corpus"].items()]
    d = r["dev"]
    L += ["", f"Dev ({d['utterances']} utts): WER {d['wer']:.1%} (intermediate head {d['wer_intermediate_head']:.1%}), "
          f"phone error rate of the phone head **{d['per']:.1%}**.", "",
          f"Real-time factor, 10 s of audio: encoder {r['rtf_10s']['encoder']}, encoder + stack + greedy "
          f"{r['rtf_10s']['encoder_stack_greedy']}.", "", "## U-WER by held-out voice", "",
          "| set | voice | U-WER | B-WER |", "|---|---|---|---|"]
    for name, s in r["sets"].items():
        L += [f"| {name} | {v} | {c['u_wer']:.1%} | {c['b_wer']:.1%} |" for v, c in s["by_voice"].items()]
    return "\n".join(L) + "\n"
