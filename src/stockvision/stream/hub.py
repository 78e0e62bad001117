"""The WebSocket fan-out hub: one tail per stream, one bounded queue per client.

The hub tails the ``bars``, ``predictions`` and ``alerts`` streams (group-less readers: every API
process sees everything) and offers each message to the clients subscribed to its kind and symbol.
A client's queue is bounded: when a slow client's queue is full the *oldest* message is dropped and
counted, so a slow client never slows the others and a fast one never waits. Each message a client
gets is ``{"kind", "symbol", "seq", "time", "data"}``; ``seq`` is the message's position in its
stream, so a client that reconnects with ``since={"price": seq, ...}`` is sent what it missed (what
the stream still retains) before the live messages. Messages carrying a ``msg_id`` already seen are
dropped (at-least-once upstream, once to the client).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import OrderedDict, deque
from typing import Any

from stockvision.stream.bus import Bus, Message

log = logging.getLogger(__name__)

KIND_STREAM = {"price": "bars", "prediction": "predictions", "alert": "alerts"}
STREAM_KIND = {v: k for k, v in KIND_STREAM.items()}
SYMBOL_RE = re.compile(r"^[A-Z0-9]{1,10}$")
MAX_SYMBOLS = 200


def parse_symbols(value: Any) -> set[str] | None:
    """Validated, upper-cased symbols (None = every symbol); bad entries are refused, not kept."""
    if value is None or value == "" or value == "*":
        return None
    items = value.split(",") if isinstance(value, str) else list(value)
    out = {str(s).strip().upper() for s in items if str(s).strip()}
    bad = [s for s in out if not SYMBOL_RE.match(s)]
    if bad or len(out) > MAX_SYMBOLS:
        raise ValueError(
            f"invalid symbols {sorted(bad)[:5]}" if bad else f"at most {MAX_SYMBOLS} symbols"
        )
    return out or None


def parse_kinds(value: Any) -> set[str]:
    if value is None or value == "":
        return set(KIND_STREAM)
    items = value.split(",") if isinstance(value, str) else list(value)
    out = {str(k).strip().lower() for k in items if str(k).strip()}
    bad = out - set(KIND_STREAM)
    if bad:
        raise ValueError(f"unknown kinds {sorted(bad)}; use {', '.join(KIND_STREAM)}")
    return out


class Client:
    """One connection's subscription and bounded outbox."""

    def __init__(self, symbols: set[str] | None, kinds: set[str], queue_size: int) -> None:
        self.symbols = symbols
        self.kinds = kinds
        self.queue: deque[dict[str, Any]] = deque(maxlen=queue_size)
        self.dropped = 0
        self.sent = 0
        self._ready = asyncio.Event()

    def wants(self, kind: str, symbol: str | None) -> bool:
        return kind in self.kinds and (self.symbols is None or symbol in self.symbols)

    def offer(self, item: dict[str, Any]) -> None:
        if len(self.queue) == self.queue.maxlen:
            self.dropped += 1  # the deque drops the oldest
        self.queue.append(item)
        self._ready.set()

    async def next(self, timeout: float | None = None) -> dict[str, Any] | None:
        if not self.queue:
            self._ready.clear()
            try:
                await asyncio.wait_for(self._ready.wait(), timeout)
            except TimeoutError:
                return None
        item = self.queue.popleft()
        self.sent += 1
        if self.dropped:
            item = {**item, "dropped": self.dropped}
        return item


def envelope(m: Message) -> dict[str, Any]:
    data = m.data
    return {
        "kind": STREAM_KIND.get(m.stream, m.stream),
        "symbol": m.key or data.get("symbol"),
        "seq": m.seq,
        "time": data.get("time") or int(m.time * 1e9),
        "data": data,
    }


class Hub:
    """Tails the bus and fans messages out to WebSocket clients."""

    def __init__(self, bus: Bus, queue_size: int = 256, max_clients: int = 1000) -> None:
        self.bus = bus
        self.queue_size = queue_size
        self.max_clients = max_clients
        self.clients: set[Client] = set()
        self.last: dict[str, dict[str, dict[str, Any]]] = {k: {} for k in KIND_STREAM}
        self._seen: dict[str, OrderedDict[str, None]] = {s: OrderedDict() for s in STREAM_KIND}
        self._tasks: list[asyncio.Task] = []
        self.received = 0
        self.duplicates = 0
        self.lag_s = 0.0

    @property
    def full(self) -> bool:
        return len(self.clients) >= self.max_clients

    def connect(self, symbols: set[str] | None, kinds: set[str]) -> Client:
        client = Client(symbols, kinds, self.queue_size)
        self.clients.add(client)
        return client

    def disconnect(self, client: Client) -> None:
        self.clients.discard(client)

    async def start(self, from_start: bool = False) -> None:
        for stream in STREAM_KIND:
            await self.bus.ensure_stream(stream)
            start = 1 if from_start else await self.bus.last_seq(stream) + 1
            self._tasks.append(asyncio.create_task(self._tail(stream, start)))

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks = []

    async def _tail(self, stream: str, start: int) -> None:
        reader = await self.bus.reader(stream, start)
        try:
            while True:
                try:
                    msgs = await reader.fetch(512, timeout=1.0)
                except Exception as exc:  # a broker hiccup: log, wait, go on
                    log.warning("hub tail %s: %s", stream, exc)
                    await asyncio.sleep(1.0)
                    continue
                for m in msgs:
                    self.dispatch(m)
        finally:
            await reader.close()

    def forget_seen(self) -> None:
        """Forget the ``msg_id``s seen: the embedded demo replays the same days again, whose
        messages carry the same ids as the previous pass and are new to its clients."""
        for seen in self._seen.values():
            seen.clear()

    def dispatch(self, m: Message) -> None:
        if m.msg_id is not None:
            seen = self._seen[m.stream] if m.stream in self._seen else OrderedDict()
            if m.msg_id in seen:
                self.duplicates += 1
                return
            seen[m.msg_id] = None
            if len(seen) > 50_000:
                seen.popitem(last=False)
        self.received += 1
        self.lag_s = max(0.0, time.time() - m.time) if m.time else 0.0
        item = envelope(m)
        kind, symbol = item["kind"], item["symbol"]
        if symbol and kind in self.last:
            self.last[kind][symbol] = item
        for c in self.clients:
            if c.wants(kind, symbol):
                c.offer(item)

    async def backlog(self, client: Client, since: dict[str, int]) -> int:
        """Queue what ``client`` missed: messages after ``since[kind]`` still in the stream."""
        n = 0
        for kind, seq in since.items():
            if kind not in KIND_STREAM or kind not in client.kinds:
                continue
            for m in await self.bus.read(KIND_STREAM[kind], int(seq) + 1, limit=self.queue_size):
                item = envelope(m)
                if client.wants(kind, item["symbol"]):
                    client.offer(item)
                    n += 1
        return n

    def snapshot(self, client: Client) -> None:
        """Queue the newest message of each subscribed (kind, symbol), so a new page has a price."""
        for kind in client.kinds:
            for symbol, item in self.last.get(kind, {}).items():
                if client.wants(kind, symbol):
                    client.offer(item)

    def status(self) -> dict[str, Any]:
        return {
            "clients": len(self.clients),
            "received": self.received,
            "duplicates_dropped": self.duplicates,
            "slow_client_drops": sum(c.dropped for c in self.clients),
            "lag_seconds": round(self.lag_s, 3),
        }
