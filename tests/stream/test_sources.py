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


def _trades(rows):
    """vnstock's intraday shape: time (ICT), price in thousand VND, volume, trade id."""
    return pd.DataFrame(rows, columns=["time", "price", "volume", "id"]).assign(
        time=lambda f: pd.to_datetime(f["time"])
    )


def test_a_restarted_vnstock_producer_continues_from_the_last_published_event_time():
    """Crash after publishing some trades; while it is down more trades happen; the restarted
    producer (a new process: nothing in memory) reads the stream's tail and publishes exactly the
    gap, from the source: no trade twice, none invented, none of the published ones lost."""
    from stockvision.stream.bus.memory import MemoryBus
    from stockvision.stream.worker import publish_source

    vnm = [("2026-12-02 09:15:01", 61.2, 1000, 1), ("2026-12-02 09:15:07", 61.3, 500, 2),
           ("2026-12-02 09:16:30", 61.1, 2000, 3), ("2026-12-02 09:17:02", 61.0, 300, 4),
           ("2026-12-02 09:15:05", 61.2, 100, 5)]  # fmt: skip  # 5: reported late, before 2
    fpt = [("2026-12-02 09:15:03", 99.5, 100, 11), ("2026-12-02 09:18:00", 99.6, 200, 12)]
    known = {"VNM": 2, "FPT": 1}
    book = {
        "VNM": lambda: _trades(vnm[: known["VNM"]]),
        "FPT": lambda: _trades(fpt[: known["FPT"]]),
    }
    clock = lambda: datetime(2026, 12, 2, 2, 20, tzinfo=UTC)  # noqa: E731  09:20 ICT
    bus = MemoryBus()

    def source():
        bucket = TokenBucket(20, clock=lambda: 0.0, sleep=lambda s: None)
        return VnstockIntradaySource(["VNM", "FPT"], client_factory=lambda: _Client(book),
                                     limiter=bucket, clock=clock, max_polls=1)  # fmt: skip

    async def go():
        first = await publish_source(bus, source(), resume=True)
        known.update(VNM=5, FPT=2)  # down for a while: trades 3, 4 (and the late 5), 12 happened
        restarted = source()
        second = await publish_source(bus, restarted, resume=True)
        again = await publish_source(bus, source(), resume=True)  # a third start: nothing new
        ticks = await bus.read("ticks", 1, limit=100)
        return first, second, again, restarted, ticks

    first, second, again, restarted, ticks = run(go())
    ids = [m.data["i"] for m in ticks if "s" in m.data]
    assert first == 3 and second == 3
    assert sorted(ids) == sorted(["vVNM:1", "vVNM:2", "vFPT:11", "vVNM:3", "vVNM:4", "vFPT:12"])
    assert len(ids) == len(set(ids))  # nothing twice
    assert "vVNM:5" not in ids  # before the last published event time: not re-opened
    assert again == 0
    assert restarted.resume_after["VNM"] == int(pd.Timestamp("2026-12-02 02:15:07").value)


class _Board:
    """vnstock's ``trading.price_board`` shape: two-level columns (group, field); VCI prices of
    stocks in thousand VND on this board (the reference price tells)."""

    def __init__(self, states, fail=()):
        self.states, self.fail, self.calls, self.asked = states, list(fail), 0, []

    def stock(self, symbol, source):
        return type("S", (), {"trading": self})()

    def price_board(self, symbols_list):
        self.calls += 1
        self.asked.append(list(symbols_list))
        if self.fail and self.fail.pop(0):
            raise ConnectionError("network down")
        rows = self.states.pop(0)
        columns = pd.MultiIndex.from_tuples(
            [("listing", "symbol"), ("listing", "ref_price"), ("match", "match_price"),
             ("match", "accumulated_volume"), ("bid_ask", "bid_1_price"),
             ("bid_ask", "bid_1_volume"), ("bid_ask", "ask_1_price"), ("bid_ask", "ask_1_volume")]
        )  # fmt: skip
        return pd.DataFrame([r for r in rows if r[0] in symbols_list], columns=columns)


