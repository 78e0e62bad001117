"""A real worker process on real NATS JetStream: SIGTERM stops it cleanly, SIGKILL loses nothing.

The same replayed day runs once in-process on the memory bus (the reference) and once as
``stockvision stream run`` on NATS, stopped with SIGTERM, restarted, killed with SIGKILL mid-stream
and restarted again. The NATS streams and the alert store must then hold exactly the reference's
messages and events: none missing, none twice.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from brokers import drop_streams, run

from stockvision.config import Settings
from stockvision.data.sources.synthetic import generate_market
from stockvision.data.store import Store
from stockvision.data.store.alerts import AlertStore
from stockvision.stream.bus import open_bus
from stockvision.stream.bus.memory import MemoryBus
from stockvision.stream.runtime import load_live_data, make_source, run_stream

ROOT = Path(__file__).resolve().parents[2]
STREAMS = ("ticks", "bars", "features", "alerts")


def _home(tmp_path: Path) -> tuple[Path, Store]:
    home = tmp_path / "home"
    home.mkdir()
    store = Store(f"sqlite:///{home / 'stockvision.db'}")
    raw = generate_market(n_symbols=6, years=1, seed=21)
    store.upsert_daily(raw, source="synthetic")
    day = raw[raw["date"] == raw["date"].max()]
    alerts = AlertStore(store)
    for _, r in day.head(4).iterrows():
        alerts.create(r["symbol"], "price_above", float(round((r["high"] + r["low"]) / 2, -1)))
        alerts.create(
            r["symbol"], "price_below", float(round(r["low"] * 0.7 + r["high"] * 0.3, -1))
        )
    return home, store


async def _all(bus, stream):
    last = await bus.last_seq(stream)
    return await bus.read(stream, 1, limit=last + 10)


def _cli(home: Path, nats: str, prefix: str, speed: float) -> subprocess.Popen:
    env = {**os.environ, "SV_DATA_DIR": str(home), "PYTHONPATH": str(ROOT / "src"),
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    cmd = [sys.executable, "-m", "stockvision.cli.main", "stream", "run", "--bus", nats,
           "--prefix", prefix, "--source", "replay", "--days", "1", "--speed", str(speed),
           "--batch-size", "16", "--no-forecasts", "--exit-when-idle", "2.5"]  # fmt: skip
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_acked(
    nats: str, prefix: str, at_least: int, proc: subprocess.Popen, timeout=180.0
) -> int:
    async def acked():
        async with open_bus(nats, prefix=prefix) as bus:
            return (await bus.group_info("ticks", "live")).acked

    # generous: a fresh worker process imports the whole stack first, slow on a loaded machine
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        n = run(acked())
        if n >= at_least:
            return n
        time.sleep(0.2)
    raise AssertionError("the worker made no progress")


def test_sigterm_then_sigkill_then_restart_loses_and_duplicates_nothing(tmp_path, nats_url):
    home, store = _home(tmp_path)
    ref_db = tmp_path / "ref.db"
    store.dispose()  # checkpoint SQLite's WAL so the copy holds everything
    for suffix in ("", "-wal", "-shm"):
        if (home / f"stockvision.db{suffix}").exists():
            shutil.copy(home / f"stockvision.db{suffix}", f"{ref_db}{suffix}")
    settings = Settings(data_dir=home)

    async def reference():
        ref_store = Store(f"sqlite:///{ref_db}")
        data = load_live_data(ref_store, settings, with_models=False)
        src = make_source("replay", data, settings, speed=0, days=1)
        bus = MemoryBus()
        await run_stream(bus, data, settings, src, asyncio.Event(), AlertStore(ref_store),
                         batch_size=16, idle_exit_s=0.5)  # fmt: skip
        return {s: await _all(bus, s) for s in STREAMS}, AlertStore(ref_store).events(limit=10_000)

    want, want_events = run(reference())
    total = len(want["ticks"])
    assert want_events, "the replayed day crosses some thresholds"

    prefix = f"k{uuid.uuid4().hex[:8]}"
    first = _cli(home, nats_url, prefix, speed=1500)
    _wait_acked(nats_url, prefix, 1, first)
    first.send_signal(signal.SIGTERM)  # graceful: finishes and acks the batch in hand
    _, err = first.communicate(timeout=30)
    assert first.returncode == 0 and "stream stopped" in err, err

    second = _cli(home, nats_url, prefix, speed=1500)
    floor = _wait_acked(nats_url, prefix, 1, second)
    _wait_acked(nats_url, prefix, floor + 1, second)
    second.send_signal(signal.SIGKILL)  # no chance to finish anything
    second.wait(10)

    async def progress():
        async with open_bus(nats_url, prefix=prefix) as bus:
            return (await bus.group_info("ticks", "live")).acked

    assert 0 < run(progress()) < total, "killed mid-stream"

    third = _cli(home, nats_url, prefix, speed=0)
    _, err = third.communicate(timeout=90)
    assert third.returncode == 0, err

    async def read_nats():
        async with open_bus(nats_url, prefix=prefix) as bus:
            return {s: await _all(bus, s) for s in STREAMS}

    got = run(read_nats())
    run(drop_streams(nats_url, prefix))
    for s in STREAMS:
        ids = [m.msg_id for m in got[s]]
        assert len(ids) == len(set(ids)), f"duplicates in {s}"
        assert {m.msg_id: m.data for m in got[s]} == {m.msg_id: m.data for m in want[s]}, s
    key = lambda e: (e["alert_id"], e["crossing_key"])  # noqa: E731
    events = AlertStore(store).events(limit=10_000)
    assert sorted(map(key, events)) == sorted(map(key, want_events))
    assert len(events) == len({key(e) for e in events})


@pytest.mark.parametrize("bad", ["nats://127.0.0.1:1"])
def test_an_unreachable_bus_is_a_clear_error(bad):
    from stockvision.errors import StreamBusError

    async def go():
        async with open_bus(bad):
            pass

    with pytest.raises(StreamBusError, match="cannot reach NATS"):
        run(go())
