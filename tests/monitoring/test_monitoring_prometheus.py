"""Monitoring end to end: `stockvision monitor` on the trained system, its figures in /health and /metrics,
and a real Prometheus server (Debian's package) scraping the running API."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from live_server import LiveServer, free_port

pytestmark = pytest.mark.integration

PROMETHEUS = shutil.which("prometheus")


def test_monitor_report_is_written_and_exposed_by_health_and_metrics(trained_settings):
    from stockvision.monitoring.report import run_monitoring
    from stockvision.serving.app import create_app

    result = run_monitoring(trained_settings)
    report_dir = Path(result["report_dir"])
    data = json.loads((report_dir / "report.json").read_text())
    assert (report_dir / "report.html").read_text().startswith("<!doctype html>")
    assert {d["feature"] for d in data["drift"]["features"]} >= {"ret_4w", "vol_4w", "rsi_14w"}
    assert data["summary"]["price_version"] is not None

    app = create_app(trained_settings, start_background=False, mount_chat_ui=False)
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        health = client.get("/api/v1/health").json()
        assert health["monitoring"]["drift_detected"] == data["summary"]["drift_detected"]
        metrics = client.get("/metrics").text
    flag = "1.0" if data["summary"]["drift_detected"] else "0.0"
    assert f"sv_drift_detected {flag}" in metrics
    assert 'sv_drift_psi{feature="ret_4w"}' in metrics


@pytest.mark.skipif(PROMETHEUS is None, reason="Debian package 'prometheus' not installed")
def test_real_prometheus_scrapes_the_api(trained_settings, tmp_path):
    from stockvision.monitoring.report import run_monitoring
    from stockvision.serving.app import create_app

    run_monitoring(trained_settings)
    app = create_app(trained_settings, start_background=False, mount_chat_ui=False)
    with LiveServer(app) as api:
        assert httpx.post(f"{api.url}/api/v1/predict/VNM", timeout=30).status_code == 200
        prom_port = free_port()
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            "scrape_configs:\n  - job_name: stockvision-api\n    metrics_path: /metrics\n"
            f"    static_configs:\n      - targets: ['127.0.0.1:{api.port}']\n"
        )
        proc = subprocess.Popen(
            [
                PROMETHEUS,
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            base = f"http://127.0.0.1:{prom_port}/api/v1/query"
            wanted = {
                "sv_model_info": None,
                "sv_predictions_served_total": None,
                "http_requests_total": None,
                "sv_drift_detected": None,
                "sv_inference_seconds_count": None,
            }
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and any(v is None for v in wanted.values()):
                time.sleep(1)
                for name in [k for k, v in wanted.items() if v is None]:
                    try:
                        body = httpx.get(base, params={"query": name}, timeout=5).json()
                    except httpx.HTTPError:
                        break  # Prometheus still starting
                    if body.get("status") == "success" and body["data"]["result"]:
                        wanted[name] = body["data"]["result"]
            missing = [k for k, v in wanted.items() if v is None]
            assert not missing, f"not queryable through Prometheus: {missing}"
            assert wanted["sv_model_info"][0]["metric"]["job"] == "stockvision-api"
            up = httpx.get(base, params={"query": "up"}, timeout=5).json()["data"]["result"]
            assert up and up[0]["value"][1] == "1"
        finally:
            proc.terminate()
            proc.wait(20)
