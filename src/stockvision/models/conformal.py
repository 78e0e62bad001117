"""Split-conformal prediction intervals (shared by every price model).

Given absolute residuals ``|y - pred|`` on ``n`` calibration rows the model never trained on, the
``ceil((n + 1) * coverage) / n`` empirical quantile ``q`` makes ``[pred - q, pred + q]`` cover a new
exchangeable row with probability >= ``coverage`` (finite-sample guarantee). Weekly stock returns are
only approximately exchangeable (volatility regimes), so measured coverage is reported out of sample.
"""

from __future__ import annotations

import math
import warnings

import numpy as np


def conformal_quantile(residuals: np.ndarray, coverage: float) -> float:
    """Half-width ``q`` of a symmetric split-conformal interval at ``coverage``.

    Non-finite residuals are ignored. When ``n`` is too small for the requested coverage
    (``ceil((n+1)*coverage) > n``) the exact quantile would be infinite; the largest residual is used
    with a warning instead so intervals stay usable.
    """
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be in (0, 1), got {coverage!r}")
    r = np.abs(np.asarray(residuals, dtype=np.float64))
    r = r[np.isfinite(r)]
    n = r.size
    if n == 0:
        raise ValueError(
            "no finite calibration residuals: the calibration window has no rows with a known "
            "label; pass a validation window ending at least horizon weeks before the data ends"
        )
    k = math.ceil((n + 1) * coverage)
    if k > n:
        warnings.warn(
            f"only {n} calibration rows for coverage {coverage}: using the largest residual "
            "(the interval may under-cover); use a longer validation window",
            stacklevel=2,
        )
        k = n
    return float(np.partition(r, k - 1)[k - 1])


def interval(pred: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Symmetric interval around ``pred``."""
    pred = np.asarray(pred, dtype=np.float64)
    return pred - q, pred + q


def coverage_rate(y: np.ndarray, low: np.ndarray, high: np.ndarray) -> float:
    """Fraction of finite ``y`` inside ``[low, high]``."""
    y = np.asarray(y, dtype=np.float64)
    mask = np.isfinite(y)
    if not mask.any():
        raise ValueError("no finite targets to measure coverage on")
    inside = (y[mask] >= np.asarray(low)[mask]) & (y[mask] <= np.asarray(high)[mask])
    return float(inside.mean())
