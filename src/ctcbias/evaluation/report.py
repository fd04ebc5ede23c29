"""``ctcbias bench``: one report (``bench/RESULTS.md`` + plots) that answers whether to adopt ctcbias.

Sections: the method's ablation table; peers on the same audio and lists (pyctcdecode hotwords on
our log-probs, pocketsphinx with run-time ``add_word``, Whisper-base with the list as prompt);
list-size scaling; real speech; a per-voice breakdown. ``quick`` runs a small subset of each.
Everything is seeded, so two runs on one machine give the same numbers (timings aside).
"""

from __future__ import annotations

import json
import os
import platform
import random
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ..audio import SAMPLE_RATE, load_audio
from ..inference.recognizer import Recognizer
from ..normalize import normalize
from .base import git_commit, write_results
from .biasing import ADAPTER_SYSTEMS, SYSTEMS, run_set, whole_lists
from .entities import EntityCounts, entity_counts
from .metrics import Counts, score

SETS = ("medical-test", "names-test")


@dataclass(frozen=True)
class Sizes:
    table: int  # utterances per test set in the method's table (500: the whole sets)
    peers: int  # ... for the peers (pocketsphinx and Whisper are slow)
    scale: int  # ... per list size in the scaling run
    real: int  # real-speech utterances (0: all)
    negative: int  # ... per test set with lists that hold none of their entities


FULL = Sizes(table=500, peers=30, scale=30, real=0, negative=150)
QUICK = Sizes(table=20, peers=6, scale=6, real=20, negative=6)
SCALE_SIZES = (0, 10, 100, 1000, 10000)


def _load(data: Path, name: str, n: int) -> list[dict]:
    return [json.loads(l) for l in (data / f"{name}.jsonl").open()][:n]


def _score_one(c: Counts, e: EntityCounts, text: str, hyp: str, spans, ents, bias) -> None:
    biased = {i for s, t in spans for i in range(s, t)}
    c.add(score(text, normalize(hyp), biased, bias.words))
    e.add(entity_counts(ents, normalize(hyp), bias, text))


def peers(rec: Recognizer, data: Path, items: list[dict], size: str, progress: bool = True) -> dict:
    """Ours (the default system, end to end) and the three peers on the same audio and lists."""
    from tqdm import tqdm

    from .peers import PocketSphinxPeer, PyCTCDecodePeer, WhisperPromptPeer

    lm = rec.model_dir / "lm.bin"
    systems = {"ctcbias (" + rec.resolve().bias + ")": None,
               "pyctcdecode hotwords (our log-probs, our LM)": PyCTCDecodePeer(rec.tokenizer, str(lm) if lm.exists() else None),
               "pocketsphinx + add_word": PocketSphinxPeer(),
               "Whisper-base, list as initial_prompt": WhisperPromptPeer()}
    audio = [load_audio(data / it["audio"]) for it in items]
    secs = sum(len(a) for a in audio) / SAMPLE_RATE
    out = {}
    for name, peer in systems.items():
        c, e, dt = Counts(), EntityCounts(), 0.0
        for it, x in zip(tqdm(items, desc=name[:30], disable=not progress, leave=False), audio):
            words = it["bias_lists"][size]
            bias = rec.compile(words)
            t0 = time.perf_counter()
            if peer is None:
                hyp = rec.transcribe(x, SAMPLE_RATE, words=bias).raw_text  # scored as recognized, before formatting
            elif isinstance(peer, PyCTCDecodePeer):
                hyp = peer.decode(rec.posteriors(x, SAMPLE_RATE).subword, [normalize(w) for w in words])
            else:
                hyp = peer.transcribe(x, words)
            dt += time.perf_counter() - t0
            _score_one(c, e, it["text"], hyp, [(en["word_start"], en["word_end"]) for en in it["entities"]],
                       [en["spoken"] for en in it["entities"]], bias)
        out[name] = {**c.summary(), **e.summary(), "rtf": round(dt / secs, 4)}
    return out


