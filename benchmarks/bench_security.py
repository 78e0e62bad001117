"""What an abusive batch costs the API, and what it does to everyone else's latency.

Issue 12 measured a batch of 500 unknown symbols at ~4.7 s of CPU, and a few of them within the limit
pushed ``/predict`` p50 from 5 ms to 300 ms. This benchmark replays that on ``stockvision serve`` in its own
process (limits lifted, so the attack is not simply refused: the work itself is measured):

* the server-side time of one batch of 500 unknown (unlisted) symbols and of 500 listed symbols that are
  not in the store (the case that once started background fetches);
* single ``/predict`` latency alone, then while two attackers send 500-unknown batches back to back;
* with the default limits on, how many 500-symbol batches one client gets per minute (a batch costs one
  request per 10 symbols).

    .venv/bin/python benchmarks/bench_security.py [--data-dir DIR] [--seconds 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_api import CSV, Server, _load, _one, _request_bytes, build_home, vn30


def _timed(port: int, path: str, body: bytes | None, repeats: int = 3) -> tuple[int, float]:
    best = float("inf")
    status = 0
    for _ in range(repeats):
        t0 = time.perf_counter()
        status, _ = asyncio.run(_one("POST", path, body, port))
        best = min(best, time.perf_counter() - t0)
    return status, best


async def _under_attack(
    port: int, single: list[bytes], attack: list[bytes], seconds: float
) -> dict:
    victim = asyncio.create_task(_load(port, single, 1, seconds))
    attackers = [asyncio.create_task(_load(port, attack, 1, seconds)) for _ in range(2)]
    res = await victim
    done = await asyncio.gather(*attackers)
    res["attack_batches"] = sum(a["requests"] for a in done)
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", type=Path, help="trained data dir with the VN30 symbols")
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    from stockvision.market.listings import LISTINGS

    tmp = None
    home = args.data_dir
    if home is None:
        if not CSV.exists():
            sys.exit(f"no --data-dir and no real data at {CSV}")
        tmp = Path(tempfile.mkdtemp(prefix="sv-bench-sec-"))
        home = tmp / "home"
        build_home(home)
    symbols = vn30()
    unknown = json.dumps({"symbols": [f"Q{i:03d}X" for i in range(500)]}).encode()
    missing_syms = [s for s in LISTINGS if s not in set(symbols)][:500]
    missing = json.dumps({"symbols": missing_syms}).encode()
    single = [_request_bytes("POST", f"/api/v1/predict/{s}", None) for s in symbols]
    attack = [_request_bytes("POST", "/api/v1/predict/batch", unknown)]
    try:
        server = Server(home, cache_ttl=0)
        try:
            port = server.port
            asyncio.run(_load(port, single, 1, 0.5))  # warm up
            st, secs = _timed(port, "/api/v1/predict/batch", unknown)
            print(f"batch of 500 unknown symbols: HTTP {st}, {secs * 1000:.1f} ms (best of 3)")
            st, secs = _timed(port, "/api/v1/predict/batch", missing)
            print(
                f"batch of {len(missing_syms)} listed symbols not in the store: HTTP {st}, "
                f"{secs * 1000:.1f} ms (best of 3)"
            )
            alone = asyncio.run(_load(port, single, 1, args.seconds))
            print(
                f"single /predict alone:        p50 {alone['p50']:.2f} ms  p95 {alone['p95']:.2f} ms"
            )
            hit = asyncio.run(_under_attack(port, single, attack, args.seconds))
            print(
                f"single /predict under attack: p50 {hit['p50']:.2f} ms  p95 {hit['p95']:.2f} ms  "
                f"({hit['attack_batches']} batches of 500 unknown symbols in {args.seconds:.0f} s "
                "from 2 attackers, limits lifted)"
            )
        finally:
            server.stop()
        # default limits: SV_RATE_LIMIT_PER_MINUTE=120 and a batch of 500 costs 50
        server = Server(home, cache_ttl=0, lifted=False)
        try:
            codes = [
                asyncio.run(_one("POST", "/api/v1/predict/batch", unknown, server.port))[0]
                for _ in range(5)
            ]
            print(f"default limits, five 500-symbol batches from one client: {codes}")
        finally:
            server.stop()
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
