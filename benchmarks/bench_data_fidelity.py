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
   with ``--diagnose``: every publisher event the ingest rules miss, put in one category of what
   the prices show around it (table per exchange; ``--diagnose-out FILE.csv`` writes the
   per-event figures: close ratios on the step day and +/-1..3 sessions, no-trade flags, open /
   high / low vs the previous close, tick, band, the publisher's step and kind);
4. import speed of all files into SQLite (and PostgreSQL with ``--stores sqlite,postgres``):
   wall time and this process's CPU time (the machine is shared; CPU time is what the code costs).

    PYTHONPATH=src python benchmarks/bench_data_fidelity.py [--data ../shared/data/vn-exchanges] \
        [--stores sqlite,postgres] [--diagnose [--diagnose-out misses.csv]]
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
from stockvision.market.corporate_actions import compute_factors, detect_corporate_actions
from stockvision.market.exchanges import Exchange, daily_limit_on, price_band, tick_size
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


def error_vs_publisher(daily: pd.DataFrame, factor: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """|log(close * factor / publisher)| on the bars where the publisher's value >= 5,000 VND,
    both scaled to agree on each symbol's last date; and the mask of those bars."""
    codes, _ = pd.factorize(daily["symbol"])
    adj = daily["adj_close"].to_numpy(dtype=float)
    close = daily["close"].to_numpy(dtype=float)
    valid = np.isfinite(adj) & (adj > 0)
    ratio = np.where(valid, adj / close, np.nan)
    last = pd.Series(ratio).groupby(codes).ffill().groupby(codes).transform("last").to_numpy()
    publisher = adj / last  # scaled so that it agrees with the raw close on the last date
    mask = valid & (adj >= MIN_VALUE)
    return np.abs(np.log(close[mask] * factor[mask] / publisher[mask])), mask


def adjusted_vs_publisher(daily: pd.DataFrame) -> pd.DataFrame:
    t0 = time.perf_counter()
    factor, _, events = factors_from_adjusted(daily)
    took = time.perf_counter() - t0
    err, mask = error_vs_publisher(daily, factor)
    print(
        f"2. adjusted close vs publisher on {mask.sum():,} bars (publisher >= 5,000 VND): "
        f"median |log ratio| {np.median(err):.4f} (target <= 0.005), 95th pct "
        f"{np.percentile(err, 95):.4f} (target <= 0.02), 99th {np.percentile(err, 99):.4f}; "
        f"{len(events):,} source events ({events['kind'].value_counts().to_dict()}), "
        f"{took:.1f} s"
    )
    value = pd.Series(
        daily["adj_close"].to_numpy(dtype=float),
        index=pd.MultiIndex.from_frame(daily[["symbol", "date"]]),
    )
    prev_value = value.groupby(level=0).shift(1)
    key = pd.MultiIndex.from_frame(events[["symbol", "date"]])
    events = events.assign(
        value=value.reindex(key).to_numpy(), prev_value=prev_value.reindex(key).to_numpy()
    )
    return events


#: Categories of a missed publisher event, first match wins (``--diagnose``).
MISS_CATEGORIES = (
    ("filtered", "close outside the band within +/-1, dropped by the rules' filters"),
    ("nt_rebased", "no-trade bar after a no-trade bar, lower reference, within +/-1"),
    ("nt_after_trade", "no-trade bar after a traded day, >3 % lower, within +/-1"),
    ("open_low_break", "open or low below the band floor within +/-1, close inside"),
    ("in_band_match", "close drop inside the band within +/-1, = publisher step (+/-2 %)"),
    ("in_band_other", "close drop >3 % inside the band within +/-1, not the step"),
    ("later", "price drop >3 % only 2-3 sessions from the publisher's step"),
    ("no_step", "no price drop >3 % within +/-3 sessions"),
)


def diagnose_misses(
    daily: pd.DataFrame, reference: pd.DataFrame, missed: np.ndarray, broke: np.ndarray
) -> pd.DataFrame:
    """Per missed publisher event, what the prices show around it and its category.

    ``missed``: reference events the rules did not find; ``broke``: of those, the ones a close
    outside the band (no filter) lies within +/-1 session of. Ratios are to the previous bar's
    close; the band is the one in force that day (``BAND_HISTORY``).
    """
    d = daily.sort_values(["symbol", "date"], kind="stable").reset_index(drop=True)
    sym = d["symbol"].to_numpy()
    close = d["close"].to_numpy(dtype=float)
    same = np.r_[False, sym[1:] == sym[:-1]]
    prev = np.where(same, np.r_[np.nan, close[:-1]], np.nan)
    no_trade = (d["flags"].to_numpy() & 1) > 0
    prev_nt = np.r_[False, no_trade[:-1]] & same
    at = pd.Series(np.arange(len(d)), index=pd.MultiIndex.from_frame(d[["symbol", "date"]]))
    miss = reference[missed].reset_index(drop=True)
    pos = at.reindex(pd.MultiIndex.from_frame(miss[["symbol", "date"]])).to_numpy()
    rows = []
    for k, (m, i) in enumerate(zip(miss.itertuples(), pos, strict=True)):
        ex = Exchange.parse(m.exchange)
        lim = float(daily_limit_on(ex, np.array([np.datetime64(m.date, "ns")]))[0])
        rec: dict[str, object] = {
            "symbol": m.symbol, "exchange": ex.value, "date": m.date.date(),
            "publisher_ratio": m.ratio, "publisher_kind": m.kind, "band": lim,
            "tick": float(tick_size(prev[i], ex)) if np.isfinite(prev[i]) else np.nan,
        }  # fmt: skip
        for off in range(-3, 4):
            j = i + off
            ok = 0 <= j < len(d) and sym[j] == m.symbol and same[j]
            rec[f"r{off:+d}"] = close[j] / prev[j] if ok else np.nan
            rec[f"nt{off:+d}"] = bool(no_trade[j]) if ok else False
        near = [i + o for o in (-1, 0, 1) if 0 <= i + o < len(d) and sym[i + o] == m.symbol]
        near = [j for j in near if same[j]]
        for col in ("open", "high", "low"):
            rec[f"{col}0"] = d[col].iat[i] / prev[i] if same[i] else np.nan
        lows = [
            min(d["open"].iat[j], d["low"].iat[j]) / prev[j]
            for j in near
            if d["flags"].iat[j] & (2 | 8 | 16 | 32 | 64) == 0
        ]
        floor = [price_band(prev[j], ex, limit=lim)[0] / prev[j] for j in near]
        r1 = [close[j] / prev[j] for j in near]
        r3 = [rec[f"r{o:+d}"] for o in range(-3, 4)]
        best = near[int(np.argmin(r1))] if near else i
        drop1 = min(r1, default=np.nan)
        drop3 = np.nanmin(np.asarray(r3, dtype=float)) if np.isfinite(r3).any() else np.nan
        if broke[k]:
            cat = "filtered"
        elif drop1 <= 0.97 and no_trade[best] and prev_nt[best]:
            cat = "nt_rebased"
        elif drop1 <= 0.97 and no_trade[best]:
            cat = "nt_after_trade"
        elif drop1 <= 0.97 and any(lo < fl - 1e-9 for lo, fl in zip(lows, floor, strict=False)):
            cat = "open_low_break"
        elif drop1 <= 0.97 and abs(np.log(drop1 / m.ratio)) <= 0.02:
            cat = "in_band_match"
        elif drop1 <= 0.97:
            cat = "in_band_other"
        elif drop3 <= 0.97:
            cat = "later"
        else:
            cat = "no_step"
        rec["category"] = cat
        rows.append(rec)
    return pd.DataFrame(rows)


#: Categories whose prices within +/-1 session stay inside the band around the previous close.
INVISIBLE = ("nt_after_trade", "in_band_match", "in_band_other", "later", "no_step")


def in_band_precision(daily: pd.DataFrame, events: pd.DataFrame, days: np.ndarray) -> None:
    """How often a 6-10.5 % in-band HNX drop is a publisher event (why such drops are not used)."""
    d = daily.sort_values(["symbol", "date"], kind="stable")
    sym = d["symbol"].to_numpy()
    close = d["close"].to_numpy(dtype=float)
    same = np.r_[False, sym[1:] == sym[:-1]]
    ratio = close / np.where(same, np.r_[np.nan, close[:-1]], np.nan)
    bars = d[
        (d["exchange"] == "HNX").to_numpy()
        & ((d["flags"].to_numpy() & 1) == 0)
        & (d["date"] >= "2013-01-15").to_numpy()
        & (d["adj_close"] >= MIN_VALUE).to_numpy()
        & (ratio > 0.895)
        & (ratio < 0.94)
    ]
    near = within_one_day(bars, events, days)
    print(
        f"   HNX traded bars since the 10 % band (2013-01-15) with a close 6-10.5 % below the "
        f"previous one: {len(bars):,}, of them {near.mean():.1%} within +/-1 session of any "
        "publisher step: an in-band drop is no evidence of a corporate action"
    )


def print_diagnosis(table: pd.DataFrame, reference: pd.DataFrame) -> None:
    print(
        f"   diagnosis of the {len(table):,} missed publisher events "
        "(of the ingest rules; first matching category):"
    )
    total = reference["exchange"].value_counts()
    print(f"   {'category':<78} {'HOSE':>5} {'HNX':>5} {'all':>5}  stock/cash/other")
    for name, text in MISS_CATEGORIES:
        part = table[table["category"] == name]
        by = part["exchange"].value_counts()
        kinds = part["publisher_kind"].value_counts()
        print(
            f"   {text:<78} {by.get('HOSE', 0):>5} {by.get('HNX', 0):>5} {len(part):>5}  "
            f"{kinds.get('stock_dividend', 0)}/{kinds.get('cash_dividend', 0)}/"
            f"{kinds.get('other', 0)}"
        )
    by = table["exchange"].value_counts()
    print(
        f"   {'missed of the reference events':<78} {by.get('HOSE', 0):>5} {by.get('HNX', 0):>5} "
        f"{len(table):>5}  (of HOSE {total.get('HOSE', 0)}, HNX {total.get('HNX', 0)})"
    )
    later = table[table["category"] == "later"]
    if len(later):
        offsets = np.array([-3, -2, 2, 3])
        ratios = later[[f"r{o:+d}" for o in offsets]].to_numpy(dtype=float)
        off = offsets[np.nanargmin(np.where(ratios <= 0.97, ratios, np.inf), axis=1)]
        quiet = np.array(
            [
                o > 0 and all(bool(row[f"nt{k:+d}"]) for k in range(o))
                for o, (_, row) in zip(off, later.iterrows(), strict=True)
            ]
        )
        print(
            f"   'later': {int((off < 0).sum())} drops before the publisher's step, "
            f"{int((off > 0).sum())} after it, {int(quiet.sum())} of them on the first traded day "
            "after a no-trade stretch holding the step day"
        )
    step = table.groupby("category")["publisher_ratio"].median()
    print(
        "   median publisher ratio per category: "
        + ", ".join(f"{k} {v:.3f}" for k, v in step.items())
    )


def detection(
    daily: pd.DataFrame,
    events: pd.DataFrame,
    diagnose: bool = False,
    diagnose_out: Path | None = None,
) -> None:
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
    no_trade = pd.Series(daily["flags"].to_numpy() & 1, index=value.index)
    no_trade_before = no_trade.groupby(level=0).shift(1).fillna(0).astype(int)
    hnx = daily["exchange"] == "HNX"
    as_hose = detect_corporate_actions(bare[hnx.to_numpy()], exchange_of="HOSE")
    invented = as_hose[
        as_hose["pct_change"].between(-0.10, -0.07) & ~within_one_day(as_hose, events, days)
    ]
    print(
        f"3. HNX files read with HOSE's band (the old default for unlisted symbols): "
        f"{len(as_hose):,} events, {len(invented):,} of them 7-10 % drops the publisher has not"
    )
    found_by: dict[str, pd.DataFrame] = {}
    for label, rules in (
        ("ingest rules (DETECTION_RULES)", DETECTION_RULES),
        ("infer_band + require_payout only", {"infer_band": True, "require_payout": True}),
        ("every band break", {}),
    ):
        t0 = time.perf_counter()
        found = detect_corporate_actions(bare, exchange_of=exchange, **rules)
        took = time.perf_counter() - t0
        found_by[label] = found
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
            bar = pd.MultiIndex.from_frame(hnx_band[["symbol", "date"]])
            quiet = (no_trade.reindex(bar).to_numpy() & no_trade_before.reindex(bar).to_numpy()) > 0
            sure = (value.reindex(bar).to_numpy() >= MIN_VALUE).sum()
            extra = (
                f"; HNX 7-10 % drops not in the publisher's: {int((~quiet).sum())} from traded "
                f"moves, {int(quiet.sum())} on no-trade bars with a re-based reference "
                f"({int(sure)} of all at publisher values >= 5,000 VND)"
                if ex == "HNX"
                else ""
            )
            print(
                f"   {ex}: recall {recall[ref.to_numpy()].mean():.1%} of {int(ref.sum())}, "
                f"precision {precision[chk.to_numpy()].mean():.1%} of {int(chk.sum())}{extra}"
            )
    detected = found_by["ingest rules (DETECTION_RULES)"]
    err, _ = error_vs_publisher(daily, compute_factors(bare, detected).to_numpy())
    print(
        f"3. adjusted close from detection alone (ingest rules) vs publisher, same bars: median "
        f"|log ratio| {np.median(err):.4f}, 95th pct {np.percentile(err, 95):.4f} (undetected "
        "cash dividends accumulate; files with Adj Close use it instead)"
    )
    if diagnose:
        reference = reference.assign(exchange=reference["symbol"].map(exchange))
        missed = ~within_one_day(reference, found_by["ingest rules (DETECTION_RULES)"], days)
        broke = within_one_day(reference[missed], found_by["every band break"], days)
        table = diagnose_misses(daily, reference, missed, broke)
        print_diagnosis(table, reference)
        hidden = table["category"].isin(INVISIBLE)
        for ex in ("HOSE", "HNX", None):
            on = reference["exchange"] == ex if ex else np.ones(len(reference), dtype=bool)
            mt = table["exchange"] == ex if ex else np.ones(len(table), dtype=bool)
            n_ref, n_miss, n_hidden = int(on.sum()), int(mt.sum()), int((hidden & mt).sum())
            visible = n_ref - n_hidden
            print(
                f"   {ex or 'all'}: {n_hidden} of {n_ref} publisher events "
                f"({n_hidden / n_ref:.1%}) show no close, open or low below the band floor and no re-based no-trade "
                f"reference within +/-1 session (categories {', '.join(INVISIBLE)}): recall at "
                f"most {visible / n_ref:.1%} from prices; recall on the {visible} visible ones "
                f"{(visible - (n_miss - n_hidden)) / visible:.1%}"
            )
        in_band_precision(daily, events, days)
        if diagnose_out is not None:
            table.to_csv(diagnose_out, index=False)
            print(f"   per-event figures written to {diagnose_out}")


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
    parser.add_argument("--diagnose", action="store_true", help="categorise the missed events")
    parser.add_argument("--diagnose-out", type=Path, help="CSV of the missed events' figures")
    parser.add_argument("--skip-import", action="store_true", help="skip section 4 (speed)")
    args = parser.parse_args()
    if not folders(args.data):
        raise SystemExit(f"no hose/ or hnx/ folder under {args.data}")
    daily = fidelity(args.data)
    events = adjusted_vs_publisher(daily)
    detection(daily, events, diagnose=args.diagnose, diagnose_out=args.diagnose_out)
    if not args.skip_import:
        import_speed(args.data, [s.strip() for s in args.stores.split(",") if s.strip()])


if __name__ == "__main__":
    main()
