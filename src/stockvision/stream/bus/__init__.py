"""The stream bus: one small interface, three backends chosen by URL.

``memory://`` (in-process, the embedded default), ``nats://host:4222`` (JetStream, the default for
deployments) and ``kafka://host:9092`` (any Kafka-protocol broker). See :mod:`.base` for the contract.
"""

from __future__ import annotations

from typing import Any

from stockvision.errors import ConfigError
from stockvision.stream.bus.base import STREAMS, Bus, Consumer, GroupInfo, Message, Retention

__all__ = ["STREAMS", "Bus", "Consumer", "GroupInfo", "Message", "Retention", "open_bus"]


def open_bus(url: str, prefix: str = "sv", **options: Any) -> Bus:
    """The bus for ``url`` (not yet connected: ``async with open_bus(url) as bus``)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else url.lower()
    if scheme in ("memory", "mem", ""):
        from stockvision.stream.bus.memory import MemoryBus

        return MemoryBus(url, **{k: v for k, v in options.items() if k == "default_retention"})
    if scheme in ("nats", "tls"):
        from stockvision.stream.bus.nats import NatsBus

        return NatsBus(url, prefix=prefix, **options)
    if scheme == "kafka":
        from stockvision.stream.bus.kafka import KafkaBus

        return KafkaBus(url, prefix=prefix, **options)
    raise ConfigError(
        f"unknown stream bus {url!r}",
        "use memory://, nats://host:4222 or kafka://host:9092 (SV_STREAM_BUS)",
    )
