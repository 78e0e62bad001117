"""A batch is charged per symbol, and unknown symbols are rejected before any expensive work."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

pytestmark = pytest.mark.integration


@pytest.fixture()
def app_and_service(trained_settings):
    from stockvision.serving.app import create_app

    settings = trained_settings.model_copy(update={"rate_limit_per_minute": 40})
    app = create_app(settings, start_background=False, mount_chat_ui=False)
    return app


def test_a_batch_costs_one_unit_per_ten_symbols(app_and_service):
    with TestClient(app_and_service) as c:
        big = c.post("/api/v1/predict/batch", json={"symbols": [f"Z{i:03d}" for i in range(500)]})
        assert big.status_code == 429 and int(big.headers["Retry-After"]) >= 1
        assert big.json()["error"] == "rate_limited"
    with TestClient(app_and_service, client=("192.0.2.50", 1)) as c:
        ok = c.post("/api/v1/predict/batch", json={"symbols": ["VNM", "FPT", "ZZZ9"]})
        assert ok.status_code == 200
        # 30 symbols = 3 units: thirteen such batches fit in 40 units, the fourteenth does not
        codes = [
            c.post("/api/v1/predict/batch", json={"symbols": ["VNM"] * 30}).status_code
            for _ in range(14)
        ]
        assert codes[:12] == [200] * 12 and codes[-1] == 429


def test_unknown_symbols_cost_a_lookup_not_a_fuzzy_search(app_and_service, monkeypatch):
    import stockvision.market.listings as listings

    calls = []
    real = listings.closest_symbols

    def counted(text, n=3):
        calls.append(text)
        return real(text, n)

    monkeypatch.setattr(listings, "closest_symbols", counted)
    big = app_and_service
    big.state.limiter.limits["api"] = 10**6  # this test counts searches, not the budget
    with TestClient(big) as c:
        r = c.post("/api/v1/predict/batch", json={"symbols": [f"Q{i:03d}X" for i in range(500)]})
    assert r.status_code == 200
    errors = r.json()["errors"]
    assert len(errors) == 500 and {e["error"] for e in errors} == {"unknown_symbol"}
    assert len(calls) <= 5  # suggestions for the first few only


def test_a_batch_of_listed_missing_symbols_starts_bounded_work(trained_settings):
    from stockvision.market.listings import LISTINGS
    from stockvision.serving.app import create_app

    app = create_app(trained_settings, start_background=False, mount_chat_ui=False)
    with TestClient(app) as c:
        service = app.state.service
        missing = [s for s in sorted(LISTINGS) if s not in service.panel.info][:40]
        r = c.post("/api/v1/predict/batch", json={"symbols": missing})
        assert r.status_code == 200
        assert service.healer.started <= service.healer.max_queued
        busy = [e for e in r.json()["errors"] if e["error"] in ("data_unavailable",)]
        assert busy  # the rest is told to come back, not queued without bound
