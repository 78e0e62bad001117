"""The bus contract every backend keeps: streams, publish, durable consumer groups, ack, replay, retention.

One stream is one totally ordered log (one NATS stream, one single-partition Kafka topic, one list in
memory): ``seq`` is the message's position in it, starting at 1 and increasing by one per publish, so
"give me what I missed after seq N" means the same on every backend. A consumer *group* has a durable
position (the ack floor): a new consumer of the group, in this process or after a restart, starts at
the first message the group has not acknowledged. Delivery is at least once: a message that was
fetched but not acknowledged when a consumer died is delivered again, so every sink downstream is
idempotent (keyed by the message's ``msg_id`` or by what it describes).
"""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

#: The streams of Stock Vision (the design's topics: price-data -> ticks/bars, ml-features -> features).
STREAMS = ("ticks", "bars", "features", "predictions", "alerts", "news")


@dataclass(frozen=True)
class Retention:
    """How much a stream keeps: at most ``max_msgs`` messages and ``max_age_s`` seconds (0 = no limit)."""

    max_msgs: int = 1_000_000
    max_age_s: float = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Message:
    """One message of a stream: its position ``seq``, the publisher's ``time`` (epoch seconds), a
    ``key`` (the symbol, when there is one), the JSON ``data`` and an optional ``msg_id``."""

    stream: str
    seq: int
    data: dict[str, Any]
    key: str | None = None
    time: float = 0.0
    msg_id: str | None = None
    #: backend handle used to acknowledge (a NATS message, a Kafka offset); not part of equality
    handle: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class GroupInfo:
    """Where a consumer group stands on a stream: last acknowledged seq and how many remain."""

    stream: str
    group: str
    acked: int
    last_seq: int

    @property
    def lag(self) -> int:
        return max(0, self.last_seq - self.acked)


def encode(data: dict[str, Any], key: str | None, msg_id: str | None, when: float) -> bytes:
    """The wire form of a message (one JSON object), the same on every backend."""
    return json.dumps(
        {"t": when, "k": key, "id": msg_id, "d": data}, separators=(",", ":"), default=str
    ).encode()


def decode(stream: str, seq: int, raw: bytes, handle: Any = None) -> Message:
    obj = json.loads(raw)
    return Message(
        stream, seq, obj["d"], obj.get("k"), float(obj.get("t") or 0.0), obj.get("id"), handle
    )


def now() -> float:
    return time.time()


class Consumer(ABC):
    """A member of a durable consumer group on one stream."""

    stream: str
    group: str

    @abstractmethod
    async def fetch(self, max_messages: int = 256, timeout: float = 1.0) -> list[Message]:
        """Up to ``max_messages`` messages after the ones already handed out (waits up to
        ``timeout`` seconds for the first one; an empty list when there is none)."""

    @abstractmethod
    async def ack(self, messages: list[Message]) -> None:
        """Acknowledge ``messages`` and everything the group received before them (cumulative, like
        a Kafka commit): the group will not receive them again."""

    @abstractmethod
    async def close(self) -> None:
        """Leave without acknowledging what was fetched but not acknowledged (it will be redelivered)."""


class Bus(ABC):
    """A message bus of ordered, retained streams. Use as ``async with open_bus(url) as bus``."""

    url: str = ""

    async def __aenter__(self) -> Bus:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abstractmethod
    async def connect(self) -> None: ...

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def ensure_stream(self, stream: str, retention: Retention | None = None) -> None:
        """Create ``stream`` if missing (or update its retention); idempotent."""

    @abstractmethod
    async def publish(
        self, stream: str, data: dict[str, Any], key: str | None = None, msg_id: str | None = None
    ) -> int:
        """Append one message; return its ``seq``."""

    async def publish_many(
        self, stream: str, items: list[tuple[dict[str, Any], str | None, str | None]]
    ) -> list[int]:
        """Append ``(data, key, msg_id)`` items in order; return their seqs (backends batch this)."""
        return [await self.publish(stream, d, k, i) for d, k, i in items]

    @abstractmethod
    async def read(self, stream: str, from_seq: int = 1, limit: int = 1000) -> list[Message]:
        """Replay: up to ``limit`` retained messages with ``seq >= from_seq``, in order (no group)."""

    @abstractmethod
    async def last_seq(self, stream: str) -> int:
        """The seq of the newest message (0 when the stream is empty)."""

    @abstractmethod
    async def first_seq(self, stream: str) -> int:
        """The seq of the oldest retained message (last_seq + 1 when none is retained)."""

    @abstractmethod
    async def consumer(self, stream: str, group: str) -> Consumer:
        """A consumer of ``group`` on ``stream``, starting after the group's acknowledged messages
        (from the oldest retained message for a new group)."""

    @abstractmethod
    async def reader(self, stream: str, from_seq: int) -> Consumer:
        """A group-less consumer from ``from_seq`` on (tailing: ``ack`` does nothing)."""

    @abstractmethod
    async def group_info(self, stream: str, group: str) -> GroupInfo:
        """The group's acknowledged position and the stream's newest seq."""

    async def delete_stream(self, stream: str) -> None:  # noqa: B027 - optional, tests use it
        """Drop a stream and its groups (tests; operators)."""
