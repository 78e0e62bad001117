"""Pooled out-of-fold validation calibration and the cross-section start of the test blocks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from eval_synth import make_daily

from stockvision.evaluation.metrics import ece
from stockvision.evaluation.splits import WalkForwardSplitter
from stockvision.evaluation.walkforward import (
    MODEL_CAL_COLUMNS,
    PROB_COLUMNS,
    UNCAL_COLUMNS,
    PooledTemperature,
    cross_section_start,
    labelled_weeks,
    run_walk_forward,
)
from stockvision.features import PATTERN_CLASSES, DatasetBuilder, build_features_and_labels
from stockvision.models.calibration import apply_temperature

PARAMS = {"lgbm_clf": {"n_estimators": 60}}


def _labels(n: int, seed: int, sharpen: float, weeks: pd.DatetimeIndex):
    """Logits whose softmax is ``sharpen`` times too confident, and labels drawn from the truth."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 1.0, (n, 3))
    p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    idx = pd.MultiIndex.from_arrays(
        [[f"S{i % 50}" for i in range(n)], weeks[np.arange(n) // 50]], names=["symbol", "week_end"]
    )
    labels = pd.DataFrame({"pattern": np.asarray(PATTERN_CLASSES)[y]}, index=idx)
    return apply_temperature(logits * sharpen, 1.0), y, labels


def test_pooled_temperature_reduces_held_out_ece():
    weeks = pd.date_range("2020-01-03", periods=200, freq="W-FRI")
    pool = PooledTemperature()
    for fold in range(4):  # four validation windows of 20 weeks x 50 symbols
        probs, _, labels = _labels(1000, fold, 2.5, weeks[fold * 20 :])
        pool.add(fold, labels, probs)
    assert pool.n_rows == 4000
    t = pool.temperature()
    assert 2.0 < t < 3.1
    test_probs, y, _ = _labels(3000, 99, 2.5, weeks[100:])
    cal = apply_temperature(np.log(test_probs), t)
    assert ece(cal, y) < 0.5 * ece(test_probs, y)


def test_pooled_rows_replace_earlier_folds_for_the_same_week():
    weeks = pd.date_range("2020-01-03", periods=10, freq="W-FRI")
    probs, _, labels = _labels(100, 1, 1.0, weeks)
    pool = PooledTemperature()
    pool.add(0, labels, probs)
    pool.add(1, labels, probs)  # a later fold's prediction of the same rows
    assert pool.n_rows == 100
    unlabelled = labels.assign(pattern=pd.Series([None] * 100, dtype=object).to_numpy())
    pool.add(2, unlabelled, probs)  # rows without a label are never pooled
    assert pool.n_rows == 100


@pytest.fixture(scope="module")
def market():
    daily = make_daily(n_symbols=6, n_weeks=110, seed=5)
    features, labels = build_features_and_labels(daily)
    return DatasetBuilder(features, labels, seq_len=8, horizon=4)


def test_walk_forward_recalibrates_on_pooled_validation_only(market):
    splitter = WalkForwardSplitter(min_train_weeks=60, val_weeks=8, max_folds=3)
    folds = list(splitter.split(labelled_weeks(market)))
    res = run_walk_forward(market, ["lgbm_clf"], folds, seed=1, model_params=PARAMS)
    own = run_walk_forward(
        market, ["lgbm_clf"], folds, seed=1, model_params=PARAMS, calibration="model"
    )
    temps = res.temperatures["lgbm_clf"]
    assert len(temps) == 3 and own.temperatures == {}
    # the reference: a pool of validation windows only, fitted fold by fold
    pool = PooledTemperature()
    from stockvision.models.registry_names import make_model

    for f, t in zip(folds, temps, strict=True):
        train = market.window(f.train_start, f.train_end)
        val = market.window(f.val_start, f.val_end)
        model = make_model("lgbm_clf", num_threads=1, **PARAMS["lgbm_clf"]).fit(train, val)
        pool.add(f.index, val.labels, model.predict_proba(val, calibrated=False))
        assert val.labels.index.get_level_values("week_end").max() < f.test_start
        expected = pool.temperature() if pool.n_rows >= 100 else 1.0
        assert t == pytest.approx(expected, rel=1e-9)
    a, b = res.predictions, own.predictions
    # same uncalibrated model output and the same class ranking; only the temperature differs
    np.testing.assert_array_equal(a[UNCAL_COLUMNS].to_numpy(), b[UNCAL_COLUMNS].to_numpy())
    np.testing.assert_array_equal(a[MODEL_CAL_COLUMNS].to_numpy(), b[PROB_COLUMNS].to_numpy())
    np.testing.assert_array_equal(a["pred_pattern"].to_numpy(), b["pred_pattern"].to_numpy())
    with pytest.raises(ValueError, match="calibration"):
        run_walk_forward(market, ["majority"], folds, calibration="test")


def test_cross_section_start_and_first_test_week(market):
    # every symbol starts together: the cross-section starts at the first labelled week
    assert cross_section_start(market) == labelled_weeks(market)[0]
    weeks = labelled_weeks(market)
    start = weeks[70]
    sp = WalkForwardSplitter(min_train_weeks=40, val_weeks=8, first_test_week=start)
    folds = list(sp.split(weeks))
    assert folds and all(f.test_start >= start for f in folds)
    assert folds[0].train_start == weeks[0]  # the training span still starts at the first week
    assert [f.index for f in folds] == list(range(len(folds)))
    assert sp.n_splits(weeks) == len(folds)
    every = list(WalkForwardSplitter(min_train_weeks=40, val_weeks=8).split(weeks))
    assert [f.test_start for f in every if f.test_start >= start] == [f.test_start for f in folds]
    with pytest.raises(ValueError, match="first_test_week"):
        list(
            WalkForwardSplitter(
                min_train_weeks=40, first_test_week=weeks[-1] + pd.Timedelta("30D")
            ).split(weeks)
        )


def test_cross_section_start_skips_a_lone_long_history():
    """S0 trades 40 weeks before the others (like the VN30 index before its constituents)."""
    daily = make_daily(n_symbols=5, n_weeks=120, seed=8)
    late = daily["symbol"] != "S0"
    daily = daily[~late | (daily["date"] >= daily["date"].min() + pd.Timedelta(weeks=40))]
    features, labels = build_features_and_labels(daily)
    builder = DatasetBuilder(features, labels, seq_len=8, horizon=4)
    start = cross_section_start(builder)
    weeks = labelled_weeks(builder)
    assert start > weeks[0]
    counts = builder.labels["future_log_return"].notna().groupby(level="week_end").sum()
    assert counts[start] >= 0.5 * counts.max() and (counts[counts.index < start] < 2.5).all()
