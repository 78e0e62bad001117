"""Corporate-action detection and back-adjustment: generated data and the real VN30 file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stockvision.market.corporate_actions import (
    EVENT_COLUMNS,
    KIND_STOCK_DIVIDEND,
    KIND_UNEXPLAINED_DROP,
    KIND_UNEXPLAINED_RISE,
    adjust,
    compute_factors,
    detect_corporate_actions,
)
from stockvision.market.exchanges import Exchange


def make_daily(closes: dict[str, list[float]], start: str = "2020-01-06") -> pd.DataFrame:
    """Daily frame on business days from ``start``; open/high/low derived from close."""
    frames = []
    for sym, values in closes.items():
        close = np.asarray(values, dtype=float)
        dates = pd.bdate_range(start, periods=len(close))
        frames.append(
            pd.DataFrame(
                {
                    "symbol": sym,
                    "date": dates,
                    "open": close,
                    "high": close * 1.01,
                    "low": close * 0.99,
                    "close": close,
                    "volume": np.arange(1, len(close) + 1) * 1000.0,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


# --- detection ----------------------------------------------------------------------------------
def test_stock_dividend_gets_clean_ratio() -> None:
    # 25% stock dividend: 40,000 -> 32,000 (x 1/1.25) on day 3, plus a +0.3% market move
    daily = make_daily({"AAA": [40_000, 40_500, 40_000, 32_100, 32_500]})
    ev = detect_corporate_actions(daily, Exchange.HOSE)
    assert list(ev.columns) == EVENT_COLUMNS
    assert len(ev) == 1
    row = ev.iloc[0]
    assert row["symbol"] == "AAA" and row["date"] == pd.Timestamp("2020-01-09")
    assert row["prev_close"] == 40_000 and row["close"] == 32_100
    assert row["pct_change"] == pytest.approx(32_100 / 40_000 - 1)
    assert row["ratio"] == pytest.approx(0.8)
    assert row["kind"] == KIND_STOCK_DIVIDEND


def test_unusual_drop_and_rise_use_raw_ratio() -> None:
    daily = make_daily({"AAA": [30_000, 30_000, 19_500], "BBB": [10_000, 10_000, 15_000]})
    ev = detect_corporate_actions(daily, "HOSE").set_index("symbol")
    assert ev.loc["AAA", "ratio"] == pytest.approx(0.65)  # -35%: not 1/(1+k) within 1%
    assert ev.loc["AAA", "kind"] == KIND_UNEXPLAINED_DROP
    assert ev.loc["BBB", "ratio"] == pytest.approx(1.5)
    assert ev.loc["BBB", "kind"] == KIND_UNEXPLAINED_RISE


def test_limit_moves_and_band_per_exchange() -> None:
    # exact limit moves are market moves; -9% is beyond HOSE's band but inside HNX's
    daily = make_daily({"AAA": [100_000, 107_000, 99_600], "BBB": [20_000, 18_200]})
    assert detect_corporate_actions(daily, "HOSE")["symbol"].tolist() == ["BBB"]
    assert detect_corporate_actions(daily, {"AAA": "HOSE", "BBB": "HNX"}).empty
    # an 'exchange' column is used when no exchange_of is given
    with_col = daily.assign(exchange=np.where(daily["symbol"] == "AAA", "HOSE", "UPCoM"))
    assert detect_corporate_actions(with_col).empty


def test_upcom_reference_is_the_previous_range() -> None:
    # UPCoM's reference is the previous session's average price, anywhere in [low, high]:
    # close 10,000 with a high of 11,500 allows a close of 13,000 (+30% close to close)
    daily = pd.DataFrame(
        {
            "symbol": "UUU",
            "date": pd.bdate_range("2020-01-06", periods=2),
            "open": [9_500.0, 12_000.0],
            "high": [11_500.0, 13_000.0],
            "low": [9_400.0, 12_000.0],
            "close": [10_000.0, 13_000.0],
            "volume": [1e5, 1e5],
        }
    )
    assert detect_corporate_actions(daily, "UPCOM").empty
    assert len(detect_corporate_actions(daily, "HOSE")) == 1


def test_first_day_and_relisting_exemption() -> None:
    # BBB trades every day and defines the market calendar; AAA is absent for 30 sessions and
    # comes back 15% lower: a re-listing first day (HOSE first-day band +/-20%), not an event.
    market = make_daily({"BBB": [10_000.0] * 40})
    aaa = make_daily({"AAA": [50_000.0, 50_000.0]})
    back = make_daily({"AAA": [42_500.0, 42_600.0]}, start=str(market["date"].iloc[32].date()))
    daily = pd.concat([market, aaa, back], ignore_index=True)
    assert detect_corporate_actions(daily, "HOSE").empty
    # the same drop after a short gap is a corporate action
    short = make_daily({"AAA": [42_500.0, 42_600.0]}, start=str(market["date"].iloc[5].date()))
    ev = detect_corporate_actions(pd.concat([market, aaa, short], ignore_index=True), "HOSE")
    assert ev["symbol"].tolist() == ["AAA"]
    # and with the re-listing rule off, the long-gap drop is flagged too
    assert len(detect_corporate_actions(daily, "HOSE", relisting_gap=None)) == 1
    # beyond even the first-day band it is still flagged
    far = make_daily({"AAA": [30_000.0, 30_000.0]}, start=str(market["date"].iloc[32].date()))
    assert len(detect_corporate_actions(pd.concat([market, aaa, far]), "HOSE")) == 1


def test_symbol_first_row_is_never_an_event() -> None:
    daily = make_daily({"AAA": [10_000, 10_100], "BBB": [90_000, 90_500]})
    assert detect_corporate_actions(daily, "HOSE").empty


def test_bad_input_is_a_clear_error() -> None:
    daily = make_daily({"ZZZ": [10_000, 5_000]})
    with pytest.raises(ValueError, match=r"exchange of \['ZZZ'\].*exchange_of="):
        detect_corporate_actions(daily)
    with pytest.raises(ValueError, match="lacks columns \\['volume'\\]"):
        detect_corporate_actions(daily.drop(columns="volume"), "HOSE")
    with pytest.raises(ValueError, match="duplicate"):
        detect_corporate_actions(pd.concat([daily, daily]), "HOSE")
    with pytest.raises(ValueError, match="datetime64"):
        detect_corporate_actions(daily.assign(date=daily["date"].astype(str)), "HOSE")


# --- factors and adjustment ---------------------------------------------------------------------
def test_factor_maths_multiple_events() -> None:
    daily = make_daily({"AAA": [1.0] * 6, "BBB": [1.0] * 3})
    dates = daily["date"]
    events = pd.DataFrame(
        {
            "symbol": ["AAA", "AAA", "BBB"],
            "date": [dates[2], dates[4], dates[8]],
            "ratio": [0.5, 0.8, 0.9],
        }
    )
    factor = compute_factors(daily, events)
    np.testing.assert_allclose(factor, [0.4, 0.4, 0.8, 0.8, 1.0, 1.0, 0.9, 0.9, 1.0])
    assert factor.name == "factor"
    # events on non-trading days apply to the days before them; same-day events multiply
    weekend = pd.DataFrame(
        {"symbol": ["AAA", "AAA"], "date": [pd.Timestamp("2020-01-11")] * 2, "ratio": [0.5, 0.5]}
    )
    np.testing.assert_allclose(compute_factors(daily, weekend)[:6], [0.25] * 5 + [1.0])


def test_no_events_gives_factor_one_and_copies_prices() -> None:
    daily = make_daily({"AAA": [10_000, 10_200, 10_100], "BBB": [50_000, 49_000, 50_500]})
    out = adjust(daily, exchange_of="HOSE")
    assert (out["factor"] == 1.0).all()
    for col in ("open", "high", "low", "close"):
        np.testing.assert_array_equal(out[f"adj_{col}"], daily[col])
    np.testing.assert_array_equal(out["adj_volume"], daily["volume"])


def test_adjust_detected_events_raw_untouched_value_preserved() -> None:
    closes = [40_000, 40_500, 40_000, 32_100, 32_500, 33_000]
    daily = make_daily({"AAA": closes, "BBB": [20_000, 20_100, 20_300, 20_200, 20_000, 20_100]})
    before = daily.copy()
    out = adjust(daily, exchange_of="HOSE")
    pd.testing.assert_frame_equal(daily, before)  # input not modified
    pd.testing.assert_frame_equal(out[before.columns], before)  # raw columns unchanged
    aaa = out[out["symbol"] == "AAA"]
    np.testing.assert_allclose(aaa["factor"], [0.8, 0.8, 0.8, 1, 1, 1])
    np.testing.assert_allclose(aaa["adj_close"], np.asarray(closes) * aaa["factor"])
    np.testing.assert_allclose(aaa["adj_high"], aaa["high"] * aaa["factor"])
    # traded value is unchanged by the adjustment
    np.testing.assert_allclose(out["adj_close"] * out["adj_volume"], out["close"] * out["volume"])
    assert aaa["adj_close"].pct_change().abs().max() < 0.07


def test_adjust_is_idempotent_and_keeps_order() -> None:
    daily = make_daily({"AAA": [40_000, 40_500, 40_000, 32_100, 32_500], "BBB": [9_000] * 5})
    shuffled = daily.sample(frac=1.0, random_state=1)
    once = adjust(shuffled, exchange_of="HOSE")
    assert list(once.index) == list(shuffled.index)
    twice = adjust(once, exchange_of="HOSE")
    pd.testing.assert_frame_equal(once, twice)


def test_source_adj_close_gives_the_factor() -> None:
    # AAA: the source publishes adj_close (in thousand VND, with a 2:1 split before day 3);
    # its drop must NOT be re-detected. BBB has no source adjustment: detection applies.
    daily = make_daily(
        {"AAA": [20_000, 20_200, 10_100, 10_000], "BBB": [30_000, 24_000, 24_100, 24_200]}
    )
    adj_k = np.array([10.0, 10.1, 10.1, 10.0] + [np.nan] * 4)
    daily["adj_close"] = adj_k
    daily.loc[0, "adj_close"] = np.nan  # a hole inside a covered symbol
    out = adjust(daily, exchange_of="HOSE")
    aaa = out[out["symbol"] == "AAA"]
    np.testing.assert_allclose(aaa["factor"], [0.5, 0.5, 1.0, 1.0])
    np.testing.assert_allclose(aaa["adj_close"], [10_000, 10_100, 10_100, 10_000])
    bbb = out[out["symbol"] == "BBB"]
    np.testing.assert_allclose(bbb["factor"], [0.8, 1.0, 1.0, 1.0])  # detected 25% payout
    # explicit events override everything
    events = pd.DataFrame({"symbol": ["AAA"], "date": [daily["date"][3]], "ratio": [0.9]})
    forced = adjust(daily, events=events)
    np.testing.assert_allclose(forced["factor"], [0.9, 0.9, 0.9, 1.0] + [1.0] * 4)


# --- real data ----------------------------------------------------------------------------------
KNOWN_EVENTS = {
    ("HPG", "2016-05-16"): -0.31,
    ("PNJ", "2016-05-19"): -0.36,
    ("FPT", "2016-04-28"): -0.21,
    ("VNM", "2016-08-09"): -0.21,
}


@pytest.fixture(scope="module")
def vn30_daily(vn30_daily_path: Path) -> pd.DataFrame:
    raw = pd.read_csv(vn30_daily_path)
    daily = raw.rename(columns={"ticket": "symbol"})[
        ["symbol", "date", "open", "high", "low", "close", "volume"]
    ]
    daily = daily.assign(date=pd.to_datetime(daily["date"]))
    return daily.sort_values(["symbol", "date"]).reset_index(drop=True)


def test_real_vn30_known_stock_dividends_detected(vn30_daily: pd.DataFrame) -> None:
    ev = detect_corporate_actions(vn30_daily, Exchange.HOSE)
    found = {(r.symbol, str(r.date.date())): r.pct_change for r in ev.itertuples()}
    for key, pct in KNOWN_EVENTS.items():
        assert key in found, f"{key} not detected"
        assert found[key] == pytest.approx(pct, abs=0.005)
    # every flagged move is beyond HOSE's band: nothing inside +/-7% is called an event
    assert (ev["pct_change"].abs() > 0.07).all()
    # the file has far fewer events than days: a sanity bound against a runaway detector
    assert 4 <= len(ev) <= 40


def test_real_vn30_adjusted_returns_within_band(vn30_daily: pd.DataFrame) -> None:
    out = adjust(vn30_daily, exchange_of="HOSE")
    out["ret"] = out.groupby("symbol")["adj_close"].pct_change()
    for (sym, day), _ in KNOWN_EVENTS.items():
        window = out[
            (out["symbol"] == sym)
            & (
                out["date"].between(
                    pd.Timestamp(day) - pd.Timedelta(days=20),
                    pd.Timestamp(day) + pd.Timedelta(days=20),
                )
            )
        ]
        assert window["ret"].abs().max() <= 0.07 + 1e-9, sym
        # the raw series still shows the drop
        raw_ret = window["close"].pct_change().abs().max()
        assert raw_ret > 0.2, sym
    # after adjustment no daily move anywhere in the file is beyond the band (+ tick slack)
    assert out["ret"].abs().max() <= 0.0705
    # factors are 1.0 after each symbol's last event and never above 1 for drop-only history
    assert (out.groupby("symbol")["factor"].last() == 1.0).all()


# --- whole-market rules (data.ingest.DETECTION_RULES) ---------------------------------------------
def test_ingest_rules_find_a_bonus_issue_outside_the_listed_payouts() -> None:
    from stockvision.data.ingest import DETECTION_RULES

    # a 1:0.8 bonus issue (x 1/1.8, not one of COMMON_PAYOUTS) on HOSE: 45,000 -> 25,000
    daily = make_daily({"AAA": [45_000, 45_200, 45_000, 25_000, 25_200, 25_100]})
    listed_only = detect_corporate_actions(
        daily, Exchange.HOSE, infer_band=True, require_payout=True
    )
    assert listed_only.empty  # the old rule: no listed payout explains it
    ev = detect_corporate_actions(daily, Exchange.HOSE, **DETECTION_RULES)
    assert ev["date"].tolist() == [pd.Timestamp("2020-01-09")]
    # no listed payout fits the bar: the raw move, clipped into what the band allows
    assert ev["ratio"].iat[0] == pytest.approx(25_000 / 45_000, rel=0.02)


def test_hnx_reference_before_2013_is_the_previous_range() -> None:
    # HNX 2010: yesterday traded 19,300-22,000 and closed at 20,800 (the average, the reference
    # then, lay inside that range); today closes at 18,600: -10.6 % from the close, -3.6 % from
    # the low. With the close as reference it looks like a dividend; it is a market move.
    daily = make_daily({"BBB": [21_000, 20_800, 18_600, 18_500, 18_700]}, start="2010-12-06")
    daily.loc[1, ["low", "high"]] = [19_300, 22_000]
    as_close = detect_corporate_actions(daily, Exchange.HNX, require_payout=True, max_payout=4.0)
    assert len(as_close) == 1
    ranged = detect_corporate_actions(
        daily, Exchange.HNX, require_payout=True, max_payout=4.0, range_reference=True
    )
    assert ranged.empty
    # after 2013-01-15 the close is the reference again: the same bars are an event
    later = daily.assign(date=pd.bdate_range("2016-12-05", periods=5))
    assert len(detect_corporate_actions(later, Exchange.HNX, range_reference=True)) == 1


def _flat_no_trade(daily: pd.DataFrame, rows: list[int]) -> pd.DataFrame:
    """Rows turned into no-trade bars: flat at the close, volume 0, flagged ``no_trade`` (1)."""
    out = daily.copy()
    out["flags"] = 0
    for i in rows:
        out.loc[i, ["open", "high", "low"]] = out.loc[i, "close"]
        out.loc[i, ["volume", "flags"]] = [0.0, 1]
    return out


NO_TRADE_RULES = {
    "require_payout": True,
    "max_payout": 4.0,
    "no_trade_rebase": ("HNX",),
    "no_trade_min_drop": 0.03,
}


def test_a_no_trade_reference_rebased_on_hnx_is_an_event_with_its_exact_ratio() -> None:
    # illiquid HNX name: no trades for days; the ex-date of a 10 % stock dividend falls in the
    # stretch, so the flat reference drops 15,000 -> 13,600 (-9.3 %, inside the 10 % band)
    closes = [15_000, 15_000, 15_000, 15_000, 13_600, 13_600, 13_700]
    daily = _flat_no_trade(make_daily({"EEE": closes}, start="2016-03-01"), [1, 2, 3, 4, 5])
    rules = {k: v for k, v in NO_TRADE_RULES.items() if not k.startswith("no_trade")}
    assert detect_corporate_actions(daily, Exchange.HNX, **rules).empty  # inside the band
    ev = detect_corporate_actions(daily, Exchange.HNX, **NO_TRADE_RULES)
    assert ev["date"].tolist() == [pd.Timestamp("2016-03-07")]
    # 13,600 / 15,000 = 0.9067 is within 1 % of 1 / 1.1: the clean payout ratio
    assert ev["ratio"].iat[0] == pytest.approx(1 / 1.1)
    assert ev["kind"].iat[0] == KIND_STOCK_DIVIDEND
    # a cash dividend re-bases the reference too: 15,000 -> 14,400 keeps its raw ratio 0.96
    cash = daily.copy()
    cash.loc[4:, ["open", "high", "low", "close"]] = 14_400
    ev = detect_corporate_actions(cash, Exchange.HNX, **NO_TRADE_RULES)
    assert ev["ratio"].iat[0] == pytest.approx(0.96)
    assert ev["kind"].iat[0] == KIND_UNEXPLAINED_DROP
    # only on the exchanges named (-4 % is inside HOSE's band too)
    assert detect_corporate_actions(cash, Exchange.HOSE, **NO_TRADE_RULES).empty


def test_no_trade_rebase_does_not_fire_on_an_ordinary_hnx_limit_down_day() -> None:
    # a traded limit-down day (-10 %, the floor) and a no-trade day at the old band's floor
    # (sell orders at the floor, nobody buys: the reference falls without a trade)
    closes = [20_000, 20_000, 18_000, 18_000, 16_200, 16_200, 16_300]
    daily = make_daily({"FFF": closes}, start="2016-03-01")
    daily.loc[2, ["open", "high", "low"]] = [19_000, 19_500, 18_000]  # traded, closes at floor
    daily = _flat_no_trade(daily, [3, 4, 5])
    daily.loc[2, "flags"] = 0
    assert detect_corporate_actions(daily, Exchange.HNX, **NO_TRADE_RULES).empty
    # the same no-trade fall of 10 % not on the tick floor (18,000 -> 16,300) is a re-base
    off_floor = daily.copy()
    off_floor.loc[4:5, ["open", "high", "low", "close"]] = 16_300
    ev = detect_corporate_actions(off_floor, Exchange.HNX, **NO_TRADE_RULES)
    assert ev["date"].tolist() == [pd.Timestamp("2016-03-07")]
    # a no-trade bar after a traded day is not trusted (its price may be the session's average)
    traded_before = off_floor.copy()
    traded_before.loc[3, ["volume", "flags"]] = [500.0, 0]
    assert detect_corporate_actions(traded_before, Exchange.HNX, **NO_TRADE_RULES).empty
    # a small re-base below no_trade_min_drop is ignored
    small = daily.copy()
    small.loc[4:5, ["open", "high", "low", "close"]] = 17_600  # -2.2 %
    assert detect_corporate_actions(small, Exchange.HNX, **NO_TRADE_RULES).empty
    with pytest.raises(ValueError, match="no_trade_min_drop"):
        detect_corporate_actions(daily, Exchange.HNX, no_trade_min_drop=1.5)


def test_band_inference_widens_twice_for_a_former_upcom_name() -> None:
    # filed under HOSE, but it traded on UPCoM (+/-15 %): rises of 12-14 % and a -14 % day
    closes = [10_000, 11_400, 11_500, 12_900, 13_000, 11_200, 11_300, 11_250]
    daily = make_daily({"CCC": closes}, start="2016-03-01")
    one_step = detect_corporate_actions(
        daily, Exchange.HOSE, infer_band=True, require_payout=True, max_payout=4.0
    )
    assert one_step.empty  # two rises beyond HNX's 10 % too: the widest band applies
    honest = daily.copy()
    honest["close"] = [10_000, 10_300, 10_400, 10_500, 10_600, 9_100, 9_150, 9_120]
    honest[["open", "high", "low"]] = np.c_[honest["close"], honest["close"], honest["close"]]
    ev = detect_corporate_actions(
        honest, Exchange.HOSE, infer_band=True, require_payout=True, max_payout=4.0
    )
    assert len(ev) == 1  # without rises the HOSE band stays, and a -14 % drop is an event


def test_an_open_below_the_floor_is_a_hose_event_unless_repaired() -> None:
    # 10 % stock dividend on HOSE: reference 30,000 -> 27,300; the first trade opens at 27,300
    # (below the old floor 27,900) and the day closes at 28,500, inside the old band
    daily = make_daily({"DDD": [30_000, 30_100, 30_000, 28_500, 28_600, 28_400]})
    daily.loc[3, ["open", "low", "high"]] = [27_300, 27_300, 28_700]
    rules = {"require_payout": True, "max_payout": 4.0}
    assert detect_corporate_actions(daily, Exchange.HOSE, **rules).empty
    ev = detect_corporate_actions(daily, Exchange.HOSE, open_breaks=("HOSE",), **rules)
    assert ev["date"].tolist() == [pd.Timestamp("2020-01-09")]
    assert ev["ratio"].iat[0] == pytest.approx(1 / 1.1)
    # an open the repair clamped or filled is not a trade
    daily["flags"] = 0
    daily.loc[3, "flags"] = 16
    assert detect_corporate_actions(daily, Exchange.HOSE, open_breaks=True, **rules).empty
