"""A boosted volatility scale: LightGBM fitted to minimise the CRPS of the predictive distribution.

Why another scale model: the linear HAR regression (:class:`~stockvision.models.volatility.HarVolModel`)
only combines the logs of volatility measures additively. How much of a stock's recent volatility
carries into the next month depends on things it cannot bend to: illiquid names (no-trade weeks,
price-limit runs) whose daily moves overstate a month, penny stocks whose tick is a large part of the
price, a spike that already faded. Trees learn those interactions.

How it is fitted (training rows only, no look-ahead):

* The start is the linear HAR log scale, set to the right level by the median of ``|y| / HAR``.
* LightGBM then boosts the log scale ``f`` with a custom objective: the CRPS of a normal
  ``N(location, exp(f))`` at the realised return (closed form; gradient ``s (2 phi(z) - 1/sqrt(pi))``
  with ``z = (y - location) / s``). Optimising the score we are judged on, not a proxy like
  ``log |y|``. The Hessian is floored to stay positive (the CRPS is not convex in ``f`` far in the tails).
* The number of rounds is early-stopped on the latest ``inner_fraction`` of the TRAINING weeks
  (after a ``horizon``-week purge): the validation window stays reserved for the split-conformal
  factor and the tail ``df`` (see :class:`~stockvision.models.base.PriceModel`).

Inputs are per row only (the row's own features, its 8-week history in ``seq``, its price level and
the feature build's cross-sectional illiquidity rank), so a stock's forecast never depends on which
other stocks are asked for at the same time.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from stockvision.features.feature_docs import FEATURES
from stockvision.models._windows import (
    WindowLike,
    check_window,
    finite_returns,
    split_calibration_tail,
)
from stockvision.models.base import PriceModel
from stockvision.models.lgbm import _load_booster
from stockvision.models.volatility import (
    HAR_FEATURES,
    HAR_INPUTS,
    fit_har_scale,
    har_inputs,
    har_scale,
)

BOOSTER_FILE = "scale_booster.txt"
_RET1W = FEATURES.index("ret_1w")
_VOL = FEATURES.index("vol_4w")
#: extra per-row inputs computed from the row's own history and price
EXTRA_INPUTS: tuple[str, ...] = (
    "log_raw_close",
    "flat_weeks_8w",
    "log_max_abs_ret_8w",
    "log_vol_4w_lag4",
    "log_har_scale",
)
_SQRT_PI = math.sqrt(math.pi)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


def _phi(z: np.ndarray) -> np.ndarray:
    return _INV_SQRT_2PI * np.exp(-0.5 * z * z)


def crps_log_scale_grad_hess(
    f: np.ndarray, resid: np.ndarray, hess_floor: float = 0.05
) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and (floored) Hessian of the normal CRPS with respect to the LOG scale ``f``.

    ``CRPS(s) = s c(z)``, ``z = r / s``, ``c(z) = z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi)``;
    ``dCRPS/df = s (2 phi(z) - 1/sqrt(pi))`` and ``d2CRPS/df2 = s (2 phi(z) (1 + z^2) - 1/sqrt(pi))``.
    The Hessian goes negative for ``|z|`` beyond about 1.1 (the score is not convex there), so it is
    floored at ``hess_floor * s`` (a scaled Newton step that still descends).
    """
    s = np.exp(f)
    z = resid / s
    p = _phi(z)
    grad = s * (2.0 * p - 1.0 / _SQRT_PI)
    hess = s * (2.0 * p * (1.0 + z * z) - 1.0 / _SQRT_PI)
    return grad, np.maximum(hess, hess_floor * s)


def _normal_crps(resid: np.ndarray, f: np.ndarray) -> np.ndarray:
    s = np.exp(f)
    z = resid / s
    from scipy.special import ndtr

    return s * (z * (2.0 * ndtr(z) - 1.0) + 2.0 * _phi(z) - 1.0 / _SQRT_PI)


