"""Per-symbol ARIMA(p, 0, q) on weekly log returns (a classical price benchmark).

Fitting: for every symbol, the weekly log returns of its training rows are taken from the
``ret_1w`` feature (``log1p(ret_1w)``; ``Window.X`` carries features, not prices); the mean is the
sample mean and ARMA(p, q) is fitted by statsmodels on the demeaned returns for each order of a
small grid; the lowest AIC wins.
Symbols with fewer than ``min_obs`` returns (or unseen at fit time) use a pooled fit on all
symbols' returns stacked end to end.

Forecasting (no look-ahead): at each row the fitted parameters are applied to the row's own recent
history, the last ``seq_len`` weekly returns of ``Window.seq`` ending at that row (all known at the
row's week end), by the ARMA recursion with innovations started at zero (the conditional-sum-of-
squares convention). The 4-week log return forecast is the sum of the next ``horizon`` one-step
forecasts. With ``|ma| < 1`` the zero start's effect decays geometrically within the 8 weeks. Using
``Window.seq`` rather than the window's earlier rows makes predictions independent of where a window
starts. Missing weeks (before a symbol's first trade) are filled with the model's own forecast.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from statsmodels.tsa.arima.model import ARIMA
from threadpoolctl import threadpool_limits

from stockvision.features.feature_docs import FEATURES
from stockvision.models._windows import WindowLike, check_window, symbols_of
from stockvision.models.base import PriceModel

RET_FEATURE = "ret_1w"
_POOLED = "__pooled__"


def fit_arma(
    returns: np.ndarray, orders: Sequence[Sequence[int]], method: str = "hannan_rissanen"
) -> dict[str, Any]:
    """Fit ARMA(p, q) for each order, return the lowest-AIC one as plain parameters.

    The mean is estimated by the sample mean and the ARMA part is fitted on the demeaned series
    (``trend="n"``), which avoids statsmodels' iterated GLS mean step (slow, and it rejects
    non-stationary starting values). ``method`` is passed to ``ARIMA.fit``: the default
    Hannan-Rissanen two-stage regression is non-iterative (~10 ms per fit on an idle core);
    ``"statespace"`` gives the exact MLE at several times the cost. The AIC is the exact Gaussian
    one at the estimated parameters either way. BLAS is held to one thread: these matrices are tiny
    and threads only contend on a busy machine.
    """
    returns = np.asarray(returns, dtype=np.float64)
    if len(returns) == 0:
        raise ValueError("cannot fit ARIMA on an empty return series")
    mean = float(returns.mean())
    with threadpool_limits(limits=1):
        best = _best_order(returns - mean, orders, method)
    if best is None:  # nothing usable: the constant-mean model ARIMA(0,0,0)
        best = {"order": [0, 0, 0], "ar": [], "ma": [], "sigma2": float(np.var(returns))}
        best["aic"] = float("nan")
    best["const"] = mean
    best["nobs"] = len(returns)
    return best


def _best_order(
    demeaned: np.ndarray, orders: Sequence[Sequence[int]], method: str
) -> dict[str, Any] | None:
    best: dict[str, Any] | None = None
    for order in orders:
        p, d, q = (int(v) for v in order)
        if d != 0:
            raise ValueError(f"orders must have d=0 (returns are already differenced), got {order}")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # convergence chatter on short noisy series
                res = ARIMA(demeaned, order=(p, 0, q), trend="n").fit(method=method)
        except (ValueError, np.linalg.LinAlgError):
            continue  # a numerically failed fit: try the next order
        # Hannan-Rissanen does not constrain the roots; an explosive AR or non-invertible MA part
        # would make the forecast recursion diverge, so such fits are skipped.
        if not np.isfinite(res.aic) or _explosive(res.arroots) or _explosive(res.maroots):
            continue
        if best is None or res.aic < best["aic"]:
            params = dict(
                zip(res.model.param_names, np.asarray(res.params, dtype=float), strict=True)
            )
            best = {
                "order": [p, 0, q],
                "ar": [float(params[f"ar.L{i}"]) for i in range(1, p + 1)],
                "ma": [float(params[f"ma.L{i}"]) for i in range(1, q + 1)],
                "sigma2": float(params["sigma2"]),
                "aic": float(res.aic),
            }
    return best


def _explosive(roots: np.ndarray) -> bool:
    roots = np.asarray(roots)
    return bool(roots.size and np.any(np.abs(roots) <= 1.0 + 1e-6))


def arma_sum_forecast(
    returns: np.ndarray, const: float, ar: Sequence[float], ma: Sequence[float], horizon: int
) -> np.ndarray:
    """Sum of the next ``horizon`` forecasts after each row of ``returns`` (m, L), NaN = missing.

    ``const`` is the process mean, ``ar`` / ``ma`` use statsmodels' sign convention
    ``x_t = sum ar_i x_{t-i} + e_t + sum ma_j e_{t-j}`` on deviations from the mean.
    """
    r = np.atleast_2d(np.asarray(returns, dtype=np.float64))
    m, length = r.shape
    p, q = len(ar), len(ma)
    x = np.zeros((m, length + horizon))
    e = np.zeros((m, length + horizon))
    for t in range(length + horizon):
        pred = np.zeros(m)
        for i in range(min(p, t)):
            pred += ar[i] * x[:, t - 1 - i]
        for j in range(min(q, t)):
            pred += ma[j] * e[:, t - 1 - j]
        if t < length:
            obs = r[:, t] - const
            known = np.isfinite(obs)
            x[:, t] = np.where(known, obs, pred)
            e[:, t] = np.where(known, obs - pred, 0.0)
        else:
            x[:, t] = pred  # future innovations have mean zero
    return horizon * const + x[:, length:].sum(axis=1)


class ArimaPriceModel(PriceModel):
    """Per-symbol ARIMA on weekly log returns; forecast = sum of the next ``horizon`` weeks."""

    name = "arima"
    uses_transformer = False

    def __init__(
        self,
        orders: Sequence[Sequence[int]] = ((1, 0, 0), (0, 0, 1), (1, 0, 1)),
        method: str = "hannan_rissanen",
        min_obs: int = 40,
        horizon: int = 4,
        coverage: float = 0.8,
    ) -> None:
        self.orders = orders
        self.method = method
        self.min_obs = min_obs
        self.horizon = horizon
        self.coverage = coverage

    def _horizon(self) -> int:
        return int(self.horizon)

    def _fit(self, train: WindowLike, tune: WindowLike) -> None:
        check_window(train, [RET_FEATURE])
        self.features_ = [RET_FEATURE]
        self.transformer_ = None
        self.horizon_ = self._horizon()
        X = train.X[[RET_FEATURE]].sort_index()
        r = np.log1p(X[RET_FEATURE].to_numpy(dtype=np.float64, na_value=np.nan))
        sym = X.index.get_level_values(0).to_numpy().astype(str)
        self.params_: dict[str, dict[str, Any]] = {}
        pooled: list[np.ndarray] = []
        for s in np.unique(sym):
            series = r[sym == s]
            series = series[np.isfinite(series)]
            pooled.append(series)
            if len(series) >= int(self.min_obs):
                self.params_[str(s)] = fit_arma(series, self.orders, self.method)
        allr = np.concatenate(pooled) if pooled else np.zeros(0)
        if len(allr) < int(self.min_obs):
            raise ValueError(
                f"only {len(allr)} finite weekly returns in the training window; ARIMA needs at "
                f"least min_obs={self.min_obs}: use a longer training window"
            )
        self.params_[_POOLED] = fit_arma(allr, self.orders, self.method)

    def predict(self, window: WindowLike) -> np.ndarray:
        self._check_fitted()
        check_window(window, [RET_FEATURE])
        idx = list(FEATURES).index(RET_FEATURE)
        with np.errstate(invalid="ignore"):
            hist = np.log1p(window.seq[:, :, idx].astype(np.float64))
        sym = symbols_of(window)
        out = np.empty(len(sym), dtype=np.float64)
        for s in np.unique(sym):
            rows = sym == s
            prm = self.params_.get(str(s), self.params_[_POOLED])
            out[rows] = arma_sum_forecast(
                hist[rows], prm["const"], prm["ar"], prm["ma"], self.horizon_
            )
        return out

    def _get_state(self) -> dict[str, Any]:
        return {**self._conformal_state(), "horizon": self.horizon_, "params": self.params_}

    def _set_state(self, state: dict[str, Any], path: Path) -> None:
        self._set_conformal_state(state)
        self.horizon_ = int(state["horizon"])
        self.params_ = {str(k): dict(v) for k, v in state["params"].items()}
        if _POOLED not in self.params_:
            raise ValueError("saved ARIMA state lacks the pooled fallback parameters")
