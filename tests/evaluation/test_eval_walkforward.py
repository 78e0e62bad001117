"""Integration: real features, real models, walk-forward on a small generated market."""

from __future__ import annotations

import json
from itertools import pairwise

import numpy as np
import pandas as pd
import pytest
from eval_synth import make_daily

from stockvision.evaluation.report import write_report
from stockvision.evaluation.scoring import score
from stockvision.evaluation.splits import WalkForwardSplitter
from stockvision.evaluation.walkforward import (
    PREDICTION_COLUMNS,
    ProgressEvent,
    labelled_weeks,
    run_walk_forward,
)
from stockvision.features import DatasetBuilder, build_features_and_labels

MODELS = [
    "ridge", "lgbm_reg", "random_walk", "vol_random_walk", "lgbm_clf", "majority", "momentum_sign"
]  # fmt: skip
SPLITTER = WalkForwardSplitter(min_train_weeks=60, val_weeks=8, max_folds=4)
# small, single-threaded models keep the test fast on a shared 2-core machine
PARAMS = {
    "ridge": {"degree": 1},
    "lgbm_reg": {"n_estimators": 60, "num_threads": 1},
    "lgbm_clf": {"n_estimators": 60, "num_threads": 1},
}


@pytest.fixture(scope="module")
def market():
    daily = make_daily(n_symbols=6, n_weeks=110, seed=4)
    features, labels = build_features_and_labels(daily)
    return daily, DatasetBuilder(features, labels, seq_len=8, horizon=4)


@pytest.fixture(scope="module")
def result(market):
    daily, builder = market
    return run_walk_forward(builder, MODELS, SPLITTER, daily=daily, seed=11, model_params=PARAMS)


def test_predictions_are_out_of_sample_and_complete(market, result):
    _, builder = market
    preds = result.predictions
    assert list(preds.columns) == PREDICTION_COLUMNS
    assert result.model_kinds == {
        "ridge": "price",
        "lgbm_reg": "price",
        "random_walk": "price",
        "vol_random_walk": "price",
        "lgbm_clf": "pattern",
        "majority": "pattern",
        "momentum_sign": "pattern",
    }
    folds = {f.index: f for f in result.folds}
    assert len(folds) == 4
    for fold_id, block in preds.groupby("fold"):
        f = folds[fold_id]
        assert block["week_end"].between(f.test_start, f.test_end).all()
        # every test row lies after the fold's validation labels have ended (purge + embargo)
        weeks = builder.calendar
        assert weeks.get_loc(f.test_start) - weeks.get_loc(f.val_end) > 4
    # one prediction per model and test row, identical rows for every model
    per_model = preds.groupby("model").size()
    assert per_model.nunique() == 1
    assert not preds.duplicated(["model", "symbol", "week_end"]).any()
    price = preds[preds["kind"] == "price"]
    assert price[["pred_log_return", "low", "high"]].notna().all().all()
    assert (price["low"] <= price["high"]).all()
    assert (preds.loc[preds["model"] == "random_walk", "pred_log_return"] == 0).all()
    pattern = preds[preds["kind"] == "pattern"]
    np.testing.assert_allclose(pattern[["p_down", "p_sideways", "p_up"]].sum(axis=1), 1.0)
    # lgbm_clf supports uncalibrated probabilities; baselines do not
    lgbm = pattern[pattern["model"] == "lgbm_clf"]
    assert lgbm[["p_down_uncal", "p_sideways_uncal", "p_up_uncal"]].notna().all().all()
    # skill reference: training-window class frequencies, constant within a fold
    assert (pattern.groupby("fold")["prior_up"].nunique() == 1).all()
    assert set(result.universe) == {f"S{i}" for i in range(6)}
    assert result.timings["ridge"]["fit_seconds"] > 0


def test_labelled_weeks_and_progress_events(market):
    _daily, builder = market
    weeks = labelled_weeks(builder)
    assert weeks.max() < builder.calendar.max()
    events: list[ProgressEvent] = []
    splitter = WalkForwardSplitter(min_train_weeks=60, val_weeks=8, max_folds=2)
    run_walk_forward(builder, ["random_walk", "majority"], splitter, progress=events.append)
    assert [(e.fold, e.model, e.stage) for e in events] == [
        (f, m, s) for f in (0, 1) for m in ("random_walk", "majority") for s in ("fit", "done")
    ]


