"""Drift alarm false-alarm rate on past windows: simulated market and the VN30 data.

The calibrated alarm (:func:`stockvision.monitoring.drift.calibrated_drift`) should fire on about
``alpha`` of past 13-week windows (measured leave-one-out); the plain "any feature PSI > 0.2" rule
is printed next to it for comparison. Goal: within 2 points of the configured rate.

    .venv/bin/python benchmarks/bench_drift.py [--vn30 ../shared/data/vn30/vn30_constituents_daily_2016_2019.csv]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VN30 = ROOT.parent / "shared" / "data" / "vn30" / "vn30_constituents_daily_2016_2019.csv"


def simulated_features(symbols: int, years: int):
    from stockvision.data.sources.synthetic import generate_market
    from stockvision.features.weekly import compute_features
    from stockvision.market.corporate_actions import adjust

    m = generate_market(symbols, years, seed=11, return_events=True)
    # the simulated stock dividends are known: adjust by them (ratio = the price factor)
    events = m.events.rename(columns={"ex_date": "date"}).drop(columns="ratio")
    events = events.rename(columns={"price_factor": "ratio"})
    return compute_features(adjust(m.daily, events=events))


def vn30_features(path: Path):
    from stockvision.data.sources.csv_source import CsvSource
    from stockvision.features.weekly import compute_features
    from stockvision.market.corporate_actions import adjust

    daily = CsvSource([path]).fetch().frame
    return compute_features(adjust(daily))


def report(label: str, feats, alphas: list[float]) -> None:
    from stockvision.features import FEATURES
    from stockvision.monitoring.drift import calibrated_drift

    weeks = feats.index.get_level_values(1).nunique()
    symbols = feats.index.get_level_values(0).nunique()
    print(f"\n{label}: {symbols} symbols x {weeks} weeks")
    for alpha in alphas:
        t0 = time.perf_counter()
        r = calibrated_drift(feats, FEATURES, alpha=alpha)
        ms = (time.perf_counter() - t0) * 1000
        if r is None:
            print("  too little history for calibration")
            return
        print(
            f"  alpha {alpha:.2f}: false-alarm rate {r.false_alarm_rate:.3f} on {r.windows} past "
            f"windows (leave-one-out; |diff| {abs(r.false_alarm_rate - alpha) * 100:.1f} points); "
            f"plain PSI>0.2 rule fires on {r.fixed_rule_rate:.3f}; latest window alarm={r.alarm} "
            f"({ms:.0f} ms)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--symbols", type=int, default=30)
    parser.add_argument("--years", type=int, default=6)
    parser.add_argument("--vn30", type=Path, default=VN30)
    args = parser.parse_args()
    alphas = [0.05, 0.10]
    report("simulated market", simulated_features(args.symbols, args.years), alphas)
    if args.vn30.is_file():
        report(f"VN30 ({args.vn30.name})", vn30_features(args.vn30), alphas)
    else:
        print(f"\nVN30 file not found at {args.vn30}: skipped")


if __name__ == "__main__":
    main()
