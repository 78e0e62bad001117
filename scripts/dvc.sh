#!/usr/bin/env bash
# DVC with the project's interpreter first on PATH (the stages run `python -m stockvision...`):
#   bash scripts/dvc.sh repro | push | pull | status | metrics show ...
# DVC itself is in .dvc-venv (bash scripts/setup_ops.sh dvc). Telemetry is off.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
[ -x .dvc-venv/bin/dvc ] || bash scripts/setup_ops.sh dvc
PROJECT_PYTHON=${SV_PROJECT_PYTHON:-$PWD/.venv/bin/python}
PROJECT_BIN=$(dirname "$PROJECT_PYTHON")
export PATH="$PROJECT_BIN:$PATH"
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
export DVC_NO_ANALYTICS=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
exec .dvc-venv/bin/dvc "$@"
