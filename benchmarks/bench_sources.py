"""Throughput of the data sources: synthetic generation and CSV import. Prints figures only.

Run: ``python benchmarks/bench_sources.py [--symbols 1600 --years 10]``
(the CSV part needs ../shared/data; it is skipped when absent).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from stockvision.data.sources import CsvSource, generate_market

ROOT = Path(__file__).resolve().parents[1]
VN30 = ROOT.parent / "shared" / "data" / "vn30" / "vn30_constituents_daily_2016_2019.csv"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--symbols", type=int, default=1600)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    t0, c0 = time.perf_counter(), time.process_time()
    market = generate_market(args.symbols, args.years, args.seed, return_events=True)
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    rows = len(market.daily)
    print(
        f"synthetic: {args.symbols} symbols x {args.years} years -> {rows:,} rows, "
        f"{len(market.events)} stock dividends in {dt:.2f} s wall / {cpu:.2f} s CPU "
        f"({rows / dt / 1e6:.2f} M rows/s wall)"
    )

    if VN30.exists():
        t0 = time.perf_counter()
        res = CsvSource(VN30).fetch()
        dt = time.perf_counter() - t0
        print(f"csv (real VN30 file): {len(res.frame):,} rows in {dt:.2f} s")
    else:
        print(f"csv (real VN30 file): skipped, {VN30} not found")

    # a folder of one file per symbol, written from the synthetic market
    sample = market.daily[market.daily["symbol"].isin(market.daily["symbol"].unique()[:200])]
    with tempfile.TemporaryDirectory() as tmp:
        for sym, part in sample.groupby("symbol"):
            part.drop(columns="symbol").to_csv(Path(tmp) / f"{sym}.csv", index=False)
        t0, c0 = time.perf_counter(), time.process_time()
        res = CsvSource(Path(tmp)).fetch()
        dt, cpu = time.perf_counter() - t0, time.process_time() - c0
        print(
            f"csv (folder of {res.frame['symbol'].nunique()} files): {len(res.frame):,} rows "
            f"in {dt:.2f} s wall / {cpu:.2f} s CPU"
        )


if __name__ == "__main__":
    main()
