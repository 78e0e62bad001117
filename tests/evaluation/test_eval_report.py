"""Scoring and report on generated out-of-sample predictions: shape, values, determinism."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from eval_synth import ISSUE_METRIC_KEYS

from stockvision.evaluation import metrics as m
from stockvision.evaluation.report import write_report
from stockvision.evaluation.scoring import jsonable, score

PRICE_KEYS = set(ISSUE_METRIC_KEYS["price"])
PATTERN_KEYS = set(ISSUE_METRIC_KEYS["pattern"])
RANKING_KEYS = set(ISSUE_METRIC_KEYS["ranking"])
BACKTEST_KEYS = set(ISSUE_METRIC_KEYS["backtest"])


def test_metrics_shape_and_groups(synthetic_result):
    card = score(synthetic_result)
    mt = card.metrics
    assert set(mt) == {"evaluation_window", "universe", "models", "buy_and_hold"}
    assert {"start", "end", "folds"} <= set(mt["evaluation_window"])
    assert mt["evaluation_window"]["folds"] == len(synthetic_result.folds)
    assert mt["universe"] == [f"S{i}" for i in range(6)]
    good, clf = mt["models"]["good"], mt["models"]["clf"]
    assert good["kind"] == "price" and set(good) == {"kind", "price", "ranking", "backtest"}
    assert set(good["price"]) >= PRICE_KEYS and set(good["ranking"]) == RANKING_KEYS
    assert set(good["backtest"]) >= BACKTEST_KEYS
    assert clf["kind"] == "pattern" and set(clf) == {"kind", "pattern", "ranking"}
    assert set(clf["pattern"]) >= PATTERN_KEYS
    assert set(mt["buy_and_hold"]) >= BACKTEST_KEYS


def test_metric_values_are_consistent_with_the_predictions(synthetic_result):
    card = score(synthetic_result)
    models = card.metrics["models"]
    rw, good = models["random_walk"]["price"], models["good"]["price"]
    assert rw["mae_ratio_vs_random_walk"] == pytest.approx(1.0)
    assert rw["dm_pvalue"] is None  # identical to the reference: undefined, written as null
    assert good["mae_ratio_vs_random_walk"] < 0.6 and good["dm_pvalue"] < 0.01
    df = synthetic_result.model_predictions("good").dropna(subset=["actual_log_return"])
    target = df["raw_close"] * np.exp(df["pred_log_return"])
    assert good["mae_pct"] == pytest.approx(m.mae_pct(target, df["actual_price"]))
    inside = (df["actual_log_return"] - df["pred_log_return"]).abs() <= 0.08
    assert good["interval_coverage"] == pytest.approx(inside.mean())
    # informative model: positive rank IC with an interval above zero; random walk: constant
    assert models["good"]["ranking"]["rank_ic_ci95"][0] > 0
    assert models["random_walk"]["ranking"]["rank_ic_mean"] is None
    # the sharpened "uncalibrated" probabilities are over-confident: calibration helped
    pat = models["clf"]["pattern"]
    assert pat["ece_uncalibrated"] > pat["ece"]
    assert pat["log_loss_skill"] > 0 and pat["accuracy"] > 0.5
    # a look-ahead model beats buy-and-hold
    assert models["good"]["backtest"]["sharpe"] > card.metrics["buy_and_hold"]["sharpe"]
    assert card.per_symbol.index.tolist() == synthetic_result.universe
    assert {g.met for g in card.goals} <= {True, False, None}
    assert any(g.model == "good" and g.met for g in card.goals)


def test_report_files_are_self_contained_strict_and_deterministic(synthetic_result, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    html_path = write_report(synthetic_result, a)
    write_report(synthetic_result, b)
    raw = (a / "metrics.json").read_bytes()
    assert raw == (b / "metrics.json").read_bytes()
    assert b"NaN" not in raw and b"Infinity" not in raw
    json.loads(raw)  # strict JSON
    assert "fit_seconds" in (a / "timings.json").read_text()
    page = html_path.read_text(encoding="utf-8")
    assert page.count("Plotly.newPlot") >= 4  # equity, IC, calibration, confusion
    # plotly.js is inlined exactly once and nothing is fetched from the network
    assert len(re.findall(r"plotly\.js v\d", page)) == 1
    assert not re.search(r"<script[^>]+src=", page)
    for text in (
        "Goals",
        "buy &amp; hold",
        "Per symbol",
        "not met" if "not met" in page else "met",
    ):
        assert text in page


def test_jsonable_replaces_non_finite():
    out = jsonable({"a": float("nan"), "b": [np.float64(1.5), float("inf")], "c": np.int64(3)})
    assert out == {"a": None, "b": [1.5, None], "c": 3}
    assert json.dumps(out)
