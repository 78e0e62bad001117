"""Can anything point-in-time forecast the equal-weight market's next 4-week return?

The oracle diagnostic of docs/evaluation.md says that knowing each week's cross-sectional median
4-week return would improve the CRPS of ``har_vol`` by 12 %. This benchmark asks the honest
question: at week t, from data up to t only, does the market's own past (1-, 4-, 12-week return:
momentum / reversal), its breadth (share of names up over 4 weeks), the cross-sectional dispersion
of 4-week returns or the market's realised volatility forecast the equal-weight mean of the
stocks' 4-week forward log returns?

Walk-forward by week: the linear regression of the market's forward return on each predictor (and
on all of them) is fitted on the weeks whose label is known at t (s <= t - horizon, expanding),
and predicts week t. Out-of-sample R^2 against the zero forecast (the random walk's location) and
against the expanding historical mean, with the Diebold-Mariano p (squared errors, h = horizon).
With ``--predictions DIR`` (a ``bench_forecast.py --predictions`` run holding ``har_vol``) it also
scores ``har_vol`` with its location moved to the forecast market return (same scales and tails:
the conformal width is not re-fitted around the new location, a small approximation), against the
run's ``random_walk``.

    nice -n 10 env PYTHONPATH=src OMP_NUM_THREADS=1 .venv/bin/python \\
        benchmarks/bench_market_location.py --universe market --predictions /tmp/run_market
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from bench_forecast import SHARED, load

from stockvision.evaluation import metrics as m
from stockvision.evaluation.scoring import distribution_block, distribution_rows
from stockvision.features import build_features_and_labels

PREDICTORS = (
    "mkt_ret_1w",
    "mkt_ret_4w",
    "mkt_ret_12w",
    "breadth_4w",
    "dispersion_4w",
    "mkt_rv_12w",
)


def market_weekly(features: pd.DataFrame, labels: pd.DataFrame, min_names: int) -> pd.DataFrame:
    """Per week: the predictors (data up to the week) and the target (mean forward log return)."""
    frame = pd.DataFrame(
        {
            "r1": np.log1p(features["ret_1w"].to_numpy(float)),
            "r4": np.log1p(features["ret_4w"].to_numpy(float)),
            "y": labels["future_log_return"].to_numpy(float),
        },
        index=features.index,
    )
    g = frame.groupby(level="week_end")
    weekly = pd.DataFrame(
        {
            "n": g["r1"].count(),
            "mkt_ret_1w": g["r1"].mean(),
            "mkt_ret_4w": g["r4"].mean(),
            "breadth_4w": g["r4"].apply(lambda s: float((s.dropna() > 0).mean()) - 0.5),
            "dispersion_4w": np.log(g["r4"].std()),
            "target": g["y"].mean(),
            "n_target": g["y"].count(),
        }
    ).sort_index()
    weekly = weekly[weekly["n"] >= min_names]
    # the market's own past: sums of its weekly returns up to the week (never a later one)
    weekly["mkt_ret_12w"] = weekly["mkt_ret_1w"].rolling(12, min_periods=12).sum()
    weekly["mkt_rv_12w"] = np.log(
        np.sqrt((weekly["mkt_ret_1w"] ** 2).rolling(12, min_periods=12).mean())
    )
    weekly.loc[weekly["n_target"] < min_names, "target"] = np.nan
    return weekly


def walk_forward(weekly: pd.DataFrame, cols: list[str], start: pd.Timestamp, horizon: int):
    """Point-in-time OLS forecasts of ``target`` for the weeks from ``start`` (NaN when unfit)."""
    weeks = weekly.index
    X = weekly[cols].to_numpy(float)
    y = weekly["target"].to_numpy(float)
    pred = np.full(len(weeks), np.nan)
    hist_mean = np.full(len(weeks), np.nan)
    for i in np.flatnonzero(weeks >= start):
        known = np.arange(len(weeks)) <= i - horizon  # labels of these weeks are known at week i
        ok = known & np.isfinite(y) & np.isfinite(X).all(axis=1)
        if ok.sum() < 52 or not np.isfinite(X[i]).all():
            continue
        A = np.column_stack([np.ones(ok.sum()), X[ok]])
        coef, *_ = np.linalg.lstsq(A, y[ok], rcond=None)
        pred[i] = coef[0] + X[i] @ coef[1:]
        hist_mean[i] = y[ok].mean()
    return pred, hist_mean


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--universe", choices=["vn30", "market"], default="market")
    ap.add_argument("--shared", type=Path, default=SHARED)
    ap.add_argument("--first-test", default=None, help="default: the first test week of the run")
    ap.add_argument("--predictions", type=Path, default=None)
    ap.add_argument("--min-names", type=int, default=10)
    args = ap.parse_args()
    horizon = 4
    daily = load(args.universe, args.shared, None)
    features, labels = build_features_and_labels(daily)
    predictors = list(PREDICTORS)
    if args.universe == "vn30":
        # the constituents start in 2016: the market is the VN30 index (history from 2009), whose
        # own forward return is the target; breadth and dispersion need a cross-section
        index = features.index.get_level_values("symbol") == "VN30"
        weekly = market_weekly(features[index], labels[index], 1)
        predictors = [c for c in PREDICTORS if c not in ("breadth_4w", "dispersion_4w")]
    else:
        weekly = market_weekly(features, labels, args.min_names)
    preds = None
    if args.predictions is not None:
        preds = pd.read_parquet(args.predictions / "predictions.parquet")
        start = pd.Timestamp(preds["week_end"].min())
        end = pd.Timestamp(preds["week_end"].max())
    else:
        start = pd.Timestamp(args.first_test or "2010-05-21")
        end = weekly.index.max()
    test = (weekly.index >= start) & (weekly.index <= end)
    y = weekly["target"].to_numpy(float)
    print(
        f"{args.universe}: {len(weekly)} market weeks; test weeks "
        f"{start.date()} .. {end.date()} ({int(test.sum())}); target: mean 4-week forward log "
        f"return ({'the VN30 index' if args.universe == 'vn30' else 'equal weight'}), sd "
        f"{np.nanstd(y[test]):.4f}"
    )
    # development half < split <= held-out half (bench_forecast_compare's split with a run)
    test_weeks = np.sort(preds["week_end"].unique()) if preds is not None else weekly.index[test]
    split = pd.Timestamp(test_weeks[len(test_weeks) // 2])
    parts = {
        "full": test,
        "dev": test & (weekly.index < split),
        "held-out": test & (weekly.index >= split),
    }
    print(f"development half < {split.date()} <= held-out half")
    results = {}
    for cols in [[c] for c in predictors] + [predictors]:
        pred, hist = walk_forward(weekly, cols, start, horizon)
        name = cols[0] if len(cols) == 1 else f"all {len(cols)}"
        results[name] = pred
        for part, sel in parts.items():
            ok = sel & np.isfinite(pred) & np.isfinite(y) & np.isfinite(hist)
            e_model, e_zero, e_hist = (y - pred)[ok], y[ok], (y - hist)[ok]
            r2_zero = 1 - np.sum(e_model**2) / np.sum(e_zero**2)
            r2_hist = 1 - np.sum(e_model**2) / np.sum(e_hist**2)
            p = m.diebold_mariano(e_model, e_zero, h=horizon, loss="sq").pvalue
            corr = np.corrcoef(pred[ok], y[ok])[0, 1]
            print(
                f"  {name:14s} {part:8s} OOS R2 vs zero {r2_zero * 100:+6.2f} %  vs hist. mean "
                f"{r2_hist * 100:+6.2f} %  DM p (vs zero) {p:.3f}  corr {corr:+.3f}  "
                f"weeks {ok.sum()}"
            )
    if preds is None:
        return
    ref = distribution_rows(preds[preds["model"] == "random_walk"])
    har = preds[preds["model"] == "har_vol"]
    for name, pred in {"none (as run)": None, **results}.items():
        if pred is None:
            moved = har
        else:
            shift = pd.Series(pred, index=weekly.index).reindex(pd.DatetimeIndex(har["week_end"]))
            moved = har.assign(pred_log_return=np.nan_to_num(shift.to_numpy(), nan=0.0))
        rows = distribution_rows(moved)
        for part in ("full", "dev", "held-out"):
            sub = rows
            if part == "dev":
                sub = rows[rows["week_end"] < split]
            elif part == "held-out":
                sub = rows[rows["week_end"] >= split]
            block = distribution_block(sub, ref, horizon)
            print(
                f"  har_vol + market location {name:14s} {part:8s} CRPS {block['crps']:.5f} "
                f"skill {block['crps_skill'] * 100:+.2f} % DM p {block['dm_pvalue']:.2g} cov80 "
                f"{block['coverage_80'] * 100:.1f} % Winkler skill "
                f"{block['interval_score_skill'] * 100:+.2f} %"
            )


if __name__ == "__main__":
    main()
