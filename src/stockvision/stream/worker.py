"""The stream worker: ticks in, live bars, features, predictions and alerts out, exactly once in effect.

One consumer group (``live``) reads the ``ticks`` stream. Ticks update the live bars of the engine;
when a tick of a later market minute arrives (event time, not arrival time), the open minute is
*closed*: the features of every symbol that traded in it are computed (one vectorised call), the
ones whose price moved more than ``move_threshold`` since their last live forecast are predicted,
alert rules are evaluated, and everything is published with a ``msg_id`` naming what it describes
(``kind:symbol:minute``). Only then is the batch of ticks acknowledged.

Restart: the worker first replays the ticks its group already acknowledged (``bus.read``), without
publishing, to rebuild the live bars and the alert and forecast state; then the group resumes at the
first unacknowledged tick. A worker killed anywhere therefore re-publishes at most the outputs of
one batch, with the same ``msg_id`` (dropped by NATS' duplicate window, by the WebSocket hub's
de-duplication and by the alert store's unique key), and loses nothing.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stockvision.data.store.alerts import AlertEvent
from stockvision.features.feature_docs import FEATURES
from stockvision.stream.alerts import AlertBook
from stockvision.stream.bus import Bus, Message
from stockvision.stream.live_features import LiveFeatures
from stockvision.stream.predictions import prediction_message

log = logging.getLogger(__name__)

_MINUTE = 60 * 10**9
_DAY = 86_400 * 10**9
_VN_OFFSET = 7 * 3600 * 10**9
GROUP = "live"
#: ticks a restarted live producer reads back to learn where it stopped
RESUME_TAIL = 50_000


@dataclass
class WorkerStats:
    ticks: int = 0
    replayed: int = 0
    minutes: int = 0
    features: int = 0
    predictions: int = 0
    alerts: int = 0
    prices: int = 0
    last_tick_seq: int = 0
    late_ticks: int = 0
    skipped_ticks: int = 0
    unknown_ticks: int = 0
    started_at: float = field(default_factory=time.time)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _local_day(t_ns: int) -> pd.Timestamp:
    return pd.Timestamp((t_ns + _VN_OFFSET) // _DAY * _DAY)


class StreamWorker:
    """Turns the ``ticks`` stream into ``bars``, ``features``, ``predictions`` and ``alerts``.

    ``engine_for(day)`` builds the :class:`LiveFeatures` of a session day (from the stored history
    before it); ``predictor_for(day)`` the :class:`~stockvision.stream.predictions.LivePredictor`
    (or None: features only); ``alert_store`` persists fired alerts (or None); ``shadow`` (a
    :class:`~stockvision.stream.shadow.ShadowScorer`, or None) logs the challenger's answer to each
    served forecast, after it is published and without changing it.
    """

    def __init__(
        self,
        bus: Bus,
        engine_for: Callable[[pd.Timestamp], LiveFeatures],
        predictor_for: Callable[[pd.Timestamp], Any] | None = None,
        alert_store: Any = None,
        group: str = GROUP,
        move_threshold: float = 0.005,
        batch_size: int = 4096,
        alert_refresh_s: float = 5.0,
        heartbeat: Path | None = None,
        shadow: Any = None,
    ) -> None:
        self.bus = bus
        self.engine_for = engine_for
        self.predictor_for = predictor_for
        self.alert_store = alert_store
        self.group = group
        self.move_threshold = move_threshold
        self.batch_size = batch_size
        self.alert_refresh_s = alert_refresh_s
        self.heartbeat = heartbeat
        self.shadow = shadow  # a ShadowScorer: the challenger answers too, in the background
        self._beat = 0.0
        self.stats = WorkerStats()
        self.engine: LiveFeatures | None = None
        self.predictor: Any = None
        self.day: pd.Timestamp | None = None
        self.minute: int | None = None
        self.dirty: set[int] = set()
        self.predicted_at: dict[str, float] = {}
        self.book = AlertBook()
        self._alerts_loaded = 0.0
        self._outbox: dict[str, list[tuple[dict, str | None, str | None]]] = {}

    # --- the loop ----------------------------------------------------------------------------
    async def run(
        self,
        stop: asyncio.Event,
        idle_exit_s: float | None = None,
        source_done: asyncio.Event | None = None,
    ) -> WorkerStats:
        """Consume until ``stop`` is set (or nothing arrived for ``idle_exit_s``, counted only once
        ``source_done`` is set when given: a replay's lunch break is a quiet stretch, not the end);
        returns stats."""
        for s in ("ticks", "bars", "features", "predictions", "alerts"):
            await self.bus.ensure_stream(s)
        self._load_alerts(force=True)
        await self.rebuild()
        consumer = await self.bus.consumer("ticks", self.group)
        idle_since = time.monotonic()
        try:
            while not stop.is_set():
                msgs = await consumer.fetch(self.batch_size, timeout=0.5)
                self._heartbeat()
                if not msgs:
                    finished = source_done is None or source_done.is_set()
                    if not finished:
                        idle_since = time.monotonic()
                    elif idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s:
                        break
                    continue
                idle_since = time.monotonic()
                self._load_alerts()
                await self.process(msgs, publish=True)
                await consumer.ack(msgs)
        finally:
            await consumer.close()
            if self.shadow is not None:
                await self.shadow.drain()
        return self.stats

    async def rebuild(self) -> int:
        """Re-apply the ticks the group already acknowledged (no output); returns how many."""
        floor = (await self.bus.group_info("ticks", self.group)).acked
        seq = await self.bus.first_seq("ticks")
        n = 0
        while seq <= floor:
            msgs = await self.bus.read("ticks", seq, limit=min(self.batch_size, floor - seq + 1))
            if not msgs:
                break
            await self.process(msgs, publish=False)
            n += len(msgs)
            seq = msgs[-1].seq + 1
        self.stats.replayed += n
        return n

    # --- processing ---------------------------------------------------------------------------
    async def process(self, msgs: list[Message], publish: bool) -> None:
        """Apply a batch of tick messages in order, closing minutes as event time moves on; a
        ``close`` control message (the source finished a session) closes the open minute."""
        segment: list[Message] = []
        for m in msgs:
            if "s" in m.data:
                segment.append(m)
            elif m.data.get("ctl") == "close":
                await self._apply(segment, publish)
                segment = []
                await self._close(publish)
        await self._apply(segment, publish)

    async def _apply(self, ticks: list[Message], publish: bool) -> None:
        if not ticks:
            return
        sym = [m.data["s"] for m in ticks]
        price = np.fromiter((m.data["p"] for m in ticks), dtype=np.float64, count=len(ticks))
        vol = np.fromiter((m.data["v"] for m in ticks), dtype=np.float64, count=len(ticks))
        t = np.fromiter((m.data["t"] for m in ticks), dtype=np.int64, count=len(ticks))
        seq = np.fromiter((m.seq for m in ticks), dtype=np.int64, count=len(ticks))
        minute = t // _MINUTE
        running = np.maximum.accumulate(minute)
        cuts = np.flatnonzero(np.r_[True, running[1:] != running[:-1], True])
        for a, b in itertools.pairwise(cuts):
            m = int(running[a])
            day = _local_day(m * _MINUTE)
            if self.minute is not None and m > self.minute:
                await self._close(publish)
            if self.day is None or day > self.day:
                self._new_day(day)
            if self.minute is None or m > self.minute:
                self.minute = m
            engine = self.engine
            assert engine is not None
            codes = engine.codes_of(sym[a:b])
            changed = engine.apply(codes, price[a:b], vol[a:b], t[a:b], seq[a:b])
            self.dirty.update(int(c) for c in changed)
        self.stats.ticks += len(ticks)
        self.stats.last_tick_seq = int(seq[-1])
        if self.engine is not None:
            e = self.engine
            self.stats.late_ticks, self.stats.skipped_ticks = e.late_ticks, e.skipped_ticks
            self.stats.unknown_ticks = e.unknown_ticks

    def _new_day(self, day: pd.Timestamp) -> None:
        self.day = day
        self.engine = self.engine_for(day)
        self.predictor = self.predictor_for(day) if self.predictor_for else None
        self.minute = None
        self.dirty = set()
        self.predicted_at = {}

    async def _close(self, publish: bool) -> None:
        """Close the open minute: features, prices, predictions and alerts of its symbols."""
        engine, minute = self.engine, self.minute
        if engine is None or minute is None or not self.dirty:
            return
        codes = np.array(sorted(self.dirty), dtype=np.int64)
        self.dirty = set()
        self.stats.minutes += 1
        stamp = (minute + 1) * _MINUTE  # a minute's bar is known at its end
        feats = engine.compute(codes)
        if len(feats) == 0:
            return
        symbols = list(feats.index.get_level_values(0))
        idx = engine.codes_of(symbols)
        closes = engine.close[idx]
        week_end = str(pd.Timestamp(feats.index.get_level_values(1)[0]).date())
        values = feats[FEATURES].to_numpy()
        prices = {}
        for i, s in enumerate(symbols):
            c = int(idx[i])
            prices[s] = float(closes[i])
            prev = float(engine.prev_close[c])
            self._emit("bars", s, f"bar:{s}:{minute}", {
                "symbol": s, "time": stamp, "price": prices[s],
                "open": float(engine.open[c]), "high": float(engine.high[c]),
                "low": float(engine.low[c]), "volume": float(engine.volume[c]),
                "change_pct": round((prices[s] / prev - 1) * 100, 3) if prev > 0 else None,
            })  # fmt: skip
            self._emit("features", s, f"feat:{s}:{minute}", {
                "symbol": s, "time": stamp, "week_end": week_end,
                "features": {f: (None if not np.isfinite(v) else float(v))
                             for f, v in zip(FEATURES, values[i], strict=True)},
            })  # fmt: skip
        self.stats.prices += len(symbols)
        self.stats.features += len(symbols)
        events: list[AlertEvent] = self.book.on_prices(stamp, prices)
        shadow_batch = None
        if self.predictor is not None:
            moved = [
                i for i, s in enumerate(symbols)
                if s not in self.predicted_at
                or abs(prices[s] / self.predicted_at[s] - 1) >= self.move_threshold
            ]  # fmt: skip
            if moved:
                preds = self.predictor.predict(feats.iloc[moved], closes[moved])
                patterns = {}
                for p in preds:
                    self.predicted_at[p.symbol] = prices[p.symbol]
                    patterns[p.symbol] = p.pattern
                    body = prediction_message(p) | {"time": stamp, "live": True}
                    self._emit("predictions", p.symbol, f"pred:{p.symbol}:{minute}", body)
                self.stats.predictions += len(preds)
                events += self.book.on_patterns(stamp, patterns)
                if publish and self.shadow is not None and preds:
                    shadow_batch = (feats.iloc[moved], closes[moved], preds, stamp)
        if events and publish and self.alert_store is not None:
            events = await asyncio.to_thread(self.alert_store.record_events, events)
        for ev in events:
            self._emit("alerts", ev.symbol, f"alert:{ev.alert_id}:{ev.crossing_key}", {
                "alert_id": ev.alert_id, "symbol": ev.symbol, "time": stamp, **ev.payload,
            })  # fmt: skip
        self.stats.alerts += len(events)
        if publish:
            await self.flush()
            if shadow_batch is not None:  # the served forecasts are out: now the challenger's
                self.shadow.offer(*shadow_batch)
        else:
            self._outbox.clear()

    def _emit(self, stream: str, key: str, msg_id: str, data: dict) -> None:
        self._outbox.setdefault(stream, []).append((data, key, msg_id))

    async def flush(self) -> None:
        out, self._outbox = self._outbox, {}
        for stream, items in out.items():
            await self.bus.publish_many(stream, items)

    def _heartbeat(self) -> None:
        """Touch the heartbeat file (the container's health check reads its age)."""
        now = time.monotonic()
        if self.heartbeat is not None and now - self._beat > 5.0:
            self.heartbeat.touch()
            self._beat = now

    def _load_alerts(self, force: bool = False) -> None:
        if self.alert_store is None:
            return
        now = time.monotonic()
        if force or now - self._alerts_loaded > self.alert_refresh_s:
            self.book.refresh(self.alert_store.list())
            self._alerts_loaded = now


async def publish_source(
    bus: Bus, source: Any, stop: asyncio.Event | None = None, resume: bool = False
) -> int:
    """Publish every batch of ``source`` to ``ticks`` (and a ``close`` marker per finished day).

    Each tick's ``msg_id`` is its source id (``i``), so a broker with a duplicate window drops a
    re-published tick. With ``resume``, a deterministic source (replay, simulation) restarted after
    a crash skips what the stream already holds, up to its newest message; a live source (one with
    ``resume(ticks)``: vnstock) is given the stream's last ``RESUME_TAIL`` ticks and continues from
    their event times, backfilling the gap from the source.
    """
    await bus.ensure_stream("ticks")
    skip_until: str | None = None
    if resume and hasattr(source, "resume"):  # a live source: continue from the event times
        last = await bus.last_seq("ticks")
        if last:
            first = max(await bus.first_seq("ticks"), last - RESUME_TAIL + 1)
            tail = await bus.read("ticks", first, limit=RESUME_TAIL)
            n = source.resume(m.data for m in tail if "s" in m.data)
            log.info("%s resumes after %d published ticks", type(source).__name__, n)
    elif resume and (last := await bus.last_seq("ticks")):
        newest = await bus.read("ticks", last, limit=1)
        if newest and newest[0].msg_id:
            skip_until = newest[0].msg_id
    n = 0
    day = None
    async for batch in source.batches():
        if stop is not None and stop.is_set():
            break
        if not batch:
            continue
        first_day = _local_day(batch[0]["t"])
        if day is not None and first_day > day:
            if skip_until == _close_id(day):
                skip_until = None
            elif skip_until is None:
                await bus.publish("ticks", _close(day), msg_id=_close_id(day))
        day = _local_day(batch[-1]["t"])
        items = [(t, t["s"], f"tick:{t['i']}" if "i" in t else None) for t in batch]
        if skip_until is not None:
            ids = [i for _, _, i in items]
            if skip_until not in ids:
                continue  # all of it was published before the restart
            items = items[ids.index(skip_until) + 1 :]
            skip_until = None
        if items:
            await bus.publish_many("ticks", items)
            n += len(items)
    if day is not None and skip_until is None and (stop is None or not stop.is_set()):
        await bus.publish("ticks", _close(day), msg_id=_close_id(day))
    return n


def _close(day: pd.Timestamp) -> dict[str, str]:
    return {"ctl": "close", "day": str(day.date())}


def _close_id(day: pd.Timestamp) -> str:
    return f"close:{day.date()}"
