"""Volatility-aware random walks: the forecastable part of a month ahead is its RISK.

A bank and a penny stock do not have the same range next month, yet the constant-width random walk
gives both the same relative interval. These models keep the random walk's location (log return 0:
no claim about direction) and give every row its own scale:

* :class:`VolRandomWalkModel` (``vol_random_walk``), the baseline to beat and the served fallback:
  the scale is an EWMA of the stock's own recent daily-return variance, times one factor. The daily
  variance enters through ``vol_4w`` (standard deviation of the last 20 daily log returns), sampled
  each week over the row's last ``seq_len`` weeks (``Window.seq``) and averaged with weights halving
  every ``halflife_weeks`` weeks: an exponentially weighted average of daily squared returns over
  the last ~2 months, from data up to the row's week only. Times ``sqrt(5 * horizon)`` trading days
  it is a horizon volatility.
* :class:`HarVolModel` (``har_vol``), a learned scale: ``log |y|`` regressed (least squares, on the
  training window only) on the logs of short, medium and long volatility measures of the same stock
  (HAR idea, Corsi 2009: weekly vol, the 20-day vol, its 8-week EWMA, the average true range,
  Bollinger width, the last month's absolute return) and its illiquidity rank.

In both, the one fitted scale factor is the split-conformal quantile of the volatility-NORMALISED
residual ``|y| / basis`` on the calibration rows (never the test rows), so the 80 % interval covers
80 % of calibration rows whatever their volatility, and the tails (Student-t df) are fitted on the
same rows (see :class:`~stockvision.models.base.PriceModel`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stockvision.features.feature_docs import FEATURES
from stockvision.models._windows import WindowLike, check_window, finite_returns
from stockvision.models.base import PriceModel

#: daily volatility used when a row has no volatility history at all (before fitting's median)
_DEFAULT_DAILY_VOL = 0.02
_VOL = FEATURES.index("vol_4w")
_RET1W = FEATURES.index("ret_1w")


def ewma_daily_vol(window: WindowLike, halflife_weeks: float) -> np.ndarray:
    """Per row, the EWMA (weights halving every ``halflife_weeks``) of the weekly-sampled 20-day
    daily variance over the row's sequence, as a daily standard deviation (NaN without history)."""
    seq = np.asarray(window.seq[:, :, _VOL], dtype=np.float64)  # oldest first, own week last
    n_lags = seq.shape[1]
    age = np.arange(n_lags - 1, -1, -1, dtype=np.float64)
    w = np.power(0.5, age / float(halflife_weeks))
    ok = np.isfinite(seq) & (seq > 0)
    wsum = (ok * w).sum(axis=1)
    var = np.where(ok, seq**2, 0.0) @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.where(wsum > 0, var / wsum, np.nan))


def weekly_rv(window: WindowLike, halflife_weeks: float) -> np.ndarray:
    """Per row, the EWMA of squared weekly log returns over the row's sequence, as a DAILY
    standard deviation (divided by sqrt(5)); NaN with fewer than 4 known weeks.

    Weekly returns are far less affected than daily ones by the bid-ask bounce and price-limit
    runs of illiquid names, whose daily volatility scaled by sqrt(time) overstates a month's risk.
    """
    r = np.log1p(np.asarray(window.seq[:, :, _RET1W], dtype=np.float64))
    n_lags = r.shape[1]
    age = np.arange(n_lags - 1, -1, -1, dtype=np.float64)
    w = np.power(0.5, age / float(halflife_weeks))
    ok = np.isfinite(r)
    wsum = (ok * w).sum(axis=1)
    var = np.where(ok, r**2, 0.0) @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.sqrt(np.where(ok.sum(axis=1) >= 4, var / wsum, np.nan) / 5.0)
    return out


