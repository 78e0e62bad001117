"""Benchmark: walk-forward evaluation end to end on the real VN30 constituents (2016-2019).

Reads ``../shared/data/vn30/vn30_constituents_daily_2016_2019.csv`` (or ``--csv``), adjusts it for
corporate actions, builds weekly features and labels, runs the walk-forward evaluation of the
chosen models, writes ``report.html`` / ``metrics.json`` / ``timings.json`` into ``--out`` and
prints the headline figures and the time of every stage.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_evaluation.py --out /tmp/sv_eval
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from stockvision.data.sources.csv_source import CsvSource
from stockvision.evaluation.report import write_report
from stockvision.evaluation.scoring import score
from stockvision.evaluation.splits import WalkForwardSplitter
from stockvision.evaluation.walkforward import labelled_weeks, run_walk_forward
from stockvision.features import DatasetBuilder, build_features_and_labels
from stockvision.market.corporate_actions import adjust

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CSV = ROOT.parent / "shared" / "data" / "vn30" / "vn30_constituents_daily_2016_2019.csv"
DEFAULT_MODELS = "ridge,lgbm_reg,random_walk,drift,lgbm_clf,majority,momentum_sign"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--out", type=Path, default=Path("/tmp/sv_eval_bench"))
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--min-train-weeks", type=int, default=104)
    ap.add_argument("--val-weeks", type=int, default=13)
    args = ap.parse_args()

    t0 = time.perf_counter()
    daily = adjust(CsvSource(args.csv).fetch().frame)
    t1 = time.perf_counter()
    features, labels = build_features_and_labels(daily)
    builder = DatasetBuilder(features, labels, seq_len=8, horizon=4)
    t2 = time.perf_counter()
    splitter = WalkForwardSplitter(min_train_weeks=args.min_train_weeks, val_weeks=args.val_weeks)
    n_folds = splitter.n_splits(labelled_weeks(builder))
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    result = run_walk_forward(builder, models, splitter, daily=daily)
    t3 = time.perf_counter()
    card = score(result)
    t4 = time.perf_counter()
    write_report(result, args.out, card=card)
    t5 = time.perf_counter()

    print(
        f"data: {daily['symbol'].nunique()} symbols, {len(daily):,} daily rows, "
        f"{len(features):,} weekly rows; {n_folds} folds; models {models}"
    )
    print(
        f"time: load+adjust {t1 - t0:.1f}s, features {t2 - t1:.1f}s, walk-forward {t3 - t2:.1f}s, "
        f"scoring+backtests {t4 - t3:.1f}s, report {t5 - t4:.1f}s"
    )
    for name, fig in result.timings.items():
        print(
            f"  {name:14s} fit {fig['fit_seconds']:7.2f}s  predict {fig['predict_seconds']:6.2f}s"
        )
    metrics = card.metrics
    print(json.dumps(metrics["evaluation_window"]))
    for name, v in metrics["models"].items():
        parts = [name, v["kind"]]
        for group in ("price", "pattern", "ranking", "backtest"):
            if group in v:
                parts.append(f"{group}={json.dumps(v[group])}")
        print(" | ".join(parts))
    print("buy_and_hold", json.dumps(metrics.get("buy_and_hold")))
    print(f"report: {args.out / 'report.html'}")


if __name__ == "__main__":
    main()
