"""Benchmark: data fidelity on the whole-market exports (``../shared/data/vn-exchanges``).

Prints the figures of issue 13's "Done when", measured, never assumed:

1. rows in the files, rows kept, irreparable rows (share of all rows), repairs by category;
2. adjusted close from files with ``Adj Close`` against the publisher's series (both scaled to
   agree on the last date; dates where the publisher's value >= 5,000 VND): median and 95th
   percentile of |log ratio|;
3. detection only (``Adj Close`` removed): recall of the publisher's stock-dividend / bonus events
   (steps of its factor above 10 %, on dates where its value >= 5,000 VND so its 100-VND rounding
   cannot fake a step) within +/-1 trading day, precision (detected events within +/-1 trading day
   of any publisher step, on the same >= 5,000 VND dates), both per exchange, and HNX events whose
   drop is within 7-10 % (what HOSE's band would have invented); also per half of the symbols
   (``tune``: md5 of the symbol even, the half the rules were chosen on; ``held-out``: odd);
4. import speed of all files into SQLite (and PostgreSQL with ``--stores sqlite,postgres``):
   wall time and this process's CPU time (the machine is shared; CPU time is what the code costs).

    PYTHONPATH=src python benchmarks/bench_data_fidelity.py [--data ../shared/data/vn-exchanges] \
        [--stores sqlite,postgres]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

from stockvision.data.ingest import DETECTION_RULES, ingest
from stockvision.data.sources.csv_source import CsvSource
from stockvision.data.store import Store
from stockvision.data.validation import validate_daily
from stockvision.market.corporate_actions import detect_corporate_actions
from stockvision.market.source_adjust import factors_from_adjusted

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "vn-exchanges"
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
MIN_VALUE = 5_000.0  # the publisher rounds to 100 VND: below this its ratio is too coarse
BIG_STEP = np.log(1.1)


def folders(data: Path) -> list[Path]:
    return [p for p in (data / "hose", data / "hnx", data / "upcom") if p.is_dir()]


def half(symbol: str) -> str:
    """The symbol's half: ``tune`` (md5 even; the rules were chosen on it) or ``held-out``."""
    return "tune" if int(hashlib.md5(symbol.encode()).hexdigest(), 16) % 2 == 0 else "held-out"


def within_one_day(a: pd.DataFrame, b: pd.DataFrame, days: np.ndarray) -> np.ndarray:
    """For each event of ``a``, whether ``b`` has one of the same symbol within +/-1 session."""
    pa = np.searchsorted(days, a["date"].to_numpy().astype("datetime64[ns]"))
    pb = np.searchsorted(days, b["date"].to_numpy().astype("datetime64[ns]"))
    have = set(zip(b["symbol"].tolist(), pb.tolist(), strict=True))
    return np.array(
        [
            any((s, p + k) in have for k in (-1, 0, 1))
            for s, p in zip(a["symbol"].tolist(), pa.tolist(), strict=True)
        ],
        dtype=bool,
    )


def fidelity(data: Path) -> pd.DataFrame:
    print(f"data: {data}")
    t0, c0 = time.perf_counter(), time.process_time()
    source = CsvSource(folders(data))
    result = source.fetch()
    good, report = validate_daily(result.frame)
    rows_in = result.report.rows_read
    irreparable = rows_in - len(good)
    print(
        f"1. rows in files {rows_in:,}; stored {len(good):,}; irreparable {irreparable:,} "
        f"({irreparable / rows_in:.4%}; target <= 0.05 %); parse "
        f"{time.perf_counter() - t0:.1f} s wall, {time.process_time() - c0:.1f} s CPU"
    )
    repairs = dict(result.report.repairs)
    for k, v in report.repairs.items():
        repairs[k] = repairs.get(k, 0) + v
    for name, count in sorted(repairs.items(), key=lambda kv: -kv[1]):
        example = (result.report.repair_examples.get(name) or [""])[0]
        print(f"   repaired {count:>9,} x {name:<17} e.g. {example}")
    for reason, count in result.report.error_counts().items():
        print(f"   rejected {count:>9,} x {reason}")
    for reason, count in report.reason_counts().items():
        print(f"   rejected {count:>9,} x {reason} (validation)")
    exchange = result.exchanges
    good["exchange"] = good["symbol"].map(exchange)
    return good