def scaling(rec: Recognizer, data: Path, n: int, progress: bool = True) -> dict:
    """The default system with lists of 0 to 10,000 entries: the true entities plus distractors from
    both test domains' reserved entities, decoded as :meth:`Recognizer.transcribe` decodes (big lists
    shortlisted per utterance). End-to-end RTF with the list compiled beforehand (compile time
    reported on its own); decode RTF: the same calls less the model's passes (encoder, CTC stack,
    adapter)."""
    from tqdm import tqdm

    from ..data.catalogs import DOMAIN_KINDS, load_catalog

    cat = load_catalog()
    pool = list(dict.fromkeys(e.display for kinds in DOMAIN_KINDS.values() for k in kinds for e in cat[k]
                              if e.reserved))
    items = [it for name in SETS for it in _load(data, name, n)]
    audio = [load_audio(data / it["audio"]) for it in items]
    # each utterance's entity word spans and spoken forms, which every size and pass scores against
    truth = [([(en["word_start"], en["word_end"]) for en in it["entities"]], [en["spoken"] for en in it["entities"]])
             for it in items]
    secs = sum(len(a) for a in audio) / SAMPLE_RATE
    rng = random.Random("scaling")
    opts = rec.resolve()
    # decoder biasing alone (its time is the decoder's own), on the same encoder features
    dopts = rec.resolve(bias="decoder") if opts.bias != "decoder" else None
    feats = [rec.features(x, SAMPLE_RATE) for x in audio] if dopts is not None else []
    if items:  # what the first call loads (the LM) stays out of the first size's time
        rec.pipeline(audio[0], SAMPLE_RATE).decode(rec.compile([]), opts)
    out = {}
    for size in SCALE_SIZES:
        c, e, dt, ct, dec, lt, ddec = Counts(), EntityCounts(), 0.0, 0.0, 0.0, 0.0, 0.0
        lists = []
        for it, x, (spans, spoken) in zip(tqdm(items, desc=f"{size} entries", disable=not progress, leave=False),
                                          audio, truth):
            true = list(dict.fromkeys(en["display"] for en in it["entities"]))
            lst = (true + [w for w in rng.sample(pool, min(len(pool), size + len(true))) if w not in true])[:size]
            lists.append(lst)
            t0 = time.perf_counter()
            rec.compile(lst, rec.resolve(bias="decoder"))  # the decoder's list alone (cached for the next)
            tl = time.perf_counter()
            bias = rec.compile(lst)  # plus the adapter's catalog of the same list
            t1 = time.perf_counter()
            lt += tl - t0
            run = rec.pipeline(x, SAMPLE_RATE)
            t2 = time.perf_counter()
            hyp = run.decode(bias, opts).text
            t3 = time.perf_counter()
            dt += t3 - t1
            dec += t3 - t2 - run.model_seconds
            ct += t1 - t0
            _score_one(c, e, it["text"], hyp, spans, spoken if size else [], bias)
        out[str(size)] = {**c.summary(), **e.summary(), "rtf": round(dt / secs, 4), "decode_rtf": round(dec / secs, 4),
                          "compile_seconds_per_list": round(ct / len(items), 3),
                          "compile_seconds_decoder_list": round(lt / len(items), 3)}
        if opts.shortlists(len(bias)):  # the same lists decoded whole, for comparison
            wopts = replace(opts, shortlist=replace(opts.shortlist, enabled=False))
            wc, we, wt = Counts(), EntityCounts(), 0.0
            for it, x, lst, (spans, spoken) in zip(tqdm(items, desc=f"{size} entries, whole", disable=not progress,
                                                        leave=False), audio, lists, truth):
                bias = rec.compile(lst, wopts)  # with the adapter's catalog of all of it
                t0 = time.perf_counter()
                hyp = rec.pipeline(x, SAMPLE_RATE).decode(bias, wopts).text
                wt += time.perf_counter() - t0
                _score_one(wc, we, it["text"], hyp, spans, spoken, bias)
            out[str(size)]["whole_list"] = {**wc.summary(), **we.summary(), "rtf": round(wt / secs, 4)}
        if dopts is not None:  # a pass of its own, so that it does not disturb the default system's timing
            for f, lst in zip(feats, lists):
                bias = rec.compile(lst)
                run = rec.pipeline(features=f)
                t0 = time.perf_counter()
                run.decode(bias, dopts)
                ddec += time.perf_counter() - t0 - run.model_seconds
            out[str(size)]["decoder_decode_rtf"] = round(ddec / secs, 4)
    return out


