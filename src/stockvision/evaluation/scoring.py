"""Turn walk-forward predictions into the metrics.json figures, goals and report tables.

Only rows whose label is known are scored. The random walk reference (target = today's price) is
computed directly from the labels, so the comparison does not depend on the ``random_walk`` model
having been run. Skill scores use each fold's training class frequencies as the reference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stockvision.evaluation import metrics as m
from stockvision.evaluation.backtest import (
    BacktestConfig,
    BacktestResult,
    buy_and_hold,
    run_backtest,
)
from stockvision.evaluation.scale_coverage import BLOCK_KEY as SCALE_BLOCK_KEY
from stockvision.evaluation.scale_coverage import ScaleCoverage
from stockvision.evaluation.walkforward import (
    FACTOR_COLUMNS,
    MODEL_CAL_COLUMNS,
    PRIOR_COLUMNS,
    PROB_COLUMNS,
    UNCAL_COLUMNS,
    EvaluationResult,
)
from stockvision.jsonutil import jsonable
from stockvision.models.distribution import crps_student_t, interval_score
from stockvision.models.registry_names import BASELINES as CATALOGUE_BASELINES
from stockvision.models.registry_names import REFERENCE

__all__ = ["BASELINES", "Goal", "Scorecard", "jsonable", "score"]

BASELINES = frozenset(CATALOGUE_BASELINES)
BACKTEST_KEYS = [
    "annual_return",
    "volatility",
    "sharpe",
    "max_drawdown",
    "turnover",
    "hit_rate",
    "total_return",
    "final_equity",
]
ECE_GOAL = 0.05
COVERAGE_TOLERANCE = 0.05
DM_ALPHA = 0.05


@dataclass(frozen=True)
class Goal:
    model: str
    goal: str
    value: str
    met: bool | None  # None: could not be measured


@dataclass
class Scorecard:
    """Everything the report shows; ``metrics`` is exactly what goes into metrics.json."""

    metrics: dict[str, Any]
    ic: dict[str, pd.DataFrame] = field(default_factory=dict)
    reliability: dict[str, tuple[pd.DataFrame, pd.DataFrame | None]] = field(default_factory=dict)
    confusion: dict[str, np.ndarray] = field(default_factory=dict)
    backtests: dict[str, BacktestResult] = field(default_factory=dict)
    buy_and_hold: BacktestResult | None = None
    per_symbol: pd.DataFrame = field(default_factory=pd.DataFrame)
    goals: list[Goal] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
def _price_block(df: pd.DataFrame, horizon: int) -> dict[str, float]:
    rows = df[np.isfinite(df["actual_log_return"]) & (df["actual_price"] > 0)]
    rows = rows[np.isfinite(rows["pred_log_return"])]
    if rows.empty:
        return {}
    target = rows["raw_close"] * np.exp(rows["pred_log_return"])
    actual, last = rows["actual_price"], rows["raw_close"]
    err_model = (target - actual).abs() / actual * 100
    err_rw = (last - actual).abs() / actual * 100
    per_week = (
        pd.DataFrame({"w": rows["week_end"], "a": err_model, "b": err_rw}).groupby("w").mean()
    )
    try:
        dm = m.diebold_mariano(per_week["a"], per_week["b"], h=horizon, loss="abs").pvalue
    except ValueError:
        dm = float("nan")
    bounded = rows[np.isfinite(rows["low"]) & np.isfinite(rows["high"])]
    if bounded.empty:
        coverage = width = float("nan")
    else:
        coverage = m.interval_coverage(
            bounded["low"], bounded["high"], bounded["actual_log_return"]
        )
        width = m.mean_interval_width_pct(
            bounded["raw_close"] * np.exp(bounded["low"]),
            bounded["raw_close"] * np.exp(bounded["high"]),
            bounded["raw_close"],
        )
    return {
        "mae_pct": m.mae_pct(target, actual),
        "rmse_pct": m.rmse_pct(target, actual),
        "mae_ratio_vs_random_walk": m.mae_ratio_vs_random_walk(target, actual, last),
        "dm_pvalue": dm,
        "interval_coverage": coverage,
        "interval_width_pct": width,
    }


# --------------------------------------------------------------------------------------------
# the predictive distribution (price models)
# --------------------------------------------------------------------------------------------
DIST_COVERAGES = (0.5, 0.8, 0.95)


def _z(df_values: np.ndarray, q: float) -> np.ndarray:
    """Standard quantile ``q`` per row for the rows' tail df (inf = normal)."""
    from scipy import stats

    out = np.empty(len(df_values))
    for df in np.unique(df_values):
        sel = df_values == df
        out[sel] = stats.norm.ppf(q) if not np.isfinite(df) else stats.t.ppf(q, df)
    return out


