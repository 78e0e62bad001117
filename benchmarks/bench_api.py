"""Latency and throughput of the prediction API on loopback, next to a trivial endpoint of the same app.

The server runs in its own process (``stockvision serve``); the load generator is this process, a minimal
asyncio HTTP/1.1 keep-alive client (one connection per concurrent worker, so client overhead stays small).

Scenarios, each at concurrency 1 and 10 for ``--seconds``:

* ``ping``          GET /api/v1/ping: the ceiling (same app, same middleware, no work).
* ``single warm``   POST /api/v1/predict/{symbol} over the 30 VN30 symbols, every answer already cached.
* ``batch30 warm``  POST /api/v1/predict/batch with the 30 symbols, cached.
* ``single cold`` / ``batch30 cold``: the same on a second server started with ``SV_CACHE_TTL_SECONDS=0``,
  which disables the prediction cache, so every request runs the models (documented cold path; the
  admin endpoint ``POST /api/v1/admin/cache/clear`` is the other way to empty a running server's cache).

Goals (issue 6): warm single p95 < 20 ms and >= 40% of ping's req/s; cold single p95 < 100 ms; batch of
30 < 150 ms. Needs a trained data directory with the 30 VN30 symbols: ``--data-dir``, or one is built
with the pipeline (csv source on ../shared/data, lgbm_clf, 2 walk-forward folds; a few minutes).

    .venv/bin/python benchmarks/bench_api.py [--data-dir DIR] [--seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CSV = ROOT.parent / "shared" / "data" / "vn30" / "vn30_constituents_daily_2016_2019.csv"
API_KEY = "bench-key"
CLI = str(Path(sys.executable).with_name("stockvision"))  # the console script of this venv


def vn30() -> list[str]:
    sys.path.insert(0, str(ROOT / "src"))
    from stockvision.market.vn30 import VN30_SYMBOLS

    return list(VN30_SYMBOLS)


def build_home(home: Path) -> None:
    env = {
        **os.environ,
        "SV_DATA_DIR": str(home),
        "SV_SOURCE": "csv",
        "SV_CSV_PATHS": str(CSV),
        "SV_PATTERN_MODEL": "lgbm_clf",
        "SV_EVAL_MAX_FOLDS": "2",
    }
    env.pop("SV_UNIVERSE", None)
    print(f"building a trained data dir in {home} (pipeline, all VN30 symbols)...", flush=True)
    t0 = time.perf_counter()
    subprocess.run(
        [CLI, "pipeline", "run"],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    print(f"  done in {time.perf_counter() - t0:.0f} s", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """``stockvision serve`` in a subprocess."""

    def __init__(self, home: Path, cache_ttl: int, lifted: bool = True) -> None:
        """``lifted=True`` lifts the rate limits (the load is the point); False keeps the defaults."""
        self.port = free_port()
        limits = {
            "SV_RATE_LIMIT_PER_MINUTE": "1000000000",
            "SV_OPS_RATE_LIMIT_PER_MINUTE": "1000000000",
            "SV_UI_RATE_LIMIT_PER_MINUTE": "1000000000",
        }
        env = {
            **os.environ,
            "SV_DATA_DIR": str(home),
            "SV_SOURCE": "csv",
            "SV_CSV_PATHS": str(CSV),
            "SV_API_KEY": API_KEY,
            **(limits if lifted else {}),
            "SV_CACHE_TTL_SECONDS": str(cache_ttl),
            "SV_RELOAD_INTERVAL_SECONDS": "3600",
        }
        if not lifted:
            for var in limits:
                env.pop(var, None)
        for var in ("SV_UNIVERSE", "SV_REDIS_URL", "SV_DATABASE_URL", "SV_MLFLOW_TRACKING_URI"):
            env.pop(var, None)
        self.proc = subprocess.Popen(
            [CLI, "serve", "--host", "127.0.0.1",
             "--port", str(self.port)],
            env=env,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while True:
            try:
                status, _ = asyncio.run(_one("GET", "/api/v1/ping", None, self.port))
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.stop()
                raise RuntimeError("the API server did not start")
            time.sleep(0.2)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()


# --- a minimal keep-alive HTTP/1.1 client ------------------------------------------------------
def _request_bytes(method: str, path: str, body: bytes | None) -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: keep-alive\r\n"
    if body is not None:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    elif method == "POST":
        head += "Content-Length: 0\r\n"
    return (head + "\r\n").encode() + (body or b"")


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    header = await reader.readuntil(b"\r\n\r\n")
    lines = header.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = 0
    for line in lines[1:]:
        if line.lower().startswith("content-length:"):
            length = int(line.split(":", 1)[1])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _one(method: str, path: str, body: bytes | None, port: int) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(_request_bytes(method, path, body))
        await writer.drain()
        return await _read_response(reader)
    finally:
        writer.close()


async def _load(port: int, requests: list[bytes], concurrency: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def worker(i: int) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = i
        try:
            while time.perf_counter() < stop_at:
                payload = requests[n % len(requests)]
                n += concurrency
                t0 = time.perf_counter()
                writer.write(payload)
                await writer.drain()
                status, _ = await _read_response(reader)
                latencies.append(time.perf_counter() - t0)
                if status != 200:
                    errors += 1
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - t0
    ms = np.asarray(latencies) * 1000
    return {
        "requests": len(ms),
        "errors": errors,
        "rps": len(ms) / elapsed,
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
    }


def run_scenarios(
    port: int, scenarios: dict[str, list[bytes]], seconds: float, label: str
) -> dict[tuple[str, int], dict]:
    out = {}
    for name, reqs in scenarios.items():
        asyncio.run(_load(port, reqs, 1, 0.5))  # warm up (and fill the cache where it is on)
        for conc in (1, 10):
            res = asyncio.run(_load(port, reqs, conc, seconds))
            out[(f"{name} {label}".strip(), conc)] = res
            print(
                f"  {name + ' ' + label:<16} c={conc:<3} {res['rps']:8.1f} req/s  "
                f"p50 {res['p50']:7.2f}  p95 {res['p95']:7.2f}  p99 {res['p99']:7.2f} ms  "
                f"(n={res['requests']}, non-200={res['errors']})",
                flush=True,
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="trained data dir with the VN30 symbols")
    parser.add_argument("--seconds", type=float, default=4.0, help="duration per scenario")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    tmp = None
    home = args.data_dir
    if home is None:
        if not CSV.exists():
            sys.exit(f"no --data-dir and no real data at {CSV}")
        tmp = Path(tempfile.mkdtemp(prefix="sv-bench-api-"))
        home = tmp / "home"
        build_home(home)
    symbols = vn30()
    single = [_request_bytes("POST", f"/api/v1/predict/{s}", None) for s in symbols]
    batch_body = json.dumps({"symbols": symbols}).encode()
    batch = [_request_bytes("POST", "/api/v1/predict/batch", batch_body)]
    ping = [_request_bytes("GET", "/api/v1/ping", None)]
    results: dict[tuple[str, int], dict] = {}
    try:
        print(f"cpu cores: {os.cpu_count()}  (server and load generator share them)")
        print("server 1: prediction cache on (in-process)")
        server = Server(home, cache_ttl=3600)
        try:
            status, body = asyncio.run(
                _one("POST", "/api/v1/predict/batch", batch_body, server.port)
            )
            served = len(json.loads(body)["predictions"]) if status == 200 else 0
            if served != len(symbols):
                sys.exit(
                    f"the data dir serves {served} of the {len(symbols)} VN30 symbols: {body[:300]!r}"
                )
            results |= run_scenarios(
                server.port,
                {"ping": ping, "single": single, "batch30": batch},
                args.seconds,
                "warm",
            )
        finally:
            server.stop()
        print(
            "server 2: SV_CACHE_TTL_SECONDS=0 (no prediction cache: every request runs the models)"
        )
        server = Server(home, cache_ttl=0)
        try:
            results |= run_scenarios(
                server.port,
                {"ping": ping, "single": single, "batch30": batch},
                args.seconds,
                "cold",
            )
        finally:
            server.stop()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

    print("\ngoals:")
    for conc in (1, 10):
        ws, cs = results[("single warm", conc)], results[("single cold", conc)]
        bw, bc = results[("batch30 warm", conc)], results[("batch30 cold", conc)]
        ratio = ws["rps"] / results[("ping warm", conc)]["rps"]
        print(
            f"  c={conc:<3} warm single p95 {ws['p95']:.1f} ms (<20: {_ok(ws['p95'] < 20)}), "
            f"throughput {ratio:.0%} of ping (>=40%: {_ok(ratio >= 0.4)}); "
            f"cold single p95 {cs['p95']:.1f} ms (<100: {_ok(cs['p95'] < 100)}); "
            f"batch30 p95 warm {bw['p95']:.1f} / cold {bc['p95']:.1f} ms (<150: {_ok(bc['p95'] < 150)})"
        )
    if args.json:
        args.json.write_text(
            json.dumps({f"{k[0]} c={k[1]}": v for k, v in results.items()}, indent=1)
        )


def _ok(flag: bool) -> str:
    return "ok" if flag else "MISSED"


if __name__ == "__main__":
    main()
