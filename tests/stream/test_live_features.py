"""Live features equal the batch features on the same data, at any moment of the session."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from stockvision.data.sources.synthetic import generate_market
from stockvision.features import FEATURES
from stockvision.features.indicators import macd_hist_panel, rsi_panel
from stockvision.features.weekly import compute_features
from stockvision.market.corporate_actions import adjust
from stockvision.stream.live_features import LiveFeatures
from stockvision.stream.recursive import RecursiveState


@pytest.fixture(scope="module")
def market():
    m = generate_market(n_symbols=12, years=2, seed=3, return_events=True)
    events = m.events.rename(columns={"ex_date": "date", "price_factor": "factor"})
    return adjust(
        m.daily, events=events[["symbol", "date", "ratio"]].assign(ratio=events["factor"])
    )


def _batch_week(history: pd.DataFrame, live: LiveFeatures) -> pd.DataFrame:
    rows = live.live_rows()
    frame = pd.concat([history[history["date"] < live.day], rows], ignore_index=True)
    feats = compute_features(frame, since=live.monday)
    return feats


def _ticks(live: LiveFeatures, day_rows: pd.DataFrame, rng, n_ticks: int = 6):
    """Ticks whose day bar is the stored row (open first, close last, high/low in between)."""
    sym, price, vol, t = [], [], [], []
    t0 = int(live.day.value) + 2 * 3600 * 10**9
    for _, r in day_rows.iterrows():
        if not np.isfinite(r["close"]) or r["volume"] <= 0:
            continue
        path = [
            r["open"],
            r["high"],
            r["low"],
            *rng.uniform(r["low"], r["high"], n_ticks - 4),
            r["close"],
        ]
        share = rng.dirichlet(np.ones(len(path))) * r["volume"]
        share = np.floor(share)
        share[-1] += r["volume"] - share.sum()
        for k, (p, v) in enumerate(zip(path, share, strict=True)):
            sym.append(r["symbol"])
            price.append(p)
            vol.append(v)
            t.append(t0 + k * 60 * 10**9)
    order = np.argsort(t, kind="stable")
    return [np.asarray(a)[order] for a in (sym, price, vol, t)]


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    want = want.loc[got.index] if len(want) else want
    assert list(got.index) == list(want.index)
    np.testing.assert_allclose(
        got[FEATURES].to_numpy(), want[FEATURES].to_numpy(), rtol=1e-9, atol=1e-12, equal_nan=True
    )


def test_recursive_steps_equal_the_panel_kernels(market):
    close = np.random.default_rng(0).lognormal(0, 0.05, (80, 5)).cumprod(axis=0)
    close[10:14, 2] = np.nan  # a suspension
    close[:30, 4] = np.nan  # a late listing
    state = RecursiveState.from_closes(close[:-1])
    cur = state.current(close[-1])
    np.testing.assert_allclose(cur["rsi_14w"], rsi_panel(close)[-1], equal_nan=True)
    np.testing.assert_allclose(
        cur["macd_hist_w"], macd_hist_panel(close)[-1] / close[-1], equal_nan=True
    )
    np.testing.assert_allclose(
        cur["rsi_speed"], rsi_panel(close)[-1] - rsi_panel(close)[-5], equal_nan=True
    )


@pytest.mark.parametrize("weekday", [0, 2, 4])  # Monday (first day of the week), mid-week, Friday
def test_live_week_equals_batch_at_every_minute_and_at_the_close(market, weekday):
    days = pd.DatetimeIndex(sorted(market["date"].unique()))
    day = next(d for d in days[-60:] if d.weekday() == weekday)
    history = market[market["date"] < day]
    live = LiveFeatures(market, day)
    day_rows = market[market["date"] == day]
    rng = np.random.default_rng(1)
    sym, price, vol, t = _ticks(live, day_rows, rng)
    codes = live.codes_of(sym)
    for cut in (0, len(sym) // 3, 2 * len(sym) // 3):  # partial bars during the session
        live.apply(codes[cut : cut + len(sym) // 3], price[cut : cut + len(sym) // 3],
                   vol[cut : cut + len(sym) // 3], t[cut : cut + len(sym) // 3])  # fmt: skip
        got = live.compute()
        want = _batch_week(history, live)
        assert_same(got, want)
    live.apply(codes[3 * (len(sym) // 3) :], price[3 * (len(sym) // 3) :],
               vol[3 * (len(sym) // 3) :], t[3 * (len(sym) // 3) :])  # fmt: skip
    # the finished day: identical to the weekly batch row computed from the stored data
    stored = compute_features(market[market["date"] <= day], since=live.monday)
    assert_same(live.compute(), stored)
    np.testing.assert_allclose(
        live.live_rows()["close"],
        day_rows.set_index("symbol").loc[live.live_rows()["symbol"], "close"],
    )


def test_subset_compute_matches_full_and_redeliveries_are_ignored(market):
    days = pd.DatetimeIndex(sorted(market["date"].unique()))
    day = days[-3]
    live = LiveFeatures(market, day)
    sym, price, vol, t = _ticks(live, market[market["date"] == day], np.random.default_rng(2))
    codes = live.codes_of(sym)
    seq = np.arange(1, len(sym) + 1)
    live.apply(codes, price, vol, t, seq)
    before = live.volume.copy()
    live.apply(codes[-10:], price[-10:], vol[-10:], t[-10:], seq[-10:])  # redelivered
    np.testing.assert_array_equal(live.volume, before)
    assert live.skipped_ticks == 10
    full = live.compute()
    part = live.compute(np.array([live.code[s] for s in full.index.get_level_values(0)[:3]]))
    assert_same(part, full.iloc[:3])


def test_late_ticks_extend_the_range_but_never_move_the_last_price(market):
    day = pd.DatetimeIndex(sorted(market["date"].unique()))[-2]
    live = LiveFeatures(market, day)
    c = live.codes_of([live.symbols[0]] * 3)
    t = np.array([3, 5, 4]) * 60 * 10**9 + live.day.value
    live.apply(c, np.array([100.0, 110.0, 90.0]), np.array([1.0, 1.0, 1.0]), t)
    i = c[0]
    assert (live.open[i], live.high[i], live.low[i], live.close[i], live.volume[i]) == (
        100,
        110,
        90,
        110,
        3,
    )
    assert live.late_ticks == 1
    unknown = live.apply(live.codes_of(["NOPE"]), np.array([1.0]), np.array([1.0]), t[:1])
    assert len(unknown) == 0 and live.unknown_ticks == 1


def test_parity_on_real_vn30_data(vn30_daily_path):
    from stockvision.data.sources.csv_source import CsvSource  # noqa: F401 - the loader path

    raw = pd.read_csv(vn30_daily_path)
    daily = pd.DataFrame(
        {
            "symbol": raw["ticket"].astype(str),
            "date": pd.to_datetime(raw["date"]),
            "open": raw["open"],
            "high": raw["high"],
            "low": raw["low"],
            "close": raw["close"],
            "volume": raw["volume"],
        }
    ).drop_duplicates(["symbol", "date"])
    adj = adjust(daily.sort_values(["symbol", "date"], ignore_index=True), exchange_of="HOSE")
    day = pd.Timestamp(sorted(adj["date"].unique())[-3])
    live = LiveFeatures(adj, day)
    sym, price, vol, t = _ticks(live, adj[adj["date"] == day], np.random.default_rng(5))
    live.apply(live.codes_of(sym), price, vol, t)
    assert_same(live.compute(), compute_features(adj[adj["date"] <= day], since=live.monday))
