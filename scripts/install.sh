#!/usr/bin/env bash
# One install path for `make`, CI and the Dockerfile: a virtual environment from the lock file.
# Usage: scripts/install.sh [VENV_DIR]   (default .venv)
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-.venv}"
python="${PYTHON:-python3.11}"
command -v "$python" >/dev/null || python=python3
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade "pip>=24"
# Pinned versions first (no resolver surprises), then the project itself without touching them.
"$venv/bin/python" -m pip install --quiet -r requirements.lock
"$venv/bin/python" -m pip install --quiet --no-deps -e .
"$venv/bin/python" -m pip check