def test_vnstock_price_board_ticks_on_volume_growth_with_bid_ask_within_the_limit():
    from stockvision.stream.sources import VnstockPriceBoardSource

    states = [
        [("VNM", 61.0, 61.2, 10_000, 61.1, 500, 61.2, 800), ("FPT", 99.0, 99.5, 2_000, 99.4, 100, 99.5, 300)],
        [("VNM", 61.0, 61.3, 10_500, 61.2, 400, 61.3, 900), ("FPT", 99.0, 99.5, 2_000, 99.4, 100, 99.5, 300)],
        [("VNM", 61.0, 61.4, 12_000, 61.3, 100, 61.4, 200), ("FPT", 99.0, 99.7, 2_600, 99.6, 50, 99.7, 40)],
    ]  # fmt: skip
    board = _Board(states, fail=[False, False, True, False])
    t = [0.0]
    waits = []
    bucket = TokenBucket(20, clock=lambda: t[0],
                         sleep=lambda s: (waits.append(s), t.__setitem__(0, t[0] + s)))  # fmt: skip
    now = datetime(2026, 12, 2, 2, 30, tzinfo=UTC)  # 09:30 ICT
    src = VnstockPriceBoardSource(["VNM", "FPT"], client_factory=lambda: board, limiter=bucket,
                                  clock=lambda: now)  # fmt: skip
    first = src.poll()
    assert [(x["s"], x["p"], x["v"], x["b"], x["a"]) for x in first] == [
        ("VNM", 61_200.0, 10_000.0, 61_100.0, 61_200.0),
        ("FPT", 99_500.0, 2_000.0, 99_400.0, 99_500.0),
    ]  # the first look carries the day's volume so far; thousand VND -> VND
    assert first[0]["t"] == int(pd.Timestamp(now).value) and first[0]["bv"] == 500.0
    second = src.poll()
    assert [(x["s"], x["v"]) for x in second] == [("VNM", 500.0)]  # FPT did not trade: no tick
    with pytest.raises(ConnectionError):
        src.poll()  # the network fails: nothing emitted, nothing invented
    third = src.poll()
    assert [(x["s"], x["p"], x["v"]) for x in third] == [("VNM", 61_400.0, 1_500.0),
                                                          ("FPT", 99_700.0, 600.0)]  # fmt: skip
    assert board.calls == 4 and board.asked[0] == ["VNM", "FPT"]  # one request for all symbols
    assert len(waits) == 3 and all(abs(w - 3.0) < 1e-9 for w in waits)  # 20 requests a minute
    # a restarted producer resumes from the accumulated volumes the stream holds
    fresh = VnstockPriceBoardSource(["VNM", "FPT"], client_factory=lambda: _Board(
        [[("VNM", 61.0, 61.4, 12_300, 61.3, 1, 61.4, 1), ("FPT", 99.0, 99.7, 2_600, 99.6, 1, 99.7, 1)]]),
        limiter=TokenBucket(20, clock=lambda: 0.0, sleep=lambda s: None), clock=lambda: now)  # fmt: skip
    assert fresh.resume(first + second + third) == 5
    assert [(x["s"], x["v"], x["cum"]) for x in fresh.poll()] == [("VNM", 300.0, 12_300.0)]


def test_vnstock_price_board_refuses_an_unknown_shape():
    from stockvision.stream.sources import VnstockPriceBoardSource

    class Odd:
        def stock(self, symbol, source):
            return type("S", (), {"trading": self})()

        def price_board(self, symbols_list):
            return pd.DataFrame({"ticker": ["VNM"], "close": [61.2]})

    src = VnstockPriceBoardSource(["VNM"], client_factory=Odd,
                                  limiter=TokenBucket(20, clock=lambda: 0.0, sleep=lambda s: None))  # fmt: skip
    with pytest.raises(ValueError, match="match_match_price"):
        src.poll()
