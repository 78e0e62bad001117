"""Distribution drift between the training reference window and recent data: PSI and KS per feature.

PSI uses bins from the reference window's quantiles (so every bin holds ~10% of the reference), with a small
floor on empty bins; the conventional reading is < 0.1 stable, 0.1-0.2 moderate, > 0.2 drift.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

EPS = 1e-4


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``current`` against ``reference`` (NaNs ignored)."""
    ref = np.asarray(reference, dtype=float)
    cur = np.asarray(current, dtype=float)
    ref = ref[np.isfinite(ref)]
    cur = cur[np.isfinite(cur)]
    if len(ref) < bins or len(cur) == 0:
        return float("nan")
    edges = np.unique(np.quantile(ref, np.linspace(0, 1, bins + 1)))
    if len(edges) < 3:  # (nearly) constant reference: compare the share equal to it
        same_ref = np.mean(ref == edges[0])
        same_cur = np.mean(cur == edges[0])
        p = np.clip(np.array([same_ref, 1 - same_ref]), EPS, None)
        q = np.clip(np.array([same_cur, 1 - same_cur]), EPS, None)
        return float(np.sum((q - p) * np.log(q / p)))
    edges[0], edges[-1] = -np.inf, np.inf
    p = np.histogram(ref, edges)[0] / len(ref)
    q = np.histogram(cur, edges)[0] / len(cur)
    p = np.clip(p, EPS, None)
    q = np.clip(q, EPS, None)
    return float(np.sum((q - p) * np.log(q / p)))


def categorical_psi(reference: pd.Series, current: pd.Series) -> float:
    """PSI over categories (e.g. the UP/DOWN/SIDEWAYS class mix)."""
    cats = sorted(set(reference.dropna()) | set(current.dropna()))
    if not cats or current.dropna().empty or reference.dropna().empty:
        return float("nan")
    p = reference.value_counts(normalize=True).reindex(cats, fill_value=0).to_numpy()
    q = current.value_counts(normalize=True).reindex(cats, fill_value=0).to_numpy()
    p = np.clip(p, EPS, None)
    q = np.clip(q, EPS, None)
    return float(np.sum((q - p) * np.log(q / p)))


@dataclass
class FeatureDrift:
    feature: str
    psi: float
    ks_stat: float
    ks_pvalue: float
    drifted: bool


@dataclass
class DriftReport:
    reference: dict
    current: dict
    features: list[FeatureDrift] = field(default_factory=list)
    prediction_psi: float | None = None
    class_mix_psi: float | None = None
    psi_threshold: float = 0.2
    drifted_features: list[str] = field(default_factory=list)
    calibration: dict | None = None  # the calibrated window alarm (CalibratedDrift) or why not

    @property
    def drift_detected(self) -> bool:
        shifted = [
            v for v in (self.prediction_psi, self.class_mix_psi) if v is not None and np.isfinite(v)
        ]
        return bool(self.drifted_features) or any(v > self.psi_threshold for v in shifted)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["drift_detected"] = self.drift_detected
        return d


def feature_drift(
    reference: pd.DataFrame,
    current: pd.DataFrame,
    features: list[str],
    psi_threshold: float = 0.2,
    ks_pvalue_threshold: float = 0.01,
) -> list[FeatureDrift]:
    """PSI and two-sample KS per feature; a feature drifts when PSI exceeds the threshold.

    KS p-values are reported but not used alone: with thousands of rows KS flags tiny, harmless shifts.
    """
    out = []
    for name in features:
        ref = reference[name].to_numpy(dtype=float, na_value=np.nan)
        cur = current[name].to_numpy(dtype=float, na_value=np.nan)
        value = psi(ref, cur)
        ref_f, cur_f = ref[np.isfinite(ref)], cur[np.isfinite(cur)]
        if len(ref_f) > 1 and len(cur_f) > 1:
            ks = stats.ks_2samp(ref_f, cur_f)
            ks_stat, ks_p = float(ks.statistic), float(ks.pvalue)
        else:
            ks_stat, ks_p = float("nan"), float("nan")
        drifted = bool(np.isfinite(value) and value > psi_threshold)
        out.append(FeatureDrift(name, value, ks_stat, ks_p, drifted))
    return out