def no_entity_lists(rec: Recognizer, data: Path, n: int, progress: bool = True) -> dict:
    """Biasing must not hurt ordinary speech: each utterance with a 1000-entry list that holds none of
    its entities (its own list minus them), against no list. Two scores: WER over every word, and
    U-WER with the utterance's own (unlisted) entity words left out, so only ordinary words count;
    an inserted word always counts. ``*_delta_se``: the standard error of the difference to no list,
    from per-utterance paired differences (a 60-utterance sample's is about 1.4 points, too coarse
    for a 0.5-point bar, hence the larger sample)."""
    from tqdm import tqdm

    items = [it for name in SETS for it in _load(data, name, n)]
    systems = {"beam + LM, no list": {"bias": "none"}, "all five": {"bias": "decoder"}}
    if rec.adapter is not None:
        systems |= {"adapter (encoder biasing)": {"bias": "encoder"},
                    "joint, no ordinary-word guard": {"bias": "joint", "word_guard": False},
                    "joint (adapter + all five)": {"bias": "joint"}}
    opts = {k: rec.resolve(**o) for k, o in whole_lists(systems).items()}
    per: dict[str, list[tuple[Counts, int]]] = {k: [] for k in systems}
    dec = {k: 0.0 for k in systems}
    secs = 0.0
    for it in tqdm(items, desc="lists without the utterance's entities", disable=not progress, leave=False):
        true = {en["display"] for en in it["entities"]}
        bias = rec.compile([w for w in it["bias_lists"]["1000"] if w not in true])
        own = {i for en in it["entities"] for i in range(en["word_start"], en["word_end"])}
        run = rec.pipeline(data / it["audio"])
        for o in opts.values():  # the model's share stays out of the decode times
            run.posteriors(bias, o)
        secs += run.duration
        for k, o in opts.items():
            t0 = time.perf_counter()
            hyp = normalize(run.decode(bias, o).text)
            dec[k] += time.perf_counter() - t0
            per[k].append((score(it["text"], hyp, own), entity_counts([], hyp, bias, it["text"]).fp))
    words = sum(c.ref_words for c, _ in per["beam + LM, no list"])
    u_words = sum(c.u_words for c, _ in per["beam + LM, no list"])
    out = {}
    for k, rows in per.items():
        tot = Counts()
        for c, _ in rows:
            tot.add(c)
        r = {"wer": round(tot.wer, 4), "u_wer": round(tot.u_wer, 4), "fp": sum(f for _, f in rows),
             "decode_rtf": round(dec[k] / secs, 4)}
        if k != "beam + LM, no list":
            for m, field, total in (("wer", "errors", words), ("u_wer", "u_errors", u_words)):
                d = np.array([getattr(c, field) - getattr(b, field) for (c, _), (b, _) in zip(rows, per["beam + LM, no list"])])
                r[f"{m}_delta_se"] = round(float(d.std(ddof=1) * np.sqrt(len(d)) / max(1, total)), 4)
        out[k] = r
    return {"utterances": len(items), "words": words, "ordinary_words": u_words, "results": out}


def adapter_overhead(rec: Recognizer, data: Path, n: int) -> dict | None:
    """Model time (encoder + stack) with the adapter and a 1000-entry list against without it, the
    fastest of three runs each; the list's embeddings are computed once per list and reported on
    their own."""
    if rec.adapter is None:
        return None
    items = _load(data, "names-test", n)
    audio = [load_audio(data / it["audio"]) for it in items]
    bias = rec.compile(items[0]["bias_lists"]["1000"])  # builds the catalog too; timed on its own here:
    t0 = time.perf_counter()
    with torch.inference_mode():
        rec.adapter.embed([list(e.tokens[0]) for e in bias.entries])
    emb = time.perf_counter() - t0
    base = with_adapter = 0.0
    for x in audio:
        # each utterance both ways, interleaved, three times; the fastest of each counts (a 2-core
        # machine's scheduling noise is of the size of the adapter's cost)
        plain, biased = [], []
        for _ in range(3):
            t0 = time.perf_counter()
            rec.posteriors(x, SAMPLE_RATE)
            t1 = time.perf_counter()
            rec.posteriors(x, SAMPLE_RATE, bias=bias)
            plain.append(t1 - t0)
            biased.append(time.perf_counter() - t1)
        base += min(plain)
        with_adapter += min(biased)
    secs = sum(len(a) for a in audio) / SAMPLE_RATE
    return {"utterances": n, "rtf_model": round(base / secs, 4), "rtf_model_with_adapter_1000": round(with_adapter / secs, 4),
            "added": round(with_adapter / base - 1, 3), "embed_1000_seconds": round(emb, 3)}


