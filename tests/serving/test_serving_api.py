"""The HTTP API over a real trained system (embedded SQLite store, in-process cache and limiter)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from serving_support import API_KEY

from stockvision.features.labels import PATTERN_CLASSES

pytestmark = pytest.mark.integration

UNIVERSE = ["VNM", "FPT", "HPG", "VCB", "MWG", "PNJ", "SSI", "GAS"]


def test_predict_returns_the_full_contract_and_is_stored(client):
    service = client.app.state.service
    r = client.post("/api/v1/predict/vnm")
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["symbol"] == "VNM" and p["exchange"] == "HOSE" and p["company_name"]
    assert p["prediction_date"] == p["data_as_of"]
    assert pd.Timestamp(p["target_date"]) - pd.Timestamp(p["prediction_date"]) == pd.Timedelta(
        weeks=4
    )
    # prices in VND with thousand-VND display values
    assert p["last_close_k"] == pytest.approx(p["last_close"] / 1000, abs=0.006)
    assert p["price_target_k"] == pytest.approx(p["price_target"] / 1000, abs=0.006)
    iv = p["interval"]
    assert iv["low"] <= iv["high"] and iv["coverage"] == pytest.approx(0.8)
    assert iv["low_k"] == pytest.approx(iv["low"] / 1000, abs=0.006)
    assert p["price_target"] == pytest.approx(
        p["last_close"] * (1 + p["expected_return"]), rel=1e-4
    )
    probs = p["probabilities"]
    assert set(probs) == {"up", "down", "sideways"}
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-6)
    assert p["pattern"] in PATTERN_CLASSES
    assert p["confidence"] == pytest.approx(probs[p["pattern"].lower()])
    assert p["model_versions"] == {
        "price": service.models.price_version,
        "pattern": service.models.pattern_version,
    }
    assert p["simulated"] is False
    assert "not investment advice" in p["disclaimer"]
    assert "khuyến nghị" in p["disclaimer_vi"]
    # the last close is the store's raw close at the prediction week
    daily = service.store.read_daily(symbols=["VNM"])
    assert p["last_close"] == pytest.approx(float(daily["close"].iloc[-1]))
    stored = service.store.read_predictions(symbol="VNM")
    row = stored.iloc[-1]  # (the pipeline's batch step served this one first: its source stays)
    assert row["prediction_date"] == pd.Timestamp(p["prediction_date"])
    assert row["price_target"] == pytest.approx(p["price_target"])
    assert row["price_model_version"] == p["model_versions"]["price"]
    # the design's unversioned path is the same endpoint
    r2 = client.post("/predict/VNM")
    assert r2.status_code == 200 and r2.json()["price_target"] == p["price_target"]


def test_cache_hit_is_identical_and_counted(client):
    from stockvision.serving import metrics as m

    hits0 = m.CACHE_HITS._value.get()
    first = client.post("/api/v1/predict/FPT").json()
    second = client.post("/api/v1/predict/FPT").json()
    assert second == first  # served from cache, byte for byte the same answer
    assert m.CACHE_HITS._value.get() == hits0 + 1
    service = client.app.state.service
    keys = [k for k in service.cache._data if ":FPT:" in k]
    assert len(keys) == 1
    key = keys[0]
    assert f"p{service.models.price_version}" in key and f"c{service.models.pattern_version}" in key
    assert str(service.panel.data_as_of) in key  # new data -> new key


def test_batch_defaults_to_the_universe_and_reports_errors(client):
    r = client.post("/api/v1/predict/batch")
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["batch_id"]) == 32 and body["created_at"]
    assert sorted(p["symbol"] for p in body["predictions"]) == sorted(UNIVERSE)
    r = client.post("/predict/batch", json={"symbols": ["vnm", "FPT", "ZZZZ"]})
    body = r.json()
    assert [p["symbol"] for p in body["predictions"]] == ["VNM", "FPT"]
    assert body["errors"][0]["symbol"] == "ZZZZ" and body["errors"][0]["status"] == 404
    # batch and single agree
    single = client.post("/api/v1/predict/FPT").json()
    assert body["predictions"][1]["price_target"] == single["price_target"]


def test_rankings_are_sorted_by_expected_return(client):
    r = client.get("/rankings", params={"top": 3, "direction": "up"})
    assert r.status_code == 200, r.text
    up = r.json()["items"]
    assert len(up) == 3
    rets = [p["expected_return"] for p in up]
    assert rets == sorted(rets, reverse=True)
    down = client.get("/api/v1/rankings", params={"top": 8, "direction": "down"}).json()["items"]
    assert [p["expected_return"] for p in down] == sorted(p["expected_return"] for p in down)
    assert down[-1]["expected_return"] >= up[-1]["expected_return"] - 1e-12 or len(down) == 8
    banks = client.get("/api/v1/rankings", params={"group": "banking"}).json()["items"]
    assert {p["symbol"] for p in banks} <= {"VCB", "SSI"} and "VCB" in {p["symbol"] for p in banks}
    bad = client.get("/api/v1/rankings", params={"group": "nope"})
    assert bad.status_code == 404 and "banking" in bad.json()["hint"]
    assert client.get("/api/v1/rankings", params={"direction": "sideways"}).status_code == 422


def test_symbols_and_history(client):
    r = client.get("/symbols")
    assert r.status_code == 200
    rows = {s["symbol"]: s for s in r.json()}
    assert all(rows[s]["in_store"] for s in UNIVERSE)
    assert rows["VNM"]["rows"] > 500 and rows["VNM"]["last_date"] == "2019-06-14"
    h = client.get("/api/v1/symbols/VNM/history", params={"weeks": 10})
    assert h.status_code == 200, h.text
    bars = h.json()["bars"]
    assert len(bars) == 10
    assert all(
        b["low"] <= min(b["open"], b["close"]) <= max(b["open"], b["close"]) <= b["high"]
        for b in bars
    )
    assert bars[-1]["week_end"] == "2019-06-14"
    assert client.get("/api/v1/symbols/QQQQQ/history").status_code == 404
    assert client.get("/api/v1/symbols/VNM/history", params={"weeks": 0}).status_code == 422


def test_past_predictions_carry_realised_outcomes(client):
    """Predictions made at an older week (by the same service code) resolve against the labels."""
    service = client.app.state.service
    panel_week = pd.Timestamp(service.panel.data_as_of)
    old_week = panel_week - pd.Timedelta(weeks=12)
    from stockvision.features.dataset import DatasetBuilder

    feats = service.store.read_features(symbols=["VNM"])
    labels = service.store.read_labels(symbols=["VNM"])
    builder = DatasetBuilder(feats, labels, seq_len=service.settings.seq_len)
    week = builder.calendar[builder.calendar <= old_week][-1]
    window = builder.window(week, week, labelled=False)
    preds = service.predictor.predict(window, service.models, simulated=False)
    service.store.save_predictions([{**p.model_dump(), "source": "batch"} for p in preds])
    client.post("/api/v1/predict/VNM")  # the current (unresolved) one

    r = client.get("/api/v1/predictions/VNM")
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    resolved = [i for i in items if i["resolved"]]
    open_ = [i for i in items if not i["resolved"]]
    assert resolved and open_
    old = resolved[0]
    truth = labels.loc[("VNM", week)]
    assert old["actual_price"] == pytest.approx(truth["price_target_true"])
    assert old["actual_pattern"] == truth["pattern"]
    expected_err = (
        abs(old["price_target"] - truth["price_target_true"]) / truth["price_target_true"] * 100
    )
    assert old["abs_error_pct"] == pytest.approx(expected_err)
    assert old["in_interval"] == bool(
        old["interval_low"] <= truth["price_target_true"] <= old["interval_high"]
    )
    assert open_[-1]["actual_price"] is None
    assert client.get("/api/v1/predictions/XYZW1").status_code == 404


def test_unknown_symbol_gets_404_with_suggestions(client):
    r = client.post("/api/v1/predict/VNMM")
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "unknown_symbol" and "VNM" in body["suggestions"]
    assert "VNM" in body["message"] and body["message_vi"]


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("post", "/api/v1/predict/VN-M", {}),
        ("post", "/api/v1/predict/ABCDEFGHIJK", {}),
        ("get", "/api/v1/rankings?top=0", {}),
        ("get", "/api/v1/rankings?top=abc", {}),
        ("post", "/api/v1/predict/batch", {"json": {"symbols": ["VNM", "bad symbol"]}}),
        ("post", "/api/v1/predict/batch", {"json": {"symbols": "VNM"}}),
        (
            "post",
            "/api/v1/predict/batch",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
        ),
    ],
)
def test_invalid_input_is_a_clear_422(client, method, path, kwargs):
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid_request" and body["message"].startswith(
        "the request is invalid"
    )
    assert "Traceback" not in r.text


def test_request_size_limit(client):
    from stockvision.serving.guard import MAX_BODY_BYTES

    big = {"symbols": ["VNM"] * (MAX_BODY_BYTES // 5)}
    r = client.post("/api/v1/predict/batch", json=big)
    assert r.status_code == 413 and r.json()["error"] == "payload_too_large"

    def chunks():  # no Content-Length: the streamed body is counted
        for _ in range(MAX_BODY_BYTES // 1000 + 2):
            yield b" " * 1000

    r = client.post(
        "/api/v1/predict/batch", content=chunks(), headers={"content-type": "application/json"}
    )
    assert r.status_code == 413


def test_unexpected_errors_are_500_without_traceback(client, monkeypatch):
    service = client.app.state.service

    def boom(*a, **k):
        raise RuntimeError("secret internal detail /etc/passwd")

    monkeypatch.setattr(service, "rankings", boom)
    r = client.get("/api/v1/rankings")
    assert r.status_code == 500
    assert r.json()["error"] == "internal_error" and "request id" in r.json()["message"]
    assert "secret" not in r.text and "Traceback" not in r.text


def test_admin_endpoints_need_the_key(client):
    assert client.post("/api/v1/admin/reload").status_code == 401
    assert client.post("/admin/reload", headers={"X-API-Key": "wrong"}).status_code == 401
    r = client.post("/admin/reload", headers={"X-API-Key": API_KEY})
    assert r.status_code == 200 and r.json()["outcome"] == "reloaded"
    r = client.post("/api/v1/admin/cache/clear", headers={"X-API-Key": API_KEY})
    assert r.status_code == 200 and r.json()["cleared"] is True


def test_admin_disabled_without_a_configured_key(api_settings):
    from fastapi.testclient import TestClient

    from stockvision.serving.app import create_app

    settings = api_settings.model_copy(update={"api_key": None})
    with TestClient(create_app(settings, start_background=False, mount_chat_ui=False)) as c:
        r = c.post("/api/v1/admin/retrain", headers={"X-API-Key": "anything"})
        assert r.status_code == 403 and "SV_API_KEY" in r.json()["message"]


def test_rate_limit_per_client_with_retry_after(api_settings):
    from fastapi.testclient import TestClient

    from stockvision.serving.app import create_app

    settings = api_settings.model_copy(update={"rate_limit_per_minute": 5})
    app = create_app(settings, start_background=False, mount_chat_ui=False)
    with TestClient(app) as c:
        codes = [c.post("/api/v1/predict/VNM").status_code for _ in range(7)]
        assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
        r = c.get("/api/v1/symbols")
        assert r.status_code == 429
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        assert r.json()["error"] == "rate_limited"
        # probes and scrapes have a bucket of their own; another client has its own budget
        assert c.get("/api/v1/health").status_code == 200
        assert c.get("/metrics").status_code == 200
    with TestClient(app, client=("10.0.0.2", 50000)) as other:
        assert other.post("/api/v1/predict/VNM").status_code == 200


def test_health_reports_models_data_and_dependencies(client):
    client.post("/api/v1/predict/HPG")
    h = client.get("/health").json()
    service = client.app.state.service
    assert {m["name"]: m["version"] for m in h["models"]} == {
        "price_target_model": service.models.price_version,
        "pattern_model": service.models.pattern_version,
    }
    assert all(m["alias"] == "champion" and m["loaded_at"] for m in h["models"])
    assert h["dependencies"]["database"] == "up" and h["dependencies"]["registry"] == "up"
    assert h["registry_reachable"] is True
    assert h["data_as_of"] == "2019-06-14" and h["data_stale"] is True  # 2019 data is old
    assert h["status"] == "degraded"  # ...so the service says so
    assert h["cache_backend"] == "memory"
    assert h["last_inference_ms"] is not None and h["last_inference_ms"] > 0


def test_metrics_expose_exactly_the_exported_names(client):
    from stockvision.serving.metrics import EXPORTED_METRICS

    client.post("/api/v1/predict/GAS")
    client.post("/api/v1/predict/GAS")
    client.post("/api/v1/predict/NOPEX")
    text = client.get("/metrics").text
    families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE")}
    assert families == set(EXPORTED_METRICS)
    assert "up" not in EXPORTED_METRICS
    assert 'http_request_duration_seconds_bucket{handler="/api/v1/predict/{symbol}"' in text
    assert 'sv_errors_total{code="404"}' in text
    assert 'sv_predictions_served_total{source="cache"}' in text
    assert "sv_inference_seconds_count" in text
    service = client.app.state.service
    assert (
        f'sv_model_info{{alias="champion",model="price_target_model",version="{service.models.price_version}"}} 1.0'
        in text
    )
    assert "sv_data_last_trading_day_timestamp_seconds 1.5604" in text  # 2019-06-14


def test_openapi_documents_the_versioned_api(client):
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    for path in (
        "/api/v1/predict/{symbol}",
        "/api/v1/predict/batch",
        "/api/v1/rankings",
        "/api/v1/symbols",
        "/api/v1/symbols/{symbol}/history",
        "/api/v1/predictions/{symbol}",
        "/api/v1/health",
        "/api/v1/admin/reload",
        "/api/v1/admin/retrain",
    ):
        assert path in paths, path
    assert not any(p.startswith("/predict") for p in paths)  # unversioned aliases stay undocumented
    assert "Prediction" in spec["components"]["schemas"]


def test_prediction_values_match_the_models(client):
    """The served numbers are the champion price model's distribution on the latest window: the
    target is its median, the range its 80 % interval, the probabilities its band masses."""
    service = client.app.state.service
    served = client.post("/api/v1/predict/MWG").json()
    window = service.panel.builder.latest(["MWG"])
    dist = service.models.price.predict_distribution(window)
    log_ret = float(service.models.price.predict(window)[0])
    probs = dist.pattern_probabilities(service.settings.pattern_up, service.settings.pattern_down)[
        0
    ]
    close = float(window.labels["raw_close"].iloc[0])
    assert served["price_target"] == pytest.approx(close * np.exp(log_ret), abs=0.01)
    lo, hi = dist.interval(0.8)
    assert served["interval"]["low"] == pytest.approx(close * np.exp(lo[0]), abs=0.01)
    assert served["interval"]["high"] == pytest.approx(close * np.exp(hi[0]), abs=0.01)
    assert served["probabilities"]["up"] == pytest.approx(probs[2])
    assert served["pattern"] == PATTERN_CLASSES[int(np.argmax(probs))]
    assert served["distribution"]["scale"] == pytest.approx(float(dist.scale[0]))
    assert served["serving_model"]["name"] == service.models.price.name
    i50, i95 = served["interval_50"], served["interval_95"]
    assert i95["low"] < served["interval"]["low"] < i50["low"] <= served["price_target"]
    assert served["price_target"] <= i50["high"] < served["interval"]["high"] < i95["high"]


def test_every_served_prediction_is_stored_once_per_version(client):
    service = client.app.state.service
    service.store.engine.dispose()
    from sqlalchemy import text

    with service.store.engine.begin() as conn:  # start from an empty predictions table
        conn.execute(text("DELETE FROM predictions"))
    service.writer._stored.clear()
    for _ in range(3):
        client.post("/api/v1/predict/PNJ")
    client.post("/api/v1/predict/batch", json={"symbols": ["PNJ", "SSI"]})
    stored = service.store.read_predictions()
    assert sorted(stored["symbol"]) == ["PNJ", "SSI"]
    assert set(stored["source"]) == {"api"}
    assert set(stored["price_model_version"]) == {service.models.price_version}


def test_rank_predictions_uses_momentum_when_the_model_ties_everyone(client):
    """A model that gives every stock the same return does not rank: momentum does, labelled,
    and equal scores are reported as ties."""
    from stockvision.serving.service import rank_predictions, ties_of

    service = client.app.state.service
    panel = service.panel
    preds = service._predict_symbols(panel.symbols[:6], "ranking", store=False)
    flat = [p.model_copy(update={"expected_return": 0.0}) for p in preds]
    ranked = rank_predictions(flat, panel, "up")
    assert {p.rank_basis for p in ranked} == {"momentum_12_1"}
    scores = [p.rank_score for p in ranked if p.rank_score is not None]
    assert scores == sorted(scores, reverse=True)
    same = [p.model_copy(update={"rank_score": 0.5}) for p in ranked[:3]]
    assert ties_of(same) == [[p.symbol for p in ranked[:3]]]
    model_ranked = rank_predictions(preds, panel, "down")
    if len({p.expected_return for p in preds}) > 1:
        assert model_ranked[0].rank_basis == "model"
        assert model_ranked[0].expected_return == min(p.expected_return for p in preds)
