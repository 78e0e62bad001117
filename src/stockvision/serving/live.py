"""The API's live side: the WebSocket hub and, on the embedded memory bus, the stream itself.

With ``SV_STREAM_ENABLED``: on ``memory://`` (``scripts/run.sh``) the API process replays stored days
through the worker in the background, so the chat page's prices and forecasts move with no server to
start; on NATS or Kafka it only tails the streams a separate ``stockvision stream run`` worker feeds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from stockvision.config import Settings

log = logging.getLogger(__name__)


class LiveSide:
    """Started and stopped by the app's lifespan; ``hub`` is None while the stream is off."""

    def __init__(self, settings: Settings, service: Any = None) -> None:
        self.settings = settings
        self.service = service
        self.hub: Any = None
        self.bus: Any = None
        self.alert_store: Any = None
        self._task: asyncio.Task | None = None
        self._metrics_task: asyncio.Task | None = None
        self._stop = asyncio.Event()
        self.error: str | None = None

    async def start(self) -> None:
        from stockvision.data.store import Store
        from stockvision.data.store.alerts import AlertStore

        self.alert_store = AlertStore(Store.from_settings(self.settings))
        if not self.settings.stream_enabled:
            return
        from stockvision.stream.hub import Hub
        from stockvision.stream.runtime import make_bus

        try:
            self.bus = make_bus(self.settings)
            await self.bus.connect()
            self.hub = Hub(self.bus, self.settings.ws_queue_size, self.settings.ws_max_connections)
            await self.hub.start()
            if self.bus.url.startswith("memory"):
                self._task = asyncio.create_task(self._embedded())
            self._metrics_task = asyncio.create_task(self._export_metrics())
        except Exception as exc:  # the API serves without live push rather than not at all
            self.error = str(exc)
            log.error("live stream off: %s", exc)
            self.hub = None

    async def _embedded(self) -> None:
        from stockvision.stream.runtime import (
            challenger_provider,
            load_live_data,
            make_source,
            run_stream,
        )

        try:
            data = await asyncio.to_thread(
                load_live_data, self.alert_store.store, self.settings, False
            )
            if self.service is not None:
                data.models = lambda: self.service.models  # the API's champions, hot-swapped
                data.challengers = challenger_provider(
                    self.settings, data.models, self.service.registry
                )
            shadow = data.shadow_for(self.settings, self.alert_store.store)
            while not self._stop.is_set():  # the demo loops over the replayed days
                self.hub.forget_seen()  # a new pass: the same ids, new to the clients
                source = make_source(self.settings.stream_source, data, self.settings)
                await run_stream(self.bus, data, self.settings, source, asyncio.Event(),
                                 self.alert_store, idle_exit_s=5.0, shadow=shadow)  # fmt: skip
                await self.bus.delete_stream("ticks")
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            self.error = str(exc)
            log.error("embedded stream stopped: %s", exc)

    async def _export_metrics(self, every_s: float = 5.0) -> None:
        """The hub's figures and the worker group's lag as Prometheus gauges."""
        from stockvision.serving import metrics as m

        while True:
            status = self.hub.status()
            m.STREAM_WS_CLIENTS.set(status["clients"])
            m.STREAM_RECEIVED.set(status["received"])
            m.STREAM_DROPPED.set(status["slow_client_drops"])
            m.STREAM_LAG.set(status["lag_seconds"])
            try:
                info = await self.bus.group_info("ticks", "live")
                m.STREAM_CONSUMER_LAG.labels("ticks").set(info.lag)
            except Exception as exc:  # a broker hiccup: the next round tries again
                log.debug("stream lag: %s", exc)
            await asyncio.sleep(every_s)

    async def stop(self) -> None:
        self._stop.set()
        if self._metrics_task is not None:
            self._metrics_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._metrics_task
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        if self.hub is not None:
            await self.hub.stop()
        if self.bus is not None:
            await self.bus.close()