def adjusted_vs_publisher(daily: pd.DataFrame) -> pd.DataFrame:
    t0 = time.perf_counter()
    factor, _, events = factors_from_adjusted(daily)
    took = time.perf_counter() - t0
    codes, _ = pd.factorize(daily["symbol"])
    adj = daily["adj_close"].to_numpy(dtype=float)
    close = daily["close"].to_numpy(dtype=float)
    valid = np.isfinite(adj) & (adj > 0)
    ratio = np.where(valid, adj / close, np.nan)
    last = pd.Series(ratio).groupby(codes).ffill().groupby(codes).transform("last").to_numpy()
    publisher = adj / last  # scaled so that it agrees with the raw close on the last date
    ours = close * factor
    mask = valid & (adj >= MIN_VALUE)
    err = np.abs(np.log(ours[mask] / publisher[mask]))
    print(
        f"2. adjusted close vs publisher on {mask.sum():,} bars (publisher >= 5,000 VND): "
        f"median |log ratio| {np.median(err):.4f} (target <= 0.005), 95th pct "
        f"{np.percentile(err, 95):.4f} (target <= 0.02), 99th {np.percentile(err, 99):.4f}; "
        f"{len(events):,} source events ({events['kind'].value_counts().to_dict()}), "
        f"{took:.1f} s"
    )
    value = pd.Series(adj, index=pd.MultiIndex.from_frame(daily[["symbol", "date"]]))
    prev_value = value.groupby(level=0).shift(1)
    key = pd.MultiIndex.from_frame(events[["symbol", "date"]])
    events = events.assign(
        value=value.reindex(key).to_numpy(), prev_value=prev_value.reindex(key).to_numpy()
    )
    return events


