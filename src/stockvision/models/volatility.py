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

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stockvision.features.feature_docs import FEATURES
from stockvision.models._windows import (
    WindowLike,
    calibration_rows,
    check_window,
    finite_returns,
    week_ends_of,
)
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
    """Random walk (log return 0) with an EWMA-volatility scale and one conformal scale factor.

    ``scale_power="fit"`` (the default) also fits how far apart the widths of calm and wild names
    are: the EWMA of daily returns times sqrt(time) spreads them too far (measured: fitted
    exponents 0.5-0.7, the calmest volatility fifth covered 73.6 % and the wildest 86.2 % with the
    basis as it is, 80.1 % and 79.6 % with the fitted exponent; CRPS skill on the whole market
    +0.13 % -> +0.86 %; docs/evaluation.md, Round 7). ``scale_power=1`` is the plain EWMA walk.
    """

    name = "vol_random_walk"
    uses_transformer = False

    def __init__(
        self,
        halflife_weeks: float = 4.0,
        coverage: float = 0.8,
        horizon: int = 4,
        source: str = "daily",
        calibration: str = "validation",
        scale_power: float | str = "fit",
    ) -> None:
        self.halflife_weeks = halflife_weeks
        self.coverage = coverage
        self.horizon = horizon
        self.source = source
        self.calibration = calibration
        self.scale_power = scale_power

    def _calibration_window(self, fit_w: WindowLike, cal_w: WindowLike) -> WindowLike:
        """``calibration="train"``: one factor on the whole training history (the basis uses no
        label, so training residuals are out of sample); the learned scales never allow it."""
        return calibration_rows(getattr(self, "calibration", "validation"), fit_w, cal_w)

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


def har_inputs(window: WindowLike, halflife_weeks: float, market: bool = False) -> np.ndarray:
    """(n, len(HAR_INPUTS)) matrix of the learned scale's inputs; NaN where unknown.

    ``market``: the :data:`MARKET_INPUTS` columns appended (see :func:`market_inputs`).
    """
    X = window.X

    def col(name: str) -> np.ndarray:
        return X[name].to_numpy(dtype=np.float64, na_value=np.nan)

    own = np.column_stack(
        [
            _safe_log(weekly_rv(window, halflife_weeks), 1e-4),
            _safe_log(ewma_daily_vol(window, halflife_weeks), 1e-4),
            _safe_log(col("vol_4w"), 1e-4),
            _safe_log(np.abs(col("ret_1w")), 0.005),
            _safe_log(col("atr_4w_pct"), 1e-4),
            _safe_log(col("bb_width_w"), 1e-3),
            _safe_log(np.abs(col("ret_4w")), 0.01),
            col("illiq_rank"),
        ]
    )
    if not market:
        return own
    return np.column_stack([own, market_inputs(window, halflife_weeks, own[:, 0])])


def _safe_log(x: np.ndarray, floor: float) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(np.maximum(x, floor))


#: market-level inputs of the learned scale (one value per week, shared by every stock that week)
MARKET_INPUTS: tuple[str, ...] = ("mkt_median_log_rv", "mkt_log_rv", "mkt_log_dispersion")
#: a week with fewer names than this in the window has no market inputs (imputed with the
#: training medians, i.e. a neutral regime): a median of a handful of stocks is not the market's
MIN_MARKET_NAMES = 10


