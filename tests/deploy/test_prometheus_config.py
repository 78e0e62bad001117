"""Prometheus scrape config and alert rules: promtool validation, rule unit tests, and the
metric names every alert uses."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from deploy_support import DEPLOY, REPO

PROM = DEPLOY / "prometheus"
CONFIG = PROM / "prometheus.yml"
ALERTS = PROM / "alerts.yml"
ALERTS_TEST = PROM / "alerts_test.yml"
DOCS = REPO / "docs" / "deployment.md"

REQUIRED_ALERTS = {
    "StockVisionApiDown",
    "StockVisionApiHighLatencyP95",
    "StockVisionApiHighErrorRate",
    "StockVisionDataStale",
    "StockVisionDriftDetected",
    "StockVisionLiveAccuracyBelowPromotion",
    "StockVisionModelDegraded",
}

promtool_path = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    promtool_path is None,
    reason="promtool not installed (Debian: apt-get install -y prometheus); CI installs it",
)


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    assert promtool_path is not None
    return subprocess.run(
        [promtool_path, *args], capture_output=True, text=True, timeout=120, check=False
    )


def _rules() -> list[dict]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


@needs_promtool
def test_promtool_accepts_the_scrape_config() -> None:
    result = _promtool("check", "config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_accepts_the_alert_rules() -> None:
    result = _promtool("check", "rules", str(ALERTS))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_alert_rule_unit_tests_pass() -> None:
    result = _promtool("test", "rules", str(ALERTS_TEST))
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_rule_unit_tests_catch_a_broken_threshold(tmp_path: Path) -> None:
    """The rule tests are not vacuous: loosening one threshold makes them fail."""
    shutil.copy(ALERTS_TEST, tmp_path / ALERTS_TEST.name)
    broken = ALERTS.read_text().replace(
        "sv_live_pattern_accuracy > 0.05", "sv_live_pattern_accuracy > 0.01"
    )
    assert broken != ALERTS.read_text()
    (tmp_path / ALERTS.name).write_text(broken)
    result = _promtool("test", "rules", str(tmp_path / ALERTS_TEST.name))
    assert result.returncode != 0


def test_scrape_config_targets_the_api() -> None:
    config = yaml.safe_load(CONFIG.read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api = jobs["stockvision-api"]
    assert api["metrics_path"] == "/metrics"
    assert api["scrape_interval"] == "15s"
    assert [t for sc in api["static_configs"] for t in sc["targets"]] == ["api:8000"]


def test_every_required_alert_exists_with_severity_and_annotations() -> None:
    rules = {rule["alert"]: rule for rule in _rules()}
    assert rules.keys() >= REQUIRED_ALERTS
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in {"critical", "warning"}, name
        assert {"summary", "description", "runbook"} <= rule["annotations"].keys(), name


def test_design_thresholds() -> None:
    exprs = {rule["alert"]: " ".join(rule["expr"].split()) for rule in _rules()}
    assert "histogram_quantile( 0.95," in exprs["StockVisionApiHighLatencyP95"]
    assert "sum by (le)" in exprs["StockVisionApiHighLatencyP95"]
    assert exprs["StockVisionApiHighLatencyP95"].endswith("> 0.1")
    assert 'status="5xx"' in exprs["StockVisionApiHighErrorRate"]
    assert exprs["StockVisionApiHighErrorRate"].endswith("> 0.01")
    assert exprs["StockVisionDriftDetected"] == "sv_drift_detected == 1"
    assert exprs["StockVisionModelDegraded"] == "sv_model_degraded == 1"
    assert exprs["StockVisionLiveAccuracyBelowPromotion"] == (
        "sv_promotion_pattern_accuracy - sv_live_pattern_accuracy > 0.05"
    )
    assert exprs["StockVisionApiDown"] == 'up{job="stockvision-api"} == 0'


def test_live_accuracy_threshold_matches_settings() -> None:
    """The alert's 0.05 is the settings' live_accuracy_drop_pp (percentage points)."""
    from stockvision.config import Settings

    drop = Settings().live_accuracy_drop_pp / 100
    rule = next(r for r in _rules() if r["alert"] == "StockVisionLiveAccuracyBelowPromotion")
    assert rule["expr"].strip().endswith(f"> {drop:g}")


def test_alerts_use_only_exported_metrics(exported, metric_names, find_unknown) -> None:
    for rule in _rules():
        names = metric_names(rule["expr"])
        assert names, rule["alert"]
        assert not find_unknown(names, exported), (rule["alert"], find_unknown(names, exported))


def test_every_alert_has_a_firing_and_a_quiet_unit_test() -> None:
    tests = yaml.safe_load(ALERTS_TEST.read_text())["tests"]
    fires: set[str] = set()
    quiet: set[str] = set()
    for case in tests:
        for check in case["alert_rule_test"]:
            (fires if check.get("exp_alerts") else quiet).add(check["alertname"])
    names = {rule["alert"] for rule in _rules()}
    assert names == fires, names ^ fires
    assert names == quiet, names ^ quiet


def _github_anchor(heading: str) -> str:
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def test_runbook_links_point_to_existing_doc_sections() -> None:
    headings = re.findall(r"^#+\s+(.+)$", DOCS.read_text(), flags=re.M)
    anchors = {_github_anchor(h) for h in headings}
    for rule in _rules():
        path, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert (REPO / path).is_file(), rule["alert"]
        assert anchor in anchors, (rule["alert"], anchor)
