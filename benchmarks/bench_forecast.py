"""Benchmark: walk-forward of the predictive distributions on VN30 and on the whole market.

Universes (each imported exactly as a user's ``stockvision ingest`` would: a temporary SQLite
store, the ingest's repairs, validation and adjustment rules, then the adjusted frame):
* ``vn30``: ``../shared/data/vn30/vn30_constituents_daily_2016_2019.csv`` and the VN30 index
  (corporate actions detected with the ingest's rules), test weeks from the cross-section start
  (2016).
* ``market``: every HOSE + HNX file of ``../shared/data/vn-exchanges/`` (no-trade days kept as
  flat bars), adjusted with the publisher's ``Adj Close`` (ratio to ``Close`` only; its level is
  never a feature), test weeks 2010-2019.

Prints per model the ``distribution`` block (CRPS, skill and DM p vs the constant-width random walk,
coverage, width, interval score, coverage by volatility quintile, pattern log loss of the derived
probabilities), the ranking figures (all names and the liquid 70 %) and the factor ranking
baselines, plus the time of every stage. Writes ``metrics.json`` and ``timings.json`` into ``--out``.

    nice -n 10 env PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_forecast.py \\
        --universe market --out /tmp/sv_forecast_market
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

from stockvision.data.ingest import adjusted_daily, ingest
from stockvision.data.sources.csv_source import CsvSource
from stockvision.data.store import Store
from stockvision.evaluation.backtest import (
    BacktestConfig,
    buy_and_hold,
    span_summary,
    top_fraction_backtest,
    top_fraction_size,
)
from stockvision.evaluation.scoring import score
from stockvision.evaluation.splits import WalkForwardSplitter
from stockvision.evaluation.walkforward import (
    cross_section_start,
    labelled_weeks,
    run_walk_forward,
)
from stockvision.features import DatasetBuilder, build_features_and_labels
from stockvision.jsonutil import jsonable

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SV_SHARED_DATA", ROOT.parent / "shared" / "data"))
#: fits at least this long are printed one by one (the sequence models' per-fit time)
SLOW_FIT_SECONDS = 5.0
FAST_MODELS = "random_walk,vol_random_walk,har_vol,ridge_har,drift,ridge,majority,momentum_sign"


def files_of(universe: str, shared: Path, limit: int | None) -> list[Path]:
    if universe == "vn30":  # the constituents and the VN30 index (training history from 2009)
        return [
            shared / "vn30" / "vn30_constituents_daily_2016_2019.csv",
            shared / "vn30" / "vn30_index_daily_2009_2019.csv",
        ]
    files = sorted((shared / "vn-exchanges" / "hose").glob("*.csv")) + sorted(
        (shared / "vn-exchanges" / "hnx").glob("*.csv")
    )
    if limit:
        files = files[:: max(1, len(files) // limit)][:limit]
    return files


def load(universe: str, shared: Path, limit: int | None) -> pd.DataFrame:
    """The adjusted daily frame a user's import of the same files produces: ``ingest`` into a
    temporary SQLite store (repairs such as no-trade flat bars, validation, the exchange from
    the folder, the source's adjusted close or the ingest's detection rules), then
    ``adjusted_daily``. Before Round 3 this read the files itself and, on VN30, detected the
    corporate actions with the detector's defaults instead of the ingest's rules (factors of 11
    symbols differed by up to 9.5 %)."""
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{tmp}/store.db")
        report = ingest(store, CsvSource(files_of(universe, shared, limit), on_bad_file="skip"))
        daily = adjusted_daily(store)
    flags = daily["flags"].map(int) if "flags" in daily.columns else pd.Series(0, daily.index)
    print(
        f"imported {report.inserted:,} rows ({report.rejected} rejected; "
        f"{int((flags & 1 > 0).sum()):,} no-trade flat bars kept)",
        flush=True,
    )
    return daily


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--universe", choices=["vn30", "market"], default="vn30")
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--out", type=Path, default=Path("/tmp/sv_forecast_bench"))
    ap.add_argument("--models", default=FAST_MODELS)
    ap.add_argument(
        "--first-test", default=None, help="first test week (market default 2010-01-01)"
    )
    ap.add_argument(
        "--step-weeks",
        type=int,
        default=4,
        help="refit cadence in weeks; each fold tests the next step-weeks weeks (default 4)",
    )
    ap.add_argument("--limit", type=int, default=None, help="subsample: at most this many files")
    ap.add_argument("--no-backtest", action="store_true")
    ap.add_argument(
        "--decile-backtest",
        default="",
        help="market: price models (comma separated) whose top liquid decile is backtested",
    )
    ap.add_argument(
        "--predictions",
        action="store_true",
        help="also write every test prediction to predictions.parquet and the test rows' classic "
        "factors to factors.parquet (bench_forecast_compare)",
    )
    ap.add_argument(
        "--params",
        default="{}",
        help='constructor params per model, JSON: {"vol_random_walk": {..}}',
    )
    args = ap.parse_args()
    models = [m.strip() for m in args.models.split(",") if m.strip()]

    t0 = time.perf_counter()
    daily = load(args.universe, args.shared, args.limit)
    t1 = time.perf_counter()
    features, labels = build_features_and_labels(daily)
    builder = DatasetBuilder(features, labels, seq_len=8, horizon=4)
    t2 = time.perf_counter()
    first = args.first_test or ("2010-01-01" if args.universe == "market" else None)
    start = cross_section_start(builder)
    if first is not None:
        start = max(start, pd.Timestamp(first))
    splitter = WalkForwardSplitter(
        horizon=4, step_weeks=args.step_weeks, test_weeks=args.step_weeks, first_test_week=start
    )
    n_folds = splitter.n_splits(labelled_weeks(builder))
    print(
        f"{args.universe}: {daily['symbol'].nunique()} symbols, {len(daily):,} daily rows, "
        f"{len(features):,} weekly rows, {n_folds} folds from {start.date()}, refit every "
        f"{args.step_weeks} weeks; load+adjust "
        f"{t1 - t0:.1f}s, features {t2 - t1:.1f}s",
        flush=True,
    )
    done = {"n": 0}

    def progress(event):
        if event.stage == "done":
            done["n"] += 1
            if event.seconds >= SLOW_FIT_SECONDS:  # a measured per-fit time, even if stopped
                print(
                    f"  {event.model} fold {event.fold + 1}/{event.n_folds} fit+predict "
                    f"{event.seconds:.1f}s (load {os.getloadavg()[0]:.1f})",
                    flush=True,
                )
            if done["n"] % (10 * len(models)) == 0:
                print(
                    f"  fold {event.fold + 1}/{event.n_folds} ({time.perf_counter() - t2:.0f}s)",
                    flush=True,
                )

    backtest = not args.no_backtest and args.universe == "vn30"
    result = run_walk_forward(
        builder,
        models,
        splitter,
        progress,
        daily=daily if backtest else None,
        on_error="drop",
        model_params=json.loads(args.params),
    )
    t3 = time.perf_counter()
    card = score(result, BacktestConfig())
    t4 = time.perf_counter()
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "metrics.json").write_text(
        json.dumps(jsonable(card.metrics), indent=1, sort_keys=True)
    )
    (args.out / "timings.json").write_text(json.dumps(result.timings, indent=1))
    if args.predictions:
        result.predictions.to_parquet(args.out / "predictions.parquet")
        if result.factors is not None and not result.factors.empty:
            result.factors.drop_duplicates(["symbol", "week_end"]).to_parquet(
                args.out / "factors.parquet"
            )
    print(f"walk-forward {t3 - t2:.1f}s, scoring {t4 - t3:.1f}s, total {t4 - t0:.1f}s")
    if result.failed:
        print("FAILED:", result.failed)
    for name, fig in result.timings.items():
        print(
            f"  {name:16s} fit {fig['fit_seconds']:7.1f}s  predict {fig['predict_seconds']:6.1f}s"
        )
    w = card.metrics["evaluation_window"]
    print(
        f"window {w['start']} .. {w['end']}, {w['n_test_weeks']} weeks, {w['n_labelled_rows']:,} "
        f"rows, refit every {args.step_weeks} weeks ({n_folds} folds)"
    )
    for name, v in card.metrics["models"].items():
        d = v.get("distribution") or {}
        r = v.get("ranking") or {}
        p = v.get("pattern") or {}
        if d:
            print(
                f"{name:16s} CRPS {d['crps']:.5f} skill {d.get('crps_skill')} DM p "
                f"{d.get('dm_pvalue')} | cov50/80/95 {d['coverage_50']:.3f}/{d['coverage_80']:.3f}/"
                f"{d['coverage_95']:.3f} width80 {d['mean_width_80_pct']:.2f}% IS80 "
                f"{d['interval_score_80']:.4f} skill {d.get('interval_score_skill')} | by vol "
                f"{[round(x, 3) for x in d['coverage_80_by_vol_quintile']]} | pattern LL skill "
                f"{d.get('pattern_log_loss_skill')}"
            )
            by_scale = d.get("coverage_80_by_scale") or []
            if by_scale:  # what an answer quotes for a forecast of that width
                print(
                    f"{name:16s} cov80 by predicted scale: "
                    + ", ".join(
                        f"q{b['q_low'] * 100:g}-{b['q_high'] * 100:g}% (<= {b['scale_max']:.4f}, "
                        f"{b['rows']:,} rows) {b['coverage_80']:.3f}"
                        for b in by_scale
                    )
                )
        if p:
            print(f"{name:16s} pattern LL skill {p['log_loss_skill']} ECE {p['ece']}")
        print(
            f"{name:16s} rank IC {r.get('rank_ic_mean')} {r.get('rank_ic_ci95')} liquid "
            f"{r.get('liquid_rank_ic_mean')} {r.get('liquid_rank_ic_ci95')}"
        )
        if "backtest" in v:
            print(f"{name:16s} backtest {json.dumps(v['backtest'])}")
    for name, f in (card.metrics.get("ranking_baselines") or {}).items():
        print(
            f"factor {name:14s} rank IC {f['rank_ic_mean']} {f['rank_ic_ci95']} liquid "
            f"{f['liquid_rank_ic_mean']} {f['liquid_rank_ic_ci95']}"
        )
    wanted = [m.strip() for m in args.decile_backtest.split(",") if m.strip()]
    if wanted:
        t5 = time.perf_counter()
        figures = decile_backtests(result, daily, wanted)
        (args.out / "decile_backtest.json").write_text(json.dumps(jsonable(figures), indent=1))
        for name, fig in figures.items():
            print(f"decile backtest {name:22s} {json.dumps(fig)}")
        print(f"decile backtests {time.perf_counter() - t5:.1f}s")


#: capital of the whole-market backtest: ~60 names in lots of 100 shares need more than 1 bn VND
DECILE_CAPITAL = 100_000_000_000.0


#: the index benchmark of the whole-market backtest: the VN30 ETF, the one tradable index in these
#: files (listed 2014-10-06, so it is compared on its own span; the VN-Index itself is not in them)
INDEX_PROXY = "E1VFVN30"
LISTING_SETTLE_DAYS = 21  # trading days after the ETF's listing before it is bought


def decile_backtests(result, daily: pd.DataFrame, models: list[str]) -> dict[str, dict]:
    """Long the top decile of the LIQUID names by each model's median 4-week return, rebalanced
    every 4 weeks at the next open, VN costs and lots (the VN30 backtest's rules), against the
    equal-weight portfolio of the same liquid names rebalanced on the same days, and against
    buying and holding the VN30 ETF (same costs and lots) from a month after its listing, where
    every curve is measured again on the same dates (``<name>@index_span``)."""
    keys = ["annual_return", "volatility", "sharpe", "max_drawdown", "turnover", "hit_rate"]
    span_keys = ["annual_return", "volatility", "sharpe", "max_drawdown"]
    liquid = result.factors[["symbol", "week_end", "liquid"]]
    cfg = BacktestConfig(initial_capital=DECILE_CAPITAL)
    out: dict[str, dict] = {}
    curves: dict[str, pd.Series] = {}
    for name in models:
        rows = result.model_predictions(name)[["symbol", "week_end", "pred_log_return"]]
        rows = rows.merge(liquid, on=["symbol", "week_end"])
        rows = rows[rows["liquid"]]
        strategy, bench = top_fraction_backtest(rows, daily, 0.1, cfg)
        out[name] = {
            "top_k": top_fraction_size(rows, 0.1),
            **{k: strategy.summary[k] for k in keys},
        }
        curves[name] = strategy.equity
        n_all = int(rows.groupby("week_end").size().max())
        out.setdefault(
            "equal_weight_liquid", {"top_k": n_all, **{k: bench.summary[k] for k in keys}}
        )
        curves.setdefault("equal_weight_liquid", bench.equity)
    etf = daily.loc[(daily["symbol"] == INDEX_PROXY) & daily["open"].notna(), "date"]
    if etf.empty or not curves:
        print(f"no {INDEX_PROXY} rows: no index buy-and-hold")
        return out
    first = next(iter(curves.values()))
    # a month after its listing: a listing day's open (12,200 VND, closing at 10,400) is no price
    # an investor could count on
    listed = pd.DatetimeIndex(sorted(etf.unique()))
    start = max(listed[min(LISTING_SETTLE_DAYS, len(listed) - 1)], first.index[0])
    start = first.index[first.index.searchsorted(start)]
    end = first.index[-2]  # the day before the strategy's final liquidation mark
    held = buy_and_hold(daily, [INDEX_PROXY], start, end, cfg)
    out[f"{INDEX_PROXY}_buy_and_hold"] = {
        "span": [str(start.date()), str(end.date())],
        **{k: held.summary[k] for k in span_keys},
    }
    for name, equity in curves.items():
        figures = span_summary(equity, start, end, cfg)
        out[f"{name}@index_span"] = {k: figures[k] for k in span_keys}
    return out


if __name__ == "__main__":
    main()
