"""The readable transcript's bars (``ctcbias bench format`` -> ``bench/FORMAT.md``).

- Punctuation and casing on held-out text: the data factory's dev sentences (carrier sentences the
  model never saw, held-out patterns, dev entities), joined in runs of one to three as in training;
  precision, recall and F1 of each mark after a word, and the share of words cased as written.
- Inverse text normalization: our spoken -> written pairs (``itn_pairs.tsv``), exact match.
- The formatting's share of end-to-end time on real recordings, and that it leaves the recognized
  words alone: the metrics score ``raw_text``, which is the same with formatting on and off.
"""

from __future__ import annotations

import json
import random
import subprocess
import time
from pathlib import Path

from ..inference.inverse_normalize import inverse_normalize_text
from ..inference.punctuation import MARKS, PunctuationModel, apply_case

__all__ = ["PAIRS", "itn_pairs", "itn_scores", "punctuation_scores", "time_share", "run"]

PAIRS = Path(__file__).resolve().parent / "itn_pairs.tsv"


def itn_pairs(path: Path = PAIRS) -> list[tuple[str, str]]:
    """(spoken, written) pairs; lines starting with # are comments."""
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            spoken, written = line.split("\t")
            out.append((spoken, written))
    return out


def itn_scores(pairs: list[tuple[str, str]]) -> dict:
    wrong = [(s, w, g) for s, w in pairs if (g := inverse_normalize_text(s)) != w]
    return {"pairs": len(pairs), "correct": len(pairs) - len(wrong), "accuracy": 1 - len(wrong) / max(len(pairs), 1),
            "wrong": [{"spoken": s, "want": w, "got": g} for s, w, g in wrong]}


def punctuation_scores(model: PunctuationModel, sentences: list[tuple], seed: int = 1,
                       max_run: int = 3) -> dict:
    """Marks and casing predicted on held-out (written, spoken[, casing]) sentences joined in runs;
    casing is scored on the words whose casing is known (not a Bible verse's)."""
    from ..training.punctuation import labeled, runs

    lab = [s for s in (labeled(*x) for x in sentences) if s]
    seqs = runs(lab, random.Random(seed), max_run)
    counts = {m: {"tp": 0, "fp": 0, "fn": 0} for m in MARKS[1:]}
    inner = {"tp": 0, "fp": 0, "fn": 0}  # sentence ends inside a run (the last word always ends one)
    cased = scored = capital = capital_ok = total = 0
    for seq in seqs:
        words = [w[0] for w in seq]
        got = model.format_words(words)
        start = True
        total += len(seq)
        for k, ((w, mark, case, form), (text, pred)) in enumerate(zip(seq, got)):
            gold = MARKS[mark]
            for m, c in counts.items():
                c["tp"] += pred == m and gold == m
                c["fp"] += pred == m and gold != m
                c["fn"] += pred != m and gold == m
            if k < len(seq) - 1:
                ge, pe = gold in (".", "?"), pred in (".", "?")
                inner["tp"] += ge and pe
                inner["fp"] += pe and not ge
                inner["fn"] += ge and not pe
            if case >= 0 or start:  # else unknown: a Bible verse's word
                want = apply_case(w, case, {w: form}) if case >= 0 else w
                if start and want[:1].islower():
                    want = want[:1].upper() + want[1:]
                cased += text == want
                scored += 1
                if want != w:
                    capital += 1
                    capital_ok += text == want
            start = gold in (".", "?")

    def prf(c):
        p = c["tp"] / max(c["tp"] + c["fp"], 1)
        r = c["tp"] / max(c["tp"] + c["fn"], 1)
        return {"precision": round(p, 3), "recall": round(r, 3), "f1": round(2 * p * r / max(p + r, 1e-9), 3),
                "support": c["tp"] + c["fn"]}

    return {"sentences": len(lab), "runs": len(seqs), "words": total, "marks": {m: prf(c) for m, c in counts.items()},
            "sentence_end_inside_runs": prf(inner), "casing_accuracy": round(cased / max(scored, 1), 4),
            "casing_words": scored,
            "capitalized_words": capital, "capitalized_words_right": round(capital_ok / max(capital, 1), 4)}


def time_share(rec, files: list, refs: list[str | None] | None = None, repeats: int = 3) -> dict:
    """Seconds of decoding without formatting against seconds of formatting, over ``files``;
    and that formatting leaves the recognized words alone: each file is transcribed with it on and
    off, ``raw_text`` must equal the unformatted text, and the WER on the recognized words
    (against ``refs``, where given) is the same."""
    import jiwer

    from ..inference.readable import format_result

    rec.punctuation  # loaded once, as a service would
    dec = fmt = 0.0
    same = True
    per_file, scored = [], []
    for f, ref in zip(files, refs or [None] * len(files)):
        t0 = time.perf_counter()
        off = rec.transcribe(f, format=False)
        t1 = time.perf_counter()
        for _ in range(repeats):
            out = format_result(off, rec.punctuation)
        t2 = time.perf_counter()
        on = rec.transcribe(f)
        same &= on.raw_text == off.text == off.raw_text and on.text == out.text
        dec += t1 - t0
        fmt += (t2 - t1) / repeats
        per_file.append({"raw": off.text, "formatted": on.text})
        if ref is not None:
            scored.append((ref, on.raw_text, off.text))
    wer = None
    if scored:
        from ..normalize import normalize

        refs_, on_, off_ = zip(*scored)
        wer = {"utterances": len(scored),
               "format_on_raw_text": round(jiwer.wer(list(refs_), [normalize(h) for h in on_]), 4),
               "format_off_text": round(jiwer.wer(list(refs_), [normalize(h) for h in off_]), 4)}
    return {"files": len(files), "decode_seconds": round(dec, 3), "format_seconds": round(fmt, 4),
            "format_share": round(fmt / (dec + fmt), 5), "raw_text_unchanged": same, "wer": wer, "examples": per_file}


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              timeout=10).stdout.strip() or "unknown"
    except OSError:
        return "unknown"


