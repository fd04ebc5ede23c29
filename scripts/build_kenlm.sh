#!/usr/bin/env bash
# Build kenlm's lmplz and build_binary (needed only to rebuild the shipped LM, not to use it).
set -euo pipefail
cd "$(dirname "$0")/.."
sudo_apt() { if [ "$(id -u)" = 0 ]; then apt-get "$@"; else sudo apt-get "$@"; fi; }
DEBIAN_FRONTEND=noninteractive sudo_apt install -y -q cmake g++ libboost-program-options-dev libboost-system-dev \
  libboost-thread-dev libboost-test-dev zlib1g-dev libbz2-dev liblzma-dev >/dev/null
mkdir -p build/kenlm-src
.venv/bin/pip download -q --no-deps --no-binary kenlm --no-build-isolation kenlm==0.3.0 -d build/kenlm-src 2>/dev/null \
  || .venv/bin/pip download -q --no-deps kenlm==0.3.0 -d build/kenlm-src
tar xzf build/kenlm-src/kenlm-0.3.0.tar.gz -C build/kenlm-src
cmake -S build/kenlm-src/kenlm-0.3.0 -B build/kenlm -DCMAKE_BUILD_TYPE=Release >/dev/null
make -C build/kenlm -j"$(nproc)" lmplz build_binary >/dev/null
ls build/kenlm/bin/lmplz build/kenlm/bin/build_binary
