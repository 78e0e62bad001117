"""Split-conformal quantile and temperature scaling on data with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import softmax
from sv_model_windows import ece

from stockvision.models.calibration import apply_temperature, fit_temperature, nll
from stockvision.models.conformal import conformal_quantile, coverage_rate


def test_conformal_quantile_is_the_finite_sample_order_statistic() -> None:
    r = np.arange(1, 11, dtype=float)  # n=10, coverage 0.8 -> k = ceil(11*0.8) = 9
    assert conformal_quantile(r, 0.8) == 9.0
    assert conformal_quantile(-r, 0.8) == 9.0  # absolute residuals
    assert conformal_quantile(np.r_[r, np.nan], 0.8) == 9.0  # NaN ignored


def test_conformal_coverage_is_nominal_on_exchangeable_data() -> None:
    rng = np.random.default_rng(0)
    n_cal, cov = 200, 0.8
    hits = []
    for _ in range(400):
        res = rng.standard_t(df=4, size=n_cal + 500)  # heavy tails: no normality assumed
        q = conformal_quantile(res[:n_cal], cov)
        hits.append(coverage_rate(res[n_cal:], -q * np.ones(500), q * np.ones(500)))
    mean = float(np.mean(hits))
    # Theory: cov <= E[coverage] <= cov + 1/(n+1); Monte-Carlo error ~0.002 here.
    assert cov - 0.006 <= mean <= cov + 1 / (n_cal + 1) + 0.006


def test_conformal_quantile_errors_and_small_sample_warning() -> None:
    with pytest.raises(ValueError, match="no finite calibration residuals"):
        conformal_quantile(np.array([np.nan]), 0.8)
    with pytest.raises(ValueError, match="coverage"):
        conformal_quantile(np.ones(5), 1.2)
    with pytest.warns(UserWarning, match="only 3 calibration rows"):
        assert conformal_quantile(np.array([1.0, 2.0, 3.0]), 0.8) == 3.0


def _overconfident(n: int, seed: int, sharpen: float) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from softmax(true logits); the 'model' reports sharpened logits."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.0, size=(n, 3))
    p = softmax(logits, axis=1)
    y = (rng.random(n)[:, None] > np.cumsum(p, axis=1)).sum(axis=1)
    return logits * sharpen, y


def test_temperature_recovers_known_miscalibration_and_reduces_held_out_ece() -> None:
    val_logits, val_y = _overconfident(5000, 1, sharpen=3.0)
    test_logits, test_y = _overconfident(5000, 2, sharpen=3.0)
    t = fit_temperature(val_logits, val_y)
    assert math.isclose(t, 3.0, rel_tol=0.12)
    raw = apply_temperature(test_logits, 1.0)
    cal = apply_temperature(test_logits, t)
    assert ece(cal, test_y) < 0.5 * ece(raw, test_y)
    assert nll(test_logits, test_y, t) < nll(test_logits, test_y, 1.0)
    np.testing.assert_array_equal(raw.argmax(axis=1), cal.argmax(axis=1))  # ranking unchanged
    np.testing.assert_allclose(cal.sum(axis=1), 1.0)


def test_temperature_near_one_for_calibrated_logits() -> None:
    logits, y = _overconfident(8000, 3, sharpen=1.0)
    assert math.isclose(fit_temperature(logits, y), 1.0, rel_tol=0.1)


def test_fit_temperature_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="does not match"):
        fit_temperature(np.zeros((3, 3)), np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match="class codes"):
        fit_temperature(np.zeros((2, 3)), np.array([0, 3]))
