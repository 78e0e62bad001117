"""A learned location AND scale: ridge for where the return is centred, HAR for how wide it is.

Measured on the whole market (docs/evaluation.md), the polynomial ridge RANKS stocks well (rank IC
about 0.08) but its raw predicted returns are too large: as a point forecast it is worse than the
random walk, and so is its CRPS. Two fixes, both fitted without the test weeks:

* the location is the ridge prediction times one shrinkage factor ``kappa_`` in ``[0, 1]``, the
  precision-weighted least-squares slope of the realised return on the prediction over the
  calibration rows (``tune``, which the ridge never trained on). Ranking is unchanged (kappa > 0),
  the size of the claimed move shrinks to what held out of sample;
* the scale is the learned HAR volatility of :mod:`stockvision.models.volatility`, fitted on the
  ridge's training rows, and the interval is split-conformal on the volatility-normalised residual;
  its exponent is fitted on the calibration rows (``scale_power="fit"``: development halves +0.01
  points on the market, +0.17 on VN30; docs/evaluation.md, Round 7).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stockvision.models._windows import WindowLike, finite_returns, location_shrinkage
from stockvision.models.price import DEFAULT_ALPHAS, RidgePriceModel
from stockvision.models.volatility import HAR_FEATURES, HAR_INPUTS, fit_har_scale, har_scale


class RidgeHarModel(RidgePriceModel):
    """Shrunk polynomial-ridge location, learned HAR scale, volatility-normalised conformal."""

    name = "ridge_har"

    def __init__(
        self,
        alpha: float = 1.0,
        alphas: Sequence[float] | None = DEFAULT_ALPHAS,
        degree: int = 2,
        halflife_weeks: float = 4.0,
        scale_alpha: float = 1.0,
        floor: float = 0.005,
        coverage: float = 0.8,
        horizon: int = 4,
        scale_power: float | str = "fit",
    ) -> None:
        super().__init__(
            alpha=alpha, alphas=alphas, degree=degree, coverage=coverage, horizon=horizon
        )
        self.halflife_weeks = halflife_weeks
        self.scale_power = scale_power
        self.scale_alpha = scale_alpha
        self.floor = floor

    def _fit(self, train: WindowLike, tune: WindowLike) -> None:
        super()._fit(train, tune)
        self.har_coef_, self.har_intercept_, self.har_medians_ = fit_har_scale(
            train, float(self.halflife_weeks), float(self.scale_alpha), float(self.floor)
        )
        # shrink the location on the held-out rows: slope of y on pred, weighted by 1 / scale^2
        self.kappa_ = 1.0
        y, mask = finite_returns(tune)
        self.kappa_ = location_shrinkage(
            self._raw_predict(tune)[mask], y[mask], self._har(tune)[mask]
        )

    def _har(self, window: WindowLike) -> np.ndarray:
        return har_scale(
            window,
            self.har_coef_,
            self.har_intercept_,
            self.har_medians_,
            float(self.halflife_weeks),
        )

    def _raw_predict(self, window: WindowLike) -> np.ndarray:
        return super().predict(window)

    def predict(self, window: WindowLike) -> np.ndarray:
        return self.kappa_ * self._raw_predict(window)

    def scale_basis(self, window: WindowLike) -> np.ndarray:
        self._check_fitted()
        missing = [f for f in HAR_FEATURES if f not in window.X.columns]
        if missing:
            raise ValueError(f"window.X lacks the volatility inputs {missing}")
        return self._har(window)

    def contributions(self, window: WindowLike) -> pd.DataFrame:
        return super().contributions(window) * self.kappa_

    def _get_state(self) -> dict[str, Any]:
        return {
            **super()._get_state(),
            "kappa": self.kappa_,
            "har_coef": [float(c) for c in self.har_coef_],
            "har_intercept": self.har_intercept_,
            "har_medians": [float(v) for v in self.har_medians_],
        }

    def _set_state(self, state: dict[str, Any], path: Path) -> None:
        super()._set_state(state, path)
        self.kappa_ = float(state["kappa"])
        self.har_coef_ = np.asarray(state["har_coef"], dtype=np.float64)
        self.har_intercept_ = float(state["har_intercept"])
        self.har_medians_ = np.asarray(state["har_medians"], dtype=np.float64)
        if self.har_coef_.shape != (len(HAR_INPUTS),):
            raise ValueError("har_coef must have one value per HAR input")
