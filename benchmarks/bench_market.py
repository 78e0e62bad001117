"""Market layer figures: corporate-action recall/precision on the simulated market, and speed.

Run: PYTHONPATH=src .venv/bin/python benchmarks/bench_market.py [n_symbols] [years]
"""

from __future__ import annotations

import sys
import time

import pandas as pd

from stockvision.data.sources.synthetic import generate_market
from stockvision.market import TradingCalendar, adjust, detect_corporate_actions, to_weekly


def main(n_symbols: int = 300, years: int = 10) -> None:
    t0 = time.perf_counter()
    market = generate_market(n_symbols=n_symbols, years=years, seed=11, return_events=True)
    daily = market.daily
    print(f"simulated {len(daily):,} rows, {n_symbols} symbols in {time.perf_counter() - t0:.1f}s")
    exchanges = dict(zip(market.listings["symbol"], market.listings["exchange"], strict=True))

    t0 = time.perf_counter()
    events = detect_corporate_actions(daily, exchanges)
    t_detect = time.perf_counter() - t0
    truth = market.events.rename(columns={"ex_date": "date"})[["symbol", "date"]]
    truth = truth.assign(date=pd.to_datetime(truth["date"]))
    hits = events.merge(truth, on=["symbol", "date"])
    print(
        f"detect: {t_detect:.2f}s, {len(events)} events, true {len(truth)}, "
        f"recall {len(hits) / max(len(truth), 1):.3f}, precision {len(hits) / max(len(events), 1):.3f}"
    )

    t0 = time.perf_counter()
    adjusted = adjust(daily, exchange_of=exchanges)
    print(
        f"adjust: {time.perf_counter() - t0:.2f}s ({len(daily) / (time.perf_counter() - t0):,.0f} rows/s)"
    )

    t0 = time.perf_counter()
    cal = TradingCalendar.from_daily(adjusted)
    weekly = to_weekly(adjusted, cal)
    print(f"to_weekly: {time.perf_counter() - t0:.2f}s -> {len(weekly):,} weekly bars")


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:3]]
    main(*args)
