"""A fitted combination of the classic VN factors as the location, with the learned HAR scale.

Why: each classic factor alone (1-month reversal, 12-1 and 6-1 month momentum, low volatility,
illiquidity) is a ranking baseline in the evaluation; a ranking served when no model beats them
should be their best combination, fitted, not one factor picked by hand.

How (training rows only, no look-ahead):

* each factor is computed per row from the row's own features (data up to its week) and
  rank-normalised against the TRAINING rows: its empirical CDF over the training rows (101
  quantiles kept), mapped to a normal score. Per row, so a stock's forecast never depends on which
  other stocks are in the same request;
* ridge (``alpha`` on the normal scores) of the normal score of the training label's rank within
  its week (the relative return, rank-normalised: the market's move is common to every name, and
  every name weighs the same, see :func:`relative_rank_scores`);
* the location is that prediction times one factor ``kappa_`` in ``[0, 1]`` fitted on the calibration
  rows (precision-weighted slope of the realised return on the prediction, as in
  :mod:`stockvision.models.location_scale`); the scale, conformal factor and tails are those of
  :class:`~stockvision.models.volatility.HarVolModel`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stockvision.models._windows import (
    WindowLike,
    check_window,
    finite_returns,
    location_shrinkage,
    week_ends_of,
)
from stockvision.models.volatility import HAR_FEATURES, HarVolModel

#: the classic factors, higher = expected to do better (the evaluation's ranking baselines)
FACTORS: tuple[str, ...] = (
    "reversal_1m",
    "momentum_12_1",
    "momentum_6_1",
    "low_volatility",
    "illiquidity",
)
FACTOR_FEATURES = ["ret_4w", "ret_26w", "ret_52w", "vol_4w", "amihud_w"]
#: the feature each factor's contribution is reported under (the explanation shown to users)
FACTOR_SOURCES: dict[str, str] = {
    "reversal_1m": "ret_4w",
    "momentum_12_1": "ret_52w",
    "momentum_6_1": "ret_26w",
    "low_volatility": "vol_4w",
    "illiquidity": "amihud_w",
}
_N_QUANTILES = 101


def factor_matrix(window: WindowLike) -> np.ndarray:
    """(n, len(FACTORS)) raw factor values of each row; NaN where unknown."""
    check_window(window, FACTOR_FEATURES)
    X = window.X

    def col(name: str) -> np.ndarray:
        return X[name].to_numpy(dtype=np.float64, na_value=np.nan)

    r4 = col("ret_4w")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.column_stack(
            [
                -r4,
                (1 + col("ret_52w")) / (1 + r4) - 1,
                (1 + col("ret_26w")) / (1 + r4) - 1,
                -col("vol_4w"),
                col("amihud_w"),
            ]
        )


def _normal_scores(values: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Normal scores of ``values`` under the empirical CDF given by its quantile ``grid``."""
    from scipy.special import ndtri

    probs = np.linspace(0.0, 1.0, len(grid))
    # ties in the grid (a factor with a mass point) are spread by interpolating on unique values
    u = np.interp(values, grid, probs)
    u = np.clip(u, 0.5 / len(grid), 1 - 0.5 / len(grid))
    out = ndtri(u)
    return np.where(np.isfinite(values), out, 0.0)  # unknown factor: the training median


def relative_rank_scores(y: np.ndarray, weeks: np.ndarray) -> np.ndarray:
    """Normal score of each label's percentile rank within its week (NaN labels stay NaN).

    The target of the combination: every week and every name weigh the same, so the weights are
    those that RANK names (what the rank IC measures), not those that fit the largest moves of the
    most volatile illiquid names, which would dominate a least-squares fit of raw returns.
    """
    from scipy.special import ndtri

    s = pd.Series(np.where(np.isfinite(y), y, np.nan))
    grp = s.groupby(np.asarray(weeks))
    rank = grp.rank(method="average")
    n = grp.transform("count")
    return ndtri(((rank - 0.5) / n).to_numpy(dtype=np.float64))


