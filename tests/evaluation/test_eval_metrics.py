"""Metrics against hand-computed values and scipy/sklearn cross-checks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from sklearn import metrics as skm

from stockvision.evaluation import metrics as m


# ------------------------------------------------------------------------------------------ price
def test_mae_and_rmse_pct_hand_computed():
    assert m.mae_pct([110, 80], [100, 100]) == pytest.approx(15.0)
    assert m.rmse_pct([110, 80], [100, 100]) == pytest.approx(math.sqrt((100 + 400) / 2))
    # error is relative to the ACTUAL price, not the target
    assert m.mae_pct([100], [80]) == pytest.approx(25.0)


def test_mae_ratio_vs_random_walk_hand_computed():
    actual, last = np.array([105.0, 95.0]), np.array([100.0, 100.0])
    ratio = m.mae_ratio_vs_random_walk([104.0, 96.0], actual, last)
    assert ratio == pytest.approx(0.2)  # (1/105 + 1/95) / (5/105 + 5/95)
    assert m.mae_ratio_vs_random_walk(last, actual, last) == pytest.approx(1.0)


def test_price_metrics_reject_bad_input():
    with pytest.raises(ValueError, match="same length"):
        m.mae_pct([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="positive"):
        m.mae_pct([1.0], [np.nan])
    with pytest.raises(ValueError, match="empty"):
        m.rmse_pct([], [])


def test_interval_coverage_and_width():
    low, high = np.array([0.0, 2.0, -1.0, 5.0]), np.array([1.0, 3.0, 1.0, 6.0])
    actual = np.array([1.0, 1.9, 0.0, 7.0])  # bounds inclusive: in, out, in, out
    assert m.interval_coverage(low, high, actual) == 0.5
    width = m.mean_interval_width_pct([90, 95], [110, 100], [100, 100])
    assert width == pytest.approx((20 + 5) / 2)
    with pytest.raises(ValueError, match="high < low"):
        m.interval_coverage([1.0], [0.0], [0.5])


def test_dm_with_h1_equals_paired_t_test():
    rng = np.random.default_rng(0)
    e1, e2 = rng.normal(size=60), rng.normal(scale=1.3, size=60)
    res = m.diebold_mariano(e1, e2, h=1, loss="sq")
    ref = stats.ttest_1samp(e1**2 - e2**2, 0.0)
    assert res.statistic == pytest.approx(ref.statistic, rel=1e-10)
    assert res.pvalue == pytest.approx(ref.pvalue, rel=1e-10)


def test_dm_h4_hand_computed():
    d = np.array([0.5, -0.2, 0.3, 0.9, -0.4, 0.1, 0.6, 0.2, -0.1, 0.4, 0.7, 0.0])
    e2 = np.ones_like(d)
    e1 = d + 1.0  # |e1| - |e2| = d (all e1 positive)
    res = m.diebold_mariano(e1, e2, h=4, loss="abs")
    t, h = len(d), 4
    dc = d - d.mean()
    gammas = [sum(dc[i] * dc[i - k] for i in range(k, t)) / t for k in range(h)]
    lrv = gammas[0] + 2 * sum(gammas[1:])
    assert lrv > 0
    dm = d.mean() / math.sqrt(lrv / t)
    dm *= math.sqrt((t + 1 - 2 * h + h * (h - 1) / t) / t)
    assert res.statistic == pytest.approx(dm, rel=1e-12)
    assert res.pvalue == pytest.approx(2 * stats.t.sf(abs(dm), t - 1), rel=1e-12)
    assert res.n == t and res.mean_diff == pytest.approx(d.mean())


def test_dm_detects_clearly_better_forecast_and_handles_ties():
    rng = np.random.default_rng(1)
    truth = rng.normal(size=200)
    good, bad = truth * 0.1, truth * 2.0
    res = m.diebold_mariano(good, bad, h=4)
    assert res.statistic < 0 and res.pvalue < 1e-3
    same = m.diebold_mariano(good, good, h=4)
    assert math.isnan(same.pvalue)
    with pytest.raises(ValueError, match="at least"):
        m.diebold_mariano(good[:5], bad[:5], h=4)
    with pytest.raises(ValueError, match="loss"):
        m.diebold_mariano(good, bad, loss="huber")


# ---------------------------------------------------------------------------------------- pattern
@pytest.fixture
def clf_data():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 3, size=300)
    logits = rng.normal(size=(300, 3)) + 1.5 * np.eye(3)[y]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    return probs, y


def test_classification_metrics_match_sklearn(clf_data):
    probs, y = clf_data
    pred = probs.argmax(axis=1)
    assert m.accuracy(y, pred) == pytest.approx(skm.accuracy_score(y, pred))
    assert m.balanced_accuracy(y, pred) == pytest.approx(skm.balanced_accuracy_score(y, pred))
    assert m.macro_f1(y, pred) == pytest.approx(skm.f1_score(y, pred, average="macro"))
    assert m.log_loss(probs, y) == pytest.approx(skm.log_loss(y, probs, labels=[0, 1, 2]))
    np.testing.assert_array_equal(m.confusion_matrix(y, pred), skm.confusion_matrix(y, pred))


def test_balanced_accuracy_and_f1_with_a_missing_class():
    y, pred = np.array([0, 0, 2, 2]), np.array([0, 2, 2, 2])
    assert m.balanced_accuracy(y, pred) == pytest.approx((0.5 + 1.0) / 2)
    assert m.macro_f1(y, pred) == pytest.approx(skm.f1_score(y, pred, average="macro"))


def test_brier_and_skill_hand_computed():
    probs = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    y = np.array([0, 1])
    assert m.brier_score(probs, y) == pytest.approx(0.25)
    ref = np.array([1 / 3, 1 / 3, 1 / 3])  # Brier of uniform = (4/9 + 1/9 + 1/9) = 2/3
    assert m.brier_skill(probs, y, ref) == pytest.approx(1 - 0.25 / (2 / 3))


def test_log_loss_skill_hand_computed():
    probs = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1]])
    y = np.array([0, 1])
    skill = m.log_loss_skill(probs, y, np.full(3, 1 / 3))
    assert skill == pytest.approx(1 - (-math.log(0.8)) / math.log(3))
    per_row_ref = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1]])
    assert m.log_loss_skill(probs, y, per_row_ref) == pytest.approx(0.0)


def test_class_prior_uses_pseudo_count():
    np.testing.assert_allclose(m.class_prior([0, 0, 2]), [3 / 6, 1 / 6, 2 / 6])
    np.testing.assert_allclose(m.class_prior([0, 0, 2], pseudo_count=0), [2 / 3, 0, 1 / 3])


def test_ece_hand_computed():
    probs = np.array([[0.85, 0.1, 0.05], [0.85, 0.05, 0.1], [0.25, 0.2, 0.55], [0.2, 0.25, 0.55]])
    y = np.array([0, 1, 2, 2])  # the 0.85 bin is half right, the 0.55 bin all right
    expected = 0.5 * abs(0.5 - 0.85) + 0.5 * abs(1.0 - 0.55)
    assert m.ece(probs, y, n_bins=10) == pytest.approx(expected)
    diag = m.reliability_diagram(probs, y, n_bins=10)
    assert diag["count"].sum() == 4
    row = diag.loc[diag["count"] == 2].iloc[0]
    assert row["bin_lower"] == pytest.approx(0.5) and row["accuracy"] == 1.0


def test_ece_matches_reliability_diagram_and_perfect_calibration(clf_data):
    probs, y = clf_data
    diag = m.reliability_diagram(probs, y).dropna()
    manual = (diag["count"] / len(y) * (diag["accuracy"] - diag["mean_confidence"]).abs()).sum()
    assert m.ece(probs, y) == pytest.approx(manual)
    # labels drawn from the probabilities themselves are calibrated: ECE close to 0
    rng = np.random.default_rng(5)
    conf = rng.uniform(0.34, 1.0, size=40_000)
    p = np.column_stack([conf, (1 - conf) / 2, (1 - conf) / 2])
    y_cal = np.where(rng.uniform(size=conf.size) < conf, 0, 1)
    assert m.ece(p, y_cal) < 0.02
    assert m.ece(p, np.ones_like(y_cal)) > 0.6


def test_probability_metrics_reject_bad_input():
    with pytest.raises(ValueError, match="class codes"):
        m.log_loss(np.full((2, 3), 1 / 3), [0, 3])
    with pytest.raises(ValueError, match="integer"):
        m.brier_score(np.full((2, 3), 1 / 3), [0.0, np.nan])
    with pytest.raises(ValueError, match="2-D"):
        m.ece(np.array([0.2, 0.8]), [1, 0])


# ---------------------------------------------------------------------------------------- ranking
def _ic_frame() -> pd.DataFrame:
    w1, w2 = pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-12")
    return pd.DataFrame(
        {
            "week_end": [w1] * 4 + [w2] * 4 + [pd.Timestamp("2024-01-19")] * 2,
            "score": [1, 2, 3, 4, 0.3, 0.1, 0.4, 0.2, 1, 2],
            "ret": [0.1, 0.2, 0.3, 0.5, 0.05, -0.02, 0.01, 0.03, 0.1, 0.2],
        }
    )


def test_ic_by_period_matches_scipy():
    df = _ic_frame()
    out = m.ic_by_period(df, "score", "ret")
    assert list(out.index) == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-12")]
    for week, row in out.iterrows():
        g = df[df["week_end"] == week]
        assert row["ic"] == pytest.approx(stats.pearsonr(g["score"], g["ret"])[0])
        assert row["rank_ic"] == pytest.approx(stats.spearmanr(g["score"], g["ret"])[0])
        assert row["n"] == 4
    assert out.loc["2024-01-05", "rank_ic"] == pytest.approx(1.0)


def test_ic_drops_constant_periods_and_nan_rows():
    df = _ic_frame()
    df.loc[4:7, "score"] = 1.0  # constant score: IC undefined
    df.loc[0, "ret"] = np.nan
    out = m.ic_by_period(df, "score", "ret")
    assert list(out.index) == [pd.Timestamp("2024-01-05")]
    assert out.iloc[0]["n"] == 3


def test_ranking_summary_values_and_determinism():
    rng = np.random.default_rng(2)
    frame = pd.DataFrame({"ic": rng.normal(0.05, 0.1, 80), "rank_ic": rng.normal(0.04, 0.1, 80)})
    s1 = m.ranking_summary(frame, seed=7)
    s2 = m.ranking_summary(frame, seed=7)
    assert s1 == s2
    assert s1["ic_mean"] == pytest.approx(frame["ic"].mean())
    assert s1["icir"] == pytest.approx(frame["ic"].mean() / frame["ic"].std(ddof=1))
    lo, hi = s1["rank_ic_ci95"]
    assert lo < frame["rank_ic"].mean() < hi
    # the interval is roughly mean +- 2 standard errors for weakly dependent data
    se = frame["rank_ic"].std(ddof=1) / math.sqrt(80)
    assert 2 * se < hi - lo < 8 * se
    assert m.ranking_summary(frame, seed=8) != s1
