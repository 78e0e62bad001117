"""Polynomial Ridge regression of the 4-week forward log return (the main price model).

Why a log return and not the price: returns are comparable across symbols and price levels, and the
target price follows as ``raw_close * exp(pred)``, which is always positive.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.linalg
from sklearn.preprocessing import PolynomialFeatures

from stockvision.models._windows import WindowLike, finite_returns, window_features
from stockvision.models.base import PriceModel, load_npz

DEFAULT_ALPHAS: tuple[float, ...] = (0.1, 1.0, 10.0, 100.0, 1000.0)


class RidgePriceModel(PriceModel):
    """Ridge on degree-``degree`` polynomial terms of the transformed features.

    Every value of ``alphas`` is fitted on train and the one with the lowest MAE on the validation
    window (without one: on the held-out calibration tail, see :class:`PriceModel`) is kept as
    ``alpha_``; with ``alphas=None`` the fixed ``alpha`` is used. The same window then calibrates
    the conformal interval (a mild optimism from reusing it for a one-parameter choice, accepted to
    keep the training window whole).
    """

    name = "ridge"

    def __init__(
        self,
        alpha: float = 1.0,
        alphas: Sequence[float] | None = DEFAULT_ALPHAS,
        degree: int = 2,
        coverage: float = 0.8,
        horizon: int = 4,
    ) -> None:
        self.horizon = horizon
        self.alpha = alpha
        self.alphas = alphas
        self.degree = degree
        self.coverage = coverage

    # --- design matrix ---------------------------------------------------------------------------
    def _poly(self) -> PolynomialFeatures:
        poly = PolynomialFeatures(degree=int(self.degree), include_bias=False)
        return poly.fit(np.zeros((1, len(self.features_))))

    def _design(self, window: WindowLike) -> np.ndarray:
        Z = self._matrix(window)  # checks fitted state and columns first
        return self._poly().transform(Z)

    # --- fit / predict ---------------------------------------------------------------------------
    def _fit(self, train: WindowLike, tune: WindowLike) -> None:
        self._fit_transformer(train, window_features(train))
        y, mask = finite_returns(train)
        Z = self._design(train)[mask]
        y = y[mask]
        # ``tune`` is the user's validation window or, without one, the held-out calibration tail
        # (see PriceModel); either way the model never trains on it.
        candidates = [float(a) for a in self.alphas] if self.alphas else [float(self.alpha)]
        solver = _RidgeSolver(Z, y)
        self.validation_mae_ = {}
        if len(candidates) > 1:
            y_tune, m_tune = finite_returns(tune)
            Z_tune = self._design(tune)[m_tune]
            for a in candidates:
                coef, icpt = solver.solve(a)
                self.validation_mae_[a] = float(
                    np.mean(np.abs(Z_tune @ coef + icpt - y_tune[m_tune]))
                )
            self.alpha_ = min(candidates, key=lambda a: (self.validation_mae_[a], -a))
        else:
            self.alpha_ = candidates[0]
        self.coef_, self.intercept_ = solver.solve(self.alpha_)
        self.n_train_ = int(mask.sum())

    def predict(self, window: WindowLike) -> np.ndarray:
        return self._design(window) @ self.coef_ + self.intercept_

    def contributions(self, window: WindowLike) -> pd.DataFrame:
        """Per-row, per-input-feature contribution to the predicted log return.

        Every polynomial term's ``coef * value`` is split equally among its distinct parent
        features (a linear or squared term goes wholly to its feature, an interaction ``a*b`` half
        to ``a`` and half to ``b``), so each row's contributions sum to ``predict - intercept_``.
        Values are in transformed (standardised) units, so a feature at its training mean
        contributes nothing through its linear term.
        """
        Zp = self._design(window)
        powers = self._poly().powers_  # (n_terms, n_features)
        share = (powers > 0).astype(np.float64)
        share /= share.sum(axis=1, keepdims=True)
        contrib = (Zp * self.coef_) @ share
        return pd.DataFrame(contrib, index=window.X.index, columns=self.features_)

    # --- persistence -----------------------------------------------------------------------------
    def _get_state(self) -> dict[str, Any]:
        return {
            **self._conformal_state(),
            "alpha": self.alpha_,
            "validation_mae": {str(k): v for k, v in self.validation_mae_.items()},
            "n_train": self.n_train_,
            "weights_file": "ridge.npz",
        }

    def _save_weights(self, path: Path) -> None:
        np.savez(path / "ridge.npz", coef=self.coef_, intercept=np.array([self.intercept_]))

    def _set_state(self, state: dict[str, Any], path: Path) -> None:
        self._set_conformal_state(state)
        self.alpha_ = float(state["alpha"])
        self.validation_mae_ = {float(k): float(v) for k, v in state["validation_mae"].items()}
        self.n_train_ = int(state["n_train"])
        w = load_npz(path, state["weights_file"])
        self.coef_ = w["coef"].astype(np.float64)
        self.intercept_ = float(w["intercept"][0])
        if self.coef_.shape != (self._poly().n_output_features_,):
            raise ValueError(f"coef has shape {self.coef_.shape}, expected one per polynomial term")


class _RidgeSolver:
    """Ridge with an unpenalised intercept for several alphas from one Gram matrix.

    Same solution as ``sklearn.linear_model.Ridge(fit_intercept=True)`` (centre, then solve
    ``(Z'Z + alpha I) w = Z'y``), but the O(n p^2) Gram product is computed once for the grid.
    """

    def __init__(self, Z: np.ndarray, y: np.ndarray) -> None:
        self.z_mean = Z.mean(axis=0)
        self.y_mean = float(y.mean())
        Zc = Z - self.z_mean
        self.gram = Zc.T @ Zc
        self.zty = Zc.T @ (y - self.y_mean)

    def solve(self, alpha: float) -> tuple[np.ndarray, float]:
        if alpha <= 0:
            raise ValueError(f"ridge alpha must be > 0, got {alpha}")
        a = self.gram + alpha * np.eye(len(self.gram))
        coef = scipy.linalg.solve(a, self.zty, assume_a="pos")
        return coef, self.y_mean - float(self.z_mean @ coef)
