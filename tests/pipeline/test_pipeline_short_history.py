"""One year of data (vnstock guest users, a young market): the pipeline trains and serves what the
data supports and says why the walk-forward evaluation was skipped.

The real pipeline runs on a generated year of prices imported through the ``csv`` source; the real
app then answers over HTTP and in the chat. Nothing may claim a walk-forward validation or a
measured coverage it does not have.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from short_history_support import market_csv
from trained_system import sv_environment

pytestmark = pytest.mark.integration

ENV = {
    "SV_SOURCE": "csv",
    "SV_PATTERN_MODEL": "lgbm_clf",
    "SV_EVAL_MAX_FOLDS": "2",
    "SV_RATE_LIMIT_PER_MINUTE": "100000",
}
N_SYMBOLS = 8


@pytest.fixture(scope="module")
def one_year(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    from stockvision.config import Settings
    from stockvision.pipeline.flow import run_pipeline
    from stockvision.serving.app import create_app

    root: Path = tmp_path_factory.mktemp("one_year")
    csv = market_csv(root / "one_year.csv", N_SYMBOLS, years=1)
    env = {**ENV, "SV_DATA_DIR": str(root / "home"), "SV_CSV_PATHS": str(csv)}
    with sv_environment(env, ["SV_UNIVERSE"]):
        result = run_pipeline(Settings())
        app = create_app(Settings(), start_background=False, mount_chat_ui=False)
        with TestClient(app) as client:
            yield {"result": result, "client": client, "env": env, "home": root / "home"}


def _ask(client: TestClient, message: str) -> str:
    r = client.post("/chat", json={"message": message})
    assert r.status_code == 200, r.text
    return r.json()["answer"]


def test_pipeline_succeeds_serving_the_baselines_with_the_reason(one_year):
    from stockvision.config import Settings
    from stockvision.registry.model_registry import ModelRegistry

    result = one_year["result"]
    assert result.status == "succeeded"
    short = result.outputs["train"].short_history
    assert short is not None and 40 <= short.labelled_weeks < short.need_weeks
    assert set(result.outputs["train"].models) == {"vol_random_walk", "random_walk", "majority"}
    evaluated = result.outputs["evaluate"]
    assert evaluated.skipped == short
    doc = json.loads((one_year["home"] / evaluated.report_dir / "metrics.json").read_text())
    assert doc["walk_forward"]["skipped"] is True
    assert "chưa được kiểm định walk-forward vì chỉ có" in doc["walk_forward"]["reason_vi"]
    holdout = doc["models"]["vol_random_walk"]["holdout"]
    assert holdout["holdout_rows"] == N_SYMBOLS * short.holdout_weeks
    assert 0.0 < holdout["holdout_coverage_80"] <= 1.0
    for kind, model in (("price", "vol_random_walk"), ("pattern", "majority")):
        decision = result.outputs["promote"].decisions[kind]
        assert decision.action == "promoted" and "validated walk-forward" in decision.reason
        with sv_environment(one_year["env"]):
            champion = ModelRegistry(Settings()).champion(kind)
        assert champion.tags["model_name"] == model
        assert champion.tags["evaluation.walk_forward"] == "skipped"
        assert champion.metrics["walk_forward_skipped"] == 1.0
    assert result.outputs["batch_predict"].predicted == N_SYMBOLS


def test_api_prediction_is_the_labelled_baseline_with_its_measured_limits(one_year):
    client = one_year["client"]
    r = client.post("/api/v1/predict/VNM")
    assert r.status_code == 200, r.text
    body = r.json()
    model = body["serving_model"]
    assert model["name"] == "vol_random_walk" and model["baseline"] is True
    assert model["walk_forward"] is False and model["crps_skill"] is None
    assert "chưa được kiểm định walk-forward vì chỉ có" in model["limits_vi"]
    assert "not been validated walk-forward" in model["limits_en"]
    # the coverage shown is the holdout's, said to be one
    assert body["interval"]["measured_on"] == "holdout"
    assert 0.0 < body["interval"]["measured_coverage"] <= 1.0
    assert body["direction_supported"] is False


def test_health_is_ok_and_says_why_walk_forward_was_skipped(one_year):
    health = one_year["client"].get("/health").json()
    assert health["status"] == "ok", health
    price = next(m for m in health["models"] if m["name"] == "price_target_model")
    assert price["walk_forward"] is False
    assert "only" in price["evaluation"] and "weeks of data" in price["evaluation"]
    assert "chỉ có" in price["evaluation_vi"]


def test_chat_answers_say_why_in_both_languages(one_year):
    client = one_year["client"]
    vi = _ask(client, "Dự đoán giá VNM tháng sau?")
    assert "chưa được kiểm định walk-forward vì chỉ có" in vi and "tuần dữ liệu" in vi
    assert "tuần cuối giữ lại để kiểm tra" in vi
    en = _ask(client, "Predict VNM next month")
    assert "not been validated walk-forward because there are only" in en
    quality = _ask(client, "Mô hình chính xác không?")
    assert "chưa được kiểm định walk-forward vì chỉ có" in quality
    assert "tuần cuối giữ lại để kiểm tra" in quality and "vol_random_walk" in quality


def test_cli_run_says_why_walk_forward_was_skipped(one_year):
    from typer.testing import CliRunner

    from stockvision.cli.main import app

    with sv_environment(one_year["env"]):
        plain = CliRunner().invoke(app, ["pipeline", "run", "--force"])
        as_json = CliRunner().invoke(app, ["pipeline", "run", "--json"])
        out = one_year["home"] / "cli_eval"
        evaluated = CliRunner().invoke(app, ["evaluate", "--out", str(out)])
    assert evaluated.exit_code == 0, evaluated.output
    assert "Walk-forward evaluation skipped" in " ".join(evaluated.output.split())
    assert json.loads((out / "metrics.json").read_text())["walk_forward"]["skipped"] is True
    assert plain.exit_code == 0, plain.output
    text = " ".join(plain.output.split())
    assert "Walk-forward evaluation skipped: the model has not been validated walk-forward" in text
    assert "80% range held" in text
    doc = json.loads(as_json.stdout)
    assert doc["walk_forward"]["skipped"] is True and doc["walk_forward"]["labelled_weeks"] >= 40


def test_too_few_weeks_for_a_holdout_says_coverage_is_not_measured(tmp_path: Path):
    """Half a year: the baselines still train, but nothing is held out, so no coverage is claimed."""
    from stockvision.config import Settings
    from stockvision.pipeline import steps
    from stockvision.predict.predictor import serving_model

    csv = market_csv(tmp_path / "half_year.csv", 4, years=1, listing_weeks=dict.fromkeys(
        ["VNM", "FPT", "HPG", "HSG"], 26))  # fmt: skip
    env = {**ENV, "SV_DATA_DIR": str(tmp_path / "home"), "SV_CSV_PATHS": str(csv)}
    with sv_environment(env, ["SV_UNIVERSE"]):
        settings = Settings()
        steps.fetch(settings)
        steps.build_features(settings)
        steps.build_labels(settings)
        snap = steps.snapshot(settings)
        trained = steps.train(settings, snap)
        evaluated = steps.evaluate(settings, snap)
    assert trained.short_history is not None and trained.short_history.holdout_weeks == 0
    assert trained.val_window == []
    metrics = evaluated.metrics["vol_random_walk"]
    assert metrics["walk_forward_skipped"] == 1.0
    assert not any(k.startswith("holdout_coverage") for k in metrics)
    speaker = serving_model(type("M", (), {"name": "vol_random_walk"})(), metrics)
    assert speaker.walk_forward is False
    assert "chưa đo được" in speaker.limits_vi and "could not be measured" in speaker.limits_en


@pytest.fixture(scope="module")
def mixed_market(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """Three years of a market with two new listings: HSG (20 weeks) and VCB (4 weeks)."""
    from stockvision.config import Settings
    from stockvision.pipeline.flow import run_pipeline
    from stockvision.serving.app import create_app

    root: Path = tmp_path_factory.mktemp("mixed")
    csv = market_csv(root / "mixed.csv", N_SYMBOLS, years=3, listing_weeks={"HSG": 20, "VCB": 4})
    env = {**ENV, "SV_DATA_DIR": str(root / "home"), "SV_CSV_PATHS": str(csv)}
    with sv_environment(env, ["SV_UNIVERSE"]):
        result = run_pipeline(Settings())
        app = create_app(Settings(), start_background=False, mount_chat_ui=False)
        with TestClient(app) as client:
            yield {"result": result, "client": client}


def test_new_listings_get_the_baseline_with_the_reason(mixed_market):
    result, client = mixed_market["result"], mixed_market["client"]
    assert result.status == "succeeded"
    assert result.outputs["train"].short_history is None  # the market itself is long enough
    baseline = result.outputs["register"].baseline
    assert baseline is not None and baseline.model == "vol_random_walk"
    batch = result.outputs["batch_predict"]
    assert batch.predicted == N_SYMBOLS - 1  # every symbol but the 4-week listing
    (error,) = batch.errors
    assert error["symbol"] == "VCB" and error["error"] == "insufficient_history"
    body = client.post("/api/v1/predict/HSG").json()
    model = body["serving_model"]
    assert model["name"] == "vol_random_walk" and model["baseline"] is True
    assert "HSG mới có 20 tuần dữ liệu" in model["limits_vi"]
    assert "HSG has only 20 weeks of data" in model["limits_en"]
    champion = client.post("/api/v1/predict/VNM").json()
    if champion["serving_model"]["name"] != "vol_random_walk":  # a learned champion serves VNM
        assert body["model_versions"]["price"] == baseline.version
        assert champion["serving_model"]["limits_vi"] is None
    too_short = client.post("/api/v1/predict/VCB")
    assert too_short.status_code == 422
    assert too_short.json()["need_weeks"] == 6 and too_short.json()["have_weeks"] < 6
    answer = _ask(client, "Dự đoán giá HSG tháng sau?")
    assert "HSG mới có 20 tuần dữ liệu" in answer and "mốc cơ sở" in answer
    health = client.get("/health").json()
    assert health["baseline_model"]["version"] == baseline.version
    assert health["baseline_model"]["walk_forward"] is True  # validated on the long histories
