"""Compare saved walk-forward predictions of several runs against any reference forecast.

``bench_forecast.py --predictions`` writes each run's test predictions; a model name may appear
once per run, so variants of one model (constructor ``--params``) come from separate runs on the
same folds. This script scores ``RUN_DIR:MODEL`` pairs against the reference ``RUN_DIR:MODEL``
on the rows both have, with the project's own scoring (``evaluation.scoring``): CRPS, CRPS skill
and its Diebold-Mariano p, 80 % coverage, Winkler (80 % interval score) skill, coverage by
volatility quintile. Every figure is given for the whole test window and for its two halves by
test week: the development half (where settings may be chosen) and the held-out half.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_forecast_compare.py \\
        --ref /tmp/run_a:random_walk --model /tmp/run_a:har_vol --model /tmp/run_b:har_vol=har_mkt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from stockvision.evaluation.scoring import distribution_block, distribution_rows

_KEY = ["symbol", "week_end"]


def _rows(spec: str) -> tuple[str, pd.DataFrame]:
    """``DIR:MODEL[=LABEL]`` -> (label, per-row distribution scores)."""
    path, _, model = spec.rpartition(":")
    model, _, label = model.partition("=")
    preds = pd.read_parquet(Path(path) / "predictions.parquet")
    rows = distribution_rows(preds[preds["model"] == model])
    if rows.empty:
        raise SystemExit(f"{spec}: no distribution rows for model {model!r}")
    return label or f"{Path(path).name}:{model}", rows


def _fmt(block: dict) -> str:
    q = " ".join(f"{v:.3f}" for v in block.get("coverage_80_by_vol_quintile", []))
    skill = block.get("crps_skill", float("nan"))
    wskill = block.get("interval_score_skill", float("nan"))
    return (
        f"CRPS {block['crps']:.5f} | skill {skill * 100:+.2f} % | DM p {block.get('dm_pvalue', np.nan):.2g}"
        f" | cov80 {block['coverage_80'] * 100:.1f} % | width80 {block['mean_width_80_pct']:.1f} %"
        f" | Winkler {block['interval_score_80']:.4f} skill {wskill * 100:+.2f} % | by vol {q}"
        f" | n {block['n_rows']:,}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", required=True, help="DIR:MODEL of the reference forecast")
    ap.add_argument("--model", action="append", required=True, help="DIR:MODEL[=LABEL]")
    ap.add_argument("--horizon", type=int, default=4)
    args = ap.parse_args()
    ref_label, ref = _rows(args.ref)
    weeks = np.sort(ref["week_end"].unique())
    split = pd.Timestamp(weeks[len(weeks) // 2])
    print(
        f"reference {ref_label}; test weeks {pd.Timestamp(weeks[0]).date()} .. "
        f"{pd.Timestamp(weeks[-1]).date()} ({len(weeks)}); development half < {split.date()} <= "
        "held-out half"
    )
    parts = {
        "full": lambda r: r,
        "dev": lambda r: r[r["week_end"] < split],
        "held-out": lambda r: r[r["week_end"] >= split],
    }
    for spec in args.model:
        label, rows = _rows(spec)
        common = rows.merge(ref[_KEY], on=_KEY)
        if len(common) != len(rows) or len(common) != len(ref):
            print(
                f"  note: {label} has {len(rows):,} rows, the reference {len(ref):,}, common {len(common):,}"
            )
        for part, take in parts.items():
            block = distribution_block(take(common), take(ref), args.horizon)
            print(f"{label:28s} {part:8s} {_fmt(block)}")


if __name__ == "__main__":
    main()
