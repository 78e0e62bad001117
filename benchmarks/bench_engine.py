"""Benchmark: the walk-forward evaluation on the serial engine vs on Dask (LocalCluster).

Real VN30 constituents 2016-2019 (``../shared/data``, or ``--csv``): adjust, build features, then
run :func:`stockvision.evaluation.evaluate.evaluate_dataset` once per engine and print the wall
times, the ratio, and whether the two ``metrics.json`` files are byte-identical (they must be).
The cluster's start-up (worker processes importing numpy/torch/LightGBM) is timed separately: it is
paid once per pipeline run, not per fit.

Then the other two heavy steps (``--steps``), on the whole market (``../shared/data/vn-exchanges``,
HOSE + HNX, one CSV per symbol): the CSV import (files read on the workers) and the weekly feature
build (symbol chunks), serial vs Dask on an already started cluster, checking the frames equal.

    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/bench_engine.py [--workers 2] \
        [--steps only|also|no]
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from stockvision.config import Settings
from stockvision.data.sources.csv_source import CsvSource
from stockvision.engine import DaskEngine, SerialEngine
from stockvision.evaluation.evaluate import evaluate_dataset
from stockvision.evaluation.splits import WalkForwardSplitter
from stockvision.features import DatasetBuilder, build_features_and_labels
from stockvision.market.corporate_actions import adjust

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("SV_SHARED_DATA", ROOT.parent / "shared" / "data"))
DEFAULT_CSV = SHARED / "vn30" / "vn30_constituents_daily_2016_2019.csv"
DEFAULT_MODELS = "ridge,lgbm_reg,random_walk,drift,lgbm_clf,gru,majority,momentum_sign"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=DEFAULT_CSV)
    ap.add_argument("--out", type=Path, default=Path("/tmp/sv_bench_engine"))
    ap.add_argument("--models", default=DEFAULT_MODELS)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--max-folds", type=int, default=None)
    ap.add_argument("--market", type=Path, default=SHARED / "vn-exchanges")
    ap.add_argument("--steps", choices=["only", "also", "no"], default="also")
    args = ap.parse_args()
    if args.steps != "no":
        bench_steps(args.market, args.workers)
    if args.steps == "only":
        return
    models = [m.strip() for m in args.models.split(",") if m.strip()]

    t0 = time.perf_counter()
    daily = adjust(CsvSource(args.csv).fetch().frame)
    t1 = time.perf_counter()
    features, labels = build_features_and_labels(daily)
    t2 = time.perf_counter()
    builder = DatasetBuilder(features, labels, seq_len=8, horizon=4)
    splitter = WalkForwardSplitter(min_train_weeks=104, val_weeks=13, max_folds=args.max_folds)
    settings = Settings(data_dir=args.out / "home")
    print(
        f"data: {daily['symbol'].nunique()} symbols, {len(daily):,} daily rows, "
        f"{len(features):,} weekly rows; load+adjust {t1 - t0:.1f}s, features {t2 - t1:.2f}s"
    )
    print(f"models: {models}; cores: {os.cpu_count()}; load average: {os.getloadavg()[0]:.1f}")

    def run(engine, name: str) -> tuple[float, bytes, int]:
        start = time.perf_counter()
        _, _, result = evaluate_dataset(
            builder, daily, args.out / name, models, splitter,
            settings=settings, show_progress=False, engine=engine,
        )  # fmt: skip
        seconds = time.perf_counter() - start
        return seconds, (args.out / name / "metrics.json").read_bytes(), len(result.folds)

    serial_s, serial_metrics, n_folds = run(SerialEngine(), "serial")
    print(f"serial: {serial_s:.1f}s for {n_folds} folds x {len(models)} models")

    engine = DaskEngine(n_workers=args.workers)
    start = time.perf_counter()
    engine.client  # noqa: B018  (start the LocalCluster now, to time it apart)
    startup = time.perf_counter() - start
    try:
        dask_s, dask_metrics, _ = run(engine, "dask")
        warm_s, _, _ = run(engine, "dask_warm")
    finally:
        engine.close()
    print(f"dask LocalCluster {args.workers} workers x 1 thread: start-up {startup:.1f}s")
    print(f"dask: first run {dask_s:.1f}s (workers import the models), second run {warm_s:.1f}s")
    print(
        f"wall-time ratio serial/dask: {serial_s / dask_s:.2f}x first run, "
        f"{serial_s / warm_s:.2f}x warm, {serial_s / (startup + dask_s):.2f}x including start-up"
    )
    same = serial_metrics == dask_metrics
    print(f"metrics.json byte-identical: {same} ({len(serial_metrics):,} bytes)")
    if not same:
        raise SystemExit("the Dask run's metrics.json differs from the serial run's")


def bench_steps(market: Path, workers: int) -> None:
    """CSV import and feature build of the whole market: serial vs Dask (cluster already up)."""
    import pandas as pd

    from stockvision.features.weekly import compute_features

    files = sorted(p for sub in ("hose", "hnx") for p in (market / sub).glob("*.csv"))
    print(f"whole market: {len(files)} CSV files; load average {os.getloadavg()[0]:.1f}")
    engine = DaskEngine(n_workers=workers)
    start = time.perf_counter()
    engine.client  # noqa: B018
    print(
        f"dask LocalCluster {workers} workers x 1 thread: start-up {time.perf_counter() - start:.1f}s"
    )
    try:
        timings = {}
        for name, eng in (("serial", None), ("dask", engine)):
            t0 = time.perf_counter()
            result = CsvSource(files, on_bad_file="skip", engine=eng).fetch()
            t1 = time.perf_counter()
            daily = adjust(result.frame)
            t2 = time.perf_counter()
            feats = compute_features(daily, engine=eng)
            t3 = time.perf_counter()
            timings[name] = (t1 - t0, t3 - t2, result.frame, feats)
        (s_in, s_ft, s_frame, s_feats), (d_in, d_ft, d_frame, d_feats) = (
            timings["serial"],
            timings["dask"],
        )
        pd.testing.assert_frame_equal(d_frame, s_frame, check_exact=True)
        pd.testing.assert_frame_equal(d_feats, s_feats, check_exact=True)
        print(
            f"csv import ({len(s_frame):,} daily rows): serial {s_in:.1f}s, dask {d_in:.1f}s, "
            f"ratio serial/dask {s_in / d_in:.2f}x"
        )
        print(
            f"feature build ({len(s_feats):,} weekly rows): serial {s_ft:.2f}s, dask {d_ft:.2f}s, "
            f"ratio serial/dask {s_ft / d_ft:.2f}x"
        )
        print("frames identical (check_exact): True")
        print(f"load average after: {os.getloadavg()[0]:.1f}")
    finally:
        engine.close()


if __name__ == "__main__":
    main()