def detection(daily: pd.DataFrame, events: pd.DataFrame) -> None:
    days = np.sort(pd.unique(daily["date"].to_numpy())).astype("datetime64[ns]")
    exchange = dict(zip(daily["symbol"], daily["exchange"], strict=False))
    trusted = (events["value"] >= MIN_VALUE) & (events["prev_value"] >= MIN_VALUE)
    reference = events[trusted & (np.log(1 / events["ratio"]) > BIG_STEP)]
    any_step = events[trusted]
    bare = daily.drop(columns=["adj_close", "exchange"])
    value = pd.Series(
        daily["adj_close"].to_numpy(), index=pd.MultiIndex.from_frame(daily[["symbol", "date"]])
    )
    prev_value = value.groupby(level=0).shift(1)
    hnx = daily["exchange"] == "HNX"
    as_hose = detect_corporate_actions(bare[hnx.to_numpy()], exchange_of="HOSE")
    invented = as_hose[
        as_hose["pct_change"].between(-0.10, -0.07) & ~within_one_day(as_hose, events, days)
    ]
    print(
        f"3. HNX files read with HOSE's band (the old default for unlisted symbols): "
        f"{len(as_hose):,} events, {len(invented):,} of them 7-10 % drops the publisher has not"
    )
    for label, rules in (
        ("ingest rules (DETECTION_RULES)", DETECTION_RULES),
        ("infer_band + require_payout only", {"infer_band": True, "require_payout": True}),
        ("every band break", {}),
    ):
        t0 = time.perf_counter()
        found = detect_corporate_actions(bare, exchange_of=exchange, **rules)
        took = time.perf_counter() - t0
        key = pd.MultiIndex.from_frame(found[["symbol", "date"]])
        ok = (value.reindex(key).to_numpy() >= MIN_VALUE) & (
            prev_value.reindex(key).to_numpy() >= MIN_VALUE
        )
        checkable = found[ok]
        recall = within_one_day(reference, found, days)
        precision = within_one_day(checkable, any_step, days)
        print(
            f"3. detection, {label}: {len(found):,} events in {took:.1f} s; recall of the "
            f"publisher's {len(reference):,} >10 % events {recall.mean():.1%} (target >= 90 %); "
            f"precision on {len(checkable):,} checkable events {precision.mean():.1%} "
            "(target >= 90 %)"
        )
        for part in ("tune", "held-out"):
            ref = (reference["symbol"].map(half) == part).to_numpy()
            chk = (checkable["symbol"].map(half) == part).to_numpy()
            per = [
                f"{ex} {recall[ref & on_r].mean():.1%} / {precision[chk & on_c].mean():.1%}"
                for ex in ("HOSE", "HNX")
                for on_r, on_c in [
                    (
                        (reference["symbol"].map(exchange) == ex).to_numpy(),
                        (checkable["symbol"].map(exchange) == ex).to_numpy(),
                    )
                ]
            ]
            print(
                f"   {part} half: recall {recall[ref].mean():.1%} of {int(ref.sum())}, "
                f"precision {precision[chk].mean():.1%} of {int(chk.sum())} "
                f"(recall / precision: {', '.join(per)})"
            )
        for ex in ("HOSE", "HNX"):
            ref = reference["symbol"].map(exchange) == ex
            chk = checkable["symbol"].map(exchange) == ex
            hnx_band = found[
                (found["symbol"].map(exchange) == "HNX")
                & found["pct_change"].between(-0.10, -0.07)
                & ~within_one_day(found, events, days)
            ]
            extra = (
                f"; HNX 7-10 % drops not in the publisher's: {len(hnx_band)}" if ex == "HNX" else ""
            )
            print(
                f"   {ex}: recall {recall[ref.to_numpy()].mean():.1%} of {int(ref.sum())}, "
                f"precision {precision[chk.to_numpy()].mean():.1%} of {int(chk.sum())}{extra}"
            )


def import_speed(data: Path, stores: list[str]) -> None:
    for name in stores:
        if name == "sqlite":
            tmp = tempfile.mkdtemp(prefix="sv-bench-")
            store = Store(f"sqlite:///{tmp}/store.db")
        else:
            schema = f"sv_bench_{uuid.uuid4().hex[:8]}"
            import psycopg

            with psycopg.connect(DEFAULT_POSTGRES.replace("+psycopg", ""), autocommit=True) as c:
                c.execute(f'CREATE SCHEMA "{schema}"')
            store = Store(DEFAULT_POSTGRES, connect_args={"options": f"-csearch_path={schema}"})
        for attempt in ("first import", "re-import"):
            load = os.getloadavg()[0]
            t0, c0 = time.perf_counter(), time.process_time()
            result = ingest(store, CsvSource(folders(data)))
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            print(
                f"4. {name} {attempt}: {wall:.1f} s wall, {cpu:.1f} s CPU of this process "
                f"(target 30 s; load average {load:.1f} -> {os.getloadavg()[0]:.1f}); inserted {result.inserted:,} updated {result.updated:,} "
                f"unchanged {result.unchanged:,}; {result.corporate_actions:,} corporate actions"
            )
        if name != "sqlite":
            store.dispose()
            with psycopg.connect(DEFAULT_POSTGRES.replace("+psycopg", ""), autocommit=True) as c:
                c.execute(f'DROP SCHEMA "{schema}" CASCADE')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--stores", default="sqlite", help="comma-separated: sqlite,postgres")
    args = parser.parse_args()
    if not folders(args.data):
        raise SystemExit(f"no hose/ or hnx/ folder under {args.data}")
    daily = fidelity(args.data)
    events = adjusted_vs_publisher(daily)
    detection(daily, events)
    import_speed(args.data, [s.strip() for s in args.stores.split(",") if s.strip()])


if __name__ == "__main__":
    main()
