"""Out-of-sample metrics for price targets, pattern probabilities and cross-sectional rankings.

Everything is plain vectorised numpy/scipy so the same functions serve the walk-forward report,
the promotion gate and live monitoring. Inputs are validated and bad shapes raise ``ValueError``
naming the problem.

Conventions:
- price errors are in percent of the ACTUAL price: ``|target - actual| / actual * 100``;
- pattern classes are integer codes ``0..K-1`` in ``PATTERN_CLASSES`` order (DOWN, SIDEWAYS, UP);
- probabilities are ``(n, K)`` arrays whose rows sum to one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "DMResult",
    "accuracy",
    "balanced_accuracy",
    "brier_score",
    "brier_skill",
    "class_prior",
    "confusion_matrix",
    "diebold_mariano",
    "ece",
    "ic_by_period",
    "interval_coverage",
    "log_loss",
    "log_loss_skill",
    "macro_f1",
    "mae_pct",
    "mae_ratio_vs_random_walk",
    "mean_interval_width_pct",
    "ranking_summary",
    "reliability_diagram",
    "rmse_pct",
]

_EPS = 1e-15


# --------------------------------------------------------------------------------------------
# validation helpers
# --------------------------------------------------------------------------------------------
def _as_1d(x: object, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=float)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    return arr


def _same_length(**arrays: np.ndarray) -> int:
    lengths = {name: len(a) for name, a in arrays.items()}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"arrays must have the same length, got {lengths}")
    n = next(iter(lengths.values()))
    if n == 0:
        raise ValueError(f"empty input: {', '.join(lengths)} have no rows")
    return n


def _probs_and_labels(probs: object, y: object) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(probs, dtype=float)
    if p.ndim != 2:
        raise ValueError(f"probs must be a 2-D (n, n_classes) array, got shape {p.shape}")
    labels = np.asarray(y)
    if labels.ndim != 1 or len(labels) != len(p):
        raise ValueError(
            f"y must be 1-D with one label per row of probs: got {labels.shape} vs {p.shape}"
        )
    if len(p) == 0:
        raise ValueError("empty input: probs has no rows")
    if not np.issubdtype(labels.dtype, np.integer):
        if not np.all(np.isfinite(labels.astype(float))) or np.any(labels != np.round(labels)):
            raise ValueError("y must hold integer class codes (0..n_classes-1), not NaN/floats")
        labels = labels.astype(int)
    if labels.min() < 0 or labels.max() >= p.shape[1]:
        raise ValueError(f"y has class codes outside 0..{p.shape[1] - 1}")
    if not np.all(np.isfinite(p)):
        raise ValueError("probs contains NaN or inf")
    return p, labels


def _reference_matrix(reference: object, n: int, k: int) -> np.ndarray:
    ref = np.asarray(reference, dtype=float)
    if ref.ndim == 1:
        ref = np.broadcast_to(ref, (n, k))
    if ref.shape != (n, k):
        raise ValueError(f"reference probs must have shape ({k},) or ({n}, {k}), got {ref.shape}")
    return ref


# --------------------------------------------------------------------------------------------
# price
# --------------------------------------------------------------------------------------------
def _pct_errors(target: object, actual: object) -> np.ndarray:
    t, a = _as_1d(target, "target"), _as_1d(actual, "actual")
    _same_length(target=t, actual=a)
    if np.any(a <= 0) or not np.all(np.isfinite(a)):
        raise ValueError("actual prices must be finite and positive (drop rows without a label)")
    return (t - a) / a * 100.0


def mae_pct(target: object, actual: object) -> float:
    """Mean absolute error of a price target in percent of the actual price."""
    return float(np.mean(np.abs(_pct_errors(target, actual))))


def rmse_pct(target: object, actual: object) -> float:
    """Root mean squared error of a price target in percent of the actual price."""
    return float(np.sqrt(np.mean(_pct_errors(target, actual) ** 2)))


def mae_ratio_vs_random_walk(target: object, actual: object, last_price: object) -> float:
    """MAE% of ``target`` divided by MAE% of the random walk (target = today's price).

    Below 1 means the model beats "the price in a month equals the price today".
    """
    rw = mae_pct(last_price, actual)
    return float(mae_pct(target, actual) / rw) if rw > 0 else float("nan")


def interval_coverage(low: object, high: object, actual: object) -> float:
    """Share of actual values inside the closed interval ``[low, high]``."""
    lo, hi, a = _as_1d(low, "low"), _as_1d(high, "high"), _as_1d(actual, "actual")
    _same_length(low=lo, high=hi, actual=a)
    if np.any(hi < lo):
        raise ValueError("interval has high < low for some rows")
    return float(np.mean((a >= lo) & (a <= hi)))


def mean_interval_width_pct(low: object, high: object, reference_price: object) -> float:
    """Mean interval width in percent of ``reference_price`` (the price at prediction time)."""
    lo, hi, r = _as_1d(low, "low"), _as_1d(high, "high"), _as_1d(reference_price, "reference")
    _same_length(low=lo, high=hi, reference=r)
    if np.any(r <= 0):
        raise ValueError("reference prices must be positive")
    return float(np.mean((hi - lo) / r * 100.0))


@dataclass(frozen=True)
class DMResult:
    """Diebold-Mariano test outcome; ``mean_diff`` < 0 means forecast 1 has the smaller loss."""

    statistic: float
    pvalue: float
    mean_diff: float
    n: int


def diebold_mariano(
    e1: object,
    e2: object,
    h: int = 4,
    loss: Literal["abs", "sq"] = "abs",
) -> DMResult:
    """Diebold-Mariano test of equal predictive accuracy, with the HLN small-sample correction.

    ``d_t = L(e1_t) - L(e2_t)`` for a time-ordered series of forecast errors. Forecasts ``h`` steps
    ahead overlap, so ``d_t`` is MA(h-1) under the null; its long-run variance is estimated by the
    HAC sum of autocovariances up to lag ``h-1`` with uniform weights (Diebold & Mariano 1995), and
    by Newey-West Bartlett weights if that estimate is not positive (it can be in small samples).
    The statistic is scaled by the Harvey-Leybourne-Newbold (1997) factor
    ``sqrt((T + 1 - 2h + h(h-1)/T) / T)`` and compared with Student-t(T-1); the p-value is
    two-sided. For a panel, pass the cross-sectional mean error loss per period (see
    ``walkforward``) rather than the stacked rows, so ``T`` counts periods.
    Returns NaN statistic/p-value when ``d`` has no variance (identical forecasts).
    """
    a, b = _as_1d(e1, "e1"), _as_1d(e2, "e2")
    t_len = _same_length(e1=a, e2=b)
    if h < 1:
        raise ValueError(f"h must be >= 1, got {h}")
    if loss == "abs":
        d = np.abs(a) - np.abs(b)
    elif loss == "sq":
        d = a**2 - b**2
    else:
        raise ValueError(f"loss must be 'abs' or 'sq', got {loss!r}")
    if not np.all(np.isfinite(d)):
        raise ValueError("errors contain NaN or inf; drop rows without a label first")
    if t_len < 2 * h + 1:
        raise ValueError(f"need at least {2 * h + 1} periods for h={h}, got {t_len}")
    mean_d = float(d.mean())
    dc = d - mean_d
    gamma = np.array([dc[k:] @ dc[: t_len - k] / t_len for k in range(h)])
    lrv = gamma[0] + 2.0 * gamma[1:].sum()
    if lrv <= 0:
        weights = 1.0 - np.arange(1, h) / h
        lrv = gamma[0] + 2.0 * (weights * gamma[1:]).sum()
    if lrv <= 0 or not np.isfinite(lrv):
        return DMResult(float("nan"), float("nan"), mean_d, t_len)
    from scipy import stats  # lazy: scipy.stats costs seconds to import on a busy machine

    dm = mean_d / np.sqrt(lrv / t_len)
    hln = np.sqrt((t_len + 1 - 2 * h + h * (h - 1) / t_len) / t_len)
    stat = float(dm * hln)
    pvalue = float(2.0 * stats.t.sf(abs(stat), df=t_len - 1))
    return DMResult(stat, pvalue, mean_d, t_len)


# --------------------------------------------------------------------------------------------
# pattern classification
# --------------------------------------------------------------------------------------------
def _labels_pair(y_true: object, y_pred: object) -> tuple[np.ndarray, np.ndarray]:
    t, p = np.asarray(y_true), np.asarray(y_pred)
    if t.ndim != 1 or p.ndim != 1:
        raise ValueError("y_true and y_pred must be one-dimensional")
    _same_length(y_true=t, y_pred=p)
    return t.astype(int), p.astype(int)


def accuracy(y_true: object, y_pred: object) -> float:
    """Share of correct class predictions."""
    t, p = _labels_pair(y_true, y_pred)
    return float(np.mean(t == p))


def confusion_matrix(y_true: object, y_pred: object, n_classes: int = 3) -> np.ndarray:
    """Counts with rows = true class, columns = predicted class."""
    t, p = _labels_pair(y_true, y_pred)
    if min(t.min(), p.min()) < 0 or max(t.max(), p.max()) >= n_classes:
        raise ValueError(f"class codes must lie in 0..{n_classes - 1}")
    return np.bincount(t * n_classes + p, minlength=n_classes**2).reshape(n_classes, n_classes)


def balanced_accuracy(y_true: object, y_pred: object, n_classes: int = 3) -> float:
    """Mean recall over the classes present in ``y_true`` (sklearn's definition)."""
    cm = confusion_matrix(y_true, y_pred, n_classes)
    support = cm.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(cm)[present] / support[present]))


