"""The simulated market: contract, determinism and the VN quirks it promises."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stockvision.data.schema import DAILY_COLUMNS
from stockvision.data.sources import SyntheticSource, generate_market
from stockvision.data.sources.synthetic import (
    _tick,
    synthetic_tickers,
    tet_date,
    trading_days,
)
from stockvision.errors import UnknownSymbolError


@pytest.fixture(scope="module")
def market():
    return generate_market(n_symbols=40, years=3, seed=11, return_events=True)


def test_contract_columns_dtypes_order(market) -> None:
    daily = market.daily
    assert list(daily.columns) == DAILY_COLUMNS
    assert daily["symbol"].dtype == pd.Series(["x"]).dtype
    assert daily["date"].dtype == "datetime64[ns]"
    assert (daily["date"] == daily["date"].dt.normalize()).all()
    for col in ["open", "high", "low", "close", "volume"]:
        assert daily[col].dtype == "float64"
    assert not daily.duplicated(["symbol", "date"]).any()
    resorted = daily.sort_values(["symbol", "date"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(daily, resorted)
    assert daily.attrs["simulated"] is True
    assert daily["symbol"].nunique() == 40


def test_deterministic_for_a_seed_and_different_across_seeds() -> None:
    a = generate_market(n_symbols=5, years=1, seed=3)
    b = generate_market(n_symbols=5, years=1, seed=3)
    c = generate_market(n_symbols=5, years=1, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert not np.allclose(a["close"].to_numpy(), c["close"].to_numpy()[: len(a)])


def test_ohlc_consistent_and_positive(market) -> None:
    d = market.daily
    assert (d["low"] <= d[["open", "close"]].min(axis=1)).all()
    assert (d["high"] >= d[["open", "close"]].max(axis=1)).all()
    assert (d["low"] > 0).all()
    assert (d["volume"] >= 0).all()


def test_prices_on_tick_grid(market) -> None:
    d = market.daily.merge(market.listings[["symbol", "exchange"]], on="symbol")
    hose = (d["exchange"] == "HOSE").to_numpy()
    for col in ["open", "high", "low", "close"]:
        price = d[col].to_numpy()
        tick = _tick(price, hose)
        assert np.allclose(price / tick, np.round(price / tick)), col
    assert set(market.listings["exchange"]) == {"HOSE", "HNX", "UPCOM"}


def test_daily_moves_within_band_except_on_ex_dates(market) -> None:
    d = market.daily.merge(market.listings[["symbol", "exchange"]], on="symbol")
    prev = d.groupby("symbol")["close"].shift()
    ret = d["close"] / prev - 1
    ex = d.set_index(["symbol", "date"]).index.isin(
        market.events.set_index(["symbol", "ex_date"]).index
    )
    # the band is 7% rounded inwards to the tick, but at least one tick for very cheap prices
    one_tick = _tick(prev.to_numpy(), (d["exchange"] == "HOSE").to_numpy()) / prev
    limit = np.maximum(0.07, one_tick) + 1e-9
    normal = ~ex & prev.notna().to_numpy()
    assert (ret[normal].abs() <= limit[normal]).all()
    drops = ret[ex].dropna()
    assert len(drops) == len(market.events)  # all events lie on listed days after the first
    assert (drops < -0.1).all()  # a 20%-50% price cut, at most +7% recovered on the day


def test_every_event_moves_beyond_its_exchange_band(market) -> None:
    d = market.daily.merge(market.listings[["symbol", "exchange"]], on="symbol")
    d["ret"] = d["close"] / d.groupby("symbol")["close"].shift() - 1
    moves = market.events.merge(d, left_on=["symbol", "ex_date"], right_on=["symbol", "date"])
    band = moves["exchange"].map({"HOSE": 0.07, "HNX": 0.10, "UPCOM": 0.15})
    assert len(moves) == len(market.events)
    assert (moves["ret"] < -band).all()


def test_events_ground_truth_matches_the_price_drop(market) -> None:
    ev = market.events
    assert len(ev) > 0
    assert set(ev.columns) == {"symbol", "ex_date", "ratio", "price_factor"}
    assert np.allclose(ev["price_factor"], 1 / (1 + ev["ratio"]))
    assert ev["price_factor"].between(0.5, 0.8).all()


def test_zero_volume_days_are_flat_bars(market) -> None:
    d = market.daily
    idle = d[d["volume"] == 0]
    assert len(idle) > 0, "some illiquid names should have zero-volume days"
    assert (idle["open"] == idle["close"]).all() and (idle["high"] == idle["low"]).all()
    assert (d.loc[d["volume"] > 0, "volume"] % 100 == 0).all()  # lots of 100 shares


def test_volatility_clusters() -> None:
    d = generate_market(n_symbols=20, years=4, seed=5)
    r = np.log(d["close"] / d.groupby("symbol")["close"].shift())
    r = r[r.abs() < 0.075]  # leave out ex-dates
    sq = (r**2).to_frame("sq").assign(symbol=d["symbol"])
    lagged = sq.groupby("symbol")["sq"].shift()
    # GARCH: squared returns are positively autocorrelated
    assert sq["sq"].corr(lagged) > 0.05


def test_calendar_drops_tet_and_weekends() -> None:
    days = trading_days("2019-01-01", "2019-12-31")
    tet = tet_date(2019)
    assert not days.isin(
        pd.date_range(tet - pd.Timedelta(days=2), tet + pd.Timedelta(days=4))
    ).any()
    assert (days.dayofweek < 5).all()
    assert pd.Timestamp("2019-01-01") not in days and pd.Timestamp("2019-09-02") not in days
    assert 240 <= len(days) <= 252
    assert tet_date(2099) == pd.Timestamp("2099-02-05")  # documented approximation


def test_tickers_are_distinct_three_letter_z_names() -> None:
    names = synthetic_tickers(700)
    assert len(set(names)) == 700
    assert all(n.startswith("Z") for n in names)
    assert all(len(n) == 3 for n in names[:676])
    with pytest.raises(ValueError, match="too large"):
        synthetic_tickers(10**6)


def test_late_listings_start_later() -> None:
    m = generate_market(n_symbols=60, years=2, seed=2, return_events=True)
    first = m.daily.groupby("symbol")["date"].min()
    assert (first > m.calendar[0]).any()
    assert (first.sort_index() == m.listings.set_index("symbol")["listed_on"].sort_index()).all()


def test_invalid_sizes_raise() -> None:
    with pytest.raises(ValueError, match="n_symbols"):
        generate_market(n_symbols=0)


def test_source_filters_and_flags_simulated() -> None:
    src = SyntheticSource(n_symbols=6, years=1, seed=1)
    sym = src.market.listings["symbol"].iloc[0]
    res = src.fetch([sym.lower()], start="2015-03-01", end="2015-03-31")
    assert res.simulated is True and res.source == "synthetic"
    assert res.symbols == [sym]
    assert res.frame["date"].between("2015-03-01", "2015-03-31").all()
    assert res.report.rows_imported == len(res.frame) > 0
    with pytest.raises(UnknownSymbolError, match="VNM"):
        src.fetch(["VNM"])


def test_demo_market_uses_listed_tickers_and_ends_last_completed_week():
    from stockvision.data.sources.synthetic import demo_source, last_completed_week
    from stockvision.market.listings import LISTINGS

    assert last_completed_week("2026-12-02") == pd.Timestamp("2026-11-27")  # a Wednesday
    assert last_completed_week("2026-11-27") == pd.Timestamp("2026-11-20")  # Friday still trades
    assert last_completed_week("2026-11-29") == pd.Timestamp("2026-11-27")  # Sunday
    src = demo_source(8, years=2, today="2026-12-02")
    res = src.fetch()
    assert res.simulated and res.frame.attrs["simulated"]
    assert res.frame["date"].max() == pd.Timestamp("2026-11-27")
    listings = src.market.listings
    assert {"VNM", "FPT", "HPG", "HSG"} <= set(listings["symbol"])
    for row in listings.itertuples():
        assert row.exchange == LISTINGS[row.symbol].exchange.value.upper()
        assert row.sector == LISTINGS[row.symbol].group
    assert list(res.frame["symbol"]) == sorted(res.frame["symbol"])  # (symbol, date) order