def distribution_rows(df: pd.DataFrame) -> pd.DataFrame:
    """Per labelled row of one price model: CRPS, central intervals, interval score, coverage.

    The location is ``pred_log_return``, the scale ``pred_scale`` and the tails ``dist_df`` (each
    fold fits its own df, so rows are scored per df value). Log-return units.
    """
    rows = df[
        np.isfinite(df["actual_log_return"])
        & np.isfinite(df["pred_log_return"])
        & (df["pred_scale"] > 0)
    ]
    y = rows["actual_log_return"].to_numpy(float)
    loc = rows["pred_log_return"].to_numpy(float)
    scale = rows["pred_scale"].to_numpy(float)
    dfs = rows["dist_df"].fillna(np.inf).to_numpy(float)
    crps = np.empty(len(rows))
    for value in np.unique(dfs):
        sel = dfs == value
        crps[sel] = crps_student_t(y[sel], loc[sel], scale[sel], float(value))
    out = pd.DataFrame(
        {
            "symbol": rows["symbol"].to_numpy(),
            "week_end": rows["week_end"].to_numpy(),
            "crps": crps,
            "scale": scale,
            "vol_4w": rows["vol_4w"].to_numpy(float),
            "raw_close": rows["raw_close"].to_numpy(float),
        }
    )
    for cov in DIST_COVERAGES:
        half = _z(dfs, 0.5 + cov / 2) * scale
        lo, hi = loc - half, loc + half
        tag = f"{round(cov * 100)}"
        out[f"cover_{tag}"] = (y >= lo) & (y <= hi)
        out[f"width_{tag}_pct"] = (np.exp(hi) - np.exp(lo)) * 100.0
        out[f"is_{tag}"] = interval_score(y, lo, hi, cov)
    return out


def _weekly_dm(a: pd.DataFrame, b: pd.DataFrame, col: str, horizon: int) -> float:
    per_week = pd.DataFrame({"w": a["week_end"], "a": a[col], "b": b[col]}).groupby("w").mean()
    try:
        return m.diebold_mariano(per_week["a"], per_week["b"], h=horizon, loss="abs").pvalue
    except ValueError:
        return float("nan")


def distribution_block(
    rows: pd.DataFrame, ref: pd.DataFrame | None, horizon: int
) -> dict[str, Any]:
    """The ``distribution`` group of a price model (see docs/evaluation.md)."""
    if rows.empty:
        return {}
    block: dict[str, Any] = {"crps": float(rows["crps"].mean())}
    for cov in DIST_COVERAGES:
        tag = f"{round(cov * 100)}"
        block[f"coverage_{tag}"] = float(rows[f"cover_{tag}"].mean())
    block["mean_width_80_pct"] = float(rows["width_80_pct"].mean())
    block["interval_score_80"] = float(rows["is_80"].mean())
    vol = rows["vol_4w"]
    known = rows[np.isfinite(vol)]
    if len(known) >= 5 and known["vol_4w"].nunique() >= 5:
        quint = pd.qcut(known["vol_4w"], 5, labels=False, duplicates="drop")
        block["coverage_80_by_vol_quintile"] = [
            float(v) for v in known["cover_80"].groupby(quint.to_numpy()).mean()
        ]
    else:
        block["coverage_80_by_vol_quintile"] = []
    by_scale = ScaleCoverage.measure(rows)
    block[SCALE_BLOCK_KEY] = by_scale.to_block() if by_scale is not None else []
    block["n_rows"] = len(rows)
    if ref is not None and not ref.empty:
        key = ["symbol", "week_end"]
        both = rows.merge(ref[[*key, "crps", "is_80"]], on=key, suffixes=("", "_ref"))
        if not both.empty:
            a = both[["week_end", "crps", "is_80"]]
            b = both[["week_end", "crps_ref", "is_80_ref"]].rename(
                columns={"crps_ref": "crps", "is_80_ref": "is_80"}
            )
            block["crps_skill"] = float(1 - both["crps"].mean() / both["crps_ref"].mean())
            block["dm_pvalue"] = _weekly_dm(a, b, "crps", horizon)
            block["interval_score_skill"] = float(
                1 - both["is_80"].mean() / both["is_80_ref"].mean()
            )
            block["interval_score_dm_pvalue"] = _weekly_dm(a, b, "is_80", horizon)
    return block


