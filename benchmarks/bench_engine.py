"""Benchmark: the walk-forward evaluation on the serial engine vs on Dask (LocalCluster).

Real VN30 constituents 2016-2019 (``../shared/data``, or ``--csv``): adjust, build features, then
run :func:`stockvision.evaluation.evaluate.evaluate_dataset` once per engine and print the wall
times, the ratio, and whether the two ``metrics.json`` files are byte-identical (they must be).
The cluster's start-up (worker processes importing numpy/torch/LightGBM) is timed separately: it is
paid once per pipeline run, not per fit. Also times the one-pass vectorised feature build, which
the engine does not fan out (see docs/deployment.md, "Distributed engine").

    PYTHONPATH=src nice -n 10 .venv/bin/python benchmarks/bench_engine.py [--workers 2]
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
    args = ap.parse_args()
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


if __name__ == "__main__":
    main()