def market_inputs(
    window: WindowLike, halflife_weeks: float, log_rv: np.ndarray | None = None
) -> np.ndarray:
    """(n, len(MARKET_INPUTS)) point-in-time market regime of each row's week.

    Computed over the rows of the SAME week in ``window`` (the cross-section known at that week;
    each row's sequence holds only its own past), so a row's inputs never use a later week:

    * ``mkt_median_log_rv``: the cross-sectional median of the stocks' log weekly realised vol;
    * ``mkt_log_rv``: log of the EWMA (``halflife_weeks``) realised vol of the equal-weight
      market's weekly log return over the sequence (the cross-sectional mean return of each past
      week, over the names of this week), as a daily standard deviation;
    * ``mkt_log_dispersion``: log of the cross-sectional standard deviation of last week's returns.

    Why: a month's risk has a common part (the market's regime) the stock's own history shows only
    with noise; the one conformal factor of the validation window sets the level 13 weeks late.
    Weeks with fewer than :data:`MIN_MARKET_NAMES` names are NaN.
    """
    if log_rv is None:
        log_rv = _safe_log(weekly_rv(window, halflife_weeks), 1e-4)
    codes, uniq = pd.factorize(week_ends_of(window))
    n_weeks = len(uniq)
    r = np.log1p(np.asarray(window.seq[:, :, _RET1W], dtype=np.float64))  # (n, L) oldest first
    ok = np.isfinite(r)
    counts = np.zeros((n_weeks, r.shape[1]))
    sums = np.zeros((n_weeks, r.shape[1]))
    np.add.at(counts, codes, ok)
    np.add.at(sums, codes, np.where(ok, r, 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        mkt = np.where(counts >= MIN_MARKET_NAMES, sums / counts, np.nan)  # (weeks, L)
    age = np.arange(r.shape[1] - 1, -1, -1, dtype=np.float64)
    w = np.power(0.5, age / float(halflife_weeks))
    known = np.isfinite(mkt)
    wsum = (known * w).sum(axis=1)
    var = np.where(known, mkt**2, 0.0) @ w
    with np.errstate(invalid="ignore", divide="ignore"):
        mkt_rv = np.where(known.sum(axis=1) >= 4, np.sqrt(var / wsum / 5.0), np.nan)
    frame = pd.DataFrame({"week": codes, "rv": log_rv, "last": r[:, -1]})
    grouped = frame.groupby("week")
    n_rv = grouped["rv"].count().reindex(range(n_weeks)).to_numpy()
    n_last = grouped["last"].count().reindex(range(n_weeks)).to_numpy()
    med_rv = grouped["rv"].median().reindex(range(n_weeks)).to_numpy()
    disp = grouped["last"].std().reindex(range(n_weeks)).to_numpy()
    per_week = np.column_stack(
        [
            np.where(n_rv >= MIN_MARKET_NAMES, med_rv, np.nan),
            _safe_log(mkt_rv, 1e-5),
            np.where(n_last >= MIN_MARKET_NAMES, _safe_log(disp, 1e-4), np.nan),
        ]
    )
    return per_week[codes]


HAR_FEATURES = ["vol_4w", "ret_1w", "ret_4w", "atr_4w_pct", "bb_width_w", "illiq_rank"]


def fit_har_scale(
    train: WindowLike,
    halflife_weeks: float,
    alpha: float,
    floor: float,
    resid: np.ndarray | None = None,
    market: bool = False,
) -> tuple[np.ndarray, float, np.ndarray]:
    """(coef, intercept, medians) of ``log max(|resid|, floor)`` regressed on :data:`HAR_INPUTS`.

    ``resid`` defaults to the label itself (location 0). Ridge ``alpha`` on standardised inputs;
    missing inputs take the training medians (returned, to impute the same way later).
    ``market``: with the :data:`MARKET_INPUTS` too.
    """
    check_window(train, HAR_FEATURES)
    Z = har_inputs(train, halflife_weeks, market)
    with warnings.catch_warnings():  # an input unknown on every row (no market yet) is all-NaN
        warnings.simplefilter("ignore", RuntimeWarning)
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
              halflife_weeks: float, market: bool = False) -> np.ndarray:  # fmt: skip
    """The learned relative scale of each row (clipped to a sane range of log scales)."""
    Z = har_inputs(window, halflife_weeks, market)
    Z = np.where(np.isfinite(Z), Z, medians)
    return np.exp(np.clip(Z @ coef + intercept, -7.0, 1.0))


class HarVolModel(VolRandomWalkModel):
    """Random walk location with a LEARNED scale: ``log |y|`` regressed on log-volatility inputs.

    ``E[log |y|] = log(scale) + const`` for any location-scale family with location 0, so the least
    squares fit of ``log max(|y|, floor)`` on :data:`HAR_INPUTS` (ridge ``alpha``, missing inputs
    imputed with the training medians) estimates the log scale up to a constant, which the conformal
    factor absorbs. Fitted on the training rows only; the calibration rows set the factor.

    ``market_inputs=True`` adds the week's market regime (:func:`market_inputs`, computed over the
    window's rows of the same week) to the regression: a window with fewer than
    :data:`MIN_MARKET_NAMES` names in a week (one stock served alone) gets the training medians
    for them, a neutral regime. Off by default: measured on both universes it did not improve
    the CRPS (+0.03 points on the market's development half, -1.8 on VN30's; docs/evaluation.md,
    Round 3).

    ``scale_power`` stays 1 by default: a fitted exponent (median 0.95 on the market) changed the
    development halves' CRPS skill by +0.02 points (market) and -0.04 (VN30); Round 7.
    """

    name = "har_vol"

    def __init__(
        self,
        halflife_weeks: float = 4.0,
        alpha: float = 1.0,
        floor: float = 0.005,
        coverage: float = 0.8,
        horizon: int = 4,
        market_inputs: bool = False,
        scale_power: float | str = 1.0,
    ) -> None:
        super().__init__(
            halflife_weeks=halflife_weeks,
            coverage=coverage,
            horizon=horizon,
            scale_power=scale_power,
        )
        self.alpha = alpha
        self.floor = floor
        self.market_inputs = market_inputs

    def _calibration_window(self, fit_w: WindowLike, cal_w: WindowLike) -> WindowLike:
        return cal_w  # the scale is fitted on the training labels: only held-out rows calibrate

    def _n_inputs(self) -> int:
        return len(HAR_INPUTS) + (len(MARKET_INPUTS) if self.market_inputs else 0)

    def _fit(self, train: WindowLike, tune: WindowLike) -> None:
        super()._fit(train, tune)
        self.features_ = list(HAR_FEATURES)
        self.coef_, self.intercept_, self.medians_ = fit_har_scale(
            train,
            float(self.halflife_weeks),
            float(self.alpha),
            float(self.floor),
            market=bool(self.market_inputs),
        )

    def scale_basis(self, window: WindowLike) -> np.ndarray:
        self._check_fitted()
        check_window(window, self.features_)
        return har_scale(
            window,
            self.coef_,
            self.intercept_,
            self.medians_,
            float(self.halflife_weeks),
            bool(self.market_inputs),
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
        n = self._n_inputs()
        if self.coef_.shape != (n,) or self.medians_.shape != (n,):
            raise ValueError("coef/medians must have one value per HAR input")
