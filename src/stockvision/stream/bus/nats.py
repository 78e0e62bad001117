"""NATS JetStream backend (``nats://host:4222``): the default for deployments.

Each stream is a JetStream stream ``<PREFIX>_<NAME>`` on subject ``<prefix>.<name>``; a group is a
durable pull consumer with cumulative acks (``AckPolicy.ALL``), so its ack floor is the group's
position. ``msg_id`` goes in the ``Nats-Msg-Id`` header: the server drops a duplicate published
inside the stream's duplicate window (a producer retrying after a crash adds nothing).
"""

from __future__ import annotations

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


class NatsConsumer(Consumer):
    def __init__(self, psub: Any, stream: str, group: str, stream_name: str) -> None:
        self._psub = psub
        self.stream = stream
        self.group = group
        self._name = stream_name

    async def fetch(self, max_messages: int = 256, timeout: float = 1.0) -> list[Message]:

        import nats.errors

        try:
            msgs = await self._psub.fetch(max_messages, timeout=max(timeout, 0.05))
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        return [decode(self.stream, m.metadata.sequence.stream, m.data, m) for m in msgs]

    async def ack(self, messages: list[Message]) -> None:
        if messages and self.group:
            newest = max(messages, key=lambda m: m.seq)
            await newest.handle.ack_sync(timeout=5)

    async def close(self) -> None:
        with contextlib.suppress(Exception):  # already gone with its connection
            await self._psub.unsubscribe()


class NatsTail(Consumer):
    """Messages pushed by an ordered consumer, fetched in batches (``ack`` does nothing)."""

    def __init__(self, sub: Any, stream: str) -> None:
        self._sub = sub
        self.stream = stream
        self.group = ""

    async def fetch(self, max_messages: int = 256, timeout: float = 1.0) -> list[Message]:

        import nats.errors

        try:
            first = await self._sub.next_msg(timeout=max(timeout, 0.001))
        except (TimeoutError, nats.errors.TimeoutError):
            return []
        got = [first]
        while len(got) < max_messages and self._sub.pending_msgs > 0:
            got.append(await self._sub.next_msg(timeout=1.0))
        return [decode(self.stream, m.metadata.sequence.stream, m.data, m) for m in got]

    async def ack(self, messages: list[Message]) -> None:
        return None

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self._sub.unsubscribe()


