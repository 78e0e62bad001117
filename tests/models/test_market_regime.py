"""The random walks' ``calibration`` choice and the learned scale's market-regime inputs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sv_model_windows import windows_from_arrays

from stockvision.features.feature_docs import FEATURES
from stockvision.models._windows import concat_windows, finite_returns
from stockvision.models.base import load_model
from stockvision.models.baselines import RandomWalkModel
from stockvision.models.conformal import conformal_quantile
from stockvision.models.volatility import (
    MARKET_INPUTS,
    MIN_MARKET_NAMES,
    HarVolModel,
    VolRandomWalkModel,
    market_inputs,
)

_VOL, _RET1W = FEATURES.index("vol_4w"), FEATURES.index("ret_1w")


def _regime_panel(seed: int = 0, n_symbols: int = 40, n_weeks: int = 160):
    """Stocks with their own vol level times a COMMON market regime m_t (calm, then stormy).

    ``vol_4w`` knows only the stock's level (not the regime); every stock's weekly returns
    (``ret_1w``, in the sequences) are drawn with the regime, so the cross-section of a week
    shows it; the 4-week labels are t(5) with scale level x regime.
    """
    rng = np.random.default_rng(seed)
    weeks = pd.date_range("2012-01-06", periods=n_weeks, freq="W-FRI")
    level = np.exp(rng.uniform(np.log(0.01), np.log(0.04), (n_symbols, 1)))
    regime = np.exp(0.9 * np.sin(np.arange(n_weeks)[None, :] / 6.0))
    daily = level * regime
    fut = daily * math.sqrt(20) * rng.standard_t(5, size=daily.shape) / math.sqrt(5 / 3)
    fut[:, -4:] = np.nan
    feats = np.abs(rng.normal(0.02, 0.01, size=(n_symbols, n_weeks, len(FEATURES))))
    feats[:, :, _VOL] = level * np.ones((1, n_weeks))
    feats[:, :, FEATURES.index("atr_4w_pct")] = level * 1.2
    feats[:, :, FEATURES.index("illiq_rank")] = rng.uniform(size=(n_symbols, n_weeks))
    feats[:, :, _RET1W] = np.expm1(daily * math.sqrt(5) * rng.standard_normal(daily.shape))
    return feats, fut, weeks


def test_train_calibration_fits_one_width_on_the_whole_training_history():
    feats, fut, weeks = _regime_panel()
    train, val, _ = windows_from_arrays(feats, fut, weeks, [(0, 100), (105, 118), (122, 150)])
    for cls in (RandomWalkModel, VolRandomWalkModel):
        model = cls(calibration="train").fit(train, val)
        both = concat_windows([train, val])
        y, mask = finite_returns(both)
        resid = (y - model.predict(both))[mask] / model.scale_basis(both)[mask]
        assert model.conformal_q_ == pytest.approx(conformal_quantile(resid, 0.8))
        assert model.n_calibration_ == int(mask.sum())
        default = cls().fit(train, val)
        assert default.n_calibration_ == int(finite_returns(val)[1].sum())
        assert default.conformal_q_ != pytest.approx(model.conformal_q_)
        assert cls(calibration="train").get_params()["calibration"] == "train"
    with pytest.raises(ValueError, match="calibration"):
        RandomWalkModel(calibration="test").fit(train, val)
    # the learned scale trained on the training labels: only held-out rows may calibrate it
    har = HarVolModel().fit(train, val)
    assert har.n_calibration_ == int(finite_returns(val)[1].sum())


def test_train_calibration_round_trips(tmp_path):
    feats, fut, weeks = _regime_panel()
    train, val, test = windows_from_arrays(feats, fut, weeks, [(0, 100), (105, 118), (122, 150)])
    model = RandomWalkModel(calibration="train").fit(train, val)
    back = load_model(model.save(tmp_path / "rw"))
    assert back.calibration == "train"
    np.testing.assert_allclose(
        back.predict_distribution(test).scale, model.predict_distribution(test).scale
    )


def test_market_inputs_use_no_later_week_and_react_to_the_same_week():
    feats, fut, weeks = _regime_panel(n_weeks=60)
    t = 40
    (full,) = windows_from_arrays(feats, fut, weeks, [(0, 56)])
    changed_feats, changed_fut = feats.copy(), fut.copy()
    changed_feats[:, t + 1 :] *= 0.5  # every later week of every stock changes
    changed_fut[:, t + 1 :] *= -2.0
    (changed,) = windows_from_arrays(changed_feats, changed_fut, weeks, [(0, 56)])
    week = full.X.index.get_level_values("week_end")
    upto = np.asarray(week <= weeks[t])
    a, b = market_inputs(full, 4.0), market_inputs(changed, 4.0)
    assert a.shape == (len(full), len(MARKET_INPUTS))
    assert np.isfinite(a[upto & np.asarray(week >= weeks[8])]).all()
    np.testing.assert_array_equal(a[upto], b[upto])
    assert not np.allclose(a[~upto], b[~upto])  # the test can fail: later weeks do change
    # the same week's cross-section moves them (one week's returns of every stock doubled)
    same = feats.copy()
    same[:, t, _RET1W] *= 2.0
    (moved,) = windows_from_arrays(same, fut, weeks, [(0, 56)])
    at_t = np.asarray(week == weeks[t])
    assert not np.allclose(market_inputs(moved, 4.0)[at_t], a[at_t])
    np.testing.assert_array_equal(market_inputs(moved, 4.0)[week < weeks[t]], a[week < weeks[t]])


def test_market_inputs_are_shared_by_a_week_and_need_enough_names():
    feats, fut, weeks = _regime_panel(n_weeks=40)
    (w,) = windows_from_arrays(feats, fut, weeks, [(0, 36)])
    z = market_inputs(w, 4.0)
    week = w.X.index.get_level_values("week_end")
    for col in range(z.shape[1]):
        per_week = pd.Series(z[:, col]).groupby(np.asarray(week)).nunique(dropna=False)
        assert (per_week == 1).all()
    (few,) = windows_from_arrays(feats[: MIN_MARKET_NAMES - 1], fut[: MIN_MARKET_NAMES - 1], weeks,
                                 [(0, 36)])  # fmt: skip
    assert np.isnan(market_inputs(few, 4.0)).all()


def test_market_inputs_learn_the_common_regime_and_round_trip(tmp_path):
    feats, fut, weeks = _regime_panel()
    train, val, test = windows_from_arrays(feats, fut, weeks, [(0, 100), (105, 118), (122, 156)])
    y = test.labels["future_log_return"].to_numpy()
    plain = HarVolModel().fit(train, val)
    market = HarVolModel(market_inputs=True).fit(train, val)
    assert market.coef_.shape == (plain.coef_.size + len(MARKET_INPUTS),)
    crps_plain = plain.predict_distribution(test).crps(y)
    crps_market = market.predict_distribution(test).crps(y)
    ok = np.isfinite(y)
    assert crps_market[ok].mean() < 0.99 * crps_plain[ok].mean()  # 0.976-0.982 over seeds 0-2
    back = load_model(market.save(tmp_path / "har_mkt"))
    assert back.market_inputs is True
    np.testing.assert_allclose(
        back.predict_distribution(test).scale, market.predict_distribution(test).scale
    )
    # one stock served alone: no market cross-section, the training medians stand in
    one = test.X.index.get_level_values("symbol") == "S00"
    from stockvision.models._windows import subset_window

    alone = market.scale_basis(subset_window(test, np.asarray(one)))
    assert np.isfinite(alone).all() and (alone > 0).all()
