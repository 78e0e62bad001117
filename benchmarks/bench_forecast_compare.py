"""Compare saved walk-forward predictions of several runs against any reference forecast.

``bench_forecast.py --predictions`` writes each run's test predictions; a model name may appear
once per run, so variants of one model (constructor ``--params``) come from separate runs on the
same folds. This script scores ``RUN_DIR:MODEL`` pairs against the reference ``RUN_DIR:MODEL``
on the rows both have, with the project's own scoring (``evaluation.scoring``): CRPS, CRPS skill
and its Diebold-Mariano p, 80 % coverage, Winkler (80 % interval score) skill, coverage by
volatility quintile. Every figure is given for the whole test window and for its two halves by
test week: the development half (where settings may be chosen) and the held-out half.

``--pattern`` scores pattern models instead (no ``--ref``: each row's reference is its own
training class frequencies): log loss, log-loss skill with the Diebold-Mariano p of the weekly
mean log-loss difference, ECE, accuracy and the rank IC of P(UP) - P(DOWN) with its block
bootstrap 95 % interval, by the same halves. Several runs of one model (seeds) are compared on
the rows all of them have. ``--factors DIR`` (a run's ``factors.parquet``) adds the rank IC on
the liquid names (the top 70 % by traded value of each week) and, for the same rows and halves,
each classic factor alone as a ranking baseline.

    PYTHONPATH=src .venv/bin/python benchmarks/bench_forecast_compare.py \\
        --ref /tmp/run_a:random_walk --model /tmp/run_a:har_vol --model /tmp/run_b:har_vol=har_mkt
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from stockvision.evaluation import metrics as m
from stockvision.evaluation.scoring import distribution_block, distribution_rows
from stockvision.evaluation.walkforward import FACTOR_COLUMNS, PRIOR_COLUMNS, PROB_COLUMNS

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


def _pattern_rows(spec: str) -> tuple[str, pd.DataFrame]:
    """``DIR:MODEL[=LABEL]`` -> (label, scored pattern rows with per-row log losses)."""
    path, _, model = spec.rpartition(":")
    model, _, label = model.partition("=")
    preds = pd.read_parquet(Path(path) / "predictions.parquet")
    df = preds[(preds["model"] == model) & (preds["actual_pattern"] >= 0)]
    df = df[df[PROB_COLUMNS].notna().all(axis=1)]
    if df.empty:
        raise SystemExit(f"{spec}: no pattern rows for model {model!r}")
    y = df["actual_pattern"].to_numpy(dtype=int)
    pick = np.arange(len(df))
    p = np.clip(df[PROB_COLUMNS].to_numpy()[pick, y], 1e-15, 1.0)
    q = np.clip(df[PRIOR_COLUMNS].to_numpy()[pick, y], 1e-15, 1.0)
    out = df[[*_KEY, "actual_pattern", "actual_log_return", *PROB_COLUMNS, *PRIOR_COLUMNS]]
    return label or f"{Path(path).name}:{model}", out.assign(ll=-np.log(p), ll_ref=-np.log(q))


def pattern_block(rows: pd.DataFrame, horizon: int, n_boot: int = 2000) -> dict[str, float]:
    """Log loss, its skill vs the training class frequencies (DM p), ECE, accuracy, rank IC."""
    probs, y = rows[PROB_COLUMNS].to_numpy(), rows["actual_pattern"].to_numpy(dtype=int)
    weekly = rows.groupby("week_end")[["ll", "ll_ref"]].mean()
    try:
        dm_p = m.diebold_mariano(weekly["ll"], weekly["ll_ref"], h=horizon, loss="abs").pvalue
    except ValueError:
        dm_p = float("nan")
    ic = m.ic_by_period(
        rows.assign(score=rows["p_up"] - rows["p_down"]), "score", "actual_log_return"
    )
    rank = m.ranking_summary(ic, n_boot=n_boot, block=horizon)
    return {
        "log_loss": float(rows["ll"].mean()),
        "log_loss_skill": float(1 - rows["ll"].mean() / rows["ll_ref"].mean()),
        "dm_pvalue": float(dm_p),
        "ece": m.ece(probs, y, 15),
        "accuracy": m.accuracy(y, probs.argmax(axis=1)),
        "rank_ic_mean": float(rank["rank_ic_mean"]),
        "rank_ic_ci95": rank["rank_ic_ci95"],
        "n_rows": len(rows),
    }


def _fmt_ic(mean: float, ci: list[float], missing: str = "n/a") -> str:
    return f"{mean:.3f} [{ci[0]:.3f}, {ci[1]:.3f}]" if np.isfinite(mean) else missing


def _rank_ic(rows: pd.DataFrame, score: str, horizon: int, n_boot: int = 2000) -> str:
    ic = m.ic_by_period(rows, score, "actual_log_return")
    r = m.ranking_summary(ic, n_boot=n_boot, block=horizon)
    return _fmt_ic(r["rank_ic_mean"], r["rank_ic_ci95"])


def _fmt_pattern(b: dict) -> str:
    ric = _fmt_ic(b["rank_ic_mean"], b["rank_ic_ci95"], "n/a (constant score)")
    return (
        f"log loss {b['log_loss']:.4f} | skill {b['log_loss_skill']:+.4f} | DM p {b['dm_pvalue']:.2g}"
        f" | ECE {b['ece']:.3f} | acc {b['accuracy'] * 100:.1f} %"
        f" | rank IC {ric} | n {b['n_rows']:,}"
    )


def _halves(weeks: np.ndarray) -> tuple[pd.Timestamp, dict]:
    split = pd.Timestamp(weeks[len(weeks) // 2])
    return split, {
        "full": lambda r: r,
        "dev": lambda r: r[r["week_end"] < split],
        "held-out": lambda r: r[r["week_end"] >= split],
    }


def compare_patterns(specs: list[str], horizon: int, factors_dir: Path | None = None) -> None:
    """Print the pattern block of every run, on the rows all runs share, by halves."""
    runs = [_pattern_rows(spec) for spec in specs]
    common = runs[0][1][_KEY]
    for _, rows in runs[1:]:
        common = common.merge(rows[_KEY], on=_KEY)
    factors = None
    if factors_dir is not None:
        factors = pd.read_parquet(factors_dir / "factors.parquet").drop(columns="actual_log_return")
        common = common.merge(factors[_KEY], on=_KEY)
    weeks = np.sort(common["week_end"].unique())
    split, parts = _halves(weeks)
    print(
        f"pattern rows common to {len(runs)} run(s): {len(common):,}; test weeks "
        f"{pd.Timestamp(weeks[0]).date()} .. {pd.Timestamp(weeks[-1]).date()} ({len(weeks)}); "
        f"development half < {split.date()} <= held-out half"
    )
    for label, rows in runs:
        rows = rows.merge(common, on=_KEY)
        if factors is not None:
            rows = rows.merge(factors[[*_KEY, "liquid"]], on=_KEY)
        for part, take in parts.items():
            part_rows = take(rows)
            line = f"{label:28s} {part:8s} {_fmt_pattern(pattern_block(part_rows, horizon))}"
            if factors is not None:
                liquid = part_rows[part_rows["liquid"]]
                liquid = liquid.assign(score=liquid["p_up"] - liquid["p_down"])
                line += f" | liquid rank IC {_rank_ic(liquid, 'score', horizon)}"
            print(line)
    if factors is None:
        return
    realised = runs[0][1][[*_KEY, "actual_log_return"]].merge(common, on=_KEY)
    frame = realised.merge(factors, on=_KEY)
    for name in FACTOR_COLUMNS:
        for part, take in parts.items():
            rows = take(frame)
            print(
                f"{'factor ' + name:28s} {part:8s} rank IC all {_rank_ic(rows, name, horizon)}"
                f" | liquid {_rank_ic(rows[rows['liquid']], name, horizon)}"
            )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", help="DIR:MODEL of the reference forecast (distribution mode)")
    ap.add_argument("--model", action="append", required=True, help="DIR:MODEL[=LABEL]")
    ap.add_argument("--horizon", type=int, default=4)
    ap.add_argument(
        "--pattern", action="store_true", help="score pattern models (reference: class frequencies)"
    )
    ap.add_argument(
        "--factors", type=Path, help="run DIR with factors.parquet (--pattern: factor baselines)"
    )
    args = ap.parse_args()
    if args.pattern:
        compare_patterns(args.model, args.horizon, args.factors)
        return
    if not args.ref:
        ap.error("--ref is required unless --pattern is given")
    ref_label, ref = _rows(args.ref)
    weeks = np.sort(ref["week_end"].unique())
    split, parts = _halves(weeks)
    print(
        f"reference {ref_label}; test weeks {pd.Timestamp(weeks[0]).date()} .. "
        f"{pd.Timestamp(weeks[-1]).date()} ({len(weeks)}); development half < {split.date()} <= "
        "held-out half"
    )
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
