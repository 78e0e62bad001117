"""Helpers over the dataset ``Window`` contract (validation, date splits, subsets).

Models only rely on the documented fields ``X``, ``labels`` and ``seq``; these helpers read labels from
the ``labels`` frame directly so rows whose label is not yet known (the last ``horizon`` weeks of a
symbol) are masked out rather than guessed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from stockvision.features.labels import PATTERN_CLASSES


class WindowLike(Protocol):
    X: pd.DataFrame
    labels: pd.DataFrame
    seq: np.ndarray

    def __len__(self) -> int: ...


def window_features(window: Any) -> list[str]:
    """The input columns a model fits on: ``FEATURES``, then the news columns when the window has
    them (``SV_NEWS_FEATURES=true``). The model stores the list (``features_``), so serving a model
    trained with news needs a panel with news columns (``check_window`` names the missing ones)."""
    from stockvision.features.feature_docs import FEATURES
    from stockvision.news.features import NEWS_FEATURES

    cols = set(window.X.columns)
    return [*FEATURES, *(c for c in NEWS_FEATURES if c in cols)]


_RETURN_COLS = ("future_log_return",)
_PATTERN_COLS = ("pattern",)


def check_window(
    window: Any,
    features: Sequence[str] | None = None,
    require: Literal["return", "pattern"] | None = None,
) -> None:
    """Raise a ``ValueError`` naming the problem when ``window`` breaks the Window contract."""
    for attr in ("X", "labels", "seq"):
        if not hasattr(window, attr):
            raise TypeError(
                f"expected a stockvision.features.dataset.Window, got {type(window).__name__} "
                f"without .{attr}; build windows with DatasetBuilder.split/window"
            )
    X, seq = window.X, window.seq
    if len(X) == 0:
        raise ValueError("the window is empty; widen its date range or check the data store")
    if seq.ndim != 3 or seq.shape[0] != len(X):
        raise ValueError(
            f"window.seq has shape {seq.shape}, expected (n_rows={len(X)}, seq_len, n_features)"
        )
    if features is not None:
        missing = [f for f in features if f not in X.columns]
        if missing:
            raise ValueError(
                f"window.X lacks features {missing} the model was trained with; "
                "rebuild the features with the same stockvision.features version or retrain"
            )
    if require is not None:
        needed = _RETURN_COLS if require == "return" else _PATTERN_COLS
        missing = [c for c in needed if c not in window.labels.columns]
        if missing:
            raise ValueError(f"window.labels lacks {missing}; cannot fit a {require} model on it")
        mask = (finite_returns(window) if require == "return" else pattern_codes(window))[1]
        if not mask.any():
            raise ValueError(
                f"the window has no rows with a known {require} label (labels of the last "
                "horizon weeks are NaN); use an earlier, longer training window"
            )


def finite_returns(window: WindowLike) -> tuple[np.ndarray, np.ndarray]:
    """(future log returns as float64, mask of rows where the label is known)."""
    y = window.labels["future_log_return"].to_numpy(dtype=np.float64, na_value=np.nan)
    return y, np.isfinite(y)


def location_shrinkage(pred: np.ndarray, y: np.ndarray, scale: np.ndarray) -> float:
    """Slope of ``y`` on ``pred`` weighted by ``1 / scale**2``, clipped to [0, 1].

    A location fitted on training rows is usually too bold out of sample; this slope, measured on
    held-out calibration rows, says how much of it to keep (0 when it carries nothing there).
    """
    w = 1.0 / scale**2
    denom = float(np.sum(w * pred**2))
    kappa = float(np.sum(w * pred * y) / denom) if denom > 0 else 0.0
    return float(np.clip(kappa, 0.0, 1.0))


def pattern_codes(window: WindowLike) -> tuple[np.ndarray, np.ndarray]:
    """(int codes in PATTERN_CLASSES order, -1 where unknown; mask of known rows)."""
    pattern = window.labels["pattern"]
    codes = np.full(len(pattern), -1, dtype=np.int64)
    for code, cls in enumerate(PATTERN_CLASSES):
        codes[(pattern == cls).to_numpy(dtype=bool, na_value=False)] = code
    return codes, codes >= 0


def symbols_of(window: WindowLike) -> np.ndarray:
    return window.X.index.get_level_values(0).to_numpy().astype(str)


def week_ends_of(window: WindowLike) -> np.ndarray:
    return window.X.index.get_level_values(1).to_numpy()


def subset_window(window: Any, mask: np.ndarray) -> Any:
    """A window with only the rows where ``mask`` is true (same Window class)."""
    mask = np.asarray(mask, dtype=bool)
    return dataclasses.replace(
        window, X=window.X.loc[mask], labels=window.labels.loc[mask], seq=window.seq[mask]
    )


def concat_windows(windows: Sequence[Any]) -> Any:
    """Stack windows row-wise (e.g. the VN30 index as an extra 'symbol')."""
    if not windows:
        raise ValueError("no windows to concatenate")
    first = windows[0]
    return dataclasses.replace(
        first,
        X=pd.concat([w.X for w in windows]),
        labels=pd.concat([w.labels for w in windows]),
        seq=np.concatenate([w.seq for w in windows], axis=0),
    )


#: where a random walk's one width is fitted: the 13-week validation window (re-fitted every
#: fold, so it follows the market's volatility regime) or every row of the training history
CALIBRATION_CHOICES = ("validation", "train")


def calibration_rows(choice: str, fit_w: Any, cal_w: Any) -> Any:
    """The conformal calibration rows of a model that fits nothing on the labels.

    ``"validation"``: ``cal_w`` (the default of every price model). ``"train"``: the training
    rows and the validation rows together, i.e. ONE width for the whole history known at fit
    time (the issue's "constant-width" reading); valid only because such a model's location and
    basis use no label, so its residuals on the training rows are still out of sample.
    """
    if choice == "validation":
        return cal_w
    if choice == "train":
        return concat_windows([fit_w, cal_w])
    raise ValueError(f"calibration must be one of {CALIBRATION_CHOICES}, got {choice!r}")


def split_calibration_tail(window: Any, fraction: float, gap_weeks: int) -> tuple[Any, Any]:
    """Split a training window by date into (fit part, latest ``fraction`` of weeks).

    ``gap_weeks`` (the label horizon) weeks before the tail are dropped from the fit part, because
    their forward labels overlap the tail's weeks.
    """
    weeks = np.unique(week_ends_of(window))
    n_tail = max(1, round(len(weeks) * fraction))
    n_fit = len(weeks) - n_tail - gap_weeks
    if n_fit < 1:
        raise ValueError(
            f"the training window has only {len(weeks)} weeks, too few to hold out a calibration "
            f"tail of {n_tail} weeks plus a {gap_weeks}-week purge gap; pass a validation window"
        )
    we = week_ends_of(window)
    fit_part = subset_window(window, we < weeks[n_fit])
    tail = subset_window(window, we >= weeks[len(weeks) - n_tail])
    return fit_part, tail
