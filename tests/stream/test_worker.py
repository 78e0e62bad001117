"""The worker end to end on the in-process bus: replayed ticks -> bars, features, predictions, alerts."""

from __future__ import annotations

import asyncio

import numpy as np
import pandas as pd
import pytest
from brokers import run
from stream_support import build_system

from stockvision.data.store import Store
from stockvision.data.store.alerts import AlertStore
from stockvision.features import FEATURES
from stockvision.features.weekly import compute_features
from stockvision.stream.bus.memory import MemoryBus
from stockvision.stream.sources import ReplaySource
from stockvision.stream.worker import StreamWorker, publish_source


@pytest.fixture(scope="module")
def system():
    return build_system()


def _outputs(bus, stream):
    async def go():
        return await bus.read(stream, 1, limit=1_000_000)

    return run(go())


def _by_id(msgs):
    out = {}
    for m in msgs:
        out.setdefault(m.msg_id, m.data)  # duplicates (same msg_id) must carry the same data
    return out


def _worker(bus, system, alerts=None, group="live"):
    return StreamWorker(bus, system.engine_for, system.predictor_for, alerts, group=group,
                        batch_size=29)  # fmt: skip


def test_replayed_days_give_batch_features_predictions_and_alerts_once(system, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'sv.db'}")
    alerts = AlertStore(store)
    day = system.days[-1]
    row = system.raw[(system.raw["date"] == day)].iloc[0]
    mid = float(round((row["high"] + row["low"]) / 2, -1))
    rule = alerts.create(row["symbol"], "price_above", mid)
    bus = MemoryBus()

    async def go():
        src = ReplaySource(system.raw, days=system.days, speed=0, ticks_per_day=12, seed=3)
        n = await publish_source(bus, src)
        stats = await _worker(bus, system, alerts).run(asyncio.Event(), idle_exit_s=0.3)
        return n, stats

    n, stats = run(go())
    assert stats.ticks == n and stats.skipped_ticks == 0
    feats = _by_id(_outputs(bus, "features"))
    # the last published row of each symbol and day equals the weekly batch on the stored days
    for d in system.days:
        batch = compute_features(system.adjusted[system.adjusted["date"] <= d], since=d)
        last = {}
        for data in feats.values():
            if (
                data["week_end"] == str(d.date())
                or pd.Timestamp(data["time"], unit="ns").date() == d.date()
            ):
                last[data["symbol"]] = data
        got = np.array([[last[s]["features"][f] if last[s]["features"][f] is not None else np.nan
                         for f in FEATURES] for s in batch.index.get_level_values(0)])  # fmt: skip
        np.testing.assert_allclose(got, batch[FEATURES].to_numpy(), rtol=1e-9, equal_nan=True)
    preds = _by_id(_outputs(bus, "predictions"))
    assert preds and all(p["model_versions"]["price"] == "1" for p in preds.values())
    assert {p["symbol"] for p in preds.values()} == set(system.raw["symbol"].unique())
    fired = alerts.events()
    crossings = [e for e in fired if e["alert_id"] == rule["id"]]
    assert crossings, "the price crossed the threshold during the day: the alert fires"
    assert len({e["crossing_key"] for e in crossings}) == len(crossings)
    assert len(_outputs(bus, "alerts")) == len(fired)


def test_a_worker_stopped_mid_stream_resumes_without_loss_or_duplicates(system, tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'sv.db'}")
    alerts = AlertStore(store)
    for sym in system.raw["symbol"].unique()[:4]:
        alerts.create(sym, "pattern_change")
    ref_bus, bus = MemoryBus(), MemoryBus()

    async def reference():
        src = ReplaySource(system.raw, days=system.days, speed=0, ticks_per_day=12, seed=3)
        await publish_source(ref_bus, src)
        ref_store = Store(f"sqlite:///{tmp_path / 'ref.db'}")
        ref_alerts = AlertStore(ref_store)
        for r in alerts.list():
            with ref_store._write() as conn:
                from stockvision.data.store.stream_tables import alerts as table

                conn.execute(table.insert().values(**r))
        await _worker(ref_bus, system, ref_alerts).run(asyncio.Event(), idle_exit_s=0.3)
        return ref_alerts

    async def interrupted():
        src = ReplaySource(system.raw, days=system.days, speed=0, ticks_per_day=12, seed=3)
        n = await publish_source(bus, src)
        stop = asyncio.Event()
        first = _worker(bus, system, alerts)
        task = asyncio.create_task(first.run(stop))
        for _ in range(2000):
            if first.stats.ticks >= n // 2:
                break
            await asyncio.sleep(0.005)
        task.cancel()  # killed mid-batch: whatever it fetched and did not ack is redelivered
        with pytest.raises(asyncio.CancelledError):
            await task
        second = _worker(bus, system, alerts)
        stats = await second.run(asyncio.Event(), idle_exit_s=0.3)
        return first.stats, stats

    ref_alerts = run(reference())
    first, second = run(interrupted())
    assert second.replayed > 0 and first.ticks + second.ticks >= second.replayed
    for stream in ("bars", "features", "predictions", "alerts"):
        want, got = _by_id(_outputs(ref_bus, stream)), _by_id(_outputs(bus, stream))
        assert got.keys() == want.keys(), stream
        for k in want:
            a, b = dict(want[k]), dict(got[k])
            for x in (a, b):
                x.pop("generated_at", None)
            assert a == b, (stream, k)
    key = lambda e: (e["alert_id"], e["crossing_key"])  # noqa: E731
    assert sorted(map(key, alerts.events(limit=10_000))) == sorted(
        map(key, ref_alerts.events(limit=10_000))
    )
    assert len(alerts.events(limit=10_000)) == len({key(e) for e in alerts.events(limit=10_000)})


def test_a_second_group_replaying_from_the_start_reproduces_the_features(system):
    bus = MemoryBus()

    async def go():
        src = ReplaySource(system.raw, days=system.days[-1:], speed=0, ticks_per_day=8, seed=5)
        await publish_source(bus, src)
        await _worker(bus, system, group="live").run(asyncio.Event(), idle_exit_s=0.2)
        first = await bus.read("features", 1, limit=100_000)
        await _worker(bus, system, group="audit").run(asyncio.Event(), idle_exit_s=0.2)
        return first, await bus.read("features", 1, limit=100_000)

    first, both = run(go())
    # the second pass republished every message with the same id and content (memory bus drops them)
    assert len(both) == len(first)


def test_a_pause_of_the_source_does_not_end_the_worker_before_the_source_is_done(system):
    """The replay sleeps through the lunch break (90 market minutes): with an idle exit shorter
    than that pause the worker must still wait for the afternoon (it used to stop at 11:30, and
    the embedded demo then restarted the morning forever)."""
    from stockvision.config import Settings
    from stockvision.stream.runtime import run_stream

    class Data:
        engine_for = system.engine_for

        def predictor_for(self, settings):
            return system.predictor_for

    bus = MemoryBus()
    src = ReplaySource(system.raw, days=system.days[-1:], speed=9000, ticks_per_day=12, seed=1)
    expected = len(src.day_ticks(pd.Timestamp(system.days[-1])))
    lunch = 90 * 60 / 9000  # 0.6 s of sleep inside the source
    worker = run(run_stream(bus, Data(), Settings(), src, asyncio.Event(), idle_exit_s=lunch / 3))
    assert worker.stats.ticks == expected  # the afternoon's ticks were consumed too
