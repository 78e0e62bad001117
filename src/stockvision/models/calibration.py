"""Temperature scaling (Guo et al., 2017) for multi-class probabilities.

One scalar ``T`` divides the logits before the softmax; it is fitted by minimising the negative
log-likelihood on a validation window the classifier did not train on. It changes confidence, never
the ranking of classes, so accuracy is unchanged while calibration (ECE, log loss) improves.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, softmax

T_BOUNDS = (0.05, 20.0)


def nll(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of integer labels ``y`` under ``softmax(logits / T)``."""
    logp = log_softmax(np.asarray(logits, dtype=np.float64) / temperature, axis=1)
    return float(-logp[np.arange(len(y)), np.asarray(y, dtype=np.int64)].mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray) -> float:
    """Temperature minimising validation NLL (1-D bounded search over log T)."""
    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if logits.ndim != 2 or len(logits) != len(y):
        raise ValueError(f"logits shape {logits.shape} does not match {len(y)} labels")
    if len(y) == 0:
        raise ValueError("cannot fit a temperature on an empty validation set")
    if y.min() < 0 or y.max() >= logits.shape[1]:
        raise ValueError("labels must be class codes in [0, n_classes)")
    lo, hi = np.log(T_BOUNDS[0]), np.log(T_BOUNDS[1])
    res = minimize_scalar(
        lambda log_t: nll(logits, y, float(np.exp(log_t))),
        bounds=(lo, hi),
        method="bounded",
        options={"xatol": 1e-5},
    )
    return float(np.exp(res.x))


def apply_temperature(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Probabilities ``softmax(logits / T)`` as float64 (rows sum to 1)."""
    return softmax(np.asarray(logits, dtype=np.float64) / float(temperature), axis=1)
