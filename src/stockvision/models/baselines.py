"""Baselines every real model must beat (otherwise it is not worth serving).

Price: random walk (no change) and historical drift. Pattern: majority class and last-4-week
momentum sign. They need no feature transformer (``transformer_`` is ``None``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stockvision.features.labels import PATTERN_CLASSES
from stockvision.models._windows import (
    WindowLike,
    calibration_rows,
    check_window,
    finite_returns,
    pattern_codes,
    symbols_of,
)
from stockvision.models.base import PatternModel, PriceModel

_N_CLASSES = len(PATTERN_CLASSES)


class RandomWalkModel(PriceModel):
    """Predicts no change (log return 0); the interval is split-conformal on its residuals.

    ``calibration="validation"`` (the reference of every skill score) fits its one width on the
    fold's validation window, so it is re-fitted every fold and follows the market's volatility
    regime; ``"train"`` fits one width on the whole training history (see
    :func:`~stockvision.models._windows.calibration_rows`).
    """

    name = "random_walk"
    uses_transformer = False

    def __init__(
        self, coverage: float = 0.8, horizon: int = 4, calibration: str = "validation"
    ) -> None:
        self.horizon = horizon
        self.coverage = coverage
        self.calibration = calibration

    def _fit(self, train: WindowLike, tune: WindowLike) -> None:
        calibration_rows(self.calibration, train, tune)  # validates the choice before any work
        self.features_ = []
        self.transformer_ = None

    def _calibration_window(self, fit_w: WindowLike, cal_w: WindowLike) -> WindowLike:
        return calibration_rows(self.calibration, fit_w, cal_w)

    def predict(self, window: WindowLike) -> np.ndarray:
        self._check_fitted()
        check_window(window)
        return np.zeros(len(window), dtype=np.float64)

    def _get_state(self) -> dict[str, Any]:
        return self._conformal_state()

    def _set_state(self, state: dict[str, Any], path: Path) -> None:
        self._set_conformal_state(state)


class DriftModel(PriceModel):
    """Per-symbol mean 4-week log return over the training window.

    Symbols with fewer than ``min_obs`` labelled training rows (or unseen symbols) get the pooled
    mean of all training rows.
    """

    name = "drift"
    uses_transformer = False

    def __init__(self, min_obs: int = 8, coverage: float = 0.8, horizon: int = 4) -> None:
        self.horizon = horizon
        self.min_obs = min_obs
        self.coverage = coverage

    def _fit(self, train: WindowLike, tune: WindowLike) -> None:
        self.features_ = []
        self.transformer_ = None
        y, mask = finite_returns(train)
        sym = symbols_of(train)[mask]
        y = y[mask]
        self.pooled_mean_ = float(y.mean())
        uniq, inv, counts = np.unique(sym, return_inverse=True, return_counts=True)
        sums = np.bincount(inv, weights=y)
        self.symbol_means_ = {
            str(s): float(t / c)
            for s, t, c in zip(uniq, sums, counts, strict=True)
            if c >= int(self.min_obs)
        }

    def predict(self, window: WindowLike) -> np.ndarray:
        self._check_fitted()
        check_window(window)
        sym = symbols_of(window)
        uniq, inv = np.unique(sym, return_inverse=True)
        table = np.array([self.symbol_means_.get(str(s), self.pooled_mean_) for s in uniq])
        return table[inv].astype(np.float64)

    def _get_state(self) -> dict[str, Any]:
        return {
            **self._conformal_state(),
            "pooled_mean": self.pooled_mean_,
            "symbol_means": self.symbol_means_,
        }

    def _set_state(self, state: dict[str, Any], path: Path) -> None:
        self._set_conformal_state(state)
        self.pooled_mean_ = float(state["pooled_mean"])
        self.symbol_means_ = {str(k): float(v) for k, v in state["symbol_means"].items()}


class MajorityClassModel(PatternModel):
    """Training class frequencies as probabilities; always predicts the most frequent class."""

    name = "majority"
    uses_transformer = False

    def __init__(self) -> None:
        pass

    def fit(self, train: WindowLike, val: WindowLike | None = None) -> MajorityClassModel:
        check_window(train, require="pattern")
        codes, mask = pattern_codes(train)
        counts = np.bincount(codes[mask], minlength=_N_CLASSES).astype(np.float64)
        self.class_prior_ = counts / counts.sum()
        self.features_ = []
        self.transformer_ = None
        return self

    def predict_proba(self, window: WindowLike) -> np.ndarray:
        self._check_fitted()
        check_window(window)
        return np.tile(self.class_prior_, (len(window), 1))

    def _get_state(self) -> dict[str, Any]:
        return {"class_prior": self.class_prior_}

    def _set_state(self, state: dict[str, Any], path: Path) -> None:
        self.class_prior_ = np.asarray(state["class_prior"], dtype=np.float64)
        if self.class_prior_.shape != (_N_CLASSES,):
            raise ValueError(f"class_prior has shape {self.class_prior_.shape}")


class MomentumSignModel(PatternModel):
    """Last-4-week momentum: UP if ``ret_4w > up``, DOWN if ``< down``, else SIDEWAYS.

    ``predict`` is that rule. ``predict_proba`` gives, for the row's momentum bucket, the empirical
    class frequencies of the training rows in the same bucket (add-``smoothing`` Laplace), so the
    probabilities are calibrated on the training window by construction; their argmax may differ from
    the rule when momentum does not persist. Rows with an unknown ``ret_4w`` use the overall
    training frequencies. ``up`` / ``down`` are the label thresholds (passed by the model factory).
    """

    name = "momentum_sign"
    uses_transformer = False
    feature = "ret_4w"

    def __init__(self, up: float = 0.01, down: float = -0.01, smoothing: float = 1.0) -> None:
        self.up = up
        self.down = down
        self.smoothing = smoothing

    def _thresholds(self) -> tuple[float, float]:
        up, down = float(self.up), float(self.down)
        if not down <= up:
            raise ValueError(f"momentum thresholds need down <= up, got down={down}, up={up}")
        return up, down

    def _buckets(self, window: WindowLike) -> np.ndarray:
        """Bucket per row: class code of the rule, or 3 when ``ret_4w`` is unknown."""
        check_window(window, [self.feature])
        r = window.X[self.feature].to_numpy(dtype=np.float64, na_value=np.nan)
        up, down = self.thresholds_
        b = np.full(len(r), PATTERN_CLASSES.index("SIDEWAYS"), dtype=np.int64)
        b[r > up] = PATTERN_CLASSES.index("UP")
        b[r < down] = PATTERN_CLASSES.index("DOWN")
        b[~np.isfinite(r)] = _N_CLASSES
        return b

    def fit(self, train: WindowLike, val: WindowLike | None = None) -> MomentumSignModel:
        check_window(train, [self.feature], require="pattern")
        self.thresholds_ = self._thresholds()
        codes, mask = pattern_codes(train)
        b = self._buckets(train)[mask]
        c = codes[mask]
        counts = np.zeros((_N_CLASSES + 1, _N_CLASSES))
        np.add.at(counts, (b, c), 1.0)
        counts[_N_CLASSES] = counts[:_N_CLASSES].sum(axis=0)  # unknown ret_4w: marginal frequencies
        counts += float(self.smoothing)
        self.bucket_proba_ = counts / counts.sum(axis=1, keepdims=True)
        self.features_ = [self.feature]
        self.transformer_ = None
        return self

    def predict_proba(self, window: WindowLike) -> np.ndarray:
        self._check_fitted()
        return self.bucket_proba_[self._buckets(window)]

    def predict(self, window: WindowLike) -> np.ndarray:
        self._check_fitted()
        b = self._buckets(window)
        return np.where(b == _N_CLASSES, PATTERN_CLASSES.index("SIDEWAYS"), b).astype(np.int64)

    def _get_state(self) -> dict[str, Any]:
        return {"thresholds": list(self.thresholds_), "bucket_proba": self.bucket_proba_}

    def _set_state(self, state: dict[str, Any], path: Path) -> None:
        up, down = state["thresholds"]
        self.thresholds_ = (float(up), float(down))
        self.bucket_proba_ = np.asarray(state["bucket_proba"], dtype=np.float64)
        if self.bucket_proba_.shape != (_N_CLASSES + 1, _N_CLASSES):
            raise ValueError(f"bucket_proba has shape {self.bucket_proba_.shape}")