def run(out: Path, data: Path, dev_utts: int = 2000, audio_dev: int = 10, model_dir: Path | None = None) -> dict:
    """All three bars; writes ``out/FORMAT.md`` and ``out/format.json``."""
    from ..inference.recognizer import Recognizer
    from ..training.punctuation import split_sentences

    t0 = time.time()
    rec = Recognizer.load(model_dir)
    punct = punctuation_scores(rec.punctuation, split_sentences(dev_utts=dev_utts)["dev"])
    itn = itn_scores(itn_pairs())
    files: list = sorted(str(p) for p in Path("examples").glob("*.wav"))
    refs: list = [None] * len(files)
    manifest = data / "dev.jsonl"
    if manifest.exists():
        rows = [json.loads(line) for line in manifest.read_text().splitlines()[:audio_dev]]
        files += [str(data / r["audio"]) for r in rows]
        refs += [r["text"] for r in rows]
    share = time_share(rec, files, refs)
    r = {"commit": _commit(), "punctuation": punct, "itn": itn, "time": share,
         "model": {k: v for k, v in rec.punctuation.meta.items() if k != "lower"}, "wall_seconds": round(time.time() - t0, 1)}
    out.mkdir(parents=True, exist_ok=True)
    (out / "format.json").write_text(json.dumps(r, indent=2, ensure_ascii=False))
    (out / "FORMAT.md").write_text(_report(r), encoding="utf-8")
    return r


def _report(r: dict) -> str:
    p, itn, t = r["punctuation"], r["itn"], r["time"]
    lines = [
        "# Readable transcripts: punctuation, casing, written numbers",
        "",
        f"`ctcbias bench format` on commit {r['commit']} ({r['wall_seconds']:.0f} s).",
        "",
        "## Punctuation and casing on held-out text",
        "",
        f"The data factory's dev sentences ({p['sentences']}: carrier sentences never trained on, held-out "
        f"patterns, dev entities), joined in {p['runs']} runs of one to three sentences, {p['words']} words, "
        "from their spoken form. A transcript's last word always ends a sentence, so the "
        "sentence ends inside runs are scored apart. The model (`ctcbias train punctuation`): "
        f"{r['model'].get('sentences')} training sentences, {r['model'].get('words')} words.",
        "",
        "| mark after a word | precision | recall | F1 | support |",
        "|---|---|---|---|---|",
    ]
    for m, s in p["marks"].items():
        lines.append(f"| `{m}` | {s['precision']:.3f} | {s['recall']:.3f} | **{s['f1']:.3f}** | {s['support']} |")
    s = p["sentence_end_inside_runs"]
    lines += [f"| sentence end (`.` or `?`) inside a run | {s['precision']:.3f} | {s['recall']:.3f} | "
              f"{s['f1']:.3f} | {s['support']} |", "",
              f"Casing: **{p['casing_accuracy']:.1%}** of {p['casing_words']} words cased as written (Bible verses' "
              "words other than a sentence's first are not scored: their capitals are the translation's); of the "
              f"{p['capitalized_words']} words written with a capital, {p['capitalized_words_right']:.1%}.", "",
              "## Inverse text normalization", "",
              f"Our {itn['pairs']} spoken -> written pairs (`src/ctcbias/evaluation/itn_pairs.tsv`: numbers, "
              f"ordinals, dates, times, years, money, percentages, doses and units, whole sentences): "
              f"**{itn['accuracy']:.1%}** exact ({itn['correct']} / {itn['pairs']})."]
    if itn["wrong"]:
        lines += [""] + [f"- `{w['spoken']}` -> `{w['got']}` (want `{w['want']}`)" for w in itn["wrong"]]
    lines += ["", "## Cost and the recognized words", "",
              f"{t['files']} recordings (`examples/*.wav` and dev utterances), decoded without a list (the "
              f"cheapest decode, so formatting's largest share): decoding {t['decode_seconds']:.2f} s, "
              f"formatting {t['format_seconds'] * 1000:.1f} ms: "
              f"**{t['format_share']:.2%}** of end-to-end time. `raw_text` with formatting on equals the text "
              f"with it off: {t['raw_text_unchanged']} (the metrics and benches score `raw_text`)."]
    if t["wer"]:
        lines += ["", f"WER on the recognized words of the {t['wer']['utterances']} dev utterances: "
                      f"{t['wer']['format_on_raw_text']:.1%} (`raw_text`, formatting on), "
                      f"{t['wer']['format_off_text']:.1%} (`text`, formatting off)."]
    lines += ["",
              "| recognized words (`raw_text`) | formatted (`text`) |", "|---|---|"]
    for e in t["examples"][:6]:
        lines.append(f"| {e['raw']} | {e['formatted']} |")
    return "\n".join(lines) + "\n"