def macro_f1(y_true: object, y_pred: object, n_classes: int = 3) -> float:
    """Unweighted mean F1 over the classes present in ``y_true`` or ``y_pred`` (sklearn default)."""
    cm = confusion_matrix(y_true, y_pred, n_classes).astype(float)
    tp = np.diag(cm)
    denom = cm.sum(axis=0) + cm.sum(axis=1)  # predicted + true = 2tp + fp + fn
    present = denom > 0
    return float(np.mean(2 * tp[present] / denom[present]))


def class_prior(y_train: object, n_classes: int = 3, pseudo_count: float = 1.0) -> np.ndarray:
    """Training class frequencies with a pseudo-count, the reference forecast for skill scores.

    The pseudo-count keeps a class never seen in training from getting probability 0 (which
    would make the reference log loss infinite and every skill score meaninglessly close to 1).
    """
    y = np.asarray(y_train).astype(int)
    if y.ndim != 1 or len(y) == 0:
        raise ValueError("y_train must be a non-empty 1-D array of class codes")
    counts = np.bincount(y, minlength=n_classes).astype(float)[:n_classes] + pseudo_count
    return counts / counts.sum()


def log_loss(probs: object, y: object) -> float:
    """Mean negative log probability of the true class (probabilities clipped at 1e-15)."""
    p, labels = _probs_and_labels(probs, y)
    picked = np.clip(p[np.arange(len(p)), labels], _EPS, 1.0)
    return float(-np.mean(np.log(picked)))


