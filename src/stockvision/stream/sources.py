"""Sources of live ticks: a replay of stored history, a simulated intraday path, vnstock intraday.

A source is an async iterator of *batches* of ticks (one batch per market minute for replay and
simulation, one per poll for vnstock). A tick is a plain dict, the wire form of the ``ticks`` stream:
``{"s": symbol, "p": price VND, "v": shares, "t": event time in ns since the epoch (UTC), "i": id}``
(``i`` names the tick within its source, so a re-published tick carries the same message id). Ticks
exist only inside the exchange's matching windows (:mod:`stockvision.market.sessions`): no tick in
the lunch break, none after the close.

* :class:`ReplaySource` (the offline default) turns stored daily bars into an intraday path that
  opens at the day's open, visits its high and low, and closes at its close, on the tick grid, with
  the day's volume split over the ticks; the day's live bar therefore ends exactly equal to the
  stored row, so the live features at the close equal the weekly batch. ``speed`` is market seconds
  per wall second (0 = as fast as possible). Deterministic for a seed.
* :class:`SimulatedSource` draws a random walk per minute inside the daily price band of each
  symbol's reference price, for load tests.
* :class:`VnstockIntradaySource` polls vnstock's intraday trades (real network; tested at its
  boundary with generated responses), within the guest limit of 20 requests a minute, keeping
  the trades it has already seen so a reconnect backfills the gap from the source and never
  invents flat bars.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from stockvision.market.exchanges import Exchange, price_band, round_to_tick
from stockvision.market.sessions import VN_TZ, is_open, next_open, trading_minutes

log = logging.getLogger(__name__)

Tick = dict[str, Any]
_MINUTE_NS = 60 * 10**9


def _exchange(symbol: str, exchanges: dict[str, str] | None) -> Exchange:
    if exchanges and symbol in exchanges:
        return Exchange.parse(exchanges[symbol])
    from stockvision.market.listings import LISTINGS

    listing = LISTINGS.get(symbol)  # an unlisted (e.g. simulated) ticker trades as on HOSE
    return listing.exchange if listing is not None else Exchange.HOSE


class ReplaySource:
    """Stored daily bars of ``days`` replayed as intraday ticks (``ticks_per_day`` per symbol)."""

    name = "replay"

    def __init__(
        self,
        daily: pd.DataFrame,
        days: Iterable[date | str | pd.Timestamp] | None = None,
        speed: float = 60.0,
        ticks_per_day: int = 12,
        seed: int = 0,
        symbols: list[str] | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        frame = daily[["symbol", "date", "open", "high", "low", "close", "volume"]]
        if symbols:
            frame = frame[frame["symbol"].isin(symbols)]
        frame = frame.dropna(subset=["open", "high", "low", "close"])
        frame = frame[frame["volume"] > 0]
        self.frame = frame.sort_values(["date", "symbol"], ignore_index=True)
        all_days = pd.DatetimeIndex(self.frame["date"].unique())
        self.days = (
            pd.DatetimeIndex([pd.Timestamp(d) for d in days]) if days is not None else all_days[-1:]
        )
        self.speed = speed
        self.ticks_per_day = max(4, ticks_per_day)
        self.seed = seed
        self._sleep = sleep

    def day_ticks(self, day: pd.Timestamp) -> pd.DataFrame:
        """Every tick of ``day`` (columns s, p, v, t), ordered by event time then symbol."""
        rows = self.frame[self.frame["date"] == day]
        n, k = len(rows), self.ticks_per_day
        if n == 0:
            return pd.DataFrame(columns=["s", "p", "v", "t"])
        rng = np.random.default_rng([self.seed, int(day.value // 86_400_000_000_000)])
        minutes = trading_minutes(day.date()).astype(np.int64)
        o, h, lo, c = (rows[x].to_numpy(dtype=np.float64) for x in ("open", "high", "low", "close"))
        path = o[:, None] + (c - o)[:, None] * np.linspace(0, 1, k)[None, :]
        path += rng.normal(0, 0.25, (n, k)) * (h - lo)[:, None]
        path = np.clip(path, lo[:, None], h[:, None])
        hi_at = rng.integers(1, k - 1, n)
        lo_at = np.where(hi_at == k - 2, 1, hi_at + 1)  # distinct from hi_at, never first/last
        r = np.arange(n)
        path[r, hi_at], path[r, lo_at] = h, lo
        path[:, 0], path[:, -1] = o, c
        sym = rows["symbol"].to_numpy()
        ex = [_exchange(s, None) for s in sym]
        for i in range(n):  # snap the inner points onto the symbol's tick grid
            path[i, 1:-1] = np.clip(round_to_tick(path[i, 1:-1], ex[i]), lo[i], h[i])
        path[r, hi_at], path[r, lo_at] = h, lo
        vol = rows["volume"].to_numpy(dtype=np.float64)
        share = rng.dirichlet(np.ones(k), n) * vol[:, None]
        share = np.floor(share)
        share[:, -1] += vol - share.sum(axis=1)
        slot = np.sort(rng.choice(len(minutes) - 2, (n, k - 2)), axis=1) + 1
        at = np.concatenate([np.zeros((n, 1), int), slot, np.full((n, 1), len(minutes) - 1)], 1)
        t = minutes[at] + rng.integers(0, 59, (n, k)) * 10**9
        out = pd.DataFrame(
            {"s": np.repeat(sym, k), "p": path.ravel(), "v": share.ravel(), "t": t.ravel()}
        )
        return out.sort_values(["t", "s"], kind="stable", ignore_index=True)

    async def batches(self) -> AsyncIterator[list[Tick]]:
        for day in self.days:
            ticks = self.day_ticks(pd.Timestamp(day))
            if ticks.empty:
                continue
            tag = f"r{pd.Timestamp(day).date()}"
            minute = ticks["t"].to_numpy() // _MINUTE_NS
            bounds = np.flatnonzero(np.r_[True, minute[1:] != minute[:-1], True])
            prev = None
            for a, b in itertools.pairwise(bounds):
                if self.speed and prev is not None:
                    await self._sleep((minute[a] - prev) * 60.0 / self.speed)
                prev = minute[a]
                chunk = ticks.iloc[a:b]
                cols = (chunk["s"], chunk["p"], chunk["v"], chunk["t"], range(a, b))
                yield [
                    {"s": s, "p": float(p), "v": float(v), "t": int(t), "i": f"{tag}:{i}"}
                    for s, p, v, t, i in zip(*cols, strict=True)
                ]


class SimulatedSource:
    """A random intraday path per symbol within its daily band, ``ticks_per_minute`` each minute."""

    name = "simulated"

    def __init__(
        self,
        reference: dict[str, float],
        day: date | str | pd.Timestamp,
        ticks_per_minute: int = 2,
        speed: float = 60.0,
        seed: int = 0,
        exchanges: dict[str, str] | None = None,
        minutes: int | None = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
    ) -> None:
        self.symbols = list(reference)
        self.ref = np.array([reference[s] for s in self.symbols], dtype=np.float64)
        self.day = pd.Timestamp(day)
        self.ticks_per_minute = ticks_per_minute
        self.speed = speed
        self.seed = seed
        self.ex = [_exchange(s, exchanges) for s in self.symbols]
        floor, ceil = np.empty(len(self.ref)), np.empty(len(self.ref))
        for e in set(self.ex):  # bands per exchange, vectorised within one
            m = np.array([x is e for x in self.ex])
            floor[m], ceil[m] = price_band(self.ref[m], e)
        self.floor, self.ceiling = floor, ceil
        self.minutes = minutes
        self._sleep = sleep

    def _grid(self, price: np.ndarray) -> np.ndarray:
        out = np.empty_like(price)
        for e in set(self.ex):
            m = np.array([x is e for x in self.ex])
            out[m] = round_to_tick(price[m], e)
        return out

    async def batches(self) -> AsyncIterator[list[Tick]]:
        rng = np.random.default_rng(self.seed)
        minutes = trading_minutes(self.day.date()).astype(np.int64)
        if self.minutes is not None:
            minutes = minutes[: self.minutes]
        price = self.ref.copy()
        n, k = len(self.symbols), self.ticks_per_minute
        for j, m in enumerate(minutes):
            if self.speed and j:
                await self._sleep(60.0 / self.speed)
            steps = rng.normal(0, 0.0015, (k, n))
            ticks: list[Tick] = []
            offs = np.sort(rng.integers(0, 60, (k, n)), axis=0)
            tag = f"s{self.day.date()}:{j}"
            for q in range(k):
                price = np.clip(self._grid(price * np.exp(steps[q])), self.floor, self.ceiling)
                vol = (rng.lognormal(6, 1, n) // 100 + 1) * 100
                t = m + offs[q] * 10**9
                ticks.extend(
                    {"s": s, "p": float(p), "v": float(v), "t": int(tt), "i": f"{tag}:{q}:{x}"}
                    for x, (s, p, v, tt) in enumerate(zip(self.symbols, price, vol, t, strict=True))
                )
            ticks.sort(key=lambda x: x["t"])
            yield ticks


class VnstockIntradaySource:
    """Intraday trades from vnstock (``quote.intraday``), polled within the request limit.

    ``client_factory`` returns an object like ``vnstock.Vnstock()``:
    ``client.stock(symbol=..., source=...).quote.intraday(symbol=..., page_size=..., show_log=False)``
    returning columns ``time, price, volume`` (and ``id`` when the source numbers its trades).
    VCI quotes stock prices in thousand VND: they are multiplied by 1,000 as in the daily source.
    """

    name = "vnstock"

    def __init__(
        self,
        symbols: list[str],
        client_factory: Callable[[], Any] | None = None,
        source: str = "VCI",
        rate_limit_per_min: int = 20,
        page_size: int = 10_000,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        limiter: Any = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        max_polls: int | None = None,
    ) -> None:
        from stockvision.data.sources.vnstock_source import TokenBucket, default_client_factory

        self.symbols = list(symbols)
        self.client_factory = client_factory or default_client_factory
        self.source = source
        self.page_size = page_size
        # polls run in a worker thread, so the bucket's blocking sleep never blocks the event loop
        self.limiter = limiter or TokenBucket(rate_limit_per_min)
        self._clock = clock
        self._sleep = sleep
        self.max_polls = max_polls
        self._client: Any = None
        self.seen: dict[str, set] = {s: set() for s in self.symbols}
        #: per symbol, the newest event time the stream held at a resume (ns)
        self.resume_after: dict[str, int] = {}
        self.calls = 0
        self.errors = 0

    def _fetch(self, symbol: str) -> pd.DataFrame:
        from stockvision.data.sources.vnstock_source import is_quoted_in_thousands

        if self._client is None:
            self._client = self.client_factory()
        quote = self._client.stock(symbol=symbol, source=self.source).quote
        frame = quote.intraday(symbol=symbol, page_size=self.page_size, show_log=False)
        self.calls += 1
        if frame is None or len(frame) == 0:
            return pd.DataFrame(columns=["s", "p", "v", "t", "key"])
        times = pd.to_datetime(frame["time"])
        if times.dt.tz is None:
            times = times.dt.tz_localize(VN_TZ)
        price = frame["price"].to_numpy(dtype=np.float64)
        if is_quoted_in_thousands(symbol):
            price = np.round(price * 1000.0)
        t = (
            times.dt.tz_convert("UTC")
            .dt.tz_localize(None)
            .astype("datetime64[ns]")
            .astype(np.int64)
        )
        key = frame["id"].astype(str) if "id" in frame else (
            t.astype(str) + ":" + frame["price"].astype(str) + ":" + frame["volume"].astype(str)
        )  # fmt: skip
        return pd.DataFrame(
            {
                "s": symbol,
                "p": price,
                "v": frame["volume"].to_numpy(dtype=np.float64),
                "t": t.to_numpy(),
                "key": key.to_numpy(),
            }
        )

    def resume(self, published: Iterable[Tick]) -> int:
        """Continue after a crash from what the ``ticks`` stream already holds (its tail): per
        symbol, trades before the last published event time are skipped and the trades published
        at or after it are marked seen, so the first poll backfills only the gap, from the source
        (vnstock lists the whole day's trades). Returns how many published ticks were read."""
        n = 0
        for tick in published:
            sym = tick.get("s")
            if sym not in self.seen or not str(tick.get("i", "")).startswith(f"v{sym}:"):
                continue
            n += 1
            t = int(tick["t"])
            if t > self.resume_after.get(sym, -1):
                self.resume_after[sym] = t
            self.seen[sym].add(str(tick["i"])[len(sym) + 2 :])
        return n

    def poll(self, symbol: str) -> list[Tick]:
        """New trades of ``symbol`` since the last poll (the whole day's on the first)."""
        waited = self.limiter.acquire()
        if waited:
            log.debug("vnstock limit: waited %.1fs", waited)
        frame = self._fetch(symbol)
        seen = self.seen[symbol]
        fresh = frame[~frame["key"].isin(seen)].sort_values("t", kind="stable")
        after = self.resume_after.get(symbol)
        if after is not None:  # already published up to this event time before a restart
            fresh = fresh[fresh["t"] >= after]
        seen.update(fresh["key"])
        return [
            {"s": symbol, "p": float(p), "v": float(v), "t": int(t), "i": f"v{symbol}:{k}"}
            for p, v, t, k in zip(fresh["p"], fresh["v"], fresh["t"], fresh["key"], strict=True)
            if np.isfinite(p) and p > 0
        ]

    async def batches(self) -> AsyncIterator[list[Tick]]:
        polls = 0
        while self.max_polls is None or polls < self.max_polls:
            now = self._clock()
            if not is_open(now):
                wait = (next_open(now) - now).total_seconds()
                await self._sleep(min(max(wait, 1.0), 300.0))
                polls += 1
                continue
            for symbol in self.symbols:
                try:
                    ticks = await asyncio.to_thread(self.poll, symbol)
                except Exception as exc:  # a failed call: try again next round, invent nothing
                    self.errors += 1
                    log.warning("vnstock intraday %s failed: %s", symbol, exc)
                    ticks = []
                if ticks:
                    yield ticks
            polls += 1


class VnstockPriceBoardSource:
    """The live price board (``trading.price_board``: last match, accumulated volume, best bid and
    ask) of many symbols in one request per poll, within the request limit.

    ``client_factory`` returns an object like ``vnstock.Vnstock()``:
    ``client.stock(symbol=..., source=...).trading.price_board(symbols_list=[...])`` returning one
    row per symbol with two-level columns ``(group, field)``: ``listing/symbol``,
    ``listing/ref_price``, ``match/match_price``, ``match/accumulated_volume``,
    ``bid_ask/bid_1_price``, ``bid_1_volume``, ``ask_1_price``, ``ask_1_volume`` (flat
    ``group_field`` names are read too). A tick is emitted when a symbol's accumulated volume grew:
    ``v`` is the growth, ``p`` the last match, ``b``/``a`` the best bid/ask and ``cum`` the day's
    volume so far; its event time is the poll's (the board carries no trade time). The first
    observation of a day carries the whole volume so far, so the live day's volume is right; what
    happened between two polls is one tick (the intraday source lists each trade). Prices quoted in
    thousand VND (a stock's reference price below 1,000) are converted to VND.
    """

    name = "vnstock_board"

    def __init__(
        self,
        symbols: list[str],
        client_factory: Callable[[], Any] | None = None,
        source: str = "VCI",
        rate_limit_per_min: int = 20,
        per_request: int = 50,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        limiter: Any = None,
        sleep: Callable[[float], Any] = asyncio.sleep,
        max_polls: int | None = None,
    ) -> None:
        from stockvision.data.sources.vnstock_source import TokenBucket, default_client_factory

        self.symbols = list(symbols)
        self.client_factory = client_factory or default_client_factory
        self.source = source
        self.per_request = per_request
        self.limiter = limiter or TokenBucket(rate_limit_per_min)
        self._clock = clock
        self._sleep = sleep
        self.max_polls = max_polls
        self._client: Any = None
        self.volume: dict[str, float] = {}  # accumulated volume last published, per symbol
        self.day: date | None = None
        self.calls = 0
        self.errors = 0

    def resume(self, published: Iterable[Tick]) -> int:
        """Continue after a crash: the accumulated volumes the stream already holds (today's), so
        the first poll publishes only what traded since (the gap, from the board)."""
        n = 0
        today = self._clock().astimezone(VN_TZ).date()
        for tick in published:
            sym, cum = tick.get("s"), tick.get("cum")
            if sym not in self.symbols or cum is None:
                continue
            when = datetime.fromtimestamp(int(tick["t"]) / 1e9, UTC).astimezone(VN_TZ).date()
            if when == today:
                self.volume[sym] = max(self.volume.get(sym, 0.0), float(cum))
                self.day = today
                n += 1
        return n

    def _board(self, symbols: list[str]) -> pd.DataFrame:
        if self._client is None:
            self._client = self.client_factory()
        trading = self._client.stock(symbol=symbols[0], source=self.source).trading
        frame = trading.price_board(symbols_list=symbols)
        self.calls += 1
        if frame is None or len(frame) == 0:
            return pd.DataFrame()
        if isinstance(frame.columns, pd.MultiIndex):
            frame = frame.copy()
            frame.columns = ["_".join(str(x) for x in c if str(x)) for c in frame.columns]
        return frame

    def poll(self, symbols: list[str] | None = None) -> list[Tick]:
        """One request for ``symbols`` (default: all, at most ``per_request``): the ticks of the
        symbols whose accumulated volume grew since the last poll."""
        from stockvision.data.sources.vnstock_source import is_quoted_in_thousands

        symbols = list(symbols or self.symbols[: self.per_request])
        waited = self.limiter.acquire()
        if waited:
            log.debug("vnstock limit: waited %.1fs", waited)
        now = self._clock()
        today = now.astimezone(VN_TZ).date()
        if self.day != today:  # a new session: accumulated volumes restart at 0
            self.day, self.volume = today, {}
        frame = self._board(symbols)
        need = ["listing_symbol", "match_match_price", "match_accumulated_volume"]
        missing = [c for c in need if c not in frame.columns]
        if len(frame) and missing:
            raise ValueError(f"vnstock price board without {missing}")
        t = int(pd.Timestamp(now).tz_convert("UTC").value)
        out: list[Tick] = []
        for row in frame.to_dict("records"):
            sym = str(row["listing_symbol"]).upper()
            price, cum = (
                _num(row.get("match_match_price")),
                _num(row.get("match_accumulated_volume")),
            )
            if sym not in self.symbols or not (price > 0) or not np.isfinite(cum):
                continue
            scale = 1.0
            ref = _num(row.get("listing_ref_price"))
            if is_quoted_in_thousands(sym) and 0 < (ref if ref > 0 else price) < 1000:
                scale = 1000.0
            grown = cum - self.volume.get(sym, 0.0)
            if grown <= 0:
                continue  # nothing traded since: no tick, never a flat one
            self.volume[sym] = cum
            tick: Tick = {"s": sym, "p": round(price * scale, 4), "v": float(grown), "t": t,
                          "i": f"pb{sym}:{today}:{int(cum)}", "cum": float(cum)}  # fmt: skip
            for key, col in (("b", "bid_ask_bid_1_price"), ("a", "bid_ask_ask_1_price")):
                value = _num(row.get(col))
                if value > 0:
                    tick[key] = round(value * scale, 4)
            for key, col in (("bv", "bid_ask_bid_1_volume"), ("av", "bid_ask_ask_1_volume")):
                value = _num(row.get(col))
                if np.isfinite(value):
                    tick[key] = float(value)
            out.append(tick)
        return out

    async def batches(self) -> AsyncIterator[list[Tick]]:
        polls = 0
        while self.max_polls is None or polls < self.max_polls:
            now = self._clock()
            if not is_open(now):
                wait = (next_open(now) - now).total_seconds()
                await self._sleep(min(max(wait, 1.0), 300.0))
                polls += 1
                continue
            for i in range(0, len(self.symbols), self.per_request):
                chunk = self.symbols[i : i + self.per_request]
                try:
                    ticks = await asyncio.to_thread(self.poll, chunk)
                except Exception as exc:  # a failed call: the next poll carries the growth
                    self.errors += 1
                    log.warning("vnstock price board failed: %s", exc)
                    ticks = []
                if ticks:
                    yield ticks
            polls += 1


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return float("nan")
    return out
