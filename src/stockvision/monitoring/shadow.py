"""The running A/B comparison of champion and challenger on realised outcomes (shadow scoring).

Each shadow row holds both answers to the same question (same symbol, same moment, same price):
the champion's served one and the challenger's, never shown. Once the label of the row's week
exists (the ISO week of its data cut-off; its close four weeks later has arrived) both are scored
on the same outcome:

- ``y = ln(price_target_true / last_close)``, the realised 4-week log return from the price the
  answers were made from (``price_target_true``: the week's close moved by the adjusted 4-week
  return, so a stock dividend is not a miss);
- price: CRPS of each arm's predictive distribution (lower is better), as in promotion;
- pattern: log loss of each arm's UP/SIDEWAYS/DOWN probabilities on the realised pattern.

Live answers of one symbol within a week are strongly correlated, so the significance of the
CRPS difference is a t statistic over *weekly* mean differences, not over rows.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from stockvision.models.distribution import crps_student_t

PATTERNS = ("DOWN", "SIDEWAYS", "UP")
VERSION_COLUMNS = [
    "champion_price_version",
    "champion_pattern_version",
    "challenger_price_version",
    "challenger_pattern_version",
]


def _crps(y: np.ndarray, loc: np.ndarray, scale: np.ndarray, df: np.ndarray) -> np.ndarray:
    """Row-wise CRPS, grouping rows by their tail ``df`` (NaN = normal)."""
    out = np.full(len(y), np.nan)
    tails = np.where(np.isfinite(df), df, np.inf)
    for d in np.unique(tails):
        m = tails == d
        out[m] = crps_student_t(y[m], loc[m], scale[m], float(d))
    return out


def _log_loss(frame: pd.DataFrame, arm: str, actual: pd.Series) -> np.ndarray:
    probs = frame[[f"{arm}_p_down", f"{arm}_p_sideways", f"{arm}_p_up"]].to_numpy(dtype=float)
    idx = actual.map({p: i for i, p in enumerate(PATTERNS)}).to_numpy(dtype=float)
    out = np.full(len(frame), np.nan)
    ok = np.isfinite(idx)
    picked = probs[ok, idx[ok].astype(int)]
    out[ok] = -np.log(np.clip(picked, 1e-12, 1.0))
    return out


def _monday(dates: pd.Series) -> pd.Series:
    """The Monday of each date's ISO week: a live answer's cut-off is a day inside its week, the
    label's ``week_end`` the week's last trading day."""
    days = dates.dt.normalize()
    return days - pd.to_timedelta(days.dt.weekday, unit="D")


def score_shadow(rows: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """``rows`` with their outcome where known: ``resolved``, ``y``, ``<arm>_crps`` and
    ``<arm>_log_loss`` for both arms."""
    frame = rows.copy()
    if frame.empty:
        return frame.assign(resolved=pd.Series(dtype=bool))
    frame["prediction_date"] = pd.to_datetime(frame["prediction_date"])
    frame["_monday"] = _monday(frame["prediction_date"])
    lab = labels.reset_index() if "symbol" not in labels.columns else labels.copy()
    lab = lab.rename(columns={"pattern": "actual_pattern"})
    lab["_monday"] = _monday(pd.to_datetime(lab["week_end"]))
    keep = ["symbol", "_monday", "price_target_true", "actual_pattern"]
    frame = frame.merge(lab[keep], on=["symbol", "_monday"], how="left").drop(columns="_monday")
    truth = frame["price_target_true"].to_numpy(dtype=float)
    close = frame["last_close"].to_numpy(dtype=float)
    frame["resolved"] = np.isfinite(truth) & (truth > 0) & (close > 0)
    y = np.full(len(frame), np.nan)
    ok = frame["resolved"].to_numpy()
    y[ok] = np.log(truth[ok] / close[ok])
    frame["y"] = y
    for arm in ("champion", "challenger"):
        crps = np.full(len(frame), np.nan)
        if ok.any():
            crps[ok] = _crps(
                y[ok],
                frame.loc[ok, f"{arm}_loc"].to_numpy(dtype=float),
                frame.loc[ok, f"{arm}_scale"].to_numpy(dtype=float),
                frame.loc[ok, f"{arm}_df"].to_numpy(dtype=float),
            )
        frame[f"{arm}_crps"] = crps
        frame[f"{arm}_log_loss"] = np.where(
            ok, _log_loss(frame, arm, frame["actual_pattern"]), np.nan
        )
    return frame


def compare_shadow(rows: pd.DataFrame, labels: pd.DataFrame) -> list[dict[str, Any]]:
    """One summary per (champion versions, challenger versions) pair: answers logged and resolved,
    mean CRPS and log loss of each arm, the challenger's CRPS change in % (negative: better) and
    the t statistic of the weekly mean CRPS differences (challenger - champion)."""
    scored = score_shadow(rows, labels)
    if scored.empty:
        return []
    out = []
    keys = scored[VERSION_COLUMNS].fillna("")
    for versions, group in scored.groupby([keys[c] for c in VERSION_COLUMNS], sort=True):
        done = group[group["resolved"]]
        item: dict[str, Any] = {
            "champion": {"price": versions[0] or None, "pattern": versions[1] or None},
            "challenger": {"price": versions[2] or None, "pattern": versions[3] or None},
            "sources": sorted(group["source"].unique()),
            "answers": len(group),
            "resolved": len(done),
            "symbols": int(done["symbol"].nunique()),
            "weeks": int(done["prediction_date"].nunique()),
            "first_answer": str(group["made_at"].min()),
            "last_answer": str(group["made_at"].max()),
        }
        if len(done):
            champ, chall = done["champion_crps"].mean(), done["challenger_crps"].mean()
            weekly = (
                (done["challenger_crps"] - done["champion_crps"])
                .groupby(done["prediction_date"])
                .mean()
            )
            t = float("nan")
            if len(weekly) >= 2 and weekly.std(ddof=1) > 0:
                t = float(weekly.mean() / (weekly.std(ddof=1) / math.sqrt(len(weekly))))
            item |= {
                "champion_crps": float(champ),
                "challenger_crps": float(chall),
                "crps_change_pct": float((chall / champ - 1.0) * 100.0) if champ > 0 else None,
                "crps_weekly_t": None if math.isnan(t) else t,
                "champion_log_loss": float(done["champion_log_loss"].mean()),
                "challenger_log_loss": float(done["challenger_log_loss"].mean()),
            }
        out.append(item)
    return out
