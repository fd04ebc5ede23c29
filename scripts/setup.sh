#!/usr/bin/env bash
# Idempotent set-up for a fresh machine of this project's kind.
#   scripts/setup.sh            -> .venv with the runtime + test packages (enough for inference and tests)
#   scripts/setup.sh --synth    -> also the Debian speech synthesizers the data factory needs
#   scripts/setup.sh --test     -> also Debian's chromium + chromedriver (the web page's browser test)
set -euo pipefail
cd "$(dirname "$0")/.."
SYNTH=0; TEST=0
for a in "$@"; do
  case "$a" in
    --synth) SYNTH=1 ;;
    --test) TEST=1 ;;
    --all) SYNTH=1; TEST=1 ;;
    *) echo "unknown option $a" >&2; exit 2 ;;
  esac
done

SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

apt_install() {
  # install only what is missing, so a second run does no network work
  local missing=()
  for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
}

# espeak-ng gives pronunciations of words no dictionary knows (inference needs it too)
ls /var/lib/apt/lists/ 2>/dev/null | grep -q Packages || $SUDO apt-get update -q
apt_install espeak-ng

[ "$TEST" = 1 ] && apt_install chromium chromium-driver

if [ "$SYNTH" = 1 ]; then
  # mbrola voices and pico live in contrib / non-free: add them to the Debian sources once.
  src=/etc/apt/sources.list.d/debian.sources
  if [ -f "$src" ] && ! grep -q "non-free" "$src"; then
    $SUDO sed -i 's/^Components: main$/Components: main contrib non-free/' "$src"
  fi
  # refresh the package lists once, when they do not know the non-free section yet
  ls /var/lib/apt/lists/ 2>/dev/null | grep -q non-free || $SUDO apt-get update -q
  apt_install espeak-ng mbrola mbrola-us1 mbrola-us2 mbrola-us3 mbrola-en1 \
    flite festival festvox-kallpc16k festvox-kdlpc16k festvox-rablpc16k festvox-us-slt-hts \
    libttspico-utils sox fortunes fortunes-min wamerican-insane miscfiles
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip==24.3.1 >/dev/null
# torch: the CPU build lies on local disk; pinning it exactly keeps pip from fetching a CUDA build.
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -r requirements.txt
.venv/bin/python -m pip install -q --no-deps pyctcdecode==0.5.0

.venv/bin/python -m pip install -q --no-deps -e .
echo "setup done: $(.venv/bin/python -c 'import ctcbias,sys; print(ctcbias.__version__, sys.version.split()[0])')"
