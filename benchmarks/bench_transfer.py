"""Benchmark: parent-child transfer learning of the LSTM pattern model on the real VN30 data.

The parent is trained on all constituents pooled plus the VN30 index series (``index_train`` /
``index_val``, the index's longer 2012+ history included); each child is fine-tuned from the
parent on its own symbol and compared with a child trained from scratch on that symbol alone and
with the parent used as is. One purged split by date: train | gap | val (13 weeks) | gap | test
(the last 26 labelled weeks). Prints training time saved and accuracy / log loss per child and in
total, and writes the full result as JSON (``--json``). Figures only, no assertions.

    .venv/bin/python benchmarks/bench_transfer.py            # all 30 constituents
    .venv/bin/python benchmarks/bench_transfer.py --symbols VNM,FPT,HPG --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

from stockvision.data.sources.csv_source import CsvSource
from stockvision.features import DatasetBuilder, build_features_and_labels
from stockvision.market.corporate_actions import adjust
from stockvision.models._windows import subset_window, symbols_of
from stockvision.models.transfer import run_transfer_experiment

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "vn30"
INDEX = "VN30"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--daily", type=Path, default=DATA / "vn30_constituents_daily_2016_2019.csv")
    ap.add_argument("--index", type=Path, default=DATA / "vn30_index_daily_2009_2019.csv")
    ap.add_argument("--symbols", default="", help="comma-separated children (default: all)")
    ap.add_argument("--arch", default="lstm", choices=["lstm", "gru"])
    ap.add_argument("--val-weeks", type=int, default=13)
    ap.add_argument("--test-weeks", type=int, default=26)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()

    t0 = time.perf_counter()
    daily = pd.concat(
        [CsvSource(args.daily).fetch().frame, CsvSource(args.index).fetch().frame],
        ignore_index=True,
    )
    # every VN30 constituent and the index trade on HOSE (its price band drives split detection)
    features, labels = build_features_and_labels(adjust(daily, exchange_of=lambda _s: "HOSE"))
    builder = DatasetBuilder(features, labels, seq_len=8, horizon=4)
    weeks = pd.DatetimeIndex(
        np.unique(builder.window().X.index.get_level_values("week_end").to_numpy())
    )
    gap = builder.horizon + 1
    train_end = weeks[-(args.test_weeks + args.val_weeks + 2 * gap)]
    split = builder.split(train_end, args.val_weeks, args.test_weeks)
    parts = {name: getattr(split, name) for name in ("train", "val", "test")}
    stocks = {n: subset_window(w, ~(symbols_of(w) == INDEX)) for n, w in parts.items()}
    index = {n: subset_window(w, symbols_of(w) == INDEX) for n, w in parts.items()}
    available = sorted(set(symbols_of(stocks["train"])) & set(symbols_of(stocks["test"])))
    available = [s for s in available if (symbols_of(stocks["val"]) == s).any()]
    children = [s.strip().upper() for s in args.symbols.split(",") if s.strip()] or available
    test_weeks = np.unique(stocks["test"].X.index.get_level_values(1))
    print(
        f"data: {len(features):,} weekly rows, {builder.features.index.get_level_values(0).nunique()}"
        f" series; train to {train_end.date()} ({len(stocks['train'])} stock rows + "
        f"{len(index['train'])} index rows), val {len(stocks['val'])} + {len(index['val'])}, "
        f"test {len(stocks['test'])} rows ({pd.Timestamp(test_weeks[0]).date()} .. "
        f"{pd.Timestamp(test_weeks[-1]).date()}); setup {time.perf_counter() - t0:.1f}s; "
        f"load {os.getloadavg()[0]:.2f}; threads {args.threads}"
    )

    threads = {"num_threads": args.threads}
    t1 = time.perf_counter()
    res = run_transfer_experiment(
        stocks["train"],
        stocks["val"],
        stocks["test"],
        children,
        arch=args.arch,
        index_train=index["train"] if len(index["train"]) else None,
        index_val=index["val"] if len(index["val"]) else None,
        parent_params=threads,
        scratch_params=threads,
        seed=args.seed,
    )
    wall = time.perf_counter() - t1

    p = res["parent"]
    print(
        f"\nparent ({args.arch}, pooled stocks + {INDEX} index): fit {p['seconds']:.1f}s, "
        f"{p['epochs']} epochs; test accuracy {p['accuracy']:.3f}, log loss {p['log_loss']:.3f} "
        f"on {p['n_test']} rows"
    )
    head = (
        f"{'symbol':<7}{'ft s':>7}{'sc s':>7}{'ft ep':>6}{'sc ep':>6}"
        f"{'acc ft':>8}{'acc sc':>8}{'acc par':>8}{'LL ft':>7}{'LL sc':>7}{'LL par':>7}{'n':>4}"
    )
    print(head)
    for sym, c in res["children"].items():
        ft, sc, po = c["fine_tuned"], c["scratch"], c["parent_only"]
        print(
            f"{sym:<7}{ft['seconds']:>7.2f}{sc['seconds']:>7.2f}{ft['epochs']:>6}{sc['epochs']:>6}"
            f"{ft['accuracy']:>8.3f}{sc['accuracy']:>8.3f}{po['accuracy']:>8.3f}"
            f"{ft['log_loss']:>7.3f}{sc['log_loss']:>7.3f}{po['log_loss']:>7.3f}{ft['n_test']:>4}"
        )
    s = res["summary"]
    print(
        f"\n{s['n_children']} children: fine-tuning {s['fine_tuned_seconds_total']:.1f}s vs "
        f"scratch {s['scratch_seconds_total']:.1f}s -> saved {s['time_saved_seconds']:.1f}s "
        f"({s['time_saved_pct']:.0f}%); including the parent's {p['seconds']:.1f}s: "
        f"{s['time_saved_incl_parent_seconds']:.1f}s"
    )
    for kind in ("fine_tuned", "scratch", "parent_only"):
        print(
            f"  {kind:<12} mean accuracy {s[f'{kind}_accuracy_mean']:.3f}  "
            f"mean log loss {s[f'{kind}_log_loss_mean']:.3f}"
        )
    print(f"wall {wall:.1f}s, load {os.getloadavg()[0]:.2f}")
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=float) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
