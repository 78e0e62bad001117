"""PSI / KS drift on generated distributions with known shifts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stockvision.monitoring.drift import DriftReport, categorical_psi, feature_drift, psi


def test_psi_is_small_for_same_distribution_and_large_for_shift():
    rng = np.random.default_rng(0)
    ref = rng.normal(0, 1, 5000)
    assert psi(ref, rng.normal(0, 1, 5000)) < 0.02
    assert psi(ref, rng.normal(1.0, 1, 5000)) > 0.2


def test_psi_handles_nans_constant_and_empty():
    ref = np.array([1.0] * 100)
    assert psi(ref, np.array([1.0] * 50)) < 1e-6
    assert psi(ref, np.array([2.0] * 50)) > 1.0
    assert np.isnan(psi(np.array([1.0, np.nan]), np.array([1.0])))
    ref = np.r_[np.random.default_rng(1).normal(size=200), [np.nan] * 10]
    assert np.isfinite(psi(ref, ref))


def test_psi_hand_computed_two_bins():
    # reference split in halves by its median; current puts 80% in the lower half
    ref = np.r_[np.zeros(50), np.ones(50)]
    cur = np.r_[np.zeros(80), np.ones(20)]
    expected = (0.8 - 0.5) * np.log(0.8 / 0.5) + (0.2 - 0.5) * np.log(0.2 / 0.5)
    assert abs(psi(ref, cur, bins=2) - expected) < 1e-9


def test_feature_drift_flags_only_the_shifted_feature():
    rng = np.random.default_rng(2)
    ref = pd.DataFrame({"a": rng.normal(size=3000), "b": rng.normal(size=3000)})
    cur = pd.DataFrame({"a": rng.normal(size=1000), "b": rng.normal(2, 1, size=1000)})
    out = {d.feature: d for d in feature_drift(ref, cur, ["a", "b"])}
    assert not out["a"].drifted and out["b"].drifted
    assert out["b"].ks_pvalue < 1e-6
    report = DriftReport({}, {}, list(out.values()), drifted_features=["b"])
    assert report.to_dict()["drift_detected"] is True


def test_class_mix_psi():
    ref = pd.Series(["UP"] * 40 + ["DOWN"] * 40 + ["SIDEWAYS"] * 20)
    assert categorical_psi(ref, ref) < 1e-9
    assert categorical_psi(ref, pd.Series(["UP"] * 90 + ["DOWN"] * 10)) > 0.2


def _panel(shift: float = 0.0, weeks: int = 150, symbols: int = 20, seed: int = 3):
    """Autocorrelated features sharing a market factor; ``shift`` moves the last 13 weeks."""
    rng = np.random.default_rng(seed)
    market = np.zeros(weeks)
    for t in range(1, weeks):
        market[t] = 0.9 * market[t - 1] + rng.normal(0, 0.3)
    rows, index = [], []
    for s in range(symbols):
        own = np.zeros(weeks)
        for t in range(1, weeks):
            own[t] = 0.8 * own[t - 1] + rng.normal(0, 0.5)
        for t in range(weeks):
            bump = shift if t >= weeks - 13 else 0.0
            rows.append([market[t] + own[t] + bump, own[t], rng.normal()])
            index.append((f"S{s:02d}", pd.Timestamp("2020-01-03") + pd.Timedelta(weeks=t)))
    return pd.DataFrame(rows, columns=["a", "b", "c"], index=pd.MultiIndex.from_tuples(index))


def test_calibrated_drift_keeps_its_false_alarm_rate_and_catches_a_real_shift():
    from stockvision.monitoring.drift import calibrated_drift

    calm = calibrated_drift(_panel(), ["a", "b", "c"], alpha=0.1)
    assert calm is not None and calm.windows >= 20
    assert abs(calm.false_alarm_rate - 0.1) <= 0.05
    assert calm.fixed_rule_rate > calm.false_alarm_rate  # the plain PSI rule cries wolf
    shifted = calibrated_drift(_panel(shift=3.0), ["a", "b", "c"], alpha=0.1)
    assert shifted.alarm and "a" in shifted.drifted_features and "c" not in shifted.drifted_features
    assert calibrated_drift(_panel(weeks=80), ["a"], alpha=0.1) is None  # too short to calibrate