class NatsBus(Bus):
    """JetStream streams on a NATS server. ``prefix`` namespaces the streams (tests use their own)."""

    def __init__(
        self,
        url: str = "nats://127.0.0.1:4222",
        prefix: str = "sv",
        default_retention: Retention | None = None,
        ack_wait_s: float = 30.0,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.default_retention = default_retention or Retention()
        self.ack_wait_s = ack_wait_s
        self._nc: Any = None
        self._js: Any = None
        self._known: set[str] = set()

    def _name(self, stream: str) -> str:
        return f"{self.prefix}_{stream}".upper().replace(".", "_").replace("-", "_")

    def _subject(self, stream: str) -> str:
        return f"{self.prefix}.{stream}"

    async def connect(self) -> None:
        import nats

        parts = urlsplit(self.url)
        try:
            self._nc = await nats.connect(
                self.url, connect_timeout=2, max_reconnect_attempts=2, allow_reconnect=True
            )
        except Exception as exc:
            raise StreamBusError(
                f"cannot reach NATS at {parts.hostname}:{parts.port or 4222} ({exc})",
                "start it (nats-server -js) or use SV_STREAM_BUS=memory://",
                message_vi=f"Không kết nối được NATS tại {parts.hostname}.",
            ) from exc
        self._js = self._nc.jetstream(timeout=10)

    async def close(self) -> None:
        if self._nc is not None:
            await self._nc.drain()
            self._nc = None

    async def ensure_stream(self, stream: str, retention: Retention | None = None) -> None:
        from nats.js.api import StreamConfig
        from nats.js.errors import NotFoundError

        r = retention or self.default_retention
        cfg = StreamConfig(
            name=self._name(stream),
            subjects=[self._subject(stream)],
            max_msgs=r.max_msgs or -1,
            max_age=r.max_age_s or 0,
            duplicate_window=120.0,
        )
        try:
            await self._js.stream_info(cfg.name)
            if retention is not None:
                await self._js.update_stream(cfg)
        except NotFoundError:
            await self._js.add_stream(cfg)
        self._known.add(stream)

    async def _ready(self, stream: str) -> None:
        if stream not in self._known:
            await self.ensure_stream(stream)

    async def publish(
        self, stream: str, data: dict[str, Any], key: str | None = None, msg_id: str | None = None
    ) -> int:
        await self._ready(stream)
        headers = {"Nats-Msg-Id": msg_id} if msg_id else None
        ack = await self._js.publish(
            self._subject(stream), encode(data, key, msg_id, now()), headers=headers
        )
        return int(ack.seq)

    async def publish_many(
        self, stream: str, items: list[tuple[dict[str, Any], str | None, str | None]]
    ) -> list[int]:
        """Pipelined publishes (``publish_async``: one reply subscription, every message sent
        before the acknowledgements are awaited); seqs in order."""
        import asyncio

        await self._ready(stream)
        subject = self._subject(stream)
        out: list[int] = []
        for start in range(0, len(items), 1024):
            futures = [
                await self._js.publish_async(
                    subject, encode(d, k, i, now()), headers={"Nats-Msg-Id": i} if i else None
                )
                for d, k, i in items[start : start + 1024]
            ]
            acks = await asyncio.wait_for(asyncio.gather(*futures), timeout=30)
            out.extend(int(a.seq) for a in acks)
        return out

    async def read(self, stream: str, from_seq: int = 1, limit: int = 1000) -> list[Message]:
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

        await self._ready(stream)
        last = await self.last_seq(stream)
        start = max(from_seq, await self.first_seq(stream))
        if start > last or limit <= 0:
            return []
        psub = await self._js.pull_subscribe(
            self._subject(stream),
            durable=None,
            stream=self._name(stream),
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                opt_start_seq=start,
                ack_policy=AckPolicy.NONE,
                inactive_threshold=10.0,
            ),
        )
        out: list[Message] = []
        try:
            want = min(limit, last - start + 1)
            while len(out) < want:
                got = await NatsConsumer(psub, stream, "", self._name(stream)).fetch(
                    min(1024, want - len(out)), timeout=2.0
                )
                if not got:
                    break
                out.extend(got)
        finally:
            with contextlib.suppress(Exception):
                await psub.unsubscribe()
        return out[:limit]

    async def _state(self, stream: str) -> Any:
        await self._ready(stream)
        return (await self._js.stream_info(self._name(stream))).state

    async def last_seq(self, stream: str) -> int:
        return int((await self._state(stream)).last_seq)

    async def first_seq(self, stream: str) -> int:
        st = await self._state(stream)
        return int(st.first_seq) if st.messages else int(st.last_seq) + 1

    async def consumer(self, stream: str, group: str) -> Consumer:
        """The group's durable consumer, re-created at its ack floor.

        JetStream would hand a re-attached durable its never-delivered messages first and the
        delivered-but-unacknowledged ones only after ``ack_wait``; with cumulative acks, acking
        the first batch would then acknowledge messages nobody processed. Re-creating the
        durable at ``ack_floor + 1`` keeps the contract: a new consumer starts at the first
        unacknowledged message (one active member per group and stream, as on Kafka).
        """
        from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
        from nats.js.errors import NotFoundError

        await self._ready(stream)
        name = self._name(stream)
        floor = 0
        try:
            info = await self._js.consumer_info(name, group)
            floor = int(info.ack_floor.stream_seq or 0)
            await self._js.delete_consumer(name, group)
        except NotFoundError:
            pass
        start = {"deliver_policy": DeliverPolicy.ALL}
        if floor:
            start = {"deliver_policy": DeliverPolicy.BY_START_SEQUENCE, "opt_start_seq": floor + 1}
        psub = await self._js.pull_subscribe(
            self._subject(stream),
            durable=group,
            stream=name,
            config=ConsumerConfig(
                durable_name=group,
                ack_policy=AckPolicy.ALL,
                ack_wait=self.ack_wait_s,
                max_ack_pending=100_000,
                **start,
            ),
        )
        return NatsConsumer(psub, stream, group, name)

    async def reader(self, stream: str, from_seq: int) -> Consumer:
        """An ordered push consumer: the server pushes each message as it is stored (the hub's
        low-latency tail), starting at ``from_seq``; no acks."""
        from nats.js.api import ConsumerConfig, DeliverPolicy

        await self._ready(stream)
        sub = await self._js.subscribe(
            self._subject(stream),
            stream=self._name(stream),
            ordered_consumer=True,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=max(1, from_seq)
            ),
            pending_msgs_limit=1_000_000,
        )
        return NatsTail(sub, stream)

    async def group_info(self, stream: str, group: str) -> GroupInfo:
        from nats.js.errors import NotFoundError

        last = await self.last_seq(stream)
        try:
            info = await self._js.consumer_info(self._name(stream), group)
            acked = int(info.ack_floor.stream_seq or 0)
        except NotFoundError:
            acked = 0
        return GroupInfo(stream, group, acked, last)

    async def delete_stream(self, stream: str) -> None:
        from nats.js.errors import NotFoundError

        with contextlib.suppress(NotFoundError):
            await self._js.delete_stream(self._name(stream))
        self._known.discard(stream)
