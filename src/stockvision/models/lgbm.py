"""LightGBM on the flat weekly features: a log-return regressor and a 3-class pattern classifier.

Deterministic training (fixed seeds, ``deterministic=True``, row-wise histograms, ``num_threads``
fixed, default 2) so a retrain on the same data gives the same trees. On a busy machine OpenMP
threads spin against each other; ``num_threads=1`` is then much faster for week-sized data.
Boosting rounds are chosen by early stopping on the validation window (without one: the held-out
latest weeks of train). The fitted booster is kept as
its native text model, which is also what ``save`` writes, so a loaded model predicts identically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from stockvision.features.labels import PATTERN_CLASSES
from stockvision.models._windows import (
    WindowLike,
    check_window,
    split_calibration_tail,
    window_features,
)
from stockvision.models.base import ModelLoadError, PatternModel, PriceModel
from stockvision.models.calibration import apply_temperature, fit_temperature

BOOSTER_FILE = "booster.txt"


def _params(model: Any, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "learning_rate": float(model.learning_rate),
        "num_leaves": int(model.num_leaves),
        "min_data_in_leaf": int(model.min_data_in_leaf),
        "feature_fraction": float(model.feature_fraction),
        "bagging_fraction": float(model.bagging_fraction),
        "bagging_freq": 1 if float(model.bagging_fraction) < 1.0 else 0,
        "lambda_l2": float(model.lambda_l2),
        "seed": int(model.seed),
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": int(model.num_threads),
        "verbosity": -1,
        **extra,
    }


def _train(
    params: dict[str, Any],
    x_tr: np.ndarray,
    y_tr: np.ndarray,
    x_va: np.ndarray,
    y_va: np.ndarray,
    n_estimators: int,
    early_stopping_rounds: int,
    features: list[str],
) -> tuple[lgb.Booster, int]:
    dtrain = lgb.Dataset(x_tr, y_tr, feature_name=features, free_raw_data=True)
    dval = lgb.Dataset(x_va, y_va, reference=dtrain)
    booster = lgb.train(
        params,
        dtrain,
        num_boost_round=int(n_estimators),
        valid_sets=[dval],
        callbacks=[lgb.early_stopping(int(early_stopping_rounds), verbose=False)],
    )
    best = int(booster.best_iteration) or booster.current_iteration()
    # Keep exactly the trees that are saved: reload from the text model of the best iteration.
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best)), best


def _load_booster(path: Path, name: str) -> lgb.Booster:
    file = path / name
    if not file.is_file():
        raise ModelLoadError(file, "booster file not found")
    try:
        return lgb.Booster(model_file=str(file))
    except Exception as exc:
        raise ModelLoadError(
            file, f"unreadable LightGBM model ({type(exc).__name__}: {exc})"
        ) from exc


class LGBMPriceModel(PriceModel):
    """LightGBM regression of the 4-week log return; split-conformal interval on validation."""

    name = "lgbm_reg"

    def __init__(
        self,
        n_estimators: int = 1000,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_data_in_leaf: int = 40,
        feature_fraction: float = 0.8,
        bagging_fraction: float = 0.8,
        lambda_l2: float = 1.0,
        early_stopping_rounds: int = 50,
        objective: str = "regression",
        coverage: float = 0.8,
        seed: int = 42,
        num_threads: int = 2,
        horizon: int = 4,
    ) -> None:
        self.horizon = horizon
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_data_in_leaf = min_data_in_leaf
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.lambda_l2 = lambda_l2
        self.early_stopping_rounds = early_stopping_rounds
        self.objective = objective
        self.coverage = coverage
        self.seed = seed
        self.num_threads = num_threads

    def _fit(self, train: WindowLike, tune: WindowLike) -> None:
        self._fit_transformer(train, window_features(train))
        y_tr = train.labels["future_log_return"].to_numpy(dtype=np.float64, na_value=np.nan)
        y_va = tune.labels["future_log_return"].to_numpy(dtype=np.float64, na_value=np.nan)
        m_tr, m_va = np.isfinite(y_tr), np.isfinite(y_va)
        params = _params(self, {"objective": self.objective, "metric": "l1"})
        self.booster_, self.best_iteration_ = _train(
            params,
            self._matrix(train)[m_tr],
            y_tr[m_tr],
            self._matrix(tune)[m_va],
            y_va[m_va],
            self.n_estimators,
            self.early_stopping_rounds,
            self.features_,
        )

    def predict(self, window: WindowLike) -> np.ndarray:
        return np.asarray(
            self.booster_.predict(self._matrix(window), num_threads=int(self.num_threads)),
            dtype=np.float64,
        )

    def contributions(self, window: WindowLike) -> pd.DataFrame:
        """Per-row TreeSHAP contribution of each feature (they sum to ``predict`` minus the base)."""
        contrib = self.booster_.predict(
            self._matrix(window), pred_contrib=True, num_threads=int(self.num_threads)
        )
        return pd.DataFrame(contrib[:, :-1], index=window.X.index, columns=self.features_)

    def _get_state(self) -> dict[str, Any]:
        return {
            **self._conformal_state(),
            "best_iteration": self.best_iteration_,
            "booster_file": BOOSTER_FILE,
        }

    def _save_weights(self, path: Path) -> None:
        self.booster_.save_model(str(path / BOOSTER_FILE))

    def _set_state(self, state: dict[str, Any], path: Path) -> None:
        self._set_conformal_state(state)
        self.best_iteration_ = int(state["best_iteration"])
        self.booster_ = _load_booster(path, state["booster_file"])


class LGBMPatternModel(PatternModel):
    """LightGBM multiclass classifier; raw scores temperature-scaled on the validation window."""

    name = "lgbm_clf"
    val_fraction = 0.15

    def __init__(
        self,
        n_estimators: int = 1000,
        learning_rate: float = 0.03,
        num_leaves: int = 15,
        min_data_in_leaf: int = 40,
        feature_fraction: float = 0.8,
        bagging_fraction: float = 0.8,
        lambda_l2: float = 1.0,
        early_stopping_rounds: int = 50,
        seed: int = 42,
        num_threads: int = 2,
        horizon: int = 4,
    ) -> None:
        self.horizon = horizon
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_data_in_leaf = min_data_in_leaf
        self.feature_fraction = feature_fraction
        self.bagging_fraction = bagging_fraction
        self.lambda_l2 = lambda_l2
        self.early_stopping_rounds = early_stopping_rounds
        self.seed = seed
        self.num_threads = num_threads

    def fit(self, train: WindowLike, val: WindowLike | None = None) -> LGBMPatternModel:
        check_window(train, require="pattern")
        if val is not None:
            check_window(val, require="pattern")
            fit_w, val_w = train, val
        else:
            fit_w, val_w = split_calibration_tail(train, self.val_fraction, int(self.horizon))
        self._fit_transformer(fit_w, window_features(fit_w))
        y_tr, m_tr = self._labelled(fit_w)
        y_va, m_va = self._labelled(val_w)
        if not m_va.any():
            raise ValueError("the validation window has no labelled rows; use an earlier window")
        x_va = self._matrix(val_w)[m_va]
        params = _params(
            self,
            {
                "objective": "multiclass",
                "num_class": len(PATTERN_CLASSES),
                "metric": "multi_logloss",
            },
        )
        self.booster_, self.best_iteration_ = _train(
            params,
            self._matrix(fit_w)[m_tr],
            y_tr[m_tr],
            x_va,
            y_va[m_va],
            self.n_estimators,
            self.early_stopping_rounds,
            self.features_,
        )
        self.temperature_ = fit_temperature(self._raw(x_va), y_va[m_va])
        return self

    def _raw(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(
            self.booster_.predict(x, raw_score=True, num_threads=int(self.num_threads)),
            dtype=np.float64,
        )

    def predict_proba(self, window: WindowLike, calibrated: bool = True) -> np.ndarray:
        t = self.temperature_ if calibrated else 1.0
        return apply_temperature(self._raw(self._matrix(window)), t)

    def _get_state(self) -> dict[str, Any]:
        return {
            "temperature": self.temperature_,
            "best_iteration": self.best_iteration_,
            "booster_file": BOOSTER_FILE,
        }

    def _save_weights(self, path: Path) -> None:
        self.booster_.save_model(str(path / BOOSTER_FILE))

    def _set_state(self, state: dict[str, Any], path: Path) -> None:
        self.temperature_ = float(state["temperature"])
        self.best_iteration_ = int(state["best_iteration"])
        self.booster_ = _load_booster(path, state["booster_file"])
