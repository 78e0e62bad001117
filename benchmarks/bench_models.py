"""Benchmark: fit/predict time and test metrics of every model, ARIMA fit time, transfer learning.

Builds weekly features from a synthetic market (default: 30 symbols x 4 years, generated data) or a
daily CSV (``--csv``, e.g. the real VN30 constituents), makes one purged train/val/test split, fits
every model of ``MODEL_FACTORIES`` and prints figures; then runs the parent-child transfer
experiment on ``--transfer-symbols`` symbols. Prints figures only (no assertions).

    PYTHONPATH=src .venv/bin/python benchmarks/bench_models.py --threads 1
    PYTHONPATH=src .venv/bin/python benchmarks/bench_models.py \
        --csv ../shared/data/vn30/vn30_constituents_daily_2016_2019.csv
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from stockvision.evaluation.metrics import ece
from stockvision.features import DatasetBuilder, build_features_and_labels
from stockvision.market.corporate_actions import adjust
from stockvision.models import PriceModel, run_transfer_experiment
from stockvision.models._windows import pattern_codes
from stockvision.models.registry_names import MODEL_FACTORIES

THREADED = {"lgbm_reg", "lgbm_clf", "lstm", "gru", "cnn_bilstm_attn"}


def _daily(csv: Path | None, n_symbols: int, years: int):
    if csv is not None:
        from stockvision.data.sources.csv_source import CsvSource

        return adjust(CsvSource(csv).fetch().frame), f"csv {csv.name}"
    from stockvision.data.sources.synthetic import generate_market

    market = generate_market(n_symbols, years, seed=7, return_events=True)
    events = market.events.rename(columns={"ex_date": "date"})[["symbol", "date", "price_factor"]]
    events = events.rename(columns={"price_factor": "ratio"})
    return adjust(market.daily, events=events), f"synthetic {n_symbols}x{years}y"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--csv", type=Path, default=None)
    ap.add_argument("--symbols", type=int, default=30)
    ap.add_argument("--years", type=int, default=4)
    ap.add_argument("--val-weeks", type=int, default=13)
    ap.add_argument("--test-weeks", type=int, default=26)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default=",".join(MODEL_FACTORIES))
    ap.add_argument("--transfer-symbols", type=int, default=5)
    args = ap.parse_args()

    t0 = time.perf_counter()
    daily, source = _daily(args.csv, args.symbols, args.years)
    features, labels = build_features_and_labels(daily)
    builder = DatasetBuilder(features, labels, seq_len=8, horizon=4)
    y = builder.labels["future_log_return"].to_numpy()
    last = int(builder.calendar.searchsorted(builder._week_ends[np.isfinite(y)].max()))
    train_end = builder.calendar[last - args.test_weeks - args.val_weeks - 2 * 5 + 1]
    train, val, test = builder.split(train_end, args.val_weeks, args.test_weeks)
    print(
        f"data: {source}; {len(features):,} weekly rows; train {len(train)} rows to "
        f"{train_end.date()}, val {len(val)}, test {len(test)}; setup {time.perf_counter() - t0:.1f}s"
    )

    y_te = test.y_return
    codes, lab = pattern_codes(test)
    rw_mae = float(np.mean(np.abs(y_te)))  # the random walk predicts a 0 log return
    for name in [m for m in args.models.split(",") if m]:
        params = {"num_threads": args.threads} if name in THREADED else {}
        t1 = time.perf_counter()
        model = MODEL_FACTORIES[name](**params).fit(train, val)
        t2 = time.perf_counter()
        if isinstance(model, PriceModel):
            pred = model.predict(test)
            low, high = model.predict_interval(test)
            t3 = time.perf_counter()
            mae = float(np.mean(np.abs(pred - y_te)))
            cov = float(np.mean((y_te >= low) & (y_te <= high)))
            extra = (
                f"MAE(log ret) {mae:.4f}  MAE/RW {mae / rw_mae:.3f}  coverage@80% {cov:.3f}  "
                f"q {model.conformal_q_:.4f}"
            )
        else:
            proba = model.predict_proba(test)
            t3 = time.perf_counter()
            p, yy = proba[lab], codes[lab]
            acc = float((p.argmax(axis=1) == yy).mean())
            ll = float(-np.log(np.clip(p[np.arange(len(yy)), yy], 1e-15, 1)).mean())
            extra = f"acc {acc:.3f}  log loss {ll:.3f}  ECE {ece(p, yy):.3f}"
            if hasattr(model, "temperature_"):
                extra += f"  T {model.temperature_:.2f}"
        print(f"{name:16s} fit {t2 - t1:6.2f}s  predict {t3 - t2:5.2f}s  {extra}")

    if args.transfer_symbols > 0:
        symbols = sorted(set(train.X.index.get_level_values(0)))[: args.transfer_symbols]
        common = {"num_threads": args.threads}
        out = run_transfer_experiment(
            train, val, test, symbols, parent_params=common, scratch_params=common
        )
        print("transfer parent:", json.dumps({k: round(v, 3) for k, v in out["parent"].items()}))
        for sym, c in out["children"].items():
            row = {k: {m: round(v, 3) for m, v in d.items()} for k, d in c.items()}
            print(f"  {sym}: {json.dumps(row)}")
        print("transfer summary:", json.dumps({k: round(v, 3) for k, v in out["summary"].items()}))


if __name__ == "__main__":
    main()
