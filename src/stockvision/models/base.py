"""Common interface and persistence of every Stock Vision model.

A saved model is a directory holding ``model.json`` (format version, class, constructor params, feature
list, the fitted :class:`~stockvision.features.FeatureTransformer` as a dict, small fitted state) plus
weights in a pickle-free format chosen by the model (numpy ``.npz`` without object arrays, LightGBM's
text model, a torch ``state_dict`` read back with ``weights_only=True``, JSON). Nothing is unpickled on
load, so a model directory downloaded from a registry cannot execute code.
"""

from __future__ import annotations

import importlib
import inspect
import json
import math
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from stockvision import __version__
from stockvision.errors import ModelLoadError, NotFittedError
from stockvision.features.labels import PATTERN_CLASSES
from stockvision.features.transformers import FeatureTransformer
from stockvision.jsonutil import jsonable
from stockvision.models._windows import (
    WindowLike,
    check_window,
    finite_returns,
    pattern_codes,
    split_calibration_tail,
)
from stockvision.models.conformal import conformal_quantile
from stockvision.models.distribution import (
    ReturnDistribution,
    fit_scale_power,
    fit_tail_df,
    scale_for_coverage,
    shaped_basis,
)

#: The newest ``model.json`` format this code writes. A file is written at the LOWEST format that
#: describes it (:meth:`Model._format_version`), so code that reads only format 1 still loads
#: every model it can serve correctly, and refuses, rather than misreads, one it cannot: format 2
#: adds the reshaped scale basis (``scale_power`` != 1), which format-1 readers would ignore and
#: then serve widths fitted for another basis.
FORMAT_VERSION = 2
READABLE_FORMATS: tuple[int, ...] = (1, 2)
MODEL_FILE = "model.json"


def _write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True, allow_nan=False), encoding="utf-8")
    os.replace(tmp, path)


def read_model_json(path: Path | str) -> dict[str, Any]:
    """Read and validate ``<path>/model.json``; raise :class:`ModelLoadError` on any problem."""
    file = Path(path) / MODEL_FILE
    if not file.is_file():
        raise ModelLoadError(file, "file not found (is this a saved model directory?)")
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(file, f"not valid JSON ({exc})") from exc
    if not isinstance(meta, dict):
        raise ModelLoadError(file, "expected a JSON object")
    missing = [k for k in ("format_version", "class", "module", "params", "state") if k not in meta]
    if missing:
        raise ModelLoadError(file, f"missing keys {missing}")
    if meta["format_version"] not in READABLE_FORMATS:
        readable = ", ".join(str(v) for v in READABLE_FORMATS)
        raise ModelLoadError(
            file,
            f"format version {meta['format_version']!r}, this Stock Vision reads {readable} "
            "(upgrade stockvision, or retrain the model with this version)",
        )
    return meta