def _factor_rankings(result: EvaluationResult, n_boot: int, seed: int) -> dict[str, Any]:
    """Rank IC of each classic factor alone (all names and the liquid part), a ranking baseline."""
    factors = getattr(result, "factors", None)
    if factors is None or factors.empty:
        return {}
    rows = factors[np.isfinite(factors["actual_log_return"])].drop_duplicates(
        ["symbol", "week_end"]
    )
    out: dict[str, Any] = {}
    for name in FACTOR_COLUMNS:
        entry: dict[str, Any] = {}
        for label, part in (("", rows), ("liquid_", rows[rows["liquid"]])):
            ic = m.ic_by_period(part, name, "actual_log_return")
            summary = m.ranking_summary(ic, n_boot=n_boot, block=result.horizon, seed=seed)
            entry[f"{label}rank_ic_mean"] = summary["rank_ic_mean"]
            entry[f"{label}rank_ic_ci95"] = summary["rank_ic_ci95"]
            entry[f"{label}n_weeks"] = len(ic)
        out[name] = entry
    return out


def _liquid_ranking(
    df: pd.DataFrame, result: EvaluationResult, score_col: str, n_boot: int, seed: int
) -> dict[str, Any]:
    factors = getattr(result, "factors", None)
    if factors is None or factors.empty:
        return {}
    liquid = factors.loc[factors["liquid"], ["symbol", "week_end"]].drop_duplicates()
    part = df.merge(liquid, on=["symbol", "week_end"])
    rows = part[np.isfinite(part["actual_log_return"])]
    ic = m.ic_by_period(rows, score_col, "actual_log_return")
    summary = m.ranking_summary(ic, n_boot=n_boot, block=result.horizon, seed=seed)
    return {
        "liquid_rank_ic_mean": summary["rank_ic_mean"],
        "liquid_rank_ic_ci95": summary["rank_ic_ci95"],
    }


def _pattern_rows(df: pd.DataFrame) -> pd.DataFrame:
    return df[(df["actual_pattern"] >= 0) & df[PROB_COLUMNS].notna().all(axis=1)]


def _pattern_block(rows: pd.DataFrame, n_bins: int) -> dict[str, float]:
    probs, y = rows[PROB_COLUMNS].to_numpy(), rows["actual_pattern"].to_numpy()
    ref = rows[PRIOR_COLUMNS].to_numpy()
    pred = probs.argmax(axis=1)
    uncal = rows[UNCAL_COLUMNS]
    has_uncal = bool(uncal.notna().all(axis=1).all())
    own = rows[MODEL_CAL_COLUMNS] if set(MODEL_CAL_COLUMNS) <= set(rows.columns) else None
    has_own = own is not None and bool(own.notna().all(axis=1).all())
    return {
        "accuracy": m.accuracy(y, pred),
        "balanced_accuracy": m.balanced_accuracy(y, pred),
        "macro_f1": m.macro_f1(y, pred),
        "log_loss": m.log_loss(probs, y),
        "log_loss_skill": m.log_loss_skill(probs, y, ref),
        "brier": m.brier_score(probs, y),
        "brier_skill": m.brier_skill(probs, y, ref),
        "ece": m.ece(probs, y, n_bins),
        "ece_uncalibrated": m.ece(uncal.to_numpy(), y, n_bins) if has_uncal else float("nan"),
        # the fold model's own temperature (fitted on its 13-week validation window only)
        "ece_model_temperature": m.ece(own.to_numpy(), y, n_bins) if has_own else float("nan"),
        "log_loss_uncalibrated": m.log_loss(uncal.to_numpy(), y) if has_uncal else float("nan"),
        "prior_accuracy": m.accuracy(y, ref.argmax(axis=1)),
    }


