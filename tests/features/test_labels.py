"""Monthly labels: horizon in market weeks, NaN tail, thresholds, price target across a dividend."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_frames import adjust_with_factors, make_adjusted

from stockvision.features import (
    LABEL_COLUMNS,
    PATTERN_CLASSES,
    compute_features,
    compute_labels,
    pattern_to_codes,
    weekly_bars,
)


def test_columns_and_last_weeks_nan(small_adjusted):
    lab = compute_labels(small_adjusted)
    assert list(lab.columns) == LABEL_COLUMNS
    assert lab.index.equals(compute_features(small_adjusted).index)
    for sym, g in lab.groupby(level="symbol"):
        assert g["future_return"].iloc[-4:].isna().all()
        assert g["pattern"].iloc[-4:].isna().all()
        if sym != "S02":  # S02 has a suspended week, whose 4-weeks-earlier row has no target
            assert g["future_return"].iloc[:-4].notna().all()
    known = lab.dropna(subset=["future_return"])
    np.testing.assert_allclose(known["future_log_return"], np.log1p(known["future_return"]))
    np.testing.assert_allclose(
        known["price_target_true"], known["raw_close"] * (1 + known["future_return"])
    )


def test_future_return_uses_adjusted_close_four_weeks_later(small_adjusted):
    lab = compute_labels(small_adjusted).loc["S00"]
    close = weekly_bars(small_adjusted).loc["S00", "close"].to_numpy()
    np.testing.assert_allclose(lab["future_return"].to_numpy()[:-4], close[4:] / close[:-4] - 1)


def test_thresholds_default_and_custom(small_adjusted):
    lab = compute_labels(small_adjusted, up=0.02, down=-0.03).dropna(subset=["future_return"])
    fr, pat = lab["future_return"], lab["pattern"]
    assert (pat[fr > 0.02] == "UP").all()
    assert (pat[fr < -0.03] == "DOWN").all()
    assert (pat[(fr >= -0.03) & (fr <= 0.02)] == "SIDEWAYS").all()
    assert set(pat.unique()) == set(PATTERN_CLASSES)
    with pytest.raises(ValueError, match="down <= up"):
        compute_labels(small_adjusted, up=-0.02, down=0.02)


def test_vol_scaled_thresholds(small_adjusted):
    lab = compute_labels(small_adjusted, vol_scaled=True, vol_k=0.5)
    vol = compute_features(small_adjusted)["vol_4w"]
    width = 0.5 * vol * np.sqrt(20)
    ok = lab["future_return"].notna() & width.notna()
    fr, w, pat = lab["future_return"][ok], width[ok], lab["pattern"][ok]
    assert (pat[fr > w] == "UP").all() and (pat[fr < -w] == "DOWN").all()
    assert (pat[(fr >= -w) & (fr <= w)] == "SIDEWAYS").all()
    assert lab["pattern"][width.isna()].isna().all()  # no volatility -> no pattern


def test_price_target_across_a_stock_dividend():
    """A 30% stock dividend inside the month: raw price falls ~23%, the holder lost nothing."""
    days = pd.bdate_range("2024-01-01", periods=60)
    ex = days[27]  # inside the 4 weeks after the week ending days[19]
    raw_close = np.where(days >= ex, 10_000 / 1.3, 10_000.0)
    raw = pd.DataFrame(
        {"symbol": "DIV", "date": days, "open": raw_close, "high": raw_close,
         "low": raw_close, "close": raw_close, "volume": 1e5}
    )  # fmt: skip
    adj = adjust_with_factors(raw, [("DIV", ex, 1 / 1.3)])
    lab = compute_labels(adj).loc["DIV"]
    row = lab.loc[days[19]]
    assert row["raw_close"] == 10_000.0
    assert row["future_return"] == pytest.approx(0.0, abs=1e-12)
    assert row["price_target_true"] == pytest.approx(10_000.0)
    assert row["pattern"] == "SIDEWAYS"
    # unadjusted data would have called it a crash
    naive = compute_labels(adjust_with_factors(raw)).loc["DIV"].loc[days[19]]
    assert naive["pattern"] == "DOWN"


def test_suspended_week_does_not_shift_the_horizon():
    """S01 is suspended for a whole week: its horizon still spans 4 market weeks."""
    d = make_adjusted(n_symbols=2, n_days=80, seed=2, gaps=[(1, 25, 5)])  # 6th week (Mon-Fri)
    lab = compute_labels(d).loc["S01"]
    bars = weekly_bars(d)
    market_weeks = bars.index.get_level_values("week_end").unique().sort_values()
    s01 = bars.loc["S01", "close"]
    missing = market_weeks.difference(s01.index)
    assert len(missing) == 1
    gap = market_weeks.get_loc(missing[0])
    before = market_weeks[gap - 4]  # its target week is the suspended one -> NaN
    assert np.isnan(lab.loc[before, "future_return"])
    start = market_weeks[gap - 5]
    expected = s01[market_weeks[gap - 1]] / s01[start] - 1
    assert lab.loc[start, "future_return"] == pytest.approx(expected)


def test_weekly_input_matches_daily_input(small_adjusted):
    bars = weekly_bars(small_adjusted)
    pd.testing.assert_frame_equal(compute_labels(bars), compute_labels(small_adjusted))


def test_pattern_codes():
    codes = pattern_to_codes(pd.Series(["DOWN", "UP", None, "SIDEWAYS"]))
    assert codes.tolist() == [0, 2, -1, 1]
    with pytest.raises(ValueError, match="unknown pattern"):
        pattern_to_codes(pd.Series(["up"]))