# ------------------------------------------------------------------------ calibrated window alarm
@dataclass
class CalibratedDrift:
    """Drift of the latest window judged against the same statistic on past windows.

    Why: weekly stock features are autocorrelated and share the market factor, so a 13-week window
    always differs from the whole history by some PSI; a fixed PSI threshold (0.2) then flags
    ordinary market moves (11 of 21 features on a market that is stationary by construction). Here
    each past window of the same length is compared with the history before it, which gives the
    statistic's own distribution when nothing unusual happens. Per feature, the current log PSI is
    standardised by the past windows' (a z-score); the window's score is the highest z over the
    features (so testing 21 features does not multiply alarms), and the alarm fires when that
    score exceeds the ``1 - alpha`` quantile of the past windows' scores. On history the alarm then
    fires on about ``alpha`` of windows; :attr:`false_alarm_rate` measures it leave-one-out.
    """

    alarm: bool
    score: float
    threshold: float
    alpha: float
    windows: int
    false_alarm_rate: float
    drifted_features: list[str] = field(default_factory=list)
    current_psi: dict[str, float] = field(default_factory=dict)
    fixed_rule_rate: float | None = None  # share of past windows a plain PSI > 0.2 rule flags

    def to_dict(self) -> dict:
        return asdict(self)


def _window_psi(
    values: np.ndarray, weeks: np.ndarray, order: np.ndarray, start: int, length: int
) -> np.ndarray:
    """PSI per feature of weeks ``[start, start+length)`` against every week before ``start``."""
    ref = values[weeks < order[start]]
    cur = values[(weeks >= order[start]) & (weeks <= order[min(start + length, len(order)) - 1])]
    return np.array([psi(ref[:, j], cur[:, j]) for j in range(values.shape[1])])


def calibrated_drift(
    features: pd.DataFrame,
    names: list[str],
    recent_weeks: int = 13,
    alpha: float = 0.05,
    min_reference_weeks: int = 52,
    step_weeks: int = 1,
    max_reference_rows: int = 20_000,
    seed: int = 0,
    psi_threshold: float = 0.2,
) -> CalibratedDrift | None:
    """Calibrated drift of the last ``recent_weeks`` (see :class:`CalibratedDrift`).

    ``features`` is indexed by (symbol, week). Past windows start every ``step_weeks`` from
    ``min_reference_weeks`` on and end before the current window. Returns None when history gives
    fewer than 20 past windows (the caller then says drift is not calibrated yet). References are
    subsampled to ``max_reference_rows`` rows so the whole market stays affordable.
    """
    weeks = features.index.get_level_values(1).to_numpy()
    order = np.sort(np.unique(weeks))
    n = len(order)
    current_start = n - recent_weeks
    starts = list(range(min_reference_weeks, current_start - recent_weeks + 1, step_weeks))
    if len(starts) < 20 or current_start < min_reference_weeks:
        return None
    values = features[names].to_numpy(dtype=float, na_value=np.nan)
    if len(values) > max_reference_rows * 4:
        keep = np.random.default_rng(seed).random(len(values)) < (max_reference_rows * 4) / len(
            values
        )
        values, weeks = values[keep], weeks[keep]
    past = np.stack([_window_psi(values, weeks, order, s, recent_weeks) for s in starts])
    now = _window_psi(values, weeks, order, current_start, recent_weeks)
    past = np.where(np.isfinite(past), past, 0.0)
    now = np.where(np.isfinite(now), now, 0.0)

    fixed_rule_rate = float((past > psi_threshold).any(axis=1).mean())
    logs_past, log_now = np.log(past + EPS), np.log(now + EPS)

    def zscores(matrix: np.ndarray, pool: np.ndarray) -> np.ndarray:
        # log PSI standardised per feature by the pool of past windows (log: PSI is skewed)
        mu, sd = pool.mean(axis=0), pool.std(axis=0, ddof=1)
        return (matrix - mu) / np.where(sd > 0, sd, 1.0)

    k = len(starts)
    # leave-one-out on history: each past window judged by the others, as the live window is
    loo_alarms = 0
    for i in range(k):
        others = np.delete(logs_past, i, axis=0)
        threshold_i = float(np.quantile(zscores(others, others).max(axis=1), 1 - alpha))
        loo_alarms += bool(zscores(logs_past[i : i + 1], others).max() > threshold_i)
    threshold = float(np.quantile(zscores(logs_past, logs_past).max(axis=1), 1 - alpha))
    now_z = zscores(log_now[None, :], logs_past)[0]
    score = float(now_z.max())
    return CalibratedDrift(
        alarm=score > threshold,
        score=score,
        threshold=threshold,
        alpha=alpha,
        windows=k,
        false_alarm_rate=loo_alarms / k,
        drifted_features=[names[j] for j in np.flatnonzero(now_z > threshold)],
        current_psi={names[j]: float(now[j]) for j in range(len(names))},
        fixed_rule_rate=fixed_rule_rate,
    )