def _ranking(df: pd.DataFrame, score_col: str, n_boot: int, block: int, seed: int):
    rows = df[np.isfinite(df["actual_log_return"])]
    ic = m.ic_by_period(rows, score_col, "actual_log_return")
    return ic, m.ranking_summary(ic, n_boot=n_boot, block=block, seed=seed)


def score(
    result: EvaluationResult,
    backtest_config: BacktestConfig | None = None,
    n_bins: int = 15,
    n_boot: int = 2000,
    seed: int = 42,
) -> Scorecard:
    """Compute every metric group of every model (and the buy-and-hold benchmark)."""
    preds = result.predictions
    if preds.empty:
        raise ValueError("the evaluation result has no predictions")
    folds = result.folds
    window = {
        "start": min(f.test_start for f in folds),
        "end": max(f.test_end for f in folds),
        "folds": len(folds),
        "first_train_start": min(f.train_start for f in folds),
        "horizon_weeks": result.horizon,
        "n_test_weeks": int(preds["week_end"].nunique()),
        "n_labelled_rows": int(
            preds.drop_duplicates(["symbol", "week_end"])["actual_log_return"].notna().sum()
        ),
    }
    if result.splitter:
        window["splitter"] = dict(result.splitter)
    window["calibration"] = getattr(result, "calibration", "model")
    card = Scorecard(metrics={"evaluation_window": window, "universe": list(result.universe)})
    models: dict[str, Any] = {}
    cfg = backtest_config or BacktestConfig()

    ref_name = REFERENCE["price"]
    ref_rows = None
    if result.model_kinds.get(ref_name) == "price" and "pred_scale" in preds.columns:
        ref_rows = distribution_rows(result.model_predictions(ref_name))
    for name, kind in result.model_kinds.items():
        df = result.model_predictions(name)
        entry: dict[str, Any] = {"kind": kind}
        if kind == "price":
            entry["price"] = _price_block(df, result.horizon)
            score_col = "pred_log_return"
            if "pred_scale" in df.columns and np.isfinite(df["pred_scale"]).any():
                drows = distribution_rows(df)
                entry["distribution"] = distribution_block(drows, ref_rows, result.horizon)
                prows = _pattern_rows(df)
                if not prows.empty:  # P(UP/SIDEWAYS/DOWN) read off the distribution
                    probs = prows[PROB_COLUMNS].to_numpy()
                    y, ref = prows["actual_pattern"].to_numpy(), prows[PRIOR_COLUMNS].to_numpy()
                    entry["distribution"]["pattern_log_loss"] = m.log_loss(probs, y)
                    entry["distribution"]["pattern_log_loss_skill"] = m.log_loss_skill(
                        probs, y, ref
                    )
                    entry["distribution"]["pattern_ece"] = m.ece(probs, y, n_bins)
        else:
            rows = _pattern_rows(df)
            if not rows.empty:
                entry["pattern"] = _pattern_block(rows, n_bins)
                temps = (getattr(result, "temperatures", None) or {}).get(name)
                if temps:
                    entry["pattern"]["temperature_mean"] = float(np.mean(temps))
                    entry["pattern"]["temperature_last"] = float(temps[-1])
                y = rows["actual_pattern"].to_numpy()
                cal = m.reliability_diagram(rows[PROB_COLUMNS].to_numpy(), y, n_bins)
                unc = None
                if rows[UNCAL_COLUMNS].notna().all(axis=1).all():
                    unc = m.reliability_diagram(rows[UNCAL_COLUMNS].to_numpy(), y, n_bins)
                card.reliability[name] = (cal, unc)
                card.confusion[name] = m.confusion_matrix(
                    y, rows[PROB_COLUMNS].to_numpy().argmax(axis=1)
                )
            df = df.assign(score=df["p_up"] - df["p_down"])
            score_col = "score"
        ic, summary = _ranking(df, score_col, n_boot, result.horizon, seed)
        card.ic[name] = ic
        entry["ranking"] = {**summary, **_liquid_ranking(df, result, score_col, n_boot, seed)}
        if kind == "price" and result.daily is not None:
            bt = run_backtest(df, result.daily, cfg, score="pred_log_return")
            card.backtests[name] = bt
            entry["backtest"] = {k: bt.summary[k] for k in BACKTEST_KEYS}
        models[name] = entry
    card.metrics["models"] = models
    factor_block = _factor_rankings(result, n_boot, seed)
    if factor_block:
        card.metrics["ranking_baselines"] = factor_block

    if card.backtests:
        first = next(iter(card.backtests.values()))
        bh = buy_and_hold(
            result.daily, result.universe, first.equity.index[0], first.equity.index[-1], cfg
        )
        card.buy_and_hold = bh
        card.metrics["buy_and_hold"] = {k: bh.summary[k] for k in BACKTEST_KEYS}
    card.metrics = jsonable(card.metrics)
    card.per_symbol = _per_symbol(result, card)
    card.goals = _goals(result, card)
    return card


