"""Grafana provisioning and dashboards: valid JSON model, layout, datasource wiring, and every
metric name queried is one the API exports."""

from __future__ import annotations

import json
import re
from itertools import combinations
from pathlib import Path

import pytest
import yaml
from deploy_support import DEPLOY, exported_metrics

GRAFANA = DEPLOY / "grafana"
DASHBOARDS = sorted((GRAFANA / "dashboards").glob("*.json"))
DATASOURCE_UID = "prometheus"

REQUIRED_METRICS = {
    "model-performance.json": {
        "sv_live_pattern_accuracy",
        "sv_promotion_pattern_accuracy",
        "sv_live_price_mae_pct",
        "sv_live_interval_coverage",
        "sv_drift_psi",
        "sv_drift_detected",
        "sv_model_degraded",
        "sv_model_info",
    },
    "api-latency.json": {
        "http_request_duration_seconds_bucket",
        "http_requests_total",
        "sv_cache_hits_total",
        "sv_cache_misses_total",
        "sv_inference_seconds_bucket",
        "sv_predictions_served_total",
        "sv_errors_total",
    },
}


def _load(path: Path) -> dict:
    return json.loads(path.read_text())


def _panels(dashboard: dict) -> list[dict]:
    panels = []
    for panel in dashboard["panels"]:
        panels.append(panel)
        panels.extend(panel.get("panels", []))  # collapsed rows
    return panels


def _queries(dashboard: dict) -> list[str]:
    exprs = [t["expr"] for p in _panels(dashboard) for t in p.get("targets", [])]
    for var in dashboard.get("templating", {}).get("list", []):
        if var.get("type") == "query":
            query = var["query"]
            query = query["query"] if isinstance(query, dict) else query
            # label_values(metric, label) -> the metric selector only
            match = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query)
            exprs.append(match.group(1) if match else query)
    return exprs


def test_both_dashboards_exist() -> None:
    assert {p.name for p in DASHBOARDS} == set(REQUIRED_METRICS)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_dashboard_model_is_complete(path: Path) -> None:
    dashboard = _load(path)
    assert dashboard["uid"] and dashboard["title"]
    assert 36 <= dashboard["schemaVersion"] <= 41
    panels = _panels(dashboard)
    assert panels
    ids = [p["id"] for p in panels]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in panels:
        if panel["type"] == "row":
            continue
        assert panel["title"], panel["id"]
        assert panel["datasource"]["uid"] == DATASOURCE_UID, panel["title"]
        assert panel["targets"], panel["title"]
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]
        for target in panel["targets"]:
            assert target["expr"].strip(), panel["title"]
            assert target["datasource"]["uid"] == DATASOURCE_UID, panel["title"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_panels_fit_the_grid_without_overlapping(path: Path) -> None:
    boxes = []
    for panel in _load(path)["panels"]:
        grid = panel["gridPos"]
        assert grid["w"] > 0 and grid["h"] > 0 and grid["x"] >= 0 and grid["y"] >= 0
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        boxes.append((panel["title"], grid))
    for (ta, a), (tb, b) in combinations(boxes, 2):
        overlap_x = a["x"] < b["x"] + b["w"] and b["x"] < a["x"] + a["w"]
        overlap_y = a["y"] < b["y"] + b["h"] and b["y"] < a["y"] + a["h"]
        assert not (overlap_x and overlap_y), (ta, tb)


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.name)
def test_queries_use_only_exported_metrics(path, exported, metric_names, find_unknown) -> None:
    used: set[str] = set()
    for expr in _queries(_load(path)):
        names = metric_names(expr)
        assert names, expr
        assert not find_unknown(names, exported), (expr, find_unknown(names, exported))
        used |= names
    assert REQUIRED_METRICS[path.name] <= used, REQUIRED_METRICS[path.name] - used


def test_latency_dashboard_shows_p50_p95_p99_by_handler() -> None:
    exprs = " ".join(_queries(_load(GRAFANA / "dashboards" / "api-latency.json")))
    for q in ("0.5", "0.95", "0.99"):
        assert re.search(
            rf"histogram_quantile\({q}, sum by \(le, handler\) "
            r"\(rate\(http_request_duration_seconds_bucket",
            exprs,
        ), q


def test_metric_reader_handles_promql_syntax(metric_names) -> None:
    expr = (
        "histogram_quantile(0.95, sum by (le, handler) "
        '(rate(http_request_duration_seconds_bucket{handler=~"$handler", le!="+Inf"}'
        "[$__rate_interval]))) / on (job) group_left (version) sv_model_info offset 5m "
        "> bool 1e3 and time() - sv_drift_psi"
    )
    assert metric_names(expr) == {
        "http_request_duration_seconds_bucket",
        "sv_model_info",
        "sv_drift_psi",
    }


def test_unknown_metric_is_reported(find_unknown) -> None:
    exported = frozenset({"http_request_duration_seconds", "sv_cache_hits_total", "up"})
    names = {"http_request_duration_seconds_bucket", "sv_cache_hits_total", "sv_cache_hitz_total"}
    assert find_unknown(names, exported) == {"sv_cache_hitz_total"}


def test_exported_metric_source_is_reported() -> None:
    names, source = exported_metrics()
    assert "sv_model_info" in names and source


def test_datasource_provisioning() -> None:
    config = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text()
    )
    (source,) = config["datasources"]
    assert source["uid"] == DATASOURCE_UID
    assert source["type"] == "prometheus"
    assert source["url"] == "http://prometheus:9090"


def test_dashboard_provider_reads_the_mounted_folder() -> None:
    config = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "dashboards.yml").read_text()
    )
    (provider,) = config["providers"]
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    mounts = compose["services"]["grafana"]["volumes"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in mounts