class LGBMVolModel(PriceModel):
    """Random-walk location (0), LightGBM log scale fitted on the CRPS, conformal on calibration rows.

    ``scale_power`` stays 1 by default, like ``har_vol``'s (on VN30 the two give the same figures,
    and a fitted exponent lost 0.04 points on its development half; docs/evaluation.md, Round 7).
    """

    name = "lgbm_vol"
    uses_transformer = False

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_data_in_leaf: int = 400,
        feature_fraction: float = 0.8,
        bagging_fraction: float = 0.7,
        lambda_l2: float = 10.0,
        early_stopping_rounds: int = 30,
        inner_fraction: float = 0.15,
        halflife_weeks: float = 4.0,
        har_alpha: float = 1.0,
        floor: float = 0.005,
        coverage: float = 0.8,
        seed: int = 42,
        num_threads: int = 2,
        horizon: int = 4,
        scale_power: float | str = 1.0,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_data_in_leaf = min_data_in_leaf
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.lambda_l2 = lambda_l2
        self.early_stopping_rounds = early_stopping_rounds
        self.inner_fraction = inner_fraction
        self.halflife_weeks = halflife_weeks
        self.har_alpha = har_alpha
        self.floor = floor
        self.coverage = coverage
        self.seed = seed
        self.num_threads = num_threads
        self.horizon = horizon
        self.scale_power = scale_power

    # --- inputs ------------------------------------------------------------------------------------
    @property
    def input_names_(self) -> list[str]:
        return [*(f"har_{n}" for n in HAR_INPUTS), *FEATURES, *EXTRA_INPUTS]

    def _har(self, window: WindowLike) -> np.ndarray:
        return har_scale(
            window,
            self.har_coef_,
            self.har_intercept_,
            self.har_medians_,
            float(self.halflife_weeks),
        )

    def _inputs(self, window: WindowLike) -> np.ndarray:
        """(n, len(input_names_)) raw inputs; NaN where unknown (LightGBM routes missing values)."""
        check_window(window, FEATURES)
        seq = np.asarray(window.seq, dtype=np.float64)
        r = seq[:, :, _RET1W]
        known = np.isfinite(r)
        with np.errstate(invalid="ignore", divide="ignore"):
            flat = np.where(known.sum(axis=1) > 0, (known & (np.abs(r) < 1e-9)).sum(axis=1)
                            / np.maximum(known.sum(axis=1), 1), np.nan)  # fmt: skip
            max_abs = np.log(np.maximum(np.nanmax(np.where(known, np.abs(r), -1.0), axis=1), 1e-3))
            lag_vol = np.log(np.maximum(seq[:, max(seq.shape[1] - 5, 0), _VOL], 1e-4))
            raw = window.labels["raw_close"].to_numpy(dtype=np.float64, na_value=np.nan)
            log_close = np.log(np.where(raw > 0, raw, np.nan))
        extra = np.column_stack([log_close, flat, max_abs, lag_vol, np.log(self._har(window))])
        X = window.X[FEATURES].to_numpy(dtype=np.float64, na_value=np.nan)
        return np.column_stack([har_inputs(window, float(self.halflife_weeks)), X, extra])

    # --- fit ---------------------------------------------------------------------------------------
    def _params(self) -> dict[str, Any]:
        return {
            "objective": "none",
            "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            "min_data_in_leaf": int(self.min_data_in_leaf),
            "feature_fraction": float(self.feature_fraction),
            "bagging_fraction": float(self.bagging_fraction),
            "bagging_freq": 1 if float(self.bagging_fraction) < 1.0 else 0,
            "lambda_l2": float(self.lambda_l2),
            "seed": int(self.seed),
            "deterministic": True,
            "force_row_wise": True,
            "num_threads": int(self.num_threads),
            "verbosity": -1,
        }

    def _fit(self, train: WindowLike, tune: WindowLike) -> None:
        check_window(train, [*FEATURES, *HAR_FEATURES])
        self.features_ = list(FEATURES)
        self.transformer_ = None
        # the linear HAR start, on every training row
        self.har_coef_, self.har_intercept_, self.har_medians_ = fit_har_scale(
            train, float(self.halflife_weeks), float(self.har_alpha), float(self.floor)
        )
        y, mask = finite_returns(train)
        ratio = np.abs(y[mask]) / self._har(train)[mask]
        # median |z| of a normal is 0.6745: the start is a normal scale, not a |y| level
        self.init_shift_ = float(np.log(max(np.median(ratio), 1e-6) / 0.6745))
        fit_w, stop_w = split_calibration_tail(train, float(self.inner_fraction), int(self.horizon))
        self.booster_, self.best_iteration_ = self._boost(fit_w, stop_w)

    def _start(self, window: WindowLike) -> np.ndarray:
        return np.log(self._har(window)) + self.init_shift_

    def _boost(self, fit_w: WindowLike, stop_w: WindowLike) -> tuple[lgb.Booster | None, int]:
        y_f, m_f = finite_returns(fit_w)
        y_s, m_s = finite_returns(stop_w)
        if m_f.sum() < 2 * int(self.min_data_in_leaf) or not m_s.any():
            return None, 0  # too few rows for one split: the linear start is the model
        names = self.input_names_
        dtrain = lgb.Dataset(self._inputs(fit_w)[m_f], label=y_f[m_f],
                             init_score=self._start(fit_w)[m_f], feature_name=names)  # fmt: skip
        dstop = lgb.Dataset(self._inputs(stop_w)[m_s], label=y_s[m_s],
                            init_score=self._start(stop_w)[m_s], reference=dtrain)  # fmt: skip

        def objective(preds: np.ndarray, data: lgb.Dataset) -> tuple[np.ndarray, np.ndarray]:
            # ``preds`` are the raw log scales, init score included
            return crps_log_scale_grad_hess(preds, data.get_label())

        def crps(preds: np.ndarray, data: lgb.Dataset) -> tuple[str, float, bool]:
            return "crps", float(_normal_crps(data.get_label(), preds).mean()), False

        booster = lgb.train(
            {**self._params(), "objective": objective, "metric": "None"},
            dtrain,
            num_boost_round=int(self.n_estimators),
            valid_sets=[dstop],
            valid_names=["stop"],
            feval=crps,
            callbacks=[lgb.early_stopping(int(self.early_stopping_rounds), verbose=False)],
        )
        best = int(booster.best_iteration)
        start_crps = float(_normal_crps(y_s[m_s], self._start(stop_w)[m_s]).mean())
        best_crps = float(booster.best_score["stop"]["crps"]) if best > 0 else math.inf
        if best <= 0 or not best_crps < start_crps:
            return None, 0  # the trees never improved the held-out CRPS: keep the linear start
        return lgb.Booster(model_str=booster.model_to_string(num_iteration=best)), best

    # --- predict -----------------------------------------------------------------------------------
    def log_scale(self, window: WindowLike) -> np.ndarray:
        """The fitted log normal scale of each row (before the conformal factor)."""
        self._check_fitted()
        f = self._start(window)
        if self.booster_ is not None:
            f = f + self.booster_.predict(
                self._inputs(window), raw_score=True, num_threads=int(self.num_threads)
            )
        return np.clip(f, -9.0, 1.0)

    def scale_basis(self, window: WindowLike) -> np.ndarray:
        return np.exp(self.log_scale(window))

    def predict(self, window: WindowLike) -> np.ndarray:
        self._check_fitted()
        check_window(window)
        return np.zeros(len(window), dtype=np.float64)

    # --- persistence -------------------------------------------------------------------------------
    def _get_state(self) -> dict[str, Any]:
        return {
            **self._conformal_state(),
            "har_coef": [float(c) for c in self.har_coef_],
            "har_intercept": self.har_intercept_,
            "har_medians": [float(v) for v in self.har_medians_],
            "init_shift": self.init_shift_,
            "best_iteration": self.best_iteration_,
            "booster_file": BOOSTER_FILE if self.booster_ is not None else None,
        }

    def _save_weights(self, path: Path) -> None:
        if self.booster_ is not None:
            self.booster_.save_model(str(path / BOOSTER_FILE))

    def _set_state(self, state: dict[str, Any], path: Path) -> None:
        self._set_conformal_state(state)
        self.har_coef_ = np.asarray(state["har_coef"], dtype=np.float64)
        self.har_intercept_ = float(state["har_intercept"])
        self.har_medians_ = np.asarray(state["har_medians"], dtype=np.float64)
        if self.har_coef_.shape != (len(HAR_INPUTS),) or self.har_medians_.shape != (
            len(HAR_INPUTS),
        ):
            raise ValueError("har_coef/har_medians must have one value per HAR input")
        self.init_shift_ = float(state["init_shift"])
        self.best_iteration_ = int(state["best_iteration"])
        file = state.get("booster_file")
        self.booster_ = _load_booster(path, file) if file else None
