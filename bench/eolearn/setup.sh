#!/usr/bin/env bash
# Build the eo-learn contenders' own virtualenv at build/eolearn-venv (kept out of the project's lock file).
# Idempotent: the install is skipped while build/eolearn-venv/.installed is newer than requirements.txt.
# Prints the venv's python path on its last line.
set -euo pipefail
cd "$(dirname "$0")/../.."

REQS=bench/eolearn/requirements.txt
VENV=build/eolearn-venv

if command -v python3.11 >/dev/null 2>&1; then
    PYTHON=python3.11
else
    PYTHON=python3
fi

if [ ! -x "$VENV/bin/python" ]; then
    mkdir -p "$(dirname "$VENV")"
    "$PYTHON" -m venv "$VENV"
fi

if [ ! -f "$VENV/.installed" ] || [ "$REQS" -nt "$VENV/.installed" ]; then
    "$VENV/bin/python" -m pip install --quiet -r "$REQS" >&2
    "$VENV/bin/python" -c "from eolearn.features import NormalizedDifferenceIndexTask; from eolearn.io import ExportToTiffTask, ImportFromTiffTask; import skimage, yaml" >&2
    touch "$VENV/.installed"
fi

echo "$(pwd)/$VENV/bin/python"