def real_speech(rec: Recognizer, root: Path, n: int, with_whisper: bool, progress: bool = True) -> dict:
    """WER on all of realspeech (greedy and the default decoder without a list); on its LibriSpeech
    utterances B-WER / U-WER / rare-word F1 with their N=100 lists (Le et al. 2021)."""
    from tqdm import tqdm

    items = [json.loads(l) for l in (root / "manifest.jsonl").open()]
    items = items[: n or None]
    whisper = None
    if with_whisper:
        from .peers import WhisperPromptPeer

        whisper = WhisperPromptPeer()
    rows: dict[str, Counts] = {}
    ents: dict[str, EntityCounts] = {}
    libri = 0
    for it in tqdm(items, desc="realspeech", disable=not progress, leave=False):
        x = load_audio(root / it["audio"])
        run = rec.pipeline(x, SAMPLE_RATE)
        hyps = {"greedy, no list": run.decode(rec.compile([]), rec.resolve(greedy=True, bias="none")).text,
                "beam + LM, no list": run.decode(rec.compile([]), rec.resolve(bias="none")).text}
        lst = it.get("biasing_list")
        if lst:
            libri += 1
            bias = rec.compile(lst)
            opts = rec.resolve()
            hyps[f"ctcbias {opts.bias}, N=100 list"] = run.decode(bias, opts).text
            if whisper is not None:
                hyps["Whisper-base, no prompt"] = whisper.transcribe(x, [])
                hyps["Whisper-base, list as prompt"] = whisper.transcribe(x, lst)
        rare = set(it.get("rare_words") or [])
        positions = {i for i, w in enumerate(it["text"].split()) if w in rare}
        bias = rec.compile(lst or [])
        for name, h in hyps.items():
            if not name.startswith(("ctcbias", "Whisper")):  # the no-list rows run on every utterance
                rows.setdefault(name + " (all)", Counts()).add(score(it["text"], normalize(h)))
            if lst:
                rows.setdefault(name + " (LibriSpeech)", Counts()).add(
                    score(it["text"], normalize(h), positions, set(lst)))
                ents.setdefault(name + " (LibriSpeech)", EntityCounts()).add(
                    entity_counts(sorted(rare), normalize(h), bias, it["text"]))
    out = {k: v.summary() for k, v in rows.items()}
    for k, v in ents.items():
        out[k].update(v.summary())
    return {"utterances": len(items), "librispeech_with_lists": libri, "rows": out}


def run(data: Path, realspeech: Path, out: Path, quick: bool = False, progress: bool = True) -> dict:
    t0 = time.time()
    sz = QUICK if quick else FULL
    rec = Recognizer.load()
    res: dict = {"machine": _machine(),
                 "commit": git_commit(), "quick": quick, "sizes": sz.__dict__, "default_bias": rec.resolve().bias}
    systems = {**SYSTEMS, **(ADAPTER_SYSTEMS if rec.adapter is not None else {})}
    # the timings first, in a fresh process: after the tables' thousands of decodes (and the peers'
    # models) the same calls ran 25-45% slower
    res["scaling"] = {"utterances": 2 * sz.scale, "shortlist_over": rec.resolve().shortlist.over,
                     "results": scaling(rec, data, sz.scale, progress)}
    res["adapter_overhead"] = adapter_overhead(rec, data, sz.scale)
    res["table"] = {name: {"utterances": min(sz.table, len(_load(data, name, sz.table))),
                           "results": run_set(rec, _load(data, name, sz.table), data, systems, ["100", "1000"],
                                              progress=progress, desc=name)} for name in SETS}
    res["peers"] = {name: {"utterances": sz.peers, "list": 100,
                           "results": peers(rec, data, _load(data, name, sz.peers), "100", progress)}
                    for name in SETS}
    res["no_entity_lists"] = no_entity_lists(rec, data, sz.negative, progress)
    res["real"] = real_speech(rec, realspeech, sz.real, with_whisper=True, progress=progress)
    res["wall_seconds"] = round(time.time() - t0, 1)
    write_results(out, "results", res, markdown(res))
    _plots(res, out)
    return res


def _machine() -> str:
    cpu = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                if l.startswith("model name")), platform.processor() or "?") if Path("/proc/cpuinfo").exists() else "?"
    return f"{os.cpu_count()} cores ({cpu}), {platform.machine()}"


def _pct(v) -> str:
    return f"{v:.1%}" if isinstance(v, (int, float)) else ""


