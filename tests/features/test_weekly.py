"""Weekly features: contract, hand-checked values, reference RSI/MACD, invariances, no look-ahead."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_frames import adjust_with_factors, make_adjusted, make_raw
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockvision.features import (
    FEATURE_DOCS,
    FEATURES,
    FeatureInputError,
    compute_features,
    weekly_bars,
)

try:  # the real adjust of the market layer when present; the test's own factors otherwise
    from stockvision.market.corporate_actions import adjust as market_adjust
except ImportError:  # pragma: no cover - depends on the market layer being installed
    market_adjust = None


def _adjust(raw: pd.DataFrame, events: list[tuple[str, pd.Timestamp, float]]) -> pd.DataFrame:
    if market_adjust is None:
        return adjust_with_factors(raw, events)
    ev = pd.DataFrame(events, columns=["symbol", "date", "ratio"])
    return market_adjust(raw, events=ev)


def test_feature_names_and_docs():
    assert len(FEATURES) == 21 and len(set(FEATURES)) == 21
    assert FEATURES[:5] == ["ret_1w", "ret_4w", "ret_12w", "ret_26w", "ret_52w"]
    assert FEATURES[-3:] == ["rsi_14w", "rsi_speed", "macd_hist_w"]
    assert list(FEATURE_DOCS) == FEATURES
    for name, doc in FEATURE_DOCS.items():
        for key in ("formula", "window", "unit", "basis", "description_en", "description_vi"):
            assert doc[key].strip(), f"{name}.{key} is empty"


def test_output_contract(small_adjusted):
    f = compute_features(small_adjusted)
    assert list(f.columns) == FEATURES
    assert list(f.index.names) == ["symbol", "week_end"]
    assert f.index.is_unique and f.index.is_monotonic_increasing
    assert all(f.dtypes == np.float64)
    assert not np.isinf(f.to_numpy()).any()
    # week_end is the market's last trading day of the ISO week (Fridays on business days)
    assert set(f.index.get_level_values("week_end").dayofweek) == {4}
    # the suspended symbol has no bar in its fully suspended week
    weeks = f.index.get_level_values("week_end")
    assert weeks[f.index.get_level_values("symbol") == "S02"].nunique() < weeks.nunique()


def _tiny() -> pd.DataFrame:
    closes = [100.0] * 5 + [110.0, 99.0, 99.0, 108.9, 108.9]
    days = pd.bdate_range("2024-01-01", periods=10)  # Mon 1 Jan .. Fri 12 Jan
    raw = pd.DataFrame(
        {
            "symbol": "AAA",
            "date": days,
            "open": closes,
            "high": [c * 1.01 for c in closes],
            "low": [c * 0.99 for c in closes],
            "close": closes,
            "volume": 1000.0,
        }
    )
    return adjust_with_factors(raw)


def test_hand_checked_values():
    f = compute_features(_tiny()).loc["AAA"]
    assert list(f.index) == [pd.Timestamp("2024-01-05"), pd.Timestamp("2024-01-12")]
    wk2 = f.loc["2024-01-12"]
    assert wk2["ret_1w"] == pytest.approx(0.089)
    assert wk2["max_1w"] == pytest.approx(0.1)
    value = np.array([110.0, 99.0, 99.0, 108.9, 108.9]) * 1000
    assert wk2["turnover_w"] == pytest.approx(np.log(value.mean()))
    rets = np.array([0.1, 0.1, 0.0, 0.1, 0.0])
    assert wk2["amihud_w"] == pytest.approx(np.mean(rets / value) * 1e9)
    assert wk2["illiq_rank"] == 1.0  # alone in its week
    # week 1: the 5-day windows include the first day, which has no return -> NaN, not filled
    assert np.isnan(f.loc["2024-01-05", "max_1w"]) and np.isnan(f.loc["2024-01-05", "ret_1w"])
    assert f[["ret_4w", "vol_4w", "rsi_14w", "macd_hist_w"]].isna().all().all()


def test_daily_and_weekly_windows_match_numpy(small_adjusted):
    """Every non-recursive feature of the last week of S00 recomputed with plain numpy."""
    d = small_adjusted[small_adjusted["symbol"] == "S00"].reset_index(drop=True)
    f = compute_features(small_adjusted).loc["S00"].iloc[-1]
    c, h, lo = d["adj_close"].to_numpy(), d["adj_high"].to_numpy(), d["adj_low"].to_numpy()
    v, value = d["adj_volume"].to_numpy(), (d["close"] * d["volume"]).to_numpy()
    r = c[1:] / c[:-1] - 1
    assert f["vol_4w"] == pytest.approx(np.std(np.log(c[-20:] / c[-21:-1]), ddof=1), rel=1e-9)
    assert f["max_4w"] == pytest.approx(np.abs(r[-20:]).max())
    tr = np.maximum(h[-20:], c[-21:-1]) - np.minimum(lo[-20:], c[-21:-1])
    assert f["atr_4w_pct"] == pytest.approx(tr.mean() / c[-1], rel=1e-9)
    assert f["obv_mom_4w"] == pytest.approx((np.sign(r[-20:]) * v[-20:]).sum() / v[-20:].sum())
    ok = value[-5:] > 0
    assert f["amihud_w"] == pytest.approx(np.mean((np.abs(r[-5:]) / value[-5:])[ok]) * 1e9)

    bars = weekly_bars(small_adjusted).loc["S00"]
    wc, wh = bars["close"].to_numpy(), bars["high"].to_numpy()
    assert f["ret_12w"] == pytest.approx(wc[-1] / wc[-13] - 1, rel=1e-12)
    assert f["ret_52w"] == pytest.approx(wc[-1] / wc[-53] - 1, rel=1e-12)
    assert f["ma_cross_10_40_w"] == pytest.approx(wc[-10:].mean() / wc[-40:].mean() - 1)
    assert f["price_vs_ma20_w"] == pytest.approx(wc[-1] / wc[-20:].mean() - 1)
    assert f["breakout_20w"] == pytest.approx(wc[-1] / wh[-21:-1].max())
    assert f["bb_width_w"] == pytest.approx(4 * wc[-20:].std() / wc[-20:].mean())
    lv = np.log(bars["volume"].to_numpy() / bars["days"].to_numpy())
    z = (lv[-1] - lv[-13:-1].mean()) / lv[-13:-1].std(ddof=1)
    assert f["vol_zscore_12w"] == pytest.approx(z, rel=1e-9)


def test_illiq_rank_is_cross_sectional(small_adjusted):
    f = compute_features(small_adjusted)
    expected = f.groupby(level="week_end")["amihud_w"].rank(pct=True)
    np.testing.assert_allclose(f["illiq_rank"], expected)
    # never a rank over time: each week's ranks are within (0, 1] among that week's symbols
    assert f["illiq_rank"].max() <= 1.0


def test_zero_volume_gives_nan_not_inf():
    d = make_adjusted(n_symbols=1, n_days=60, seed=3)
    d.loc[d.index[-5:], "volume"] = 0.0
    d["adj_volume"] = d["volume"] / d["factor"]
    last = compute_features(d).iloc[-1]
    assert np.isnan(last["turnover_w"]) and np.isnan(last["amihud_w"])
    assert np.isnan(last["illiq_rank"])


def test_rsi_macd_match_talib():
    talib = pytest.importorskip("talib")
    d = make_adjusted(n_symbols=1, n_days=2000, seed=5)
    f = compute_features(d).loc["S00"]
    close = weekly_bars(d).loc["S00", "close"].to_numpy()
    rsi = talib.RSI(close, timeperiod=14)
    assert np.isnan(f["rsi_14w"].to_numpy()[:14]).all()
    np.testing.assert_allclose(f["rsi_14w"].to_numpy()[14:], rsi[14:], rtol=0, atol=1e-6)
    _, _, hist = talib.MACD(close, fastperiod=12, slowperiod=26, signalperiod=9)
    warm = 150  # seeds differ (TA-Lib seeds the fast EMA later); the gap decays as 0.85^n
    np.testing.assert_allclose(
        f["macd_hist_w"].to_numpy()[warm:], hist[warm:] / close[warm:], rtol=1e-6, atol=1e-9
    )
    speed = f["rsi_14w"].to_numpy()[18:] - f["rsi_14w"].to_numpy()[14:-4]
    np.testing.assert_allclose(f["rsi_speed"].to_numpy()[18:], speed)


def test_invariant_to_rescaling_the_past(small_adjusted):
    """Back-adjustment multiplies a symbol's history by a constant: no feature may change."""
    base = compute_features(small_adjusted)
    scaled = small_adjusted.copy()
    m = scaled["symbol"] == "S01"
    for col in ("adj_open", "adj_high", "adj_low", "adj_close"):
        scaled.loc[m, col] *= 3.7
    scaled.loc[m, "adj_volume"] /= 3.7
    np.testing.assert_allclose(compute_features(scaled), base, rtol=1e-9, atol=1e-12)