class VolRandomWalkModel(PriceModel):
    """Random walk (log return 0) with an EWMA-volatility scale and one conformal scale factor."""

    name = "vol_random_walk"
    uses_transformer = False

    def __init__(
        self,
        halflife_weeks: float = 4.0,
        coverage: float = 0.8,
        horizon: int = 4,
        source: str = "daily",
    ) -> None:
        self.halflife_weeks = halflife_weeks
        self.coverage = coverage
        self.horizon = horizon
        self.source = source

    def _vol(self, window: WindowLike) -> np.ndarray:
        """Daily volatility forecast: EWMA of daily ("daily"), of weekly returns ("weekly"), or
        the geometric mean of both ("blend"; either alone where the other is unknown)."""
        h = float(self.halflife_weeks)
        if self.source == "daily":
            return ewma_daily_vol(window, h)
        if self.source == "weekly":
            return weekly_rv(window, h)
        if self.source == "blend":
            d, w = ewma_daily_vol(window, h), weekly_rv(window, h)
            both = np.sqrt(d * w)
            return np.where(np.isfinite(both), both, np.where(np.isfinite(d), d, w))
        raise ValueError(f"source must be 'daily', 'weekly' or 'blend', got {self.source!r}")

    def _fit(self, train: WindowLike, tune: WindowLike) -> None:
        if not float(self.halflife_weeks) > 0:
            raise ValueError(f"halflife_weeks must be > 0, got {self.halflife_weeks!r}")
        check_window(train, ["vol_4w", "ret_1w"])
        self.features_ = ["vol_4w", "ret_1w"]
        self.transformer_ = None
        vol = self._vol(train)
        vol = vol[np.isfinite(vol)]
        self.fallback_vol_ = float(np.median(vol)) if vol.size else _DEFAULT_DAILY_VOL

    def scale_basis(self, window: WindowLike) -> np.ndarray:
        self._check_fitted()
        check_window(window, self.features_)
        vol = self._vol(window)
        vol = np.where(np.isfinite(vol), vol, self.fallback_vol_)
        return np.maximum(vol, 1e-4) * np.sqrt(5.0 * float(self.horizon))

    def predict(self, window: WindowLike) -> np.ndarray:
        self._check_fitted()
        check_window(window)
        return np.zeros(len(window), dtype=np.float64)

    def _get_state(self) -> dict[str, Any]:
        return {**self._conformal_state(), "fallback_vol": self.fallback_vol_}

    def _set_state(self, state: dict[str, Any], path: Path) -> None:
        self._set_conformal_state(state)
        self.fallback_vol_ = float(state["fallback_vol"])


#: inputs of the learned scale, each a function of the window (logs of positive volatility measures)
HAR_INPUTS: tuple[str, ...] = (
    "log_weekly_rv",
    "log_ewma_vol",
    "log_vol_4w",
    "log_vol_1w",
    "log_atr_4w",
    "log_bb_width",
    "log_abs_ret_4w",
    "illiq_rank",
)


def har_inputs(window: WindowLike, halflife_weeks: float) -> np.ndarray:
    """(n, len(HAR_INPUTS)) matrix of the learned scale's inputs; NaN where unknown."""
    X = window.X

    def col(name: str) -> np.ndarray:
        return X[name].to_numpy(dtype=np.float64, na_value=np.nan)

    def safe_log(x: np.ndarray, floor: float) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.log(np.maximum(x, floor))

    return np.column_stack(
        [
            safe_log(weekly_rv(window, halflife_weeks), 1e-4),
            safe_log(ewma_daily_vol(window, halflife_weeks), 1e-4),
            safe_log(col("vol_4w"), 1e-4),
            safe_log(np.abs(col("ret_1w")), 0.005),
            safe_log(col("atr_4w_pct"), 1e-4),
            safe_log(col("bb_width_w"), 1e-3),
            safe_log(np.abs(col("ret_4w")), 0.01),
            col("illiq_rank"),
        ]
    )


HAR_FEATURES = ["vol_4w", "ret_1w", "ret_4w", "atr_4w_pct", "bb_width_w", "illiq_rank"]