def markdown(r: dict) -> str:
    L = ["# ctcbias benchmark", "",
         f"Machine: {r['machine']}. Commit `{r['commit']}`. Wall time {r['wall_seconds'] / 60:.1f} min"
         f"{' (quick subset)' if r['quick'] else ''}. Default system: **{r['default_bias']}** biasing. "
         "Test sets: synthetic speech of held-out voices with held-out (reserved) entities; lists hold "
         "each utterance's entities plus distractors of the same domain. B-WER / U-WER as in Le et al. "
         "(2021): errors on reference words that are biasing words of the utterance / on the rest; an "
         "insertion counts toward B-WER only when the inserted word is in the list. Entity precision: a "
         "list entry in the transcript is false unless it is one of the utterance's entities or the "
         "reference says it as an ordinary word (a surname \"Weeks\" in \"the next few weeks\").", "",
         "## The method's table", ""]
    for name, s in r["table"].items():
        for size, rows in s["results"].items():
            L += [f"### {name}, {size}-entry lists ({s['utterances']} utterances)", "",
                  "| system | WER | U-WER | B-WER | precision | recall | F1 | decode RTF |", "|---|---|---|---|---|---|---|---|"]
            L += [f"| {k} | {_pct(v['wer'])} | {_pct(v['u_wer'])} | {_pct(v['b_wer'])} | {v['precision']:.3f} | "
                  f"{v['recall']:.3f} | {v['f1']:.3f} | {v['decode_rtf']} |" for k, v in rows.items()]
            L.append("")
    ne = r["no_entity_lists"]
    L += ["![entity F1 by system](methods.png)", "", "## Lists that hold none of the utterance's entities", "",
          f"{ne['utterances']} utterances, each with its 1000-entry list minus its own entities: biasing must not "
          f"hurt ordinary speech. WER counts all {ne.get('words', '?')} words; U-WER leaves out the utterance's "
          f"own, unlisted entity words ({ne.get('ordinary_words', '?')} ordinary words remain; an inserted word "
          "always counts). In brackets: the change against no list, +- its standard error (paired by "
          "utterance). False entities: list entries that appeared in a transcript although not said.", "",
          "| system | WER | U-WER | false entities | decode RTF |", "|---|---|---|---|---|"]
    base = ne["results"]["beam + LM, no list"]

    def _vs(v, m):
        if f"{m}_delta_se" not in v:
            return _pct(v[m])
        return f"{_pct(v[m])} ({(v[m] - base[m]) * 100:+.1f} +- {v[m + '_delta_se'] * 100:.1f})"
    L += [f"| {k} | {_vs(v, 'wer')} | {_vs(v, 'u_wer') if 'u_wer' in v else ''} | {v['fp']} | {v['decode_rtf']} |"
          for k, v in ne["results"].items()]
    ao = r.get("adapter_overhead")
    if ao:
        L += ["", f"Adapter cost (fastest of three runs per utterance): encoder + stack RTF {ao['rtf_model']} without, {ao['rtf_model_with_adapter_1000']} "
              f"with the adapter and a 1000-entry list (+{ao['added']:.1%}); the list's embeddings take "
              f"{ao['embed_1000_seconds']} s once per list."]
    L += ["", "## Peers on the same audio and 100-entry lists", "",
          "RTF: end to end on this machine (audio in, text out), per peer.", ""]
    for name, s in r["peers"].items():
        L += [f"### {name} ({s['utterances']} utterances)", "",
              "| system | WER | U-WER | B-WER | precision | recall | F1 | RTF |", "|---|---|---|---|---|---|---|---|"]
        L += [f"| {k} | {_pct(v['wer'])} | {_pct(v['u_wer'])} | {_pct(v['b_wer'])} | {v['precision']:.3f} | "
              f"{v['recall']:.3f} | {v['f1']:.3f} | {v['rtf']} |" for k, v in s["results"].items()]
        L.append("")
    sc = r["scaling"]
    L += ["## List size", "", f"The default system, {sc['utterances']} utterances (both test sets); RTF end to end "
          "with the list compiled beforehand, decoded as a call to transcribe decodes (lists over "
          f"{sc['shortlist_over']} entries shortlisted per utterance, see SCALING.md); decode RTF: the "
          "same calls less the model's passes (encoder, CTC stack, adapter): shortlisting, beam search, LM, "
          "techniques; decode RTF, decoder biasing: the same lists through decoder biasing alone (all "
          "five techniques on the unbiased posteriors); compile time per list beside it: the decoder's list "
          "(normalized forms, subwords, pronunciations, prefix tree) and all of it (with the adapter's entity "
          "catalog).", "",
          "| entries | F1 | precision | recall | U-WER | RTF | decode RTF | decode RTF, decoder biasing | "
          "compile s, decoder list | compile s, all |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    L += [f"| {k} | {v['f1']:.3f} | {v['precision']:.3f} | {v['recall']:.3f} | {_pct(v['u_wer'])} | {v['rtf']} | "
          f"{v['decode_rtf']} | {v.get('decoder_decode_rtf', '')} | {v.get('compile_seconds_decoder_list', '')} | "
          f"{v['compile_seconds_per_list']} |" for k, v in sc["results"].items()]
    whole = {k: v["whole_list"] for k, v in sc["results"].items() if "whole_list" in v}
    if whole:
        L += ["", "The shortlisted sizes' lists decoded whole instead (every entry through the adapter and the "
              "techniques; RTF end to end, the adapter's catalog of the list computed beforehand): "
              + "; ".join(f"{int(k):,} entries F1 {v['f1']:.3f}, precision {v['precision']:.3f}, recall "
                          f"{v['recall']:.3f}, U-WER {_pct(v['u_wer'])}, RTF {v['rtf']}" for k, v in whole.items()) + "."]
    L += ["", "![scaling](scaling.png)", "", "## Real human speech (`../shared/realspeech`, never trained on)", "",
          f"{r['real']['utterances']} utterances; {r['real']['librispeech_with_lists']} LibriSpeech utterances "
          "with their rare words and N=100 lists.", "",
          "| system | WER | U-WER | B-WER | precision | recall | F1 |", "|---|---|---|---|---|---|---|"]
    for k, v in r["real"]["rows"].items():
        f = lambda n: f"{v[n]:.3f}" if n in v else ""  # noqa: E731
        L.append(f"| {k} | {_pct(v['wer'])} | {_pct(v.get('u_wer')) if '(LibriSpeech)' in k else ''} | "
                 f"{_pct(v.get('b_wer')) if '(LibriSpeech)' in k else ''} | {f('precision')} | {f('recall')} | {f('f1')} |")
    L += ["", "## Per voice (held-out voices, 100-entry lists)", ""]
    best = list(next(iter(r["table"].values()))["results"]["100"])[-1]
    L += [f"System: {best}.", "", "| set | voice | WER | U-WER | F1 |", "|---|---|---|---|---|"]
    for name, s in r["table"].items():
        for voice, v in s["results"]["100"][best]["by_voice"].items():
            L.append(f"| {name} | {voice} | {_pct(v['wer'])} | {_pct(v['u_wer'])} | {v['f1']:.3f} |")
    return "\n".join(L) + "\n"


