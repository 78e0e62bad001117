"""Availability: suspended weeks, an unreachable registry, a corrupt champion, no server paths shown."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_history_of_a_symbol_with_suspended_weeks(tmp_path, vn30_daily_path):
    """VHM has a week of rows without trades in the real VN30 file: it used to answer 500."""
    import pandas as pd

    from stockvision.config import Settings
    from stockvision.pipeline import steps
    from stockvision.serving.app import create_app

    raw = pd.read_csv(vn30_daily_path)
    part = tmp_path / "vhm_vnm.csv"
    raw[raw["ticket"].isin(["VHM", "VNM"])].to_csv(part, index=False)
    settings = Settings(data_dir=tmp_path / "home", source="csv", csv_paths=[part])
    steps.fetch(settings)
    steps.build_features(settings)
    steps.build_labels(settings)
    app = create_app(settings, start_background=False, mount_chat_ui=False)
    with TestClient(app) as c:
        r = c.get("/api/v1/symbols/VHM/history", params={"weeks": 60})
    assert r.status_code == 200, r.text
    bars = r.json()["bars"]
    assert len(bars) >= 50 and bars[-1]["week_end"] == "2019-06-14"


def test_serving_starts_fast_with_the_registry_unreachable(trained_settings, monkeypatch):
    from stockvision.serving.app import create_app

    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", raising=False)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    settings = trained_settings.model_copy(
        update={
            "mlflow_tracking_uri": f"http://127.0.0.1:{_free_port()}",
            "startup_wait_seconds": 5.0,
            "registry_timeout_seconds": 2.0,
            "api_key": "k",
        }
    )
    app = create_app(settings, start_background=True, mount_chat_ui=False)
    t0 = time.monotonic()
    with TestClient(app) as c:
        opened = time.monotonic() - t0
        health = c.get("/api/v1/health").json()
        t1 = time.monotonic()
        reload = c.post("/api/v1/admin/reload", headers={"X-API-Key": "k"})
        reload_seconds = time.monotonic() - t1
    assert opened < 30, f"the port stayed closed {opened:.1f} s"
    assert health["registry_reachable"] is False and health["status"] == "down"
    assert reload.status_code == 200 and reload.json()["outcome"] == "registry_unreachable"
    assert reload_seconds < 30


def _corrupt(registry, kind: str, version: str) -> None:
    mv = registry.client.get_model_version(registry.get(kind, version).name, version)
    model_id = mv.model_id or str(mv.source).removeprefix("models:/")
    location = registry.client.get_logged_model(model_id).artifact_location
    for path in Path(location.removeprefix("file://")).rglob("model.json"):
        path.write_text("{ not json")


def test_a_corrupt_champion_at_restart_falls_back_to_the_newest_loadable(trained_settings):
    from stockvision.registry.model_registry import ModelRegistry
    from stockvision.serving.app import create_app

    registry = ModelRegistry(trained_settings)
    champion = registry.champion("price")
    others = [r for r in registry.versions("price") if r.version != champion.version]
    assert others, "the trained system should hold more than one price version"
    _corrupt(registry, "price", champion.version)
    app = create_app(trained_settings, start_background=False, mount_chat_ui=False)
    with TestClient(app) as c:
        health = c.get("/api/v1/health").json()
        price = next(m for m in health["models"] if m["name"] == "price_target_model")
        assert price["alias"] == "fallback" and price["version"] != champion.version
        assert f"champion v{champion.version} failed to load" in price["note"]
        assert health["status"] == "degraded"
        assert c.post("/api/v1/predict/VNM").status_code == 200


def test_error_bodies_never_show_server_paths(trained_settings, tmp_path):
    from stockvision.serving.app import create_app

    missing = tmp_path / "deep" / "folder" / "exports" / "HSG.csv"
    settings = trained_settings.model_copy(update={"csv_paths": [missing]})
    app = create_app(settings, start_background=False, mount_chat_ui=False)
    with TestClient(app) as c:
        assert c.post("/api/v1/predict/HSG").status_code == 202
        app.state.service.healer.wait("HSG", timeout=60)
        r = c.post("/api/v1/predict/HSG")
        job = c.get("/api/v1/jobs/HSG")
    assert r.status_code == 503
    for body in (r.text, job.text):
        assert str(tmp_path) not in body and "/tmp/" not in body, body
    assert "HSG.csv" in r.text  # the file is still named, so the operator knows which
