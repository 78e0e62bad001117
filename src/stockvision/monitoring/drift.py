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
