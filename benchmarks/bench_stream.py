"""Real-time figures: live features for 1,600 symbols, bus throughput, tick-to-WebSocket latency.

Scenarios (each prints its figures; nothing is asserted):

1. **live features**: a generated market of ``--symbols`` (1,600) symbols, 2 years; simulated ticks
   (``--ticks-per-minute`` per market minute over all symbols) applied in batches, one minute close
   (features of every symbol that traded) per market minute. Prints ticks/s for the tick updates alone
   and sustained ticks/s including the minute closes, and the close's cost. Goal: >= 20,000 ticks/s.
2. **bus**: publish then consume (durable group, fetch 1,024, ack) ``--messages`` messages on the
   memory bus and on NATS JetStream (127.0.0.1:4222). msgs/s each way.
3. **tick to WebSocket** (NATS): an API server (``uvicorn``, the same app) tails NATS; this process
   publishes price messages at 1,000/s stamped with the send time; a real WebSocket client measures
   publish-to-receive latency p50/p95. Goal p95 < 50 ms.
4. **1,000 clients**: the same server with 1,000 concurrent WebSocket clients at ``--fanout-rate``
   messages/s, once with all clients reading and once with one stalled client (never reads): the
   p50/p95 of the others must not rise.

    nice -n 10 .venv/bin/python benchmarks/bench_stream.py [--symbols 1600] [--skip-ws]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from stockvision.data.sources.synthetic import generate_market  # noqa: E402
from stockvision.market.corporate_actions import adjust  # noqa: E402
from stockvision.stream.bus import open_bus  # noqa: E402
from stockvision.stream.live_features import LiveFeatures  # noqa: E402

NATS = os.environ.get("SV_BENCH_NATS", "nats://127.0.0.1:4222")


def bench_live_features(n_symbols: int, ticks_per_minute: int, minutes: int) -> None:
    t0 = time.perf_counter()
    m = generate_market(n_symbols=n_symbols, years=2, seed=1, return_events=True)
    ev = m.events.rename(columns={"ex_date": "date"})
    adj = adjust(m.daily, events=ev.assign(ratio=ev["price_factor"])[["symbol", "date", "ratio"]])
    day = pd.Timestamp(sorted(adj["date"].unique())[-1])
    built = time.perf_counter()
    live = LiveFeatures(adj, day)
    ready = time.perf_counter()
    rng = np.random.default_rng(0)
    last = adj[adj["date"] < day].groupby("symbol")["close"].last()
    codes_all = live.codes_of(list(last.index))
    ref = last.to_numpy()
    n_ticks = ticks_per_minute * minutes
    codes = codes_all[rng.integers(0, len(codes_all), n_ticks)]
    price = np.round(
        ref[np.searchsorted(codes_all, codes)] * np.exp(rng.normal(0, 0.002, n_ticks)), -1
    )
    vol = (rng.lognormal(6, 1, n_ticks) // 100 + 1) * 100
    t = (
        int(day.value)
        + 2 * 3600 * 10**9
        + np.repeat(np.arange(minutes), ticks_per_minute) * 60 * 10**9
    )
    seq = np.arange(1, n_ticks + 1)
    batch = 4096
    apply_s = 0.0
    close_s = []
    for mnt in range(minutes):
        a, b = mnt * ticks_per_minute, (mnt + 1) * ticks_per_minute
        dirty = set()
        for s in range(a, b, batch):
            e = min(b, s + batch)
            t1 = time.perf_counter()
            dirty.update(live.apply(codes[s:e], price[s:e], vol[s:e], t[s:e], seq[s:e]).tolist())
            apply_s += time.perf_counter() - t1
        t1 = time.perf_counter()
        feats = live.compute(np.array(sorted(dirty)))
        close_s.append(time.perf_counter() - t1)
    total = apply_s + sum(close_s)
    print(f"[live features] {n_symbols} symbols, {len(adj):,} stored daily rows "
          f"(generate {built - t0:.1f}s, engine start {ready - built:.1f}s)")  # fmt: skip
    print(f"  ticks: {n_ticks:,} over {minutes} market minutes, {ticks_per_minute:,}/minute")
    print(f"  tick updates alone:        {n_ticks / apply_s:,.0f} ticks/s")
    print(f"  minute close ({len(feats)} symbols): median {np.median(close_s) * 1000:.1f} ms, "
          f"max {max(close_s) * 1000:.1f} ms")  # fmt: skip
    print(f"  sustained with closes:     {n_ticks / total:,.0f} ticks/s  (goal >= 20,000)")


async def _bus_round_trip(url: str, n: int) -> tuple[float, float]:
    async with open_bus(url, prefix=f"b{uuid.uuid4().hex[:8]}") as bus:
        await bus.ensure_stream("ticks")
        items = [
            ({"s": "VNM", "p": 61000.0 + i, "v": 100.0, "t": i}, "VNM", None) for i in range(n)
        ]
        t0 = time.perf_counter()
        for s in range(0, n, 1024):
            await bus.publish_many("ticks", items[s : s + 1024])
        pub = time.perf_counter() - t0
        c = await bus.consumer("ticks", "bench")
        got = 0
        t0 = time.perf_counter()
        while got < n:
            msgs = await c.fetch(1024, timeout=2.0)
            if not msgs:
                break
            await c.ack(msgs)
            got += len(msgs)
        con = time.perf_counter() - t0
        await c.close()
        await bus.delete_stream("ticks")
        return n / pub, got / con


def bench_bus(n: int) -> None:
    for name, url in (("memory", "memory://"), ("nats", NATS)):
        try:
            pub, con = asyncio.run(_bus_round_trip(url, n))
        except Exception as exc:
            print(f"[bus {name}] unavailable: {exc}")
            continue
        print(
            f"[bus {name}] {n:,} messages: publish {pub:,.0f} msg/s, consume+ack {con:,.0f} msg/s"
        )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


SERVER = """
import sys, uvicorn
from stockvision.config import Settings
from stockvision.serving.app import create_app
from stockvision.cli.serve_cmds import WS_PROTOCOL
s = Settings(data_dir=sys.argv[1], stream_enabled=True, stream_bus=sys.argv[2], stream_prefix=sys.argv[3],
             ws_max_connections=2000, ws_queue_size=256, rate_limit_per_minute=100000)