def log_loss_skill(probs: object, y: object, reference_probs: object) -> float:
    """``1 - LL_model / LL_reference``; reference = training class frequencies (see class_prior).

    Positive means the model beats the base rate; 0 means no better than the base rate.
    """
    p, labels = _probs_and_labels(probs, y)
    ref = _reference_matrix(reference_probs, len(p), p.shape[1])
    return float(1.0 - log_loss(p, labels) / log_loss(ref, labels))


def brier_score(probs: object, y: object) -> float:
    """Multi-class Brier score: mean over rows of ``sum_k (p_k - 1[y = k])^2`` (0 best, 2 worst)."""
    p, labels = _probs_and_labels(probs, y)
    onehot = np.zeros_like(p)
    onehot[np.arange(len(p)), labels] = 1.0
    return float(np.mean(np.sum((p - onehot) ** 2, axis=1)))


def brier_skill(probs: object, y: object, reference_probs: object) -> float:
    """``1 - Brier_model / Brier_reference`` against the training class frequencies."""
    p, labels = _probs_and_labels(probs, y)
    ref = _reference_matrix(reference_probs, len(p), p.shape[1])
    return float(1.0 - brier_score(p, labels) / brier_score(ref, labels))


def _top_label_bins(probs: object, y: object, n_bins: int):
    p, labels = _probs_and_labels(probs, y)
    if n_bins < 1:
        raise ValueError(f"n_bins must be >= 1, got {n_bins}")
    conf = p.max(axis=1)
    correct = (p.argmax(axis=1) == labels).astype(float)
    # equal-width bins (lo, hi]; confidence 0 falls into the first bin
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.searchsorted(edges[1:-1], conf, side="left")
    count = np.bincount(idx, minlength=n_bins).astype(float)
    conf_sum = np.bincount(idx, weights=conf, minlength=n_bins)
    acc_sum = np.bincount(idx, weights=correct, minlength=n_bins)
    return count, conf_sum, acc_sum


def ece(probs: object, y: object, n_bins: int = 15) -> float:
    """Top-label expected calibration error with ``n_bins`` equal-width confidence bins.

    ``sum_b (n_b / N) * |accuracy_b - mean confidence_b|`` over the predicted (argmax) class.
    """
    count, conf_sum, acc_sum = _top_label_bins(probs, y, n_bins)
    return float(np.abs(acc_sum - conf_sum).sum() / count.sum())


