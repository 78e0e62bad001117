"""The fitted factor combination: learns which classic factors rank, shrinks its size, round-trips."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sv_model_windows import windows_from_arrays

from stockvision.features.dataset import Window
from stockvision.features.feature_docs import FEATURES
from stockvision.models.base import load_model
from stockvision.models.factor_combo import FACTORS, FactorComboModel, factor_matrix
from stockvision.models.registry_names import make_model


def _windows(seed: int = 0, n_symbols: int = 50, n_weeks: int = 150, signal: float = 0.03):
    """A market move common to all names each week, plus a relative return that follows 12-1
    momentum (up) and low volatility (up); the other factors carry nothing."""
    rng = np.random.default_rng(seed)
    weeks = pd.date_range("2015-01-02", periods=n_weeks, freq="W-FRI")
    n_f = len(FEATURES)
    feats = np.abs(rng.normal(0.02, 0.01, size=(n_symbols, n_weeks, n_f)))
    r4 = rng.normal(0, 0.08, size=(n_symbols, n_weeks))
    r52 = rng.normal(0.1, 0.3, size=(n_symbols, n_weeks))
    vol = rng.uniform(0.01, 0.04, size=(n_symbols, n_weeks))
    feats[:, :, FEATURES.index("ret_4w")] = r4
    feats[:, :, FEATURES.index("ret_52w")] = r52
    feats[:, :, FEATURES.index("ret_26w")] = rng.normal(0.05, 0.2, size=(n_symbols, n_weeks))
    feats[:, :, FEATURES.index("vol_4w")] = vol
    feats[:, :, FEATURES.index("amihud_w")] = rng.lognormal(size=(n_symbols, n_weeks))
    mom = (1 + r52) / (1 + r4) - 1
    z_mom = (mom - mom.mean()) / mom.std()
    z_vol = (vol - vol.mean()) / vol.std()
    market = rng.normal(0, 0.06, size=(1, n_weeks))
    fut = market + signal * (z_mom - 0.5 * z_vol) + rng.normal(0, 0.08, size=(n_symbols, n_weeks))
    fut[:, -4:] = np.nan
    return windows_from_arrays(feats, fut, weeks, [(0, 100), (105, 120), (125, n_weeks - 4)])


def _weekly_rank_ic(window: Window, score: np.ndarray) -> float:
    y = window.labels["future_log_return"].to_numpy()
    frame = pd.DataFrame({"w": window.week_ends, "s": score, "y": y}).dropna()
    ics = [stats.spearmanr(g["s"], g["y"])[0] for _, g in frame.groupby("w")]
    return float(np.mean(ics))


def test_learns_the_factors_that_rank_and_beats_each_single_factor():
    train, val, test = _windows()
    model = FactorComboModel().fit(train, val)
    coef = dict(zip(FACTORS, model.factor_coef_, strict=True))
    assert coef["momentum_12_1"] > 0 and coef["low_volatility"] > 0
    assert coef["momentum_12_1"] > 3 * abs(coef["illiquidity"])
    ic = _weekly_rank_ic(test, model.predict(test))
    singles = factor_matrix(test)
    best_single = max(_weekly_rank_ic(test, singles[:, k]) for k in range(len(FACTORS)))
    assert ic > best_single + 0.02 and ic > 0.2
    assert 0.0 < model.kappa_ <= 1.0
    # the location is the relative forecast: the common market move is not claimed
    assert abs(float(np.mean(model.predict(test)))) < 0.01


def test_a_useless_combination_is_shrunk_towards_zero():
    train, val, test = _windows(seed=3, signal=0.0)
    model = FactorComboModel().fit(train, val)
    useful = FactorComboModel().fit(*_windows(seed=3)[:2])
    # ridge on pure noise gives tiny weights, so the claimed moves are tiny whatever kappa
    assert np.std(model.predict(test)) < 0.1 * np.std(useful.predict(test))
    assert np.std(model.predict(test)) < 0.003


def test_round_trip_contributions_and_registry_name(tmp_path):
    train, val, test = _windows(seed=5)
    model = make_model("factor_combo").fit(train, val)
    assert isinstance(model, FactorComboModel)
    back = load_model(model.save(tmp_path / "fc"))
    a, b = model.predict_distribution(test), back.predict_distribution(test)
    np.testing.assert_allclose(a.loc, b.loc)
    np.testing.assert_allclose(a.scale, b.scale)
    contrib = model.contributions(test)
    assert set(contrib.columns) <= set(FEATURES)
    np.testing.assert_allclose(
        contrib.sum(axis=1),
        model.predict(test) - model.kappa_ * model.factor_intercept_,
        atol=1e-12,
    )
    # a row without momentum history gets the training median's score, not NaN
    X = test.X.copy()
    X.iloc[0, FEATURES.index("ret_52w")] = np.nan
    pred = model.predict(Window(X=X, labels=test.labels, seq=test.seq))
    assert np.all(np.isfinite(pred))
    with pytest.raises(ValueError, match="lacks features"):
        model.predict(Window(X=X.drop(columns=["amihud_w"]), labels=test.labels, seq=test.seq))
