"""Trading calendar from data, ISO-week mapping, daily -> weekly bars."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stockvision.market.calendar import TradingCalendar, to_weekly

# Around Tet 2018: a normal week, a Tet week with only Mon-Tue trading, a week opening on Wed.
DAYS = pd.to_datetime(
    [
        "2018-02-05", "2018-02-06", "2018-02-07", "2018-02-08", "2018-02-09",
        "2018-02-12", "2018-02-13",
        "2018-02-21", "2018-02-22", "2018-02-23",
    ]
)  # fmt: skip


@pytest.fixture
def cal() -> TradingCalendar:
    return TradingCalendar(DAYS)


def test_week_ends_include_short_tet_week(cal: TradingCalendar) -> None:
    expected = pd.to_datetime(["2018-02-09", "2018-02-13", "2018-02-23"])
    assert list(cal.week_ends) == list(expected)
    assert cal.week_ends.dtype == "datetime64[ns]"  # the contract's unit, whatever the input's


def test_week_end_of_maps_every_day_of_the_iso_week(cal: TradingCalendar) -> None:
    dates = ["2018-02-05", "2018-02-09", "2018-02-12", "2018-02-15", "2018-02-18", "2018-02-19"]
    got = cal.week_end_of(pd.to_datetime(dates))
    # Thu 15 / Sun 18 (holidays) still belong to the Tet week ending Tue 13; Mon 19 to the next.
    expected = ["2018-02-09", "2018-02-09", "2018-02-13", "2018-02-13", "2018-02-13", "2018-02-23"]
    assert list(got) == list(pd.to_datetime(expected))
    assert got.name == "week_end"
    # a week without any trading day has no week end
    assert cal.week_end_of("2018-03-05").isna().all()


def test_queries(cal: TradingCalendar) -> None:
    assert cal.is_trading_day("2018-02-13 14:30")
    assert not cal.is_trading_day("2018-02-14")
    assert "2018-02-21" in cal
    assert cal.next_trading_day("2018-02-13") == pd.Timestamp("2018-02-21")
    assert cal.next_trading_day("2018-02-10") == pd.Timestamp("2018-02-12")
    # beyond the data: next weekday (future holidays are unknown)
    assert cal.next_trading_day("2018-02-23") == pd.Timestamp("2018-02-26")
    assert cal.previous_trading_day("2018-02-21") == pd.Timestamp("2018-02-13")
    assert cal.sessions_between("2018-02-09", "2018-02-21") == 2
    with pytest.raises(ValueError, match="no trading day before"):
        cal.previous_trading_day("2018-02-05")


def test_from_daily_ignores_zero_volume_only_dates() -> None:
    daily = pd.DataFrame(
        {
            "symbol": ["AAA", "AAA", "BBB", "AAA"],
            "date": pd.to_datetime(["2018-02-12", "2018-02-14", "2018-02-14", "2018-02-21"]),
            "volume": [100.0, 0.0, np.nan, 300.0],
        }
    )
    cal = TradingCalendar.from_daily(daily)
    assert list(cal.trading_days) == list(pd.to_datetime(["2018-02-12", "2018-02-21"]))
    assert len(TradingCalendar.from_daily(daily, volume_col=None)) == 3
    with pytest.raises(ValueError, match="at least one"):
        TradingCalendar([])


def _two_symbol_daily() -> pd.DataFrame:
    rows = [
        # symbol, date, open, high, low, close, volume
        ("AAA", "2018-02-07", 10.0, 11.0, 9.0, 10.5, 100.0),
        ("AAA", "2018-02-08", 10.5, 12.0, 10.0, 11.5, 200.0),
        ("AAA", "2018-02-09", 11.5, 11.8, 8.5, 9.0, 300.0),
        ("AAA", "2018-02-12", 9.0, 9.5, 8.8, 9.2, 50.0),
        ("AAA", "2018-02-13", 9.2, 9.9, 9.1, 9.8, 70.0),
        ("AAA", "2018-02-21", 9.8, 10.0, 9.7, 9.9, 10.0),
        ("BBB", "2018-02-05", 20.0, 21.0, 19.0, 20.5, 1000.0),
        ("BBB", "2018-02-08", 20.5, 22.0, 20.0, 21.0, 500.0),  # BBB did not trade on Fri 9
        ("BBB", "2018-02-13", 21.0, 21.5, 20.8, 21.2, 400.0),
        ("BBB", "2018-02-23", 21.2, 21.3, 20.0, 20.1, 600.0),
    ]
    daily = pd.DataFrame(rows, columns=["symbol", "date", "open", "high", "low", "close", "volume"])
    daily["date"] = pd.to_datetime(daily["date"])
    # shuffle: to_weekly must not depend on input order
    return daily.sample(frac=1.0, random_state=3).reset_index(drop=True)


def test_to_weekly_hand_computed_two_symbols() -> None:
    daily = _two_symbol_daily()
    weekly = to_weekly(
        daily,
        price_cols=("open", "high", "low", "close"),
        volume_col="volume",
        last_cols={"close": "raw_close"},
    )
    idx = pd.MultiIndex.from_tuples(
        [
            ("AAA", pd.Timestamp("2018-02-09")),
            ("AAA", pd.Timestamp("2018-02-13")),
            ("AAA", pd.Timestamp("2018-02-23")),
            ("BBB", pd.Timestamp("2018-02-09")),
            ("BBB", pd.Timestamp("2018-02-13")),
            ("BBB", pd.Timestamp("2018-02-23")),
        ],
        names=["symbol", "week_end"],
    )
    expected = pd.DataFrame(
        {
            "open": [10.0, 9.0, 9.8, 20.0, 21.0, 21.2],
            "high": [12.0, 9.9, 10.0, 22.0, 21.5, 21.3],
            "low": [8.5, 8.8, 9.7, 19.0, 20.8, 20.0],
            "close": [9.0, 9.8, 9.9, 21.0, 21.2, 20.1],
            "volume": [600.0, 120.0, 10.0, 1500.0, 400.0, 600.0],
            "n_days": np.array([3, 2, 1, 2, 1, 1], dtype=np.int64),
            "last_date": pd.to_datetime(
                ["2018-02-09", "2018-02-13", "2018-02-21", "2018-02-08", "2018-02-13", "2018-02-23"]
            ),
            "raw_close": [9.0, 9.8, 9.9, 21.0, 21.2, 20.1],
        },
        index=idx,
    )
    pd.testing.assert_frame_equal(weekly, expected, check_index_type=False, check_dtype=False)
    assert weekly["n_days"].dtype == np.int64


def test_to_weekly_uses_adjusted_columns_by_default_and_explains_missing_ones() -> None:
    daily = _two_symbol_daily()
    with pytest.raises(ValueError, match=r"adj_open.*corporate_actions\.adjust"):
        to_weekly(daily)
    adj = daily.assign(
        adj_open=daily["open"] * 2,
        adj_high=daily["high"] * 2,
        adj_low=daily["low"] * 2,
        adj_close=daily["close"] * 2,
        adj_volume=daily["volume"] / 2,
    )
    weekly = to_weekly(adj)
    assert weekly.loc[("AAA", pd.Timestamp("2018-02-09")), "close"] == 18.0
    assert weekly.loc[("AAA", pd.Timestamp("2018-02-09")), "volume"] == 300.0


def test_to_weekly_with_market_calendar_and_bad_extras() -> None:
    daily = _two_symbol_daily()
    aaa = daily[daily["symbol"] == "AAA"]
    market = TradingCalendar.from_daily(daily)
    # alone, AAA's last trading day of the last week is Wed 21; on the market calendar it is Fri 23
    raw = {"price_cols": ("open", "high", "low", "close"), "volume_col": "volume"}
    alone = to_weekly(aaa, **raw)
    on_market = to_weekly(aaa, calendar=market, **raw)
    assert alone.index.get_level_values("week_end")[-1] == pd.Timestamp("2018-02-21")
    assert on_market.index.get_level_values("week_end")[-1] == pd.Timestamp("2018-02-23")
    with pytest.raises(ValueError, match="clash"):
        to_weekly(daily, last_cols=["close"], **raw)
    with pytest.raises(ValueError, match="weeks without any trading day"):
        to_weekly(daily, calendar=TradingCalendar(["2018-02-05"]), **raw)
