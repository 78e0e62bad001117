"""Feature transformer fitted on a training window only: winsorise, standardise, impute with 0.

Order matters: clipping at the training quantiles first keeps a few extreme weeks (a 7% limit-up
streak, a near-zero-volume week) from inflating the scale; after standardisation the training
mean is 0, so imputing NaN with 0 means "impute the training mean" without a second statistic.
All fitted state is plain numpy arrays, so ``to_dict``/``from_dict`` round-trip through JSON and
models can save it without pickle.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError

_FITTED = ("lower_", "upper_", "mean_", "scale_")


class FeatureTransformer(TransformerMixin, BaseEstimator):
    """Winsorise at training quantiles, standard-scale with training mean/std, then NaN -> 0.

    Parameters
    ----------
    lower_quantile, upper_quantile:
        Clip bounds, as quantiles of each training column (NaN ignored). ``0`` and ``1`` disable
        winsorising.
    """

    def __init__(self, lower_quantile: float = 0.01, upper_quantile: float = 0.99) -> None:
        self.lower_quantile = lower_quantile
        self.upper_quantile = upper_quantile

    # --- sklearn API ------------------------------------------------------------------------
    def fit(self, X: pd.DataFrame | np.ndarray, y: Any = None) -> FeatureTransformer:
        """Learn clip bounds, mean and std per column from the training rows ``X``."""
        if not 0.0 <= self.lower_quantile < self.upper_quantile <= 1.0:
            raise ValueError(
                "need 0 <= lower_quantile < upper_quantile <= 1, got "
                f"{self.lower_quantile} and {self.upper_quantile}"
            )
        arr = self._as_array(X, fitting=True)
        if arr.shape[0] == 0:
            raise ValueError(
                "cannot fit FeatureTransformer on 0 rows; the training window is empty"
            )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns
            lower = np.nanquantile(arr, self.lower_quantile, axis=0)
            upper = np.nanquantile(arr, self.upper_quantile, axis=0)
            clipped = np.clip(arr, lower, upper)
            mean = np.nanmean(clipped, axis=0)
            std = np.nanstd(clipped, axis=0)
        empty = ~np.isfinite(mean)
        self.lower_ = np.where(empty, -np.inf, lower).astype(np.float64)
        self.upper_ = np.where(empty, np.inf, upper).astype(np.float64)
        self.mean_ = np.where(empty, 0.0, mean).astype(np.float64)
        self.scale_ = np.where(np.isfinite(std) & (std > 0), std, 1.0).astype(np.float64)
        self.n_features_in_ = arr.shape[1]
        return self

    def transform(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        """Transformed rows as float32 (n, n_features); NaN become 0 (the training mean)."""
        self._check_fitted()
        arr = self._as_array(X, fitting=False)
        out = (np.clip(arr, self.lower_, self.upper_) - self.mean_) / self.scale_
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)

    def transform_seq(self, seq: np.ndarray) -> np.ndarray:
        """Transform sequences of shape (n, seq_len, n_features) feature-wise; float32."""
        self._check_fitted()
        seq = np.asarray(seq, dtype=np.float64)
        if seq.ndim != 3 or seq.shape[2] != self.n_features_in_:
            raise ValueError(
                f"expected sequences of shape (n, seq_len, {self.n_features_in_}), got {seq.shape}"
            )
        n, length, f = seq.shape
        return self.transform(seq.reshape(n * length, f)).reshape(n, length, f)

    # --- persistence ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """JSON-able state (params and fitted arrays as lists; infinities as None)."""
        self._check_fitted()

        def enc(a: np.ndarray) -> list[float | None]:
            return [float(v) if np.isfinite(v) else None for v in a]

        out: dict[str, Any] = {
            "lower_quantile": float(self.lower_quantile),
            "upper_quantile": float(self.upper_quantile),
            "n_features_in": int(self.n_features_in_),
            "feature_names_in": (
                list(self.feature_names_in_) if hasattr(self, "feature_names_in_") else None
            ),
        }
        for name in _FITTED:
            out[name.rstrip("_")] = enc(getattr(self, name))
        return out

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> FeatureTransformer:
        """Rebuild a fitted transformer from :meth:`to_dict` output."""
        obj = cls(float(state["lower_quantile"]), float(state["upper_quantile"]))
        fill = {"lower": -np.inf, "upper": np.inf, "mean": 0.0, "scale": 1.0}
        for name in _FITTED:
            key = name.rstrip("_")
            vals = [fill[key] if v is None else float(v) for v in state[key]]
            setattr(obj, name, np.asarray(vals, dtype=np.float64))
        obj.n_features_in_ = int(state["n_features_in"])
        if state.get("feature_names_in") is not None:
            obj.feature_names_in_ = np.asarray(state["feature_names_in"], dtype=object)
        return obj

    # --- helpers ----------------------------------------------------------------------------
    def _check_fitted(self) -> None:
        if not hasattr(self, "mean_"):
            raise NotFittedError("FeatureTransformer is not fitted; call fit(train.X) first")

    def _as_array(self, X: pd.DataFrame | np.ndarray, fitting: bool) -> np.ndarray:
        if isinstance(X, pd.DataFrame):
            names = np.asarray([str(c) for c in X.columns], dtype=object)
            if fitting:
                self.feature_names_in_ = names
            elif hasattr(self, "feature_names_in_"):
                missing = [c for c in self.feature_names_in_ if c not in set(names)]
                if missing:
                    raise ValueError(
                        f"X lacks columns {missing} seen in fit; pass the same feature columns"
                    )
                X = X[list(self.feature_names_in_)]
            arr = X.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            arr = np.asarray(X, dtype=np.float64)
            if fitting and hasattr(self, "feature_names_in_"):
                del self.feature_names_in_
        if arr.ndim != 2:
            raise ValueError(f"expected a 2-D feature matrix, got shape {arr.shape}")
        if not fitting and arr.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {arr.shape[1]} features, the transformer was fitted on {self.n_features_in_}"
            )
        return arr