# --------------------------------------------------------------------------------------------
def _best(models: dict[str, Any], kind: str, group: str, key: str, lower: bool) -> str | None:
    """Best model of a kind by ``key``, preferring candidates over baselines."""
    cands = [
        (n in BASELINES, v[group][key] if lower else -v[group][key], n)
        for n, v in models.items()
        if v["kind"] == kind and v.get(group) and v[group].get(key) is not None
    ]
    return min(cands)[2] if cands else None


def _per_symbol(result: EvaluationResult, card: Scorecard) -> pd.DataFrame:
    """Per-symbol figures of the best candidate price model (by MAE%) and pattern model (accuracy)
    next to the random walk and the majority class."""
    models = card.metrics["models"]
    preds = result.predictions
    out = pd.DataFrame(index=pd.Index(result.universe, name="symbol"))
    best_price = _best(models, "price", "price", "mae_pct", lower=True)
    if best_price:
        df = result.model_predictions(best_price)
        df = df[np.isfinite(df["actual_log_return"]) & np.isfinite(df["pred_log_return"])]
        target = df["raw_close"] * np.exp(df["pred_log_return"])
        g = pd.DataFrame(
            {
                "symbol": df["symbol"],
                "mae": (target - df["actual_price"]).abs() / df["actual_price"] * 100,
                "rw": (df["raw_close"] - df["actual_price"]).abs() / df["actual_price"] * 100,
                "cov": (df["actual_log_return"] >= df["low"])
                & (df["actual_log_return"] <= df["high"]),
            }
        ).groupby("symbol")
        out[f"MAE% {best_price}"] = g["mae"].mean()
        if best_price != "random_walk":
            out["MAE% random walk"] = g["rw"].mean()
        out[f"coverage {best_price}"] = g["cov"].mean()
        if best_price in card.backtests:
            pos = card.backtests[best_price].positions
            out[f"hit rate {best_price}"] = (pos["net_return"] > 0).groupby(pos["symbol"]).mean()
            out[f"positions {best_price}"] = pos.groupby("symbol").size()
    best_pattern = _best(models, "pattern", "pattern", "accuracy", lower=False)
    if best_pattern:
        rows = _pattern_rows(preds[preds["model"] == best_pattern])
        hit = rows[PROB_COLUMNS].to_numpy().argmax(axis=1) == rows["actual_pattern"].to_numpy()
        out[f"accuracy {best_pattern}"] = pd.Series(hit).groupby(rows["symbol"].to_numpy()).mean()
        prior_hit = (
            rows[PRIOR_COLUMNS].to_numpy().argmax(axis=1) == rows["actual_pattern"].to_numpy()
        )
        out["accuracy majority class"] = (
            pd.Series(prior_hit).groupby(rows["symbol"].to_numpy()).mean()
        )
    return out


