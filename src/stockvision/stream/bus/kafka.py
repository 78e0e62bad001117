"""Kafka-protocol backend (``kafka://host:9092``) through aiokafka: the design's broker.

Each stream is a single-partition topic ``<prefix>.<name>`` (one total order, so ``seq`` is the
offset + 1). A group's position is its committed offset on the group coordinator; the consumer is
assigned the partition directly (no join/rebalance round trips: one active member per group and
stream, which is what a single-partition topic allows anyway). Retention maps to the topic's
``retention.ms``; the broker enforces it (Tansu's in-memory engine keeps everything). Kafka has no
server-side duplicate window: ``msg_id`` travels in the message and sinks deduplicate on it.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any
from urllib.parse import urlsplit

from stockvision.errors import StreamBusError
from stockvision.stream.bus.base import (
    Bus,
    Consumer,
    GroupInfo,
    Message,
    Retention,
    decode,
    encode,
    now,
)


def _bootstrap(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc or "127.0.0.1:9092"


class KafkaConsumer(Consumer):
    def __init__(self, client: Any, tp: Any, stream: str, group: str) -> None:
        self._c = client
        self._tp = tp
        self.stream = stream
        self.group = group

    async def fetch(self, max_messages: int = 256, timeout: float = 1.0) -> list[Message]:
        res = await self._c.getmany(
            self._tp, timeout_ms=int(max(timeout, 0.0) * 1000), max_records=max_messages
        )
        return [decode(self.stream, r.offset + 1, r.value, r.offset) for r in res.get(self._tp, [])]

    async def ack(self, messages: list[Message]) -> None:
        if messages and self.group:
            await self._c.commit({self._tp: max(m.seq for m in messages)})  # next offset = seq

    async def close(self) -> None:
        await self._c.stop()


class KafkaBus(Bus):
    """Topics on a Kafka-protocol broker. ``consumer_options`` go to every ``AIOKafkaConsumer``
    (tests lower ``max_poll_interval_ms``: Tansu's group handling waits for it)."""

    def __init__(
        self,
        url: str = "kafka://127.0.0.1:9092",
        prefix: str = "sv",
        default_retention: Retention | None = None,
        consumer_options: dict[str, Any] | None = None,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.default_retention = default_retention or Retention()
        self.consumer_options = {
            "max_poll_interval_ms": 10_000,
            "session_timeout_ms": 10_000,
            "request_timeout_ms": 15_000,
            **(consumer_options or {}),
        }
        self._producer: Any = None
        self._admin: Any = None
        self._probe: Any = None
        self._known: set[str] = set()
        self._lock = asyncio.Lock()

    def _topic(self, stream: str) -> str:
        return f"{self.prefix}.{stream}"

    def _tp(self, stream: str) -> Any:
        from aiokafka import TopicPartition

        return TopicPartition(self._topic(stream), 0)

    async def connect(self) -> None:
        from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
        from aiokafka.admin import AIOKafkaAdminClient

        boot = _bootstrap(self.url)
        try:
            self._admin = AIOKafkaAdminClient(bootstrap_servers=boot, request_timeout_ms=10_000)
            await self._admin.start()
            self._producer = AIOKafkaProducer(bootstrap_servers=boot, linger_ms=0, acks="all")
            await self._producer.start()
            self._probe = AIOKafkaConsumer(bootstrap_servers=boot, enable_auto_commit=False)
            await self._probe.start()
        except Exception as exc:
            await self.close()
            raise StreamBusError(
                f"cannot reach the Kafka broker at {boot} ({exc})",
                "start it or use SV_STREAM_BUS=memory://",
                message_vi=f"Không kết nối được Kafka tại {boot}.",
            ) from exc

    async def close(self) -> None:
        for name in ("_probe", "_producer"):
            client = getattr(self, name)
            if client is not None:
                with contextlib.suppress(Exception):
                    await client.stop()
                setattr(self, name, None)
        if self._admin is not None:
            with contextlib.suppress(Exception):
                await self._admin.close()
            self._admin = None

    async def ensure_stream(self, stream: str, retention: Retention | None = None) -> None:
        from aiokafka.admin import NewTopic
        from aiokafka.errors import TopicAlreadyExistsError

        r = retention or self.default_retention
        configs = {"retention.ms": str(int(r.max_age_s * 1000)) if r.max_age_s else "-1"}
        async with self._lock:
            if stream in self._known and retention is None:
                return
            topics = await self._admin.list_topics()
            if self._topic(stream) not in topics:
                with contextlib.suppress(TopicAlreadyExistsError):
                    await self._admin.create_topics(
                        [NewTopic(self._topic(stream), 1, 1, topic_configs=configs)]
                    )
            self._known.add(stream)

    async def _ready(self, stream: str) -> None:
        if stream not in self._known:
            await self.ensure_stream(stream)

    async def publish(
        self, stream: str, data: dict[str, Any], key: str | None = None, msg_id: str | None = None
    ) -> int:
        await self._ready(stream)
        meta = await self._producer.send_and_wait(
            self._topic(stream),
            encode(data, key, msg_id, now()),
            key=key.encode() if key else None,
            partition=0,
        )
        return int(meta.offset) + 1

    async def publish_many(
        self, stream: str, items: list[tuple[dict[str, Any], str | None, str | None]]
    ) -> list[int]:
        """One acknowledged record per produce request. Tansu (v0.6) reports the end offset of a
        multi-record batch as its base offset + 1, which would hide messages from ``last_seq``."""
        return [await self.publish(stream, d, k, i) for d, k, i in items]

    async def read(self, stream: str, from_seq: int = 1, limit: int = 1000) -> list[Message]:
        from aiokafka import AIOKafkaConsumer

        await self._ready(stream)
        last = await self.last_seq(stream)
        start = max(from_seq, await self.first_seq(stream))
        if start > last or limit <= 0:
            return []
        tp = self._tp(stream)
        c = AIOKafkaConsumer(bootstrap_servers=_bootstrap(self.url), enable_auto_commit=False)
        await c.start()
        out: list[Message] = []
        try:
            c.assign([tp])
            c.seek(tp, start - 1)
            want = min(limit, last - start + 1)
            while len(out) < want:
                got = await KafkaConsumer(c, tp, stream, "").fetch(want - len(out), timeout=2.0)
                if not got:
                    break
                out.extend(got)
        finally:
            await c.stop()
        return out[:limit]

    async def last_seq(self, stream: str) -> int:
        await self._ready(stream)
        tp = self._tp(stream)
        return int((await self._probe.end_offsets([tp]))[tp])

    async def first_seq(self, stream: str) -> int:
        await self._ready(stream)
        tp = self._tp(stream)
        return int((await self._probe.beginning_offsets([tp]))[tp]) + 1

    async def consumer(self, stream: str, group: str) -> Consumer:
        from aiokafka import AIOKafkaConsumer

        await self._ready(stream)
        tp = self._tp(stream)
        c = AIOKafkaConsumer(
            bootstrap_servers=_bootstrap(self.url),
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            **self.consumer_options,
        )
        await c.start()
        c.assign([tp])
        committed = await c.committed(tp)
        first = await self.first_seq(stream)
        c.seek(tp, max(committed or 0, first - 1))
        return KafkaConsumer(c, tp, stream, group)

    async def reader(self, stream: str, from_seq: int) -> Consumer:
        from aiokafka import AIOKafkaConsumer

        await self._ready(stream)
        tp = self._tp(stream)
        c = AIOKafkaConsumer(bootstrap_servers=_bootstrap(self.url), enable_auto_commit=False)
        await c.start()
        c.assign([tp])
        c.seek(tp, max(from_seq, await self.first_seq(stream)) - 1)
        return KafkaConsumer(c, tp, stream, "")

    async def group_info(self, stream: str, group: str) -> GroupInfo:
        from aiokafka import AIOKafkaConsumer

        await self._ready(stream)
        tp = self._tp(stream)
        c = AIOKafkaConsumer(
            bootstrap_servers=_bootstrap(self.url), group_id=group, enable_auto_commit=False
        )
        await c.start()
        try:
            committed = await c.committed(tp)
        finally:
            await c.stop()
        return GroupInfo(stream, group, int(committed or 0), await self.last_seq(stream))

    async def delete_stream(self, stream: str) -> None:
        with contextlib.suppress(Exception):
            await self._admin.delete_topics([self._topic(stream)])
        self._known.discard(stream)