def _plots(r: dict, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sc = r["scaling"]["results"]
    xs = [max(1, int(k)) for k in sc]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.plot(xs, [v["f1"] for v in sc.values()], "o-", label="F1")
    a.plot(xs, [v["precision"] for v in sc.values()], "s--", label="precision")
    a.plot(xs, [v["recall"] for v in sc.values()], "^:", label="recall")
    a.set_xscale("log"), a.set_xlabel("list entries (0 plotted at 1)"), a.set_ylim(0, 1), a.legend(), a.grid(alpha=.3)
    a.set_title("entities vs list size")
    b.plot(xs, [v["rtf"] for v in sc.values()], "o-")
    b.set_xscale("log"), b.set_xlabel("list entries"), b.set_ylabel("real-time factor"), b.grid(alpha=.3)
    b.set_title("speed vs list size (2 cores)")
    fig.tight_layout(), fig.savefig(out / "scaling.png", dpi=100), plt.close(fig)

    names = list(next(iter(r["table"].values()))["results"]["100"])
    groups = [(s, size) for s in r["table"] for size in ("100", "1000")]
    fig, ax = plt.subplots(figsize=(11, 4))
    w = 0.8 / len(groups)
    for j, (s, size) in enumerate(groups):
        ax.bar(np.arange(len(names)) + j * w, [r["table"][s]["results"][size][n]["f1"] for n in names], w,
               label=f"{s}, {size}")
    ax.set_xticks(np.arange(len(names)) + 0.4 - w / 2, names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("entity F1"), ax.set_ylim(0, 1), ax.legend(fontsize=8), ax.grid(axis="y", alpha=.3)
    fig.tight_layout(), fig.savefig(out / "methods.png", dpi=100), plt.close(fig)
