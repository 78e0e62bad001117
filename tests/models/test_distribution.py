"""The predictive distribution: closed-form CRPS, consistent derived quantities, volatility models."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats
from sv_model_windows import windows_from_arrays

from stockvision.features.dataset import Window
from stockvision.features.feature_docs import FEATURES
from stockvision.models.base import load_model
from stockvision.models.baselines import RandomWalkModel
from stockvision.models.distribution import (
    ReturnDistribution,
    crps_student_t,
    fit_tail_df,
    interval_score,
    scale_for_coverage,
)
from stockvision.models.volatility import HarVolModel, VolRandomWalkModel


@pytest.mark.parametrize("df", [2.5, 4.0, 10.0, math.inf])
def test_closed_form_crps_equals_the_integral_definition(df: float) -> None:
    loc, scale = 0.02, 0.08
    dist = stats.norm(loc, scale) if not math.isfinite(df) else stats.t(df, loc, scale)
    for y in (-0.3, 0.0, 0.05, 0.4):
        left = integrate.quad(lambda x: dist.cdf(x) ** 2, -np.inf, y, limit=200)[0]
        right = integrate.quad(lambda x: (1 - dist.cdf(x)) ** 2, y, np.inf, limit=200)[0]
        got = crps_student_t(np.array([y]), loc, scale, df)[0]
        assert got == pytest.approx(left + right, rel=1e-6)


def test_derived_quantities_cannot_contradict_each_other() -> None:
    loc = np.array([-0.05, 0.0, 0.004, 0.08])
    d = ReturnDistribution(loc, np.array([0.02, 0.1, 0.05, 0.03]), df=5.0)
    np.testing.assert_allclose(d.median(), loc)
    lo80, hi80 = d.interval(0.8)
    lo95, hi95 = d.interval(0.95)
    lo50, hi50 = d.interval(0.5)
    assert np.all((lo95 < lo80) & (lo80 < lo50) & (lo50 < loc) & (loc < hi50) & (hi80 < hi95))
    np.testing.assert_allclose(d.cdf(hi80) - d.cdf(lo80), 0.8)
    p = d.pattern_probabilities(0.01, -0.01)
    np.testing.assert_allclose(p.sum(axis=1), 1.0)
    # a location below the DOWN band makes DOWN most likely, above the UP band UP
    assert p[0].argmax() == 0 and p[3].argmax() == 2
    # zero location: P(UP) slightly above P(DOWN) because ln(1.01) < -ln(0.99)
    assert p[1, 2] > p[1, 0] and p[1, 2] == pytest.approx(p[1, 0], abs=0.01)
    with pytest.raises(ValueError, match="positive"):
        ReturnDistribution(np.zeros(2), np.array([0.1, 0.0]))


def test_scale_for_coverage_and_interval_score() -> None:
    s = scale_for_coverage(0.1, 0.8, math.inf)
    assert float(s) == pytest.approx(0.1 / stats.norm.ppf(0.9))
    y = np.array([0.0, 0.3, -0.3])
    score = interval_score(y, np.full(3, -0.1), np.full(3, 0.1), 0.8)
    np.testing.assert_allclose(score, [0.2, 0.2 + 10 * 0.2, 0.2 + 10 * 0.2])


def test_tail_df_is_heavy_for_t_residuals_and_light_for_normal_ones() -> None:
    rng = np.random.default_rng(0)
    t_res = rng.standard_t(3, size=20_000)
    n_res = rng.normal(size=20_000)
    q_t = np.quantile(np.abs(t_res), 0.8)
    q_n = np.quantile(np.abs(n_res), 0.8)
    assert fit_tail_df(t_res / q_t, 0.8) <= 5.0
    assert fit_tail_df(n_res / q_n, 0.8) >= 10.0


# --------------------------------------------------------------------------------------------
def _hetero_windows(seed: int = 0, n_symbols: int = 40, n_weeks: int = 140):
    """Symbols with daily vols from 1 % to 5 %, slowly varying; labels ~ t(5) scaled by the vol."""
    rng = np.random.default_rng(seed)
    weeks = pd.date_range("2015-01-02", periods=n_weeks, freq="W-FRI")
    base = np.linspace(0.01, 0.05, n_symbols)[:, None]
    wiggle = np.exp(
        0.3 * np.sin(np.arange(n_weeks)[None, :] / 9.0 + rng.uniform(0, 6, (n_symbols, 1)))
    )
    vol = base * wiggle
    fut = vol * math.sqrt(20) * rng.standard_t(5, size=vol.shape) / math.sqrt(5 / 3)
    fut[:, -4:] = np.nan
    n_f = len(FEATURES)
    feats = np.abs(rng.normal(0.02, 0.01, size=(n_symbols, n_weeks, n_f)))
    feats[:, :, FEATURES.index("vol_4w")] = vol
    feats[:, :, FEATURES.index("atr_4w_pct")] = vol * 1.2
    feats[:, :, FEATURES.index("illiq_rank")] = rng.uniform(size=(n_symbols, n_weeks))
    return windows_from_arrays(feats, fut, weeks, [(0, 80), (85, 100), (105, n_weeks - 4)])


@pytest.fixture(scope="module")
def hetero():
    return _hetero_windows()


def _mean_crps(model, test: Window) -> float:
    y = test.labels["future_log_return"].to_numpy()
    return float(model.predict_distribution(test).crps(y).mean())


def test_vol_random_walk_beats_the_constant_width_one_and_covers_every_vol_quintile(hetero):
    train, val, test = hetero
    rw = RandomWalkModel().fit(train, val)
    vrw = VolRandomWalkModel().fit(train, val)
    assert _mean_crps(vrw, test) < 0.97 * _mean_crps(rw, test)
    y = test.labels["future_log_return"].to_numpy()
    vol = test.X["vol_4w"].to_numpy()
    quint = pd.qcut(vol, 5, labels=False)
    for model, spread in ((vrw, 0.08), (rw, 0.2)):
        lo, hi = model.predict_distribution(test).interval(0.8)
        inside = (y >= lo) & (y <= hi)
        by_q = pd.Series(inside).groupby(quint).mean()
        if model is vrw:
            assert by_q.between(0.8 - spread, 0.8 + spread).all(), by_q
        else:  # the constant width over-covers the calm and under-covers the volatile
            assert by_q.iloc[0] > 0.9 and by_q.iloc[-1] < 0.75, by_q


def test_the_distribution_interval_is_the_conformal_interval(hetero):
    train, val, test = hetero
    for model in (VolRandomWalkModel().fit(train, val), RandomWalkModel().fit(train, val)):
        lo, hi = model.predict_interval(test)
        dlo, dhi = model.predict_distribution(test).interval(model.coverage)
        np.testing.assert_allclose(dlo, lo, atol=1e-9)
        np.testing.assert_allclose(dhi, hi, atol=1e-9)


def test_learned_scale_model_fits_the_volatility_and_round_trips(hetero, tmp_path):
    train, val, test = hetero
    har = HarVolModel().fit(train, val)
    basis = har.scale_basis(test)
    vol = test.X["vol_4w"].to_numpy()
    assert np.corrcoef(np.log(basis), np.log(vol))[0, 1] > 0.9
    rw = RandomWalkModel().fit(train, val)
    assert _mean_crps(har, test) < 0.97 * _mean_crps(rw, test)
    back = load_model(har.save(tmp_path / "har"))
    a, b = har.predict_distribution(test), back.predict_distribution(test)
    np.testing.assert_allclose(a.scale, b.scale)
    assert a.df == b.df
    vrw = VolRandomWalkModel().fit(train, val)
    back = load_model(vrw.save(tmp_path / "vrw"))
    np.testing.assert_allclose(
        back.predict_distribution(test).scale, vrw.predict_distribution(test).scale
    )


def test_ridge_har_shrinks_a_useless_location_and_keeps_the_learned_scale(hetero, tmp_path):
    from stockvision.models.location_scale import RidgeHarModel
    from stockvision.models.price import RidgePriceModel

    train, val, test = hetero  # the labels carry no signal in the features: only their scale
    model = RidgeHarModel().fit(train, val)
    assert 0.0 <= model.kappa_ < 0.5
    ridge = RidgePriceModel().fit(train, val)
    assert _mean_crps(model, test) < _mean_crps(ridge, test)
    assert np.std(model.predict(test)) < np.std(ridge.predict(test))
    back = load_model(model.save(tmp_path / "rh"))
    a, b = model.predict_distribution(test), back.predict_distribution(test)
    np.testing.assert_allclose(a.loc, b.loc)
    np.testing.assert_allclose(a.scale, b.scale)
    contrib = model.contributions(test)
    np.testing.assert_allclose(
        contrib.sum(axis=1), model.predict(test) - model.kappa_ * model.intercept_, atol=1e-9
    )