class Model(ABC):
    """Base of every model: sklearn-style params, ``fit``, pickle-free ``save`` / ``load``.

    Subclasses implement ``_get_state`` (JSON-able fitted state), ``_save_weights`` and
    ``_set_state`` (restore from that state plus the weight files in the directory).
    """

    name: str = "model"
    kind: ClassVar[Literal["price", "pattern"]]
    #: False for models reading raw features (baselines, ARIMA): they save no transformer.
    uses_transformer: ClassVar[bool] = True

    features_: list[str]
    transformer_: FeatureTransformer | None

    # --- sklearn conventions -------------------------------------------------------------------
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [
            p.name
            for p in sig.parameters.values()
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
        ]

    def get_params(self, deep: bool = False) -> dict[str, Any]:
        return {p: getattr(self, p) for p in self._param_names()}

    def set_params(self, **params: Any) -> Model:
        valid = set(self._param_names())
        for key, value in params.items():
            if key not in valid:
                raise ValueError(
                    f"{type(self).__name__} has no parameter {key!r}; valid: {sorted(valid)}"
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    @property
    def is_fitted(self) -> bool:
        return hasattr(self, "features_")

    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(
                f"{type(self).__name__} is not fitted; call fit(train, val) or load(path)"
            )

    # --- features ------------------------------------------------------------------------------
    def _fit_transformer(self, window: WindowLike, features: list[str]) -> None:
        self.features_ = list(features)
        self.transformer_ = FeatureTransformer().fit(window.X[self.features_])

    def _matrix(self, window: WindowLike) -> np.ndarray:
        """Transformed flat features of a window, in the training feature order."""
        self._check_fitted()
        check_window(window, self.features_)
        assert self.transformer_ is not None
        return np.asarray(self.transformer_.transform(window.X[self.features_]), dtype=np.float64)

    # --- fitting -------------------------------------------------------------------------------
    @abstractmethod
    def fit(self, train: WindowLike, val: WindowLike | None = None) -> Model: ...

    # --- persistence ---------------------------------------------------------------------------
    @abstractmethod
    def _get_state(self) -> dict[str, Any]:
        """Small fitted state as JSON-able values (written into model.json)."""

    def _save_weights(self, path: Path) -> None:  # noqa: B027 - optional hook
        """Write weight files into ``path`` (models whose state fits in JSON need none)."""

    @abstractmethod
    def _set_state(self, state: dict[str, Any], path: Path) -> None:
        """Restore fitted state from ``state`` and the weight files in ``path``."""

    def _format_version(self) -> int:
        """The lowest ``model.json`` format that describes this fitted model (see
        :data:`FORMAT_VERSION`)."""
        return 1

    def save(self, path: Path | str) -> Path:
        """Save into directory ``path`` (created if needed); returns the directory."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self._save_weights(path)
        meta = {
            "format_version": self._format_version(),
            "class": type(self).__name__,
            "module": type(self).__module__,
            "name": self.name,
            "kind": self.kind,
            "params": jsonable(self.get_params(), "repr"),
            "features": list(self.features_),
            "transformer": (
                jsonable(self.transformer_.to_dict(), "repr")
                if self.transformer_ is not None
                else None
            ),
            "state": jsonable(self._get_state(), "repr"),
            "stockvision_version": __version__,
        }
        _write_json_atomic(path / MODEL_FILE, meta)
        return path

    @classmethod
    def load(cls, path: Path | str) -> Model:
        """Load a model saved by :meth:`save`; raise :class:`ModelLoadError` if it is unusable."""
        path = Path(path)
        meta = read_model_json(path)
        file = path / MODEL_FILE
        klass = _resolve_class(meta, file)
        if not issubclass(klass, cls):
            raise ModelLoadError(file, f"holds a {klass.__name__}, not a {cls.__name__}")
        try:
            model = klass(**_restore_params(klass, meta["params"]))
            model.features_ = [str(f) for f in meta.get("features", [])]
            tdict = meta.get("transformer")
            model.transformer_ = FeatureTransformer.from_dict(tdict) if tdict is not None else None
            model._set_state(meta["state"], path)
        except ModelLoadError:
            raise
        except Exception as exc:  # any inconsistency in the saved state means the file is corrupt
            raise ModelLoadError(
                file, f"inconsistent saved state ({type(exc).__name__}: {exc})"
            ) from exc
        return model


def _restore_params(klass: type[Model], params: dict[str, Any]) -> dict[str, Any]:
    """JSON turns tuples into lists; give tuple-defaulted params their tuple back."""
    sig = inspect.signature(klass.__init__)
    out: dict[str, Any] = {}
    for key, value in params.items():
        if key not in sig.parameters:
            continue  # a param removed in a later version: ignore rather than fail
        default = sig.parameters[key].default
        if isinstance(default, tuple) and isinstance(value, list):
            value = tuple(tuple(v) if isinstance(v, list) else v for v in value)
        out[key] = value
    return out


def _resolve_class(meta: dict[str, Any], file: Path) -> type[Model]:
    module_name, class_name = str(meta["module"]), str(meta["class"])
    if not module_name.startswith("stockvision.models."):
        raise ModelLoadError(file, f"module {module_name!r} is not a Stock Vision model module")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ModelLoadError(file, f"unknown model module {module_name!r}") from exc
    klass = getattr(module, class_name, None)
    if not (isinstance(klass, type) and issubclass(klass, Model)):
        raise ModelLoadError(file, f"unknown model class {class_name!r}")
    return klass


def load_model(path: Path | str) -> Model:
    """Load any saved model, dispatching on the class recorded in ``model.json``."""
    return Model.load(path)


def load_npz(path: Path, name: str) -> dict[str, np.ndarray]:
    """Read an ``.npz`` weight file without allowing pickled objects."""
    file = path / name
    if not file.is_file():
        raise ModelLoadError(file, "weight file not found")
    try:
        with np.load(file, allow_pickle=False) as data:
            return {k: data[k] for k in data.files}
    except Exception as exc:
        raise ModelLoadError(file, f"unreadable weights ({type(exc).__name__}: {exc})") from exc


class PriceModel(Model):
    """Predicts the 4-week forward LOG return as a distribution; intervals are split-conformal.

    ``fit`` calibrates the interval half-width on ``val`` (the model never trains on it). Without
    ``val`` the latest ``calibration_fraction`` of the training weeks is held out instead (after a
    purge gap of ``horizon`` weeks so overlapping labels do not leak) and the model is fitted on the
    earlier weeks only: a residual computed on data the model saw would understate the error.

    The conformal score is the residual divided by :meth:`scale_basis` (1 for every row by
    default: the constant-width interval; a volatility forecast for the volatility-aware models),
    so the half-width of row ``i`` is ``conformal_q_ * basis_i``. :meth:`predict_distribution`
    turns that into one Student-t per row whose central ``coverage`` interval IS the conformal
    interval; its tail ``df`` is fitted on the same calibration rows (lowest CRPS of a small grid).

    Models with a varying basis may take a ``scale_power`` parameter: a number bends the basis to
    ``ref * (basis / ref) ** scale_power`` (``ref`` its median on the calibration rows), ``"fit"``
    chooses the exponent on the calibration rows by CRPS (:func:`fit_scale_power`); 1, the
    default of every model without the parameter, serves the basis as it is.
    """

    kind: ClassVar[Literal["price"]] = "price"
    calibration_fraction: ClassVar[float] = 0.15

    coverage: float
    #: overridden by the constructor parameter of the models that take one
    scale_power: float | str = 1.0

    def scale_basis(self, window: WindowLike) -> np.ndarray:
        """Relative spread of each row's forecast (conformal scores are residuals / basis)."""
        return np.ones(len(window), dtype=np.float64)

    def fit(self, train: WindowLike, val: WindowLike | None = None) -> PriceModel:
        check_window(train, require="return")
        if not 0.0 < float(self.coverage) < 1.0:
            raise ValueError(f"coverage must be in (0, 1), got {self.coverage!r}")
        if val is not None:
            check_window(val, require="return")
            fit_w, cal_w = train, val
        else:
            fit_w, cal_w = split_calibration_tail(
                train, self.calibration_fraction, int(self.horizon)
            )
        self._fit(fit_w, cal_w)
        cal_w = self._calibration_window(fit_w, cal_w)
        y_cal, mask = finite_returns(cal_w)
        raw = (y_cal - self.predict(cal_w))[mask]
        basis = self.scale_basis(cal_w)[mask]
        self.scale_power_, self.basis_ref_ = self._fit_scale_power(raw, basis)
        resid = raw / shaped_basis(basis, self.scale_power_, self.basis_ref_)
        self.conformal_q_ = conformal_quantile(resid, float(self.coverage))
        self.n_calibration_ = int(mask.sum())
        self.tail_df_ = fit_tail_df(resid / self.conformal_q_, float(self.coverage))
        self.class_prior_ = _class_frequencies(train)
        return self

    def _fit_scale_power(self, resid: np.ndarray, basis: np.ndarray) -> tuple[float, float]:
        """(power, ref) of the basis reshaping (see the class docstring)."""
        power = self.scale_power
        if isinstance(power, str):
            if power != "fit":
                raise ValueError(f'scale_power must be a number or "fit", got {power!r}')
            return fit_scale_power(resid, basis, float(self.coverage))
        power = float(power)
        if not 0.0 < power <= 3.0:
            raise ValueError(f"scale_power must be in (0, 3], got {power!r}")
        ok = np.isfinite(basis) & (basis > 0)
        ref = float(np.median(basis[ok])) if power != 1.0 and ok.any() else 1.0
        return power, ref

    def _format_version(self) -> int:
        return 2 if float(getattr(self, "scale_power_", 1.0)) != 1.0 else 1

    def _half_width(self, window: WindowLike) -> np.ndarray:
        """Per row, the conformal half-width of the ``coverage`` interval."""
        power = float(getattr(self, "scale_power_", 1.0))
        ref = float(getattr(self, "basis_ref_", 1.0))
        return self.conformal_q_ * shaped_basis(self.scale_basis(window), power, ref)

    def _calibration_window(self, fit_w: WindowLike, cal_w: WindowLike) -> WindowLike:
        """The rows the conformal factor and the tails are fitted on: the held-out ``cal_w``.

        Models that fit nothing on the rows' labels may override this (``calibration="train"``
        of the random walks: one width for the whole training history).
        """
        return cal_w

    @abstractmethod
    def _fit(self, train: WindowLike, tune: WindowLike) -> None:
        """Fit on ``train``; ``tune`` may be used for model selection / early stopping."""

    @abstractmethod
    def predict(self, window: WindowLike) -> np.ndarray:
        """Predicted 4-week log return per row."""

    def predict_interval(self, window: WindowLike) -> tuple[np.ndarray, np.ndarray]:
        """(low, high) log-return bounds with nominal coverage ``self.coverage``."""
        pred = self.predict(window)
        half = self._half_width(window)
        return pred - half, pred + half

    def predict_distribution(self, window: WindowLike) -> ReturnDistribution:
        """The predictive distribution of each row's log return (see the class docstring)."""
        pred = np.asarray(self.predict(window), dtype=np.float64)
        half = self._half_width(window)
        df = float(getattr(self, "tail_df_", math.inf))
        scale = scale_for_coverage(np.maximum(half, 1e-6), float(self.coverage), df)
        return ReturnDistribution(pred, scale, df)

    def predict_price(self, window: WindowLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(target, low, high) in VND: ``raw_close * exp(log return)``."""
        raw_close = window.labels["raw_close"].to_numpy(dtype=np.float64)
        pred = self.predict(window)
        low, high = self.predict_interval(window)
        return raw_close * np.exp(pred), raw_close * np.exp(low), raw_close * np.exp(high)

    def _conformal_state(self) -> dict[str, Any]:
        df = float(getattr(self, "tail_df_", math.inf))
        return {
            "conformal_q": float(self.conformal_q_),
            "n_calibration": self.n_calibration_,
            "scale_power": float(getattr(self, "scale_power_", 1.0)),
            "basis_ref": float(getattr(self, "basis_ref_", 1.0)),
            # JSON has no infinity: the normal is stored as null
            "tail_df": df if math.isfinite(df) else None,
            "class_prior": (
                None
                if getattr(self, "class_prior_", None) is None
                else [float(v) for v in self.class_prior_]
            ),
        }

    def _set_conformal_state(self, state: dict[str, Any]) -> None:
        self.conformal_q_ = float(state["conformal_q"])
        self.n_calibration_ = int(state["n_calibration"])
        # models saved before the basis could be reshaped serve it as it is
        self.scale_power_ = float(state.get("scale_power", 1.0))
        self.basis_ref_ = float(state.get("basis_ref", 1.0))
        df = state.get("tail_df")  # models saved before distributions existed: normal tails
        self.tail_df_ = float(df) if df is not None else math.inf
        prior = state.get("class_prior")
        self.class_prior_ = None if prior is None else np.asarray(prior, dtype=np.float64)


def _class_frequencies(window: WindowLike) -> np.ndarray | None:
    """Training class frequencies (DOWN, SIDEWAYS, UP; add-one), the base rate shown to users."""
    if "pattern" not in window.labels.columns:
        return None
    codes, mask = pattern_codes(window)
    if not mask.any():
        return None
    counts = np.bincount(codes[mask], minlength=len(PATTERN_CLASSES)).astype(np.float64) + 1.0
    return counts / counts.sum()


class PatternModel(Model):
    """Predicts UP/DOWN/SIDEWAYS; ``predict_proba`` columns follow ``PATTERN_CLASSES``."""

    kind: ClassVar[Literal["pattern"]] = "pattern"
    classes_: ClassVar[list[str]] = list(PATTERN_CLASSES)

    @abstractmethod
    def predict_proba(self, window: WindowLike) -> np.ndarray:
        """Calibrated class probabilities, shape (n, 3), columns DOWN, SIDEWAYS, UP."""

    def predict(self, window: WindowLike) -> np.ndarray:
        """Most probable class code per row (index into ``PATTERN_CLASSES``)."""
        return np.argmax(self.predict_proba(window), axis=1).astype(np.int64)

    @staticmethod
    def _labelled(window: WindowLike) -> tuple[np.ndarray, np.ndarray]:
        """(codes, mask of labelled rows) of a window."""
        return pattern_codes(window)


__all__ = [
    "FORMAT_VERSION",
    "MODEL_FILE",
    "READABLE_FORMATS",
    "Model",
    "ModelLoadError",
    "NotFittedError",
    "PatternModel",
    "PriceModel",
    "load_model",
    "load_npz",
    "read_model_json",
]