def reliability_diagram(probs: object, y: object, n_bins: int = 15) -> pd.DataFrame:
    """Per-bin data of the top-label reliability diagram (empty bins have NaN means)."""
    count, conf_sum, acc_sum = _top_label_bins(probs, y, n_bins)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                "bin_lower": edges[:-1],
                "bin_upper": edges[1:],
                "count": count.astype(int),
                "mean_confidence": np.where(count > 0, conf_sum / count, np.nan),
                "accuracy": np.where(count > 0, acc_sum / count, np.nan),
            }
        )


# --------------------------------------------------------------------------------------------
# cross-sectional ranking
# --------------------------------------------------------------------------------------------
def ic_by_period(
    frame: pd.DataFrame,
    score: str,
    realised: str,
    period: str = "week_end",
    min_names: int = 3,
) -> pd.DataFrame:
    """Information coefficients per period across symbols.

    ``ic`` = Pearson correlation of score and realised return across the symbols of a period,
    ``rank_ic`` = Spearman correlation (Pearson of within-period ranks, ties averaged). Periods
    with fewer than ``min_names`` valid rows or a constant score/return give NaN and are dropped.
    """
    missing = {score, realised, period} - set(frame.columns)
    if missing:
        raise ValueError(f"frame lacks columns {sorted(missing)} needed for the IC")
    df = frame[[period, score, realised]].dropna()
    df = df.rename(columns={score: "s", realised: "r"})
    grouped = df.groupby(period, sort=True)
    ranks = grouped[["s", "r"]].rank(method="average")
    df = df.assign(rs=ranks["s"], rr=ranks["r"])

    def _corr(x: str, z: str) -> pd.Series:
        g = df.groupby(period, sort=True)
        mx, mz = g[x].transform("mean"), g[z].transform("mean")
        dx, dz = df[x] - mx, df[z] - mz
        parts = pd.DataFrame({period: df[period], "xy": dx * dz, "xx": dx**2, "zz": dz**2})
        sums = parts.groupby(period, sort=True).sum()
        with np.errstate(invalid="ignore", divide="ignore"):
            return sums["xy"] / np.sqrt(sums["xx"] * sums["zz"])

    out = pd.DataFrame({"ic": _corr("s", "r"), "rank_ic": _corr("rs", "rr"), "n": grouped.size()})
    out = out[(out["n"] >= min_names)].replace([np.inf, -np.inf], np.nan).dropna()
    out.index.name = period
    return out


def _block_bootstrap_means(
    x: np.ndarray, n_boot: int, block: int, rng: np.random.Generator
) -> np.ndarray:
    """Means of circular moving-block bootstrap resamples of ``x`` (length preserved)."""
    n = len(x)
    block = max(1, min(block, n))
    n_blocks = -(-n // block)
    starts = rng.integers(0, n, size=(n_boot, n_blocks))
    idx = (starts[:, :, None] + np.arange(block)[None, None, :]) % n
    idx = idx.reshape(n_boot, -1)[:, :n]
    return x[idx].mean(axis=1)


def ranking_summary(
    ic_frame: pd.DataFrame,
    n_boot: int = 2000,
    block: int = 4,
    seed: int = 42,
) -> dict[str, object]:
    """Mean IC, mean rank IC, ICIR and a bootstrap 95% interval for the mean rank IC.

    ``icir`` = mean(IC) / std(IC) (per period, not annualised). Weekly ICs of 4-week returns
    overlap, so neighbouring periods are dependent; the interval uses a seeded circular
    moving-block bootstrap over periods with ``block`` = the horizon (percentile method).
    """
    if not {"ic", "rank_ic"} <= set(ic_frame.columns):
        raise ValueError("ic_frame must come from ic_by_period (columns ic, rank_ic)")
    ic = ic_frame["ic"].to_numpy(dtype=float)
    ric = ic_frame["rank_ic"].to_numpy(dtype=float)
    if len(ic) == 0:
        nan = float("nan")
        return {"ic_mean": nan, "rank_ic_mean": nan, "icir": nan, "rank_ic_ci95": [nan, nan]}
    std = ic.std(ddof=1) if len(ic) > 1 else float("nan")
    icir = float(ic.mean() / std) if std and np.isfinite(std) and std > 0 else float("nan")
    if len(ric) > 1:
        boots = _block_bootstrap_means(ric, n_boot, block, np.random.default_rng(seed))
        ci = [float(np.quantile(boots, 0.025)), float(np.quantile(boots, 0.975))]
    else:
        ci = [float("nan"), float("nan")]
    return {
        "ic_mean": float(ic.mean()),
        "rank_ic_mean": float(ric.mean()),
        "icir": icir,
        "rank_ic_ci95": ci,
    }
