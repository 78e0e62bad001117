"""Assemble a live system from settings: bus, store history, models, source, worker.

The CLI (``stockvision stream run``), the API's embedded stream (memory bus) and the tests all build
the same pieces here, so a replay in the chat UI runs the same code as a worker on NATS.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from stockvision.config import Settings
from stockvision.stream.bus import Bus, open_bus
from stockvision.stream.live_features import LiveFeatures
from stockvision.stream.predictions import LivePredictor
from stockvision.stream.sources import (
    ReplaySource,
    SimulatedSource,
    VnstockIntradaySource,
    VnstockPriceBoardSource,
)
from stockvision.stream.worker import StreamWorker, publish_source

log = logging.getLogger(__name__)


def make_bus(settings: Settings, url: str | None = None, prefix: str | None = None) -> Bus:
    url = url or settings.stream_bus
    options: dict[str, Any] = {}
    if url.startswith("nats"):
        options["ack_wait_s"] = settings.stream_ack_wait_seconds
    return open_bus(url, prefix=prefix or settings.stream_prefix, **options)


@dataclass
class LiveData:
    """What the worker reads from the store once at start."""

    raw: pd.DataFrame
    adjusted: pd.DataFrame
    features: pd.DataFrame | None
    labels: pd.DataFrame | None
    models: Any
    simulated: set[str]
    #: the challenger set's provider (shadow scoring), None: no shadow scoring
    challengers: Callable[[], Any] | None = None

    def engine_for(self, day: pd.Timestamp) -> LiveFeatures:
        return LiveFeatures(self.adjusted, day)

    def predictor_for(self, settings: Settings):
        if self.models is None or self.features is None or self.labels is None:
            return None

        from stockvision.monitoring.live_width import LiveWidthReader
        from stockvision.monitoring.state import MonitoringState

        reader = LiveWidthReader(MonitoringState(settings.subdir("monitoring")))

        def build(day: pd.Timestamp) -> LivePredictor:
            return LivePredictor(
                self.models,
                self.features,
                self.labels,
                seq_len=settings.seq_len,
                horizon=settings.horizon_weeks,
                simulated=self.simulated,
                live_width=reader.read,
            )

        return build

    def shadow_for(self, settings: Settings, store: Any) -> Any:
        """The challenger's shadow scorer (``stockvision.stream.shadow``), or None without
        challengers or stored features."""
        if self.challengers is None or self.features is None or self.labels is None:
            return None
        from stockvision.data.store.shadow import ShadowStore
        from stockvision.stream.shadow import ShadowScorer

        predictor = LivePredictor(
            self.challengers,
            self.features,
            self.labels,
            seq_len=settings.seq_len,
            horizon=settings.horizon_weeks,
            simulated=self.simulated,
        )
        return ShadowScorer(predictor, ShadowStore(store))


def load_live_data(store: Any, settings: Settings, with_models: bool = True) -> LiveData:
    from stockvision.data.ingest import adjusted_daily

    raw = store.read_daily()
    adjusted = adjusted_daily(store)
    features = store.read_features()
    labels = store.read_labels()
    summary = store.symbols_summary()
    simulated = set(summary.loc[summary["simulated"], "symbol"]) if len(summary) else set()
    models = champion_provider(settings) if with_models else None
    if models is not None and models() is None:
        models = None
    challengers = challenger_provider(settings, models) if models is not None else None
    return LiveData(raw, adjusted, features, labels, models, simulated, challengers)


def champion_provider(settings: Settings) -> Callable[[], Any]:
    """A callable returning the registry's current champions, re-checked every
    ``reload_interval_seconds`` (hot reload; a registry that fails keeps the loaded models)."""
    from stockvision.registry.champions import load_champions
    from stockvision.registry.model_registry import ModelRegistry

    state: dict[str, Any] = {"models": None, "checked": 0.0, "registry": None}

    def current() -> Any:
        now = time.monotonic()
        if state["checked"] and now - state["checked"] < settings.reload_interval_seconds:
            return state["models"]
        state["checked"] = now
        try:
            state["registry"] = state["registry"] or ModelRegistry(settings)
            models = load_champions(state["registry"], previous=state["models"])
            state["models"] = models if models.ready else state["models"]
        except Exception as exc:  # no registry yet: prices and features stream, forecasts wait
            log.warning("no champion models (%s): live forecasts wait for them", exc)
        return state["models"]

    return current


def challenger_provider(
    settings: Settings, champions: Callable[[], Any], registry: Any = None
) -> Callable[[], Any]:
    """A callable returning the challenger set to shadow-score with (None while the registry has
    no challenger), re-checked every ``reload_interval_seconds``; a registry that fails keeps the
    last answer. ``champions()`` gives the served set the challenger is paired with."""
    from stockvision.registry.champions import load_challengers

    state: dict[str, Any] = {"models": None, "checked": 0.0, "registry": registry}

    def current() -> Any:
        now = time.monotonic()
        if state["checked"] and now - state["checked"] < settings.reload_interval_seconds:
            return state["models"]
        state["checked"] = now
        served = champions()
        if served is None or not served.ready:
            return None
        try:
            if state["registry"] is None:
                from stockvision.registry.model_registry import ModelRegistry

                state["registry"] = ModelRegistry(settings)
            state["models"] = load_challengers(state["registry"], served, state["models"])
        except Exception as exc:  # no registry or a broken challenger: no shadow scoring for now
            log.warning("no challenger for shadow scoring (%s)", exc)
        return state["models"]

    return current


def make_source(
    kind: str,
    data: LiveData,
    settings: Settings,
    symbols: list[str] | None = None,
    speed: float | None = None,
    days: int | None = None,
    seed: int = 0,
) -> Any:
    speed = settings.stream_speed if speed is None else speed
    raw = data.raw if not symbols else data.raw[data.raw["symbol"].isin(symbols)]
    if kind == "replay":
        stored = pd.DatetimeIndex(sorted(raw["date"].unique()))
        return ReplaySource(raw, days=stored[-(days or settings.stream_replay_days) :],
                            speed=speed, seed=seed)  # fmt: skip
    if kind == "simulated":
        last = raw.sort_values("date").groupby("symbol").tail(1)
        day = pd.Timestamp(last["date"].max()) + pd.offsets.BDay(1)
        ref = dict(zip(last["symbol"], last["close"].astype(float), strict=True))
        return SimulatedSource(ref, day, speed=speed, seed=seed)
    if kind == "vnstock":
        return VnstockIntradaySource(
            symbols or settings.symbols(),
            source=settings.vnstock_source,
            rate_limit_per_min=min(20, settings.vnstock_rate_limit_per_min),
        )
    if kind == "vnstock_board":
        return VnstockPriceBoardSource(
            symbols or settings.symbols(),
            source=settings.vnstock_source,
            rate_limit_per_min=min(20, settings.vnstock_rate_limit_per_min),
        )
    from stockvision.errors import ConfigError

    raise ConfigError(
        f"unknown stream source {kind!r}", "use replay, simulated, vnstock or vnstock_board"
    )


async def run_stream(
    bus: Bus,
    data: LiveData,
    settings: Settings,
    source: Any,
    stop: asyncio.Event,
    alert_store: Any = None,
    batch_size: int = 4096,
    idle_exit_s: float | None = None,
    produce: bool = True,
    heartbeat: Any = None,
    shadow: Any = None,
) -> StreamWorker:
    """Run the producer (source -> ticks) and the worker until ``stop`` (or idle after the source
    finished, when ``idle_exit_s`` is set)."""
    worker = StreamWorker(
        bus,
        data.engine_for,
        data.predictor_for(settings),
        alert_store,
        move_threshold=settings.stream_move_threshold,
        batch_size=batch_size,
        heartbeat=heartbeat,
        shadow=shadow,
    )
    producer = None
    source_done = asyncio.Event()

    async def produce_all() -> int:
        try:
            return await publish_source(bus, source, stop, resume=True)
        finally:
            source_done.set()

    if produce:
        producer = asyncio.create_task(produce_all())
    # idle only counts once the source has finished: a pause in the source (the lunch break of a
    # replay, sleeping 90 market minutes) must not end the worker and restart the replay
    consume = asyncio.create_task(
        worker.run(stop, idle_exit_s=idle_exit_s, source_done=source_done if produce else None)
    )
    try:
        if producer is not None:
            await asyncio.wait({producer, consume}, return_when=asyncio.FIRST_EXCEPTION)
            if producer.done() and producer.exception() is not None:
                raise producer.exception()  # type: ignore[misc]
        await consume
    finally:
        stop.set()
        for task in (producer, consume):
            if task is not None and not task.done():
                task.cancel()
    return worker
