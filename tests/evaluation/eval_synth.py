"""Generated market and out-of-sample predictions shared by the evaluation tests (no fitting)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from stockvision.evaluation.splits import WalkForwardSplitter
from stockvision.evaluation.walkforward import PREDICTION_COLUMNS, EvaluationResult


def make_daily(n_symbols: int = 6, n_weeks: int = 90, seed: int = 0) -> pd.DataFrame:
    """Adjusted daily frame of random-walk prices; symbol S1 has a 2-for-1 split half way."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range("2020-01-06", periods=n_weeks * 5)
    rows = []
    for i in range(n_symbols):
        sym = f"S{i}"
        logp = np.log(20_000 + 5_000 * i) + np.cumsum(
            rng.normal(0.0004 * (i - 2), 0.02, len(dates))
        )
        close = np.exp(logp)
        open_ = close * np.exp(rng.normal(0, 0.005, len(dates)))
        high = np.maximum(open_, close) * np.exp(np.abs(rng.normal(0, 0.01, len(dates))))
        low = np.minimum(open_, close) * np.exp(-np.abs(rng.normal(0, 0.01, len(dates))))
        volume = np.round(rng.lognormal(11, 0.5, len(dates)), -2)
        factor = np.ones(len(dates))
        if sym == "S1":
            factor[: len(dates) // 2] = 0.5  # raw prices before the split are twice the adjusted
        rows.append(
            pd.DataFrame(
                {
                    "symbol": sym,
                    "date": dates,
                    "open": open_ / factor,
                    "high": high / factor,
                    "low": low / factor,
                    "close": close / factor,
                    "volume": volume * factor,
                    "factor": factor,
                    "adj_open": open_,
                    "adj_high": high,
                    "adj_low": low,
                    "adj_close": close,
                    "adj_volume": volume,
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def make_result(daily: pd.DataFrame, horizon: int = 4, seed: int = 1) -> EvaluationResult:
    """Predictions of an informative price model, the random walk and a pattern model."""
    rng = np.random.default_rng(seed)
    d = daily.copy()
    iso = d["date"].dt.isocalendar()
    d["wk"] = iso["year"] * 100 + iso["week"]
    weekly = d.sort_values("date").groupby(["symbol", "wk"]).last().reset_index()
    weekly = weekly.rename(columns={"date": "week_end"})
    g = weekly.groupby("symbol")["adj_close"]
    weekly["fut"] = np.log(g.shift(-horizon) / weekly["adj_close"])
    weeks = pd.DatetimeIndex(sorted(weekly["week_end"].unique()))
    splitter = WalkForwardSplitter(min_train_weeks=30, val_weeks=6, horizon=horizon)
    folds = list(splitter.split(weeks[:-horizon]))
    frames = []
    for f in folds:
        block = weekly[(weekly["week_end"] >= f.test_start) & (weekly["week_end"] <= f.test_end)]
        n = len(block)
        fut = block["fut"].to_numpy()
        pattern = np.where(fut > 0.01, 2, np.where(fut < -0.01, 0, 1))
        pattern = np.where(np.isfinite(fut), pattern, -1)
        base = pd.DataFrame(
            {
                "fold": f.index,
                "symbol": block["symbol"].to_numpy(),
                "week_end": block["week_end"].to_numpy(),
                "raw_close": block["close"].to_numpy(),
                "actual_log_return": fut,
                "actual_price": block["close"].to_numpy() * np.exp(fut),
                "actual_pattern": pattern,
                "prior_down": 0.4,
                "prior_sideways": 0.2,
                "prior_up": 0.4,
            }
        )
        signal = np.nan_to_num(fut) + rng.normal(0, 0.05, n)
        good = base.assign(
            model="good",
            kind="price",
            pred_log_return=signal,
            low=signal - 0.08,
            high=signal + 0.08,
        )
        rw = base.assign(model="random_walk", kind="price", pred_log_return=0.0, low=-0.1, high=0.1)
        logits = np.column_stack([-signal, np.zeros(n), signal]) * 30
        probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        sharp = np.exp(logits * 4) / np.exp(logits * 4).sum(axis=1, keepdims=True)
        clf = base.assign(
            model="clf",
            kind="pattern",
            p_down=probs[:, 0],
            p_sideways=probs[:, 1],
            p_up=probs[:, 2],
            p_down_uncal=sharp[:, 0],
            p_sideways_uncal=sharp[:, 1],
            p_up_uncal=sharp[:, 2],
            pred_pattern=probs.argmax(axis=1),
        )
        frames += [good, rw, clf]
    preds = pd.concat(frames, ignore_index=True).reindex(columns=PREDICTION_COLUMNS)
    preds["pred_pattern"] = preds["pred_pattern"].fillna(-1).astype(np.int64)
    preds["actual_pattern"] = preds["actual_pattern"].astype(np.int64)
    return EvaluationResult(
        predictions=preds,
        folds=folds,
        model_kinds={"good": "price", "random_walk": "price", "clf": "pattern"},
        universe=sorted(daily["symbol"].unique()),
        horizon=horizon,
        coverage={"good": 0.8, "random_walk": 0.8},
        daily=daily,
        timings={"good": {"fit_seconds": 0.1, "predict_seconds": 0.01}},
        splitter={"min_train_weeks": 30, "step_weeks": 4},
    )


#: The metrics.json keys issue 4 names, per metric group (the contract the tests check the code against).
ISSUE_METRIC_KEYS: dict[str, list[str]] = {
    "price": ["mae_pct", "rmse_pct", "mae_ratio_vs_random_walk", "dm_pvalue", "interval_coverage"],
    "pattern": [
        "accuracy",
        "balanced_accuracy",
        "macro_f1",
        "log_loss",
        "log_loss_skill",
        "brier",
        "ece",
        "ece_uncalibrated",
    ],
    "ranking": ["ic_mean", "rank_ic_mean", "icir", "rank_ic_ci95"],
    "backtest": ["annual_return", "sharpe", "max_drawdown", "turnover"],
    # issue 14: the predictive distribution of the price models
    "distribution": [
        "crps",
        "crps_skill",
        "dm_pvalue",
        "coverage_80",
        "mean_width_80_pct",
        "interval_score_80",
        "interval_score_skill",
        "coverage_80_by_vol_quintile",
        "pattern_log_loss_skill",
    ],
}
