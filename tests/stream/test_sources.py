"""Tick sources: replay reproduces the stored day, simulation stays in band, vnstock at its boundary."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from brokers import run

from stockvision.data.sources.synthetic import generate_market
from stockvision.data.sources.vnstock_source import TokenBucket
from stockvision.market.exchanges import price_band, tick_size
from stockvision.market.sessions import is_open
from stockvision.stream.sources import ReplaySource, SimulatedSource, VnstockIntradaySource


def _collect(source):
    async def go():
        return [b async for b in source.batches()]

    return run(go())


def _utc(t_ns: int) -> datetime:
    return datetime.fromtimestamp(t_ns / 1e9, UTC)


def test_replay_rebuilds_each_stored_day_bar_inside_the_session():
    daily = generate_market(n_symbols=6, years=1, seed=4)
    days = sorted(daily["date"].unique())[-2:]
    batches = _collect(ReplaySource(daily, days=days, speed=0, ticks_per_day=10))
    ticks = pd.DataFrame([t for b in batches for t in b])
    assert all(is_open(_utc(t)) for t in ticks["t"])  # nothing in the lunch break or after 14:45
    assert (np.diff(ticks["t"].to_numpy()) >= 0).all()
    ticks["date"] = (
        pd.to_datetime(ticks["t"], unit="ns")
        .dt.tz_localize("UTC")
        .dt.tz_convert("Asia/Ho_Chi_Minh")
        .dt.tz_localize(None)
        .dt.normalize()
    )
    bars = ticks.groupby(["s", "date"]).agg(
        open=("p", "first"),
        high=("p", "max"),
        low=("p", "min"),
        close=("p", "last"),
        volume=("v", "sum"),
    )
    stored = daily.set_index(["symbol", "date"]).loc[
        bars.index, ["open", "high", "low", "close", "volume"]
    ]
    np.testing.assert_allclose(bars.to_numpy(), stored.to_numpy())
    again = _collect(ReplaySource(daily, days=days, speed=0, ticks_per_day=10))
    assert again == batches  # deterministic: a replay from the start gives the same ticks


def test_replay_speed_paces_market_minutes():
    daily = generate_market(n_symbols=2, years=1, seed=4)
    waits = []

    async def fake_sleep(s):
        waits.append(s)

    src = ReplaySource(daily, speed=600, ticks_per_day=6, sleep=fake_sleep)
    _collect(src)
    # 09:00 to 14:44 market time is 344 minutes minus the 90-minute lunch break at least
    assert 0 < sum(waits) <= (344 * 60) / 600 + 1e-9
    assert all(w >= 0.1 - 1e-9 for w in waits)  # one market minute = 0.1 s at speed 600


def test_simulated_path_stays_on_ticks_inside_the_band():
    ref = {"VNM": 61_000.0, "HPG": 24_350.0, "SHB": 9_800.0}
    src = SimulatedSource(ref, "2026-12-02", ticks_per_minute=3, speed=0, seed=1, minutes=200)
    ticks = pd.DataFrame([t for b in _collect(src) for t in b])
    assert len(ticks) == 200 * 3 * 3
    assert all(is_open(_utc(t)) for t in ticks["t"].iloc[::50])
    for sym, r in ref.items():
        p = ticks.loc[ticks["s"] == sym, "p"].to_numpy()
        lo, hi = price_band(r, "HOSE")
        assert p.min() >= lo and p.max() <= hi
        assert np.allclose(p / tick_size(p, "HOSE"), np.round(p / tick_size(p, "HOSE")))
        assert (ticks.loc[ticks["s"] == sym, "v"] % 100 == 0).all()


class _Quote:
    def __init__(self, book, symbol, fail):
        self.book, self.symbol, self.fail = book, symbol, fail

    def intraday(self, symbol, page_size, show_log):
        if self.fail and self.fail.pop(0):
            raise ConnectionError("network down")
        return self.book[symbol]()


class _Client:
    """Generated responses in vnstock's shape (time, price in thousand VND, volume, id)."""

    def __init__(self, book, fail=None):
        self.book, self.fail, self.calls = book, fail or [], 0

    def stock(self, symbol, source):
        self.calls += 1
        return type("S", (), {"quote": _Quote(self.book, symbol, self.fail)})()


def test_vnstock_intraday_polls_within_the_limit_and_backfills_gaps_without_inventing():
    trades = pd.DataFrame(
        {"time": pd.to_datetime(["2026-12-02 09:15:01", "2026-12-02 09:15:07", "2026-12-02 09:16:30"]),
         "price": [61.2, 61.3, 61.1], "volume": [1000, 500, 2000], "id": [1, 2, 3]}
    )  # fmt: skip
    book = {"VNM": lambda: trades.iloc[: book_len[0]]}
    book_len = [2]
    t = [0.0]
    waits = []
    bucket = TokenBucket(
        20, clock=lambda: t[0], sleep=lambda s: (waits.append(s), t.__setitem__(0, t[0] + s))
    )
    src = VnstockIntradaySource(["VNM"], client_factory=lambda: _Client(book, fail=[False, True, False]),
                                limiter=bucket, clock=lambda: datetime(2026, 12, 2, 3, 0, tzinfo=UTC))  # fmt: skip
    first = src.poll("VNM")
    assert [x["p"] for x in first] == [61_200.0, 61_300.0]  # thousand VND -> VND
    assert _utc(first[0]["t"]) == datetime(2026, 12, 2, 2, 15, 1, tzinfo=UTC)  # 09:15:01 ICT
    with pytest.raises(ConnectionError):  # the network fails: nothing emitted, nothing invented
        src.poll("VNM")
    book_len[0] = 3  # back online: the source still lists the day's trades, the gap is filled
    again = src.poll("VNM")
    assert [x["v"] for x in again] == [2000.0]
    assert src.poll("VNM") == []  # nothing new: no flat bar, no repeat
    # 20 requests a minute: after the first free token each call waited 3 s
    assert len(waits) == 3 and all(abs(w - 3.0) < 1e-9 for w in waits)


def test_vnstock_source_sleeps_outside_the_session():
    slept = []

    async def fake_sleep(s):
        slept.append(s)

    src = VnstockIntradaySource(["VNM"], client_factory=lambda: None, sleep=fake_sleep,
                                clock=lambda: datetime(2026, 12, 2, 5, 0, tzinfo=UTC), max_polls=1)  # fmt: skip
    assert _collect(src) == []  # 12:00 ICT: the lunch break, no call made
    assert src.calls == 0 and 1 <= slept[0] <= 3600
