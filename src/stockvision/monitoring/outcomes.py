"""Outcome tracking: join every stored prediction with what happened 4 weeks later, and score it live.

A prediction made at week t is resolved once the label of week t exists (its t+4 close has arrived). The
realised price is ``price_target_true`` (raw close at t x (1 + adjusted 4-week return)), so a stock dividend
inside the month does not count as a miss.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from stockvision.evaluation.scale_coverage import ScaleCoverage, departs_from_measured

PATTERNS = ["DOWN", "SIDEWAYS", "UP"]


def join_outcomes(predictions: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """Predictions with their realised outcome where known (``resolved`` says which)."""
    if predictions.empty:
        return predictions.assign(resolved=pd.Series(dtype=bool))
    preds = predictions.copy()
    preds["prediction_date"] = pd.to_datetime(preds["prediction_date"])
    lab = labels.reset_index() if "symbol" not in labels.columns else labels.copy()
    lab = lab.rename(columns={"week_end": "prediction_date", "pattern": "actual_pattern"})
    lab["prediction_date"] = pd.to_datetime(lab["prediction_date"])
    keep = ["symbol", "prediction_date", "price_target_true", "future_return", "actual_pattern"]
    merged = preds.merge(lab[keep], on=["symbol", "prediction_date"], how="left")
    merged["resolved"] = merged["price_target_true"].notna()
    actual = merged["price_target_true"]
    merged["abs_error_pct"] = (merged["price_target"] - actual).abs() / actual * 100.0
    predicted_dir = np.sign(merged["price_target"] - merged["last_close"])
    actual_dir = np.sign(actual - merged["last_close"])
    merged["direction_hit"] = np.where(merged["resolved"], predicted_dir == actual_dir, np.nan)
    merged["pattern_hit"] = np.where(
        merged["resolved"], merged["pattern"] == merged["actual_pattern"], np.nan
    )
    inside = (actual >= merged["interval_low"]) & (actual <= merged["interval_high"])
    merged["in_interval"] = np.where(merged["resolved"], inside, np.nan)
    return merged


def _ece(probs: np.ndarray, y: np.ndarray, n_bins: int = 15) -> float:
    if len(y) == 0:
        return float("nan")
    conf = probs.max(axis=1)
    pred = probs.argmax(axis=1)
    edges = np.linspace(0, 1, n_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1], right=True), 0, n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        m = idx == b
        if m.any():
            total += m.mean() * abs((pred[m] == y[m]).mean() - conf[m].mean())
    return float(total)


def live_metrics(outcomes: pd.DataFrame, by: list[str] | None = None) -> pd.DataFrame:
    """Live metrics over resolved predictions, optionally grouped (per model version, per symbol)."""
    done = outcomes[outcomes["resolved"]] if len(outcomes) else outcomes
    cols = [
        "n",
        "price_mae_pct",
        "direction_hit_rate",
        "pattern_accuracy",
        "pattern_ece",
        "interval_coverage",
    ]
    if done.empty:
        return pd.DataFrame(columns=[*(by or []), *cols])

    def score(g: pd.DataFrame) -> pd.Series:
        probs = g[["p_down", "p_sideways", "p_up"]].to_numpy(dtype=float)
        y = g["actual_pattern"].map({p: i for i, p in enumerate(PATTERNS)}).to_numpy()
        ok = ~np.isnan(y.astype(float))
        return pd.Series(
            {
                "n": len(g),
                "price_mae_pct": g["abs_error_pct"].mean(),
                "direction_hit_rate": g["direction_hit"].astype(float).mean(),
                "pattern_accuracy": g["pattern_hit"].astype(float).mean(),
                "pattern_ece": _ece(probs[ok], y[ok].astype(int)),
                "interval_coverage": g["in_interval"].astype(float).mean(),
            }
        )

    if not by:
        return score(done).to_frame().T
    rows = []
    for key, g in done.groupby(by, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        rows.append({**dict(zip(by, key, strict=True)), **score(g).to_dict()})
    return pd.DataFrame(rows)


def rolling_live_metrics(outcomes: pd.DataFrame, weeks: int = 12) -> pd.DataFrame:
    """Live metrics over a trailing window of prediction weeks, one row per week (for the dashboard)."""
    done = outcomes[outcomes["resolved"]] if len(outcomes) else outcomes
    if done.empty:
        return pd.DataFrame()
    dates = np.sort(done["prediction_date"].unique())
    rows = []
    for end in dates:
        start = end - np.timedelta64(7 * weeks, "D")
        window = done[(done["prediction_date"] > start) & (done["prediction_date"] <= end)]
        row = live_metrics(window).iloc[0].to_dict()
        rows.append({"week_end": pd.Timestamp(end), **row})
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class WidthBinOutcome:
    """One predicted-width bin of the champion: its walk-forward coverage next to the live one."""

    q_low: float
    q_high: float
    scale_max: float
    walk_forward_rows: int
    walk_forward_coverage: float
    live_rows: int
    live_coverage: float | None
    #: live coverage left the walk-forward figure beyond the noise of both
    #: (:func:`~stockvision.evaluation.scale_coverage.departs_from_measured`): the sentence
    #: answers quote for ranges of this width (or their silence) may no longer be true
    departs: bool

    def label(self) -> str:
        return f"{self.q_low * 100:g}-{self.q_high * 100:g} %"

    def to_dict(self) -> dict:
        return {**asdict(self), "label": self.label()}


def live_coverage_by_width(
    outcomes: pd.DataFrame, by_scale: ScaleCoverage, version: str | None = None
) -> list[WidthBinOutcome]:
    """Live 80 % coverage of resolved predictions, binned like the walk-forward's
    ``coverage_80_by_scale`` (by the served distribution's ``return_scale``).

    Why: answers quote the walk-forward coverage of their width bin (or stay silent when it was
    close to 80 %); this checks, bin by bin, that live outcomes still agree. ``version`` keeps the
    rows of that price model version only (the bins are its own). Rows without a recorded scale
    (stored before it was) are left out, never guessed.
    """
    done = outcomes
    if len(done):
        done = done[done["resolved"].astype(bool)]
        if "return_scale" in done:
            done = done[pd.to_numeric(done["return_scale"], errors="coerce").notna()]
        else:
            done = done.iloc[0:0]
        if version is not None:
            done = done[done["price_model_version"].astype(str) == str(version)]
    which = (
        by_scale.bin_of(done["return_scale"].to_numpy(float))
        if len(done)
        else np.array([], dtype=int)
    )
    inside = done["in_interval"].to_numpy(float) if len(done) else np.array([])
    out = []
    for i, b in enumerate(by_scale.bins):
        sel = which == i
        n = int(sel.sum())
        live = float(inside[sel].mean()) if n else None
        out.append(
            WidthBinOutcome(
                q_low=b.q_low,
                q_high=b.q_high,
                scale_max=b.scale_max,
                walk_forward_rows=b.rows,
                walk_forward_coverage=b.coverage_80,
                live_rows=n,
                live_coverage=live,
                departs=live is not None and departs_from_measured(live, n, b.coverage_80, b.rows),
            )
        )
    return out