class FactorComboModel(HarVolModel):
    """Ridge of rank-normalised classic factors (shrunk) as location, HAR volatility as scale."""

    name = "factor_combo"

    def __init__(
        self,
        factor_alpha: float = 10.0,
        halflife_weeks: float = 4.0,
        alpha: float = 1.0,
        floor: float = 0.005,
        coverage: float = 0.8,
        horizon: int = 4,
    ) -> None:
        super().__init__(
            halflife_weeks=halflife_weeks,
            alpha=alpha,
            floor=floor,
            coverage=coverage,
            horizon=horizon,
        )
        self.factor_alpha = factor_alpha

    def _scores(self, window: WindowLike) -> np.ndarray:
        F = factor_matrix(window)
        return np.column_stack(
            [_normal_scores(F[:, k], self.factor_grid_[k]) for k in range(len(FACTORS))]
        )

    def _raw_predict(self, window: WindowLike) -> np.ndarray:
        return self._scores(window) @ self.factor_coef_ + self.factor_intercept_

    def _fit(self, train: WindowLike, tune: WindowLike) -> None:
        super()._fit(train, tune)  # the HAR scale on the training rows
        self.features_ = sorted(set(HAR_FEATURES) | set(FACTOR_FEATURES))
        check_window(train, self.features_)
        F = factor_matrix(train)
        q = np.linspace(0.0, 1.0, _N_QUANTILES)
        grids = []
        for k in range(len(FACTORS)):
            v = F[:, k][np.isfinite(F[:, k])]
            grids.append(np.quantile(v, q) if v.size else np.zeros(_N_QUANTILES))
        self.factor_grid_ = np.asarray(grids, dtype=np.float64)
        y, mask = finite_returns(train)
        rel = relative_rank_scores(y, week_ends_of(train))[mask]
        S = self._scores(train)[mask]
        mu = S.mean(axis=0)
        Sc = S - mu
        gram = Sc.T @ Sc + float(self.factor_alpha) * np.eye(Sc.shape[1])
        self.factor_coef_ = np.linalg.solve(gram, Sc.T @ (rel - rel.mean()))
        self.factor_intercept_ = float(-mu @ self.factor_coef_)  # relative: centred on 0
        # shrink on the held-out rows: slope of y on the prediction, weighted by 1 / scale^2
        y_t, m_t = finite_returns(tune)
        self.kappa_ = location_shrinkage(
            self._raw_predict(tune)[m_t], y_t[m_t], self.scale_basis(tune)[m_t]
        )

    def predict(self, window: WindowLike) -> np.ndarray:
        self._check_fitted()
        return self.kappa_ * self._raw_predict(window)

    def relative_score(self, window: WindowLike) -> np.ndarray:
        """The unshrunk factor combination (what ranks the names, whatever ``kappa_``)."""
        self._check_fitted()
        return self._raw_predict(window)

    def contributions(self, window: WindowLike) -> pd.DataFrame:
        """Each factor's part of the predicted log return, under the feature it is built from
        (reversal: ``ret_4w``, 12-1 / 6-1 momentum: ``ret_52w`` / ``ret_26w``, low volatility:
        ``vol_4w``, illiquidity: ``amihud_w``); they sum to ``predict`` minus the shrunk intercept."""
        contrib = self.kappa_ * (self._scores(window) * self.factor_coef_)
        return pd.DataFrame(contrib, index=window.X.index, columns=list(FACTOR_SOURCES.values()))

    def _get_state(self) -> dict[str, Any]:
        return {
            **super()._get_state(),
            "factor_grid": self.factor_grid_.tolist(),
            "factor_coef": [float(c) for c in self.factor_coef_],
            "factor_intercept": self.factor_intercept_,
            "kappa": self.kappa_,
        }

    def _set_state(self, state: dict[str, Any], path: Path) -> None:
        super()._set_state(state, path)
        self.factor_grid_ = np.asarray(state["factor_grid"], dtype=np.float64)
        self.factor_coef_ = np.asarray(state["factor_coef"], dtype=np.float64)
        self.factor_intercept_ = float(state["factor_intercept"])
        self.kappa_ = float(state["kappa"])
        if self.factor_grid_.shape != (len(FACTORS), _N_QUANTILES) or self.factor_coef_.shape != (
            len(FACTORS),
        ):
            raise ValueError("factor_grid/factor_coef do not match the factor list")
