"""Benchmark: ingest a synthetic universe into the store (goal: 1,600 symbols x 10 years < 60 s).

Measures ``Store.upsert_daily`` end to end (validation + bulk write + symbol refresh) on a fresh
SQLite file and a fresh PostgreSQL schema, then the idempotent re-import of the same frame (which
must write nothing) and a one-day incremental update. Prints seconds and rows/s per phase.

    PYTHONPATH=src python benchmarks/bench_ingest.py --symbols 1600 --years 10 \
        --stores sqlite,postgres
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd

from stockvision.data.sources.synthetic import generate_market
from stockvision.data.store import Store

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
GOAL_SECONDS = 60.0


def _short(result) -> str:
    return f"inserted={result.inserted} updated={result.updated} unchanged={result.unchanged}"


def run_store(name: str, store: Store, frame: pd.DataFrame) -> float:
    rows = len(frame)
    print(f"{name}: {store!r}")
    t0, c0 = time.perf_counter(), time.process_time()
    first = store.upsert_daily(frame, source="synthetic")
    load, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"  first load    {load:8.2f} s  {rows / load:12,.0f} rows/s  "
        f"(this process's CPU {cpu:.1f} s)  {_short(first)}"
    )

    t0, c0 = time.perf_counter(), time.process_time()
    again = store.upsert_daily(frame, source="synthetic")
    redo, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"  re-import     {redo:8.2f} s  {rows / redo:12,.0f} rows/s  "
        f"(this process's CPU {cpu:.1f} s)  {_short(again)}"
    )
    if again.inserted or again.updated:
        raise SystemExit(f"{name}: re-import wrote rows, the upsert is not idempotent")

    last_day = frame["date"].max()
    day = frame[frame["date"] == last_day].copy()
    day["date"] = last_day + pd.offsets.BDay(1)
    t0 = time.perf_counter()
    inc = store.upsert_daily(day, source="synthetic")
    step = time.perf_counter() - t0
    print(f"  one new day   {step:8.2f} s  ({len(day)} rows)  {_short(inc)}")

    t0 = time.perf_counter()
    back = store.read_daily()
    read = time.perf_counter() - t0
    print(f"  read all      {read:8.2f} s  {len(back) / read:12,.0f} rows/s")
    verdict = "OK" if load < GOAL_SECONDS else "SLOWER THAN GOAL"
    print(f"  first load vs goal {GOAL_SECONDS:.0f} s: {verdict}")
    return load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=1600)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stores", default="sqlite,postgres", help="comma list: sqlite,postgres")
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    args = parser.parse_args()

    t0 = time.perf_counter()
    frame = generate_market(args.symbols, args.years, args.seed)
    print(
        f"generated {len(frame):,} rows ({args.symbols} symbols x {args.years} years) "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    if hasattr(os, "getloadavg"):
        print(
            f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (timings scale with it)"
        )
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    unknown = set(stores) - {"sqlite", "postgres"}
    if unknown:
        parser.error(f"unknown store(s) {sorted(unknown)}; use sqlite and/or postgres")

    if "sqlite" in stores:
        with tempfile.TemporaryDirectory() as tmp:
            store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
            run_store("sqlite", store, frame)
            store.dispose()

    if "postgres" in stores:
        import psycopg
        from sqlalchemy.engine import make_url

        schema = f"sv_bench_{uuid.uuid4().hex[:8]}"
        url = make_url(args.postgres_url)
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute(f'CREATE SCHEMA "{schema}"')
            try:
                store = Store(
                    args.postgres_url, connect_args={"options": f"-csearch_path={schema}"}
                )
                run_store("postgres", store, frame)
                store.dispose()
            finally:
                admin.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
