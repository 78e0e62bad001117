#!/usr/bin/env bash
# Airflow 3 lives in its own virtual environment (.airflow-venv): its constraints pin FastAPI and other
# packages differently from the project. Its tasks run the project's code in the project's .venv.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3
req=deploy/airflow/requirements-airflow.txt
stamp=.airflow-venv/.sv-installed
want=$(sha256sum "$req" | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
echo "==> installing Airflow into .airflow-venv (pinned in $req)"
[ -x .airflow-venv/bin/python ] || "$PY" -m venv .airflow-venv
.airflow-venv/bin/python -m pip install -q --upgrade pip
.airflow-venv/bin/python -m pip install -q -r "$req"
echo "$want" > "$stamp"
