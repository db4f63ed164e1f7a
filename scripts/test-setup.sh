#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine with Python and Node.js:
# TeX Live with CJK (to compile the LaTeX documents), KaTeX (to parse the Markdown math),
# and the Python package with its test extras (pytest, hypothesis, ruff, torch 2.13.0 CPU,
# transformers, compressed-tensors). Safe to run again: it skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v pdflatex >/dev/null || ! kpsewhich CJKutf8.sty >/dev/null 2>&1; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    texlive-latex-base texlive-latex-recommended lmodern \
    latex-cjk-chinese latex-cjk-chinese-arphic-gbsn00lp >/dev/null
fi

if [ ! -d node_modules/katex ]; then
  npm install --no-save --no-audit --no-fund --silent katex@0.16
fi

python -m pip install -q -e ".[test,oracle]"
