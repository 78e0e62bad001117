"""The in-process bus: the embedded default (``scripts/run.sh`` starts no servers).

Streams are Python lists guarded by the event loop (one process, one loop); group positions live
in memory, so they survive a consumer's restart inside the process, not the process itself. That is
the embedded trade-off: for durability across restarts point ``SV_STREAM_BUS`` at NATS or Kafka.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from stockvision.stream.bus.base import Bus, Consumer, GroupInfo, Message, Retention, now

#: How many recent ``msg_id`` values a stream remembers, and for how long (NATS' default window).
DEDUP_WINDOW = 100_000
DEDUP_WINDOW_S = 120.0


class _Stream:
    def __init__(self, name: str, retention: Retention) -> None:
        self.name = name
        self.retention = retention
        self.log: deque[Message] = deque()
        self.last = 0
        self.floor: dict[str, int] = {}
        self.waiters: set[asyncio.Future] = set()

    def wake(self) -> None:
        for w in list(self.waiters):
            if not w.done():
                w.set_result(None)

    @property
    def first(self) -> int:
        return self.log[0].seq if self.log else self.last + 1

    def trim(self) -> None:
        r = self.retention
        while r.max_msgs and len(self.log) > r.max_msgs:
            self.log.popleft()
        if r.max_age_s:
            cut = now() - r.max_age_s
            while self.log and self.log[0].time < cut:
                self.log.popleft()

    def since(self, seq: int, limit: int) -> list[Message]:
        if not self.log or seq > self.last:
            return []
        start = max(0, seq - self.log[0].seq)
        out = []
        for i in range(start, min(len(self.log), start + limit)):
            out.append(self.log[i])
        return out


class MemoryConsumer(Consumer):
    def __init__(self, stream: _Stream, group: str, from_seq: int | None = None) -> None:
        self.stream = stream.name
        self.group = group
        self._s = stream
        start = stream.floor.get(group, 0) + 1 if from_seq is None else from_seq
        self._next = max(start, stream.first)
        self._closed = False

    async def fetch(self, max_messages: int = 256, timeout: float = 1.0) -> list[Message]:
        s = self._s
        self._next = max(self._next, s.first)
        if self._next > s.last and timeout > 0:
            waiter = asyncio.get_running_loop().create_future()
            s.waiters.add(waiter)
            try:
                await asyncio.wait_for(waiter, timeout)
            except TimeoutError:
                return []
            finally:
                s.waiters.discard(waiter)
        out = s.since(self._next, max_messages)
        if out:
            self._next = out[-1].seq + 1
        return out

    async def ack(self, messages: list[Message]) -> None:
        if messages and self.group:
            s = self._s
            s.floor[self.group] = max(s.floor.get(self.group, 0), max(m.seq for m in messages))

    async def close(self) -> None:
        self._closed = True


class MemoryBus(Bus):
    """Streams in this process's memory (``memory://``)."""

    def __init__(self, url: str = "memory://", default_retention: Retention | None = None) -> None:
        self.url = url
        self.default_retention = default_retention or Retention()
        self._streams: dict[str, _Stream] = {}
        self._dedup: dict[str, dict[str, tuple[int, float]]] = {}

    async def connect(self) -> None:
        return None

    async def close(self) -> None:
        return None

    def _get(self, stream: str) -> _Stream:
        s = self._streams.get(stream)
        if s is None:
            s = self._streams[stream] = _Stream(stream, self.default_retention)
        return s

    async def ensure_stream(self, stream: str, retention: Retention | None = None) -> None:
        s = self._get(stream)
        if retention is not None:
            s.retention = retention
            s.trim()

    async def publish(
        self, stream: str, data: dict[str, Any], key: str | None = None, msg_id: str | None = None
    ) -> int:
        s = self._get(stream)
        seen = self._dedup.setdefault(stream, {})
        if msg_id is not None:  # the broker-side duplicate window, as NATS' Nats-Msg-Id
            t = now()
            hit = seen.get(msg_id)
            if hit is not None and t - hit[1] < DEDUP_WINDOW_S:
                return hit[0]
            seen[msg_id] = (s.last + 1, t)
            if len(seen) > DEDUP_WINDOW:
                del seen[next(iter(seen))]
        s.last += 1
        s.log.append(Message(stream, s.last, data, key, now(), msg_id))
        s.trim()
        s.wake()
        return s.last

    async def read(self, stream: str, from_seq: int = 1, limit: int = 1000) -> list[Message]:
        return self._get(stream).since(max(1, from_seq), limit)

    async def last_seq(self, stream: str) -> int:
        return self._get(stream).last

    async def first_seq(self, stream: str) -> int:
        return self._get(stream).first

    async def consumer(self, stream: str, group: str) -> Consumer:
        return MemoryConsumer(self._get(stream), group)

    async def reader(self, stream: str, from_seq: int) -> Consumer:
        return MemoryConsumer(self._get(stream), "", from_seq=max(1, from_seq))

    async def group_info(self, stream: str, group: str) -> GroupInfo:
        s = self._get(stream)
        return GroupInfo(stream, group, s.floor.get(group, 0), s.last)

    async def delete_stream(self, stream: str) -> None:
        self._streams.pop(stream, None)
        self._dedup.pop(stream, None)