def test_symbols_do_not_leak_into_each_other(small_adjusted):
    both = compute_features(small_adjusted).drop(columns="illiq_rank")
    alone = compute_features(small_adjusted[small_adjusted["symbol"] == "S00"])
    pd.testing.assert_frame_equal(both.loc[["S00"]], alone.drop(columns="illiq_rank"), rtol=1e-9)


def test_since_equals_full_recompute(small_adjusted):
    full = compute_features(small_adjusted)
    since = full.index.get_level_values("week_end").unique()[-7]
    part = compute_features(small_adjusted, since=since)
    assert part.index.get_level_values("week_end").min() == since
    pd.testing.assert_frame_equal(part, full.loc[part.index], rtol=1e-9, atol=1e-12)


def test_unsorted_input_is_sorted_and_bad_input_is_rejected(small_adjusted):
    shuffled = small_adjusted.sample(frac=1.0, random_state=0)
    pd.testing.assert_frame_equal(compute_features(shuffled), compute_features(small_adjusted))
    with pytest.raises(FeatureInputError, match="adj_close"):
        compute_features(small_adjusted.drop(columns=["adj_close"]))
    with pytest.raises(FeatureInputError, match="duplicate"):
        compute_features(pd.concat([small_adjusted, small_adjusted.iloc[[5]]]))
    bad = small_adjusted.assign(date=small_adjusted["date"].astype(str))
    with pytest.raises(FeatureInputError, match="datetime64"):
        compute_features(bad)