uvicorn.run(create_app(s, start_background=False, mount_chat_ui=False), host="127.0.0.1",
            port=int(sys.argv[4]), log_level="warning", ws=WS_PROTOCOL)
"""


def _start_server(prefix: str) -> tuple[subprocess.Popen, int]:
    port = _free_port()
    home = tempfile.mkdtemp(prefix="sv-bench-")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", SERVER, home, NATS, prefix, str(port)], env=env)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.2):
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("server did not start")


async def _latency(port: int, prefix: str, rate: int, seconds: float, clients: int,
                   stalled: bool) -> tuple[np.ndarray, int]:  # fmt: skip
    import websockets

    url = f"ws://127.0.0.1:{port}/ws?kinds=price"
    conns = []
    for i in range(clients):
        conns.append(await websockets.connect(url, max_queue=None))
        if i % 100 == 99:
            await asyncio.sleep(0.05)
    stall = None
    if stalled:
        stall = socket.socket()
        stall.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        stall.connect(("127.0.0.1", port))
        stall.sendall(b"GET /ws?kinds=price HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      b"Sec-WebSocket-Version: 13\r\n\r\n")  # fmt: skip
    await asyncio.sleep(1.0)
    lat: list[float] = []
    received = [0]
    started = time.time()  # the hub's snapshot of an earlier run's last price is not counted

    async def reader(ws):
        try:
            async for raw in ws:
                msg = json.loads(raw)
                if msg.get("kind") == "price" and msg["data"].get("sent", 0) >= started:
                    lat.append(time.time() - msg["data"]["sent"])
                    received[0] += 1
        except Exception:
            pass

    tasks = [asyncio.create_task(reader(ws)) for ws in conns]
    pad = "x" * 1500
    async with open_bus(NATS, prefix=prefix) as bus:
        n = int(rate * seconds)
        step = max(1, rate // 100)  # publish in 10 ms slices
        t0 = time.perf_counter()
        for i in range(0, n, step):
            now = time.time()
            await bus.publish_many("bars", [({"symbol": "VNM", "price": j, "sent": now, "pad": pad},
                                             "VNM", None) for j in range(i, i + step)])  # fmt: skip
            ahead = (i + step) / rate - (time.perf_counter() - t0)
            if ahead > 0:
                await asyncio.sleep(ahead)
    await asyncio.sleep(2.0)
    for ws in conns:
        await ws.close()
    for tk in tasks:
        tk.cancel()
    if stall is not None:
        stall.close()
    return np.array(lat), received[0]


def bench_websocket(fanout_clients: int, fanout_rate: int) -> None:
    prefix = f"ws{uuid.uuid4().hex[:8]}"
    proc, port = _start_server(prefix)
    try:
        time.sleep(3.0)
        lat, n = asyncio.run(_latency(port, prefix, 1000, 5.0, 1, False))
        print(f"[tick->websocket, NATS] 1,000 msg/s for 5 s, 1 client: {n:,} received, "
              f"p50 {np.percentile(lat, 50) * 1000:.1f} ms, p95 {np.percentile(lat, 95) * 1000:.1f} ms "
              "(goal p95 < 50 ms)")  # fmt: skip
        for stalled in (False, True):
            lat, n = asyncio.run(_latency(port, prefix, fanout_rate, 5.0, fanout_clients, stalled))
            expect = int(fanout_rate * 5.0) * fanout_clients
            print(f"[{fanout_clients:,} clients{' + 1 stalled' if stalled else ''}] {fanout_rate} msg/s "
                  f"for 5 s: {n:,}/{expect:,} delivered, p50 {np.percentile(lat, 50) * 1000:.1f} ms, "
                  f"p95 {np.percentile(lat, 95) * 1000:.1f} ms")  # fmt: skip
    finally:
        proc.terminate()
        proc.wait(10)
        asyncio.run(_drop(prefix))


async def _drop(prefix: str) -> None:
    async with open_bus(NATS, prefix=prefix) as bus:
        for s in ("ticks", "bars", "features", "predictions", "alerts", "news"):
            await bus.delete_stream(s)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--symbols", type=int, default=1600)
    ap.add_argument("--ticks-per-minute", type=int, default=20_000)
    ap.add_argument("--minutes", type=int, default=15)
    ap.add_argument("--messages", type=int, default=20_000)
    ap.add_argument("--fanout-clients", type=int, default=1000)
    ap.add_argument("--fanout-rate", type=int, default=5)
    ap.add_argument("--skip-ws", action="store_true")
    args = ap.parse_args()
    bench_live_features(args.symbols, args.ticks_per_minute, args.minutes)
    bench_bus(args.messages)
    if not args.skip_ws:
        bench_websocket(args.fanout_clients, args.fanout_rate)


if __name__ == "__main__":
    main()