def _fmt(x: float | None, pct: bool = False, sig: bool = False) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    if pct:
        return f"{x * 100:.1f}%"
    return f"{x:.3g}" if sig else f"{x:.3f}"


def _goals(result: EvaluationResult, card: Scorecard) -> list[Goal]:
    """Targets of the project, judged per non-baseline model."""
    goals: list[Goal] = []
    bh = card.metrics.get("buy_and_hold")
    for name, v in card.metrics["models"].items():
        if name in BASELINES:
            continue
        if v.get("price"):
            p = v["price"]
            ratio, dm = p["mae_ratio_vs_random_walk"], p["dm_pvalue"]
            ok = None if ratio is None or dm is None else bool(ratio < 1 and dm < DM_ALPHA)
            goals.append(
                Goal(
                    name,
                    f"MAE below the random walk, significant (DM p < {DM_ALPHA})",
                    f"ratio {_fmt(ratio)}, p {_fmt(dm, sig=True)}",
                    ok,
                )
            )
            cov, nominal = p["interval_coverage"], result.coverage.get(name, float("nan"))
            ok = (
                None
                if cov is None or not np.isfinite(nominal)
                else bool(abs(cov - nominal) <= COVERAGE_TOLERANCE)
            )
            goals.append(
                Goal(
                    name,
                    f"interval coverage within ±{COVERAGE_TOLERANCE * 100:.0f} pp of nominal "
                    f"{_fmt(nominal, pct=True)}",
                    _fmt(cov, pct=True),
                    ok,
                )
            )
        d = v.get("distribution") or {}
        if d.get("crps_skill") is not None:
            skill, dm = d["crps_skill"], d.get("dm_pvalue")
            goals.append(
                Goal(
                    name,
                    "CRPS better than the constant-width random walk, significant (DM p < 0.01)",
                    f"skill {_fmt(skill, pct=True)}, p {_fmt(dm, sig=True)}",
                    None if dm is None else bool(skill > 0 and dm < 0.01),
                )
            )
            cov, by_q = d.get("coverage_80"), d.get("coverage_80_by_vol_quintile") or []
            if cov is not None and by_q:
                ok = 0.78 <= cov <= 0.82 and all(0.75 <= c <= 0.85 for c in by_q)
                goals.append(
                    Goal(
                        name,
                        "80% range covers 78-82% overall and 75-85% in every volatility quintile",
                        f"{_fmt(cov, pct=True)}; quintiles "
                        + " ".join(_fmt(c, pct=True) for c in by_q),
                        bool(ok),
                    )
                )
        if "pattern" in v:
            p = v["pattern"]
            goals.append(
                Goal(
                    name,
                    "accuracy above the majority class of the training window",
                    f"{_fmt(p['accuracy'], True)} vs {_fmt(p['prior_accuracy'], True)}",
                    None if p["accuracy"] is None else bool(p["accuracy"] > p["prior_accuracy"]),
                )
            )
            ll = p["log_loss_skill"]
            goals.append(
                Goal(name, "log-loss skill above 0", _fmt(ll), None if ll is None else ll > 0)
            )
            e = p["ece"]
            goals.append(
                Goal(name, f"ECE at most {ECE_GOAL}", _fmt(e), None if e is None else e <= ECE_GOAL)
            )
        lo = v["ranking"]["rank_ic_ci95"][0]
        goals.append(
            Goal(name, "rank IC 95% interval above 0", _fmt(lo), None if lo is None else lo > 0)
        )
        if "backtest" in v and bh:
            s, sb = v["backtest"]["sharpe"], bh["sharpe"]
            goals.append(
                Goal(
                    name,
                    "backtest Sharpe above equal-weight buy-and-hold",
                    f"{_fmt(s)} vs {_fmt(sb)}",
                    None if s is None or sb is None else bool(s > sb),
                )
            )
    return goals