_RAW = make_raw(n_symbols=3, n_days=320, seed=11)
_WEEK_ENDS = compute_features(adjust_with_factors(_RAW)).index.get_level_values("week_end").unique()


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cut=st.integers(min_value=5, max_value=len(_WEEK_ENDS) - 3),
    symbol=st.sampled_from(["S00", "S01", "S02"]),
    dividend=st.booleans(),
    payout=st.sampled_from([0.1, 0.25, 0.5, 1.0]),
    lag_days=st.integers(min_value=1, max_value=40),
)
def test_no_look_ahead(cut, symbol, dividend, payout, lag_days):
    """Features up to week t from data ending at t equal those from the full (later) history,
    including when a stock dividend after t makes the adjustment rescale the whole past."""
    t = _WEEK_ENDS[cut]
    days = pd.DatetimeIndex(_RAW["date"].unique()).sort_values()
    raw = _RAW
    events: list[tuple[str, pd.Timestamp, float]] = []
    ex_pos = int(days.searchsorted(t, side="right")) + lag_days - 1
    if dividend and ex_pos < len(days):
        ex = days[ex_pos]
        raw = _RAW.copy()
        after = (raw["symbol"] == symbol) & (raw["date"] >= ex)
        for col in ("open", "high", "low", "close"):
            raw.loc[after, col] /= 1 + payout
        raw.loc[after, "volume"] *= 1 + payout
        events = [(symbol, ex, 1 / (1 + payout))]
    full = compute_features(_adjust(raw, events))
    past = compute_features(_adjust(raw[raw["date"] <= t], []))
    expected = full[full.index.get_level_values("week_end") <= t]
    assert past.index.equals(expected.index)
    np.testing.assert_allclose(past.to_numpy(), expected.to_numpy(), rtol=1e-9, atol=1e-12)