def test_two_runs_give_identical_metrics_json(market, result, tmp_path):
    daily, builder = market
    again = run_walk_forward(builder, MODELS, SPLITTER, daily=daily, seed=11, model_params=PARAMS)
    pd.testing.assert_frame_equal(result.predictions, again.predictions)
    write_report(result, tmp_path / "a")
    write_report(again, tmp_path / "b")
    first = (tmp_path / "a" / "metrics.json").read_bytes()
    assert first == (tmp_path / "b" / "metrics.json").read_bytes()
    metrics = json.loads(first)
    assert set(metrics["models"]) == set(MODELS)
    assert set(metrics["models"]["ridge"]) == {
        "kind", "price", "distribution", "ranking", "backtest"
    }  # fmt: skip
    dist = metrics["models"]["ridge"]["distribution"]
    assert len(dist["coverage_80_by_vol_quintile"]) == 5 and dist["crps"] > 0
    # what an answer quotes for a forecast that wide: only a scale that varies by stock has bins
    # (ridge's is one width per fold)
    assert dist["coverage_80_by_scale"] == []
    vol = metrics["models"]["vol_random_walk"]["distribution"]
    by_scale = vol["coverage_80_by_scale"]
    assert 2 <= len(by_scale) <= 8 and sum(b["rows"] for b in by_scale) == vol["n_rows"]
    assert by_scale[0]["q_low"] == 0 and by_scale[-1]["q_high"] == 1  # contiguous, none lost
    assert all(a["q_high"] == b["q_low"] for a, b in pairwise(by_scale))
    assert [b["scale_max"] for b in by_scale] == sorted(b["scale_max"] for b in by_scale)
    assert "momentum_12_1" in metrics["ranking_baselines"]
    card = score(result)
    crps_goals = [g for g in card.goals if g.model == "ridge" and "CRPS" in g.goal]
    assert len(crps_goals) == 1 and crps_goals[0].met in (True, False)
    assert set(metrics["models"]["lgbm_clf"]) == {"kind", "pattern", "ranking"}
    assert metrics["models"]["lgbm_clf"]["pattern"]["ece_uncalibrated"] is not None
    assert metrics["models"]["majority"]["pattern"]["ece_uncalibrated"] is None
    assert metrics["evaluation_window"]["folds"] == 4
    assert (tmp_path / "a" / "report.html").stat().st_size > 1_000_000  # plotly.js inlined
    assert "Coverage by predicted width" in (tmp_path / "a" / "report.html").read_text()


def test_bad_arguments_are_explained(market):
    _, builder = market
    with pytest.raises(ValueError, match="unknown model names"):
        run_walk_forward(builder, ["nope"], SPLITTER)
    with pytest.raises(ValueError, match="repeat"):
        run_walk_forward(builder, ["ridge", "ridge"], SPLITTER)
    with pytest.raises(ValueError, match="min_train_weeks"):
        run_walk_forward(builder, ["ridge"], WalkForwardSplitter(min_train_weeks=500))


def test_failing_model_is_dropped_or_raised(market, tmp_path):
    daily, builder = market
    splitter = WalkForwardSplitter(min_train_weeks=60, val_weeks=8, max_folds=2)
    broken = {"ridge": {"degree": 1, "coverage": 1.5}}  # invalid: fit raises a ValueError
    with pytest.raises(ValueError, match="coverage"):
        run_walk_forward(builder, ["ridge", "random_walk"], splitter, model_params=broken)
    res = run_walk_forward(
        builder,
        ["ridge", "random_walk"],
        splitter,
        daily=daily,
        model_params=broken,
        on_error="drop",
    )
    assert set(res.failed) == {"ridge"} and "coverage" in res.failed["ridge"]
    assert res.model_kinds == {"random_walk": "price"}
    assert set(res.predictions["model"]) == {"random_walk"}
    page = write_report(res, tmp_path).read_text(encoding="utf-8")
    assert "Models that failed" in page and "coverage" in page
    assert "ridge" not in json.loads((tmp_path / "metrics.json").read_text())["models"]


def test_evaluate_end_to_end(market, tmp_path):
    from stockvision.config import Settings
    from stockvision.evaluation import evaluate

    daily, _ = market
    splitter = WalkForwardSplitter(min_train_weeks=60, val_weeks=8, max_folds=2)
    path, card, result = evaluate(
        daily,
        tmp_path / "eval",
        ["random_walk", "drift", "majority"],
        splitter,
        settings=Settings(),
    )
    assert path == tmp_path / "eval" / "report.html" and path.exists()
    assert sorted(card.metrics["models"]) == ["drift", "majority", "random_walk"]
    assert card.metrics["evaluation_window"]["folds"] == 2 == len(result.folds)
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved == card.metrics


def test_explicit_folds_are_used_as_given(market):
    _, builder = market
    folds = list(SPLITTER.split(labelled_weeks(builder)))[1:2]
    res = run_walk_forward(builder, ["random_walk"], folds)
    assert res.folds == folds and res.splitter is None
    assert res.predictions["week_end"].between(folds[0].test_start, folds[0].test_end).all()
    assert (res.predictions["fold"] == folds[0].index).all()