def fit_har_scale(
    train: WindowLike,
    halflife_weeks: float,
    alpha: float,
    floor: float,
    resid: np.ndarray | None = None,
) -> tuple[np.ndarray, float, np.ndarray]:
    """(coef, intercept, medians) of ``log max(|resid|, floor)`` regressed on :data:`HAR_INPUTS`.

    ``resid`` defaults to the label itself (location 0). Ridge ``alpha`` on standardised inputs;
    missing inputs take the training medians (returned, to impute the same way later).
    """
    check_window(train, HAR_FEATURES)
    Z = har_inputs(train, halflife_weeks)
    medians = np.nanmedian(np.where(np.isfinite(Z), Z, np.nan), axis=0)
    medians = np.where(np.isfinite(medians), medians, 0.0)
    Z = np.where(np.isfinite(Z), Z, medians)
    y, mask = finite_returns(train)
    r = y if resid is None else np.asarray(resid, dtype=np.float64)
    mask = mask & np.isfinite(r)
    target = np.log(np.maximum(np.abs(r[mask]), floor))
    Z = Z[mask]
    mu, sd = Z.mean(axis=0), Z.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    Zs = (Z - mu) / sd
    gram = Zs.T @ Zs + alpha * np.eye(Zs.shape[1])
    coef = np.linalg.solve(gram, Zs.T @ (target - target.mean())) / sd
    return coef, float(target.mean() - mu @ coef), medians


def har_scale(window: WindowLike, coef: np.ndarray, intercept: float, medians: np.ndarray,
              halflife_weeks: float) -> np.ndarray:  # fmt: skip
    """The learned relative scale of each row (clipped to a sane range of log scales)."""
    Z = har_inputs(window, halflife_weeks)
    Z = np.where(np.isfinite(Z), Z, medians)
    return np.exp(np.clip(Z @ coef + intercept, -7.0, 1.0))


class HarVolModel(VolRandomWalkModel):
    """Random walk location with a LEARNED scale: ``log |y|`` regressed on log-volatility inputs.

    ``E[log |y|] = log(scale) + const`` for any location-scale family with location 0, so the least
    squares fit of ``log max(|y|, floor)`` on :data:`HAR_INPUTS` (ridge ``alpha``, missing inputs
    imputed with the training medians) estimates the log scale up to a constant, which the conformal
    factor absorbs. Fitted on the training rows only; the calibration rows set the factor.
    """

    name = "har_vol"

    def __init__(
        self,
        halflife_weeks: float = 4.0,
        alpha: float = 1.0,
        floor: float = 0.005,
        coverage: float = 0.8,
        horizon: int = 4,
    ) -> None:
        super().__init__(halflife_weeks=halflife_weeks, coverage=coverage, horizon=horizon)
        self.alpha = alpha
        self.floor = floor

    def _fit(self, train: WindowLike, tune: WindowLike) -> None:
        super()._fit(train, tune)
        self.features_ = list(HAR_FEATURES)
        self.coef_, self.intercept_, self.medians_ = fit_har_scale(
            train, float(self.halflife_weeks), float(self.alpha), float(self.floor)
        )

    def scale_basis(self, window: WindowLike) -> np.ndarray:
        self._check_fitted()
        check_window(window, self.features_)
        return har_scale(
            window, self.coef_, self.intercept_, self.medians_, float(self.halflife_weeks)
        )

    def _get_state(self) -> dict[str, Any]:
        return {
            **super()._get_state(),
            "coef": [float(c) for c in self.coef_],
            "intercept": self.intercept_,
            "medians": [float(v) for v in self.medians_],
        }

    def _set_state(self, state: dict[str, Any], path: Path) -> None:
        super()._set_state(state, path)
        self.coef_ = np.asarray(state["coef"], dtype=np.float64)
        self.intercept_ = float(state["intercept"])
        self.medians_ = np.asarray(state["medians"], dtype=np.float64)
        if self.coef_.shape != (len(HAR_INPUTS),) or self.medians_.shape != (len(HAR_INPUTS),):
            raise ValueError("coef/medians must have one value per HAR input")
