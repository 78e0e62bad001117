#!/usr/bin/env bash
# The test command: set everything up on a fresh machine, lint, and run the whole test suite.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
bash scripts/services.sh
bash scripts/setup_airflow.sh
bash scripts/setup_ops.sh   # .ops-venv (k8s checkers), actionlint, .dvc-venv, .feast-venv
echo "==> ruff"
.venv/bin/ruff check src tests benchmarks dags scripts
.venv/bin/ruff format --check src tests benchmarks dags
echo "==> pytest"
.venv/bin/python -m pytest "$@"
