"""The boosted (CRPS-fitted) volatility scale: gradient, learning what HAR cannot, persistence."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sv_model_windows import windows_from_arrays

from stockvision.features.dataset import Window
from stockvision.features.feature_docs import FEATURES
from stockvision.models.base import load_model
from stockvision.models.baselines import RandomWalkModel
from stockvision.models.lgbm_vol import LGBMVolModel, _normal_crps, crps_log_scale_grad_hess
from stockvision.models.registry_names import make_model
from stockvision.models.volatility import HarVolModel


def _windows(seed: int = 0, n_symbols: int = 60, n_weeks: int = 170):
    """Vols from 1 % to 5 %; penny stocks (close < 10,000) move TWICE as much as their vol says.

    The linear HAR scale sees the vol but not the price level interaction; the trees can.
    """
    rng = np.random.default_rng(seed)
    weeks = pd.date_range("2015-01-02", periods=n_weeks, freq="W-FRI")
    base = rng.uniform(0.01, 0.05, size=(n_symbols, 1))
    wiggle = np.exp(
        0.3 * np.sin(np.arange(n_weeks)[None, :] / 9 + rng.uniform(0, 6, (n_symbols, 1)))
    )
    vol = base * wiggle
    close = np.where(rng.random((n_symbols, 1)) < 0.5, 5_000.0, 40_000.0) * np.ones((1, n_weeks))
    boost = np.where(close < 10_000, 2.0, 1.0)
    fut = vol * boost * math.sqrt(20) * rng.standard_t(5, size=vol.shape) / math.sqrt(5 / 3)
    fut[:, -4:] = np.nan
    n_f = len(FEATURES)
    feats = np.abs(rng.normal(0.02, 0.01, size=(n_symbols, n_weeks, n_f)))
    feats[:, :, FEATURES.index("vol_4w")] = vol
    feats[:, :, FEATURES.index("atr_4w_pct")] = vol * 1.2
    feats[:, :, FEATURES.index("illiq_rank")] = rng.uniform(size=(n_symbols, n_weeks))
    return windows_from_arrays(
        feats, fut, weeks, [(0, 110), (115, 130), (135, n_weeks - 4)], close=close
    )


@pytest.fixture(scope="module")
def penny():
    return _windows()


def _crps(model, test: Window) -> float:
    y = test.labels["future_log_return"].to_numpy()
    return float(model.predict_distribution(test).crps(y).mean())


def test_gradient_and_hessian_are_those_of_the_normal_crps_in_the_log_scale():
    rng = np.random.default_rng(1)
    f = rng.normal(-2.5, 0.5, size=50)
    r = rng.normal(0, 0.1, size=50)
    grad, hess = crps_log_scale_grad_hess(f, r, hess_floor=-np.inf)
    eps = 1e-5
    num_g = (_normal_crps(r, f + eps) - _normal_crps(r, f - eps)) / (2 * eps)
    num_h = (_normal_crps(r, f + eps) - 2 * _normal_crps(r, f) + _normal_crps(r, f - eps)) / eps**2
    np.testing.assert_allclose(grad, num_g, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(hess, num_h, rtol=1e-3, atol=1e-6)
    _, floored = crps_log_scale_grad_hess(f, r * 100)  # far tails: the raw Hessian is negative
    assert np.all(floored > 0)


def test_boosted_scale_learns_the_interaction_har_misses_and_keeps_coverage(penny):
    train, val, test = penny
    model = LGBMVolModel(min_data_in_leaf=50, num_threads=1).fit(train, val)
    assert model.booster_ is not None and model.best_iteration_ > 0
    har = HarVolModel().fit(train, val)
    rw = RandomWalkModel().fit(train, val)
    # a scale off by about sqrt(2) either way costs the linear HAR about 1.5 % of CRPS here
    assert _crps(model, test) < 0.99 * _crps(har, test) < _crps(rw, test)
    # the penny stocks get about twice the scale of the others at the same vol
    close = test.labels["raw_close"].to_numpy()
    ratio = model.scale_basis(test) / test.X["vol_4w"].to_numpy()
    assert np.median(ratio[close < 10_000]) > 1.6 * np.median(ratio[close >= 10_000])
    y = test.labels["future_log_return"].to_numpy()
    lo, hi = model.predict_distribution(test).interval(0.8)
    ok = np.isfinite(y)
    for group in (close < 10_000, close >= 10_000):
        inside = ((y >= lo) & (y <= hi))[ok & group].mean()
        assert 0.72 < inside < 0.88, inside


def test_conformal_factor_comes_from_the_calibration_rows_only(penny):
    train, val, test = penny
    a = LGBMVolModel(min_data_in_leaf=50, num_threads=1).fit(train, val)
    # change only the calibration labels: the booster is the same, the factor is not
    wider = Window(X=val.X, labels=val.labels.assign(
        future_log_return=val.labels["future_log_return"] * 2.0), seq=val.seq)  # fmt: skip
    b = LGBMVolModel(min_data_in_leaf=50, num_threads=1).fit(train, wider)
    np.testing.assert_allclose(a.scale_basis(test), b.scale_basis(test))
    assert b.conformal_q_ == pytest.approx(2.0 * a.conformal_q_, rel=1e-9)


def test_round_trip_registry_name_and_small_data_fallback(penny, tmp_path):
    train, val, test = penny
    model = make_model("lgbm_vol", min_data_in_leaf=50, num_threads=1).fit(train, val)
    assert isinstance(model, LGBMVolModel)
    back = load_model(model.save(tmp_path / "lv"))
    a, b = model.predict_distribution(test), back.predict_distribution(test)
    np.testing.assert_allclose(a.scale, b.scale)
    np.testing.assert_allclose(a.loc, 0.0)
    assert a.df == b.df
    # too few rows for a split: no trees, the linear HAR start is the model and it still saves
    small = LGBMVolModel(min_data_in_leaf=5_000, num_threads=1).fit(train, val)
    assert small.booster_ is None
    har = HarVolModel().fit(train, val)
    np.testing.assert_allclose(
        small.scale_basis(test) / har.scale_basis(test),
        np.exp(small.init_shift_),
        rtol=1e-9,
    )
    again = load_model(small.save(tmp_path / "small"))
    np.testing.assert_allclose(again.scale_basis(test), small.scale_basis(test))
