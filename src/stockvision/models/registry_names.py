"""The one catalogue of model names (pipeline, evaluation, registry, CLI), mapped to constructors.

Torch models are imported lazily so that listing or building a non-torch model stays light.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from stockvision.errors import ConfigError
from stockvision.models.base import Model


def _ridge(**kw: Any) -> Model:
    from stockvision.models.price import RidgePriceModel

    return RidgePriceModel(**kw)


def _lgbm_reg(**kw: Any) -> Model:
    from stockvision.models.lgbm import LGBMPriceModel

    return LGBMPriceModel(**kw)


def _lgbm_clf(**kw: Any) -> Model:
    from stockvision.models.lgbm import LGBMPatternModel

    return LGBMPatternModel(**kw)


def _arima(**kw: Any) -> Model:
    from stockvision.models.arima import ArimaPriceModel

    return ArimaPriceModel(**kw)


def _random_walk(**kw: Any) -> Model:
    from stockvision.models.baselines import RandomWalkModel

    return RandomWalkModel(**kw)


def _vol_random_walk(**kw: Any) -> Model:
    from stockvision.models.volatility import VolRandomWalkModel

    return VolRandomWalkModel(**kw)


def _har_vol(**kw: Any) -> Model:
    from stockvision.models.volatility import HarVolModel

    return HarVolModel(**kw)


def _ridge_har(**kw: Any) -> Model:
    from stockvision.models.location_scale import RidgeHarModel

    return RidgeHarModel(**kw)


def _lgbm_vol(**kw: Any) -> Model:
    from stockvision.models.lgbm_vol import LGBMVolModel

    return LGBMVolModel(**kw)


def _factor_combo(**kw: Any) -> Model:
    from stockvision.models.factor_combo import FactorComboModel

    return FactorComboModel(**kw)


def _drift(**kw: Any) -> Model:
    from stockvision.models.baselines import DriftModel

    return DriftModel(**kw)


def _majority(**kw: Any) -> Model:
    from stockvision.models.baselines import MajorityClassModel

    return MajorityClassModel(**kw)


def _momentum_sign(**kw: Any) -> Model:
    from stockvision.models.baselines import MomentumSignModel

    return MomentumSignModel(**kw)


def _lstm(**kw: Any) -> Model:
    from stockvision.models.sequence import SequencePatternModel

    return SequencePatternModel(**{"arch": "lstm", **kw})


def _gru(**kw: Any) -> Model:
    from stockvision.models.sequence import SequencePatternModel

    return SequencePatternModel(**{"arch": "gru", **kw})


def _cnn_bilstm_attn(**kw: Any) -> Model:
    from stockvision.models.cnn_bilstm import CnnBiLstmAttentionModel

    return CnnBiLstmAttentionModel(**kw)


MODEL_FACTORIES: dict[str, Callable[..., Model]] = {
    "ridge": _ridge,
    "lgbm_reg": _lgbm_reg,
    "arima": _arima,
    "har_vol": _har_vol,
    "ridge_har": _ridge_har,
    "lgbm_vol": _lgbm_vol,
    "factor_combo": _factor_combo,
    "random_walk": _random_walk,
    "vol_random_walk": _vol_random_walk,
    "drift": _drift,
    "lstm": _lstm,
    "gru": _gru,
    "cnn_bilstm_attn": _cnn_bilstm_attn,
    "lgbm_clf": _lgbm_clf,
    "majority": _majority,
    "momentum_sign": _momentum_sign,
}
PRICE_MODELS: list[str] = [
    "ridge",
    "lgbm_reg",
    "arima",
    "har_vol",
    "ridge_har",
    "lgbm_vol",
    "factor_combo",
]
PATTERN_MODELS: list[str] = ["lstm", "gru", "cnn_bilstm_attn", "lgbm_clf"]
PRICE_BASELINES: list[str] = ["random_walk", "vol_random_walk", "drift"]
PATTERN_BASELINES: list[str] = ["majority", "momentum_sign"]
BASELINES: list[str] = PRICE_BASELINES + PATTERN_BASELINES
#: The naive baseline of each kind: trained next to every candidate, the bar a first model must clear,
#: and what is served (labelled) while nothing beats it. For prices it is the volatility-aware random
#: walk (a stock's own risk sets its range), not the constant-width one.
FALLBACK: dict[str, str] = {"price": "vol_random_walk", "pattern": "majority"}
#: The reference every skill score is measured against (always part of an evaluation): the
#: constant-width random walk, the same relative interval for every stock.
REFERENCE: dict[str, str] = {"price": "random_walk", "pattern": "majority"}
#: Plain-words names of the models, for the answers users read (vi, en).
PLAIN_NAMES: dict[str, tuple[str, str]] = {
    "vol_random_walk": (
        "mô hình biến động EWMA — mốc cơ sở",
        "EWMA-volatility random walk (baseline)",
    ),
    "random_walk": (
        "bước ngẫu nhiên biên độ cố định — mốc cơ sở",
        "constant-width random walk (baseline)",
    ),
    "drift": ("xu hướng trung bình lịch sử — mốc cơ sở", "historical drift (baseline)"),
    "har_vol": ("mô hình biến động học từ dữ liệu (HAR)", "learned volatility model (HAR)"),
    "ridge_har": (
        "mô hình Ridge (hướng, đã co về 0) + biến động HAR (biên độ)",
        "ridge location (shrunk) + learned HAR volatility",
    ),
    "lgbm_vol": (
        "mô hình biến động LightGBM (tối ưu CRPS)",
        "learned volatility model (LightGBM, fitted on the CRPS)",
    ),
    "factor_combo": (
        "kết hợp các nhân tố cổ điển (Ridge, đã co về 0) + biến động HAR",
        "fitted combination of the classic factors (ridge, shrunk) + HAR volatility",
    ),
    "ridge": ("hồi quy Ridge", "ridge regression"),
    "lgbm_reg": ("LightGBM hồi quy", "LightGBM regression"),
    "arima": ("ARIMA", "ARIMA"),
}


@dataclass(frozen=True)
class ModelContext:
    """What every model of one run shares: the label horizon and thresholds, seed, coverage.

    The factory passes these as constructor parameters, so a fitted model is fully described by its
    ``get_params()`` and never by the environment of the process that trained it.
    """

    horizon: int = 4
    up: float = 0.01
    down: float = -0.01
    seed: int = 42
    coverage: float = 0.8
    seq_len: int = 8
    num_threads: int = 1  # 2 threads were up to 40x slower on a busy 2-core machine (measured)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_settings(cls, settings: Any) -> ModelContext:
        """The context a ``Settings`` object describes (horizon, thresholds, seed, coverage)."""
        return cls(
            horizon=settings.horizon_weeks,
            up=settings.pattern_up,
            down=settings.pattern_down,
            seed=settings.seed,
            coverage=settings.interval_coverage,
            seq_len=settings.seq_len,
        )


def check_model_names(names: Iterable[str]) -> None:
    """Fail fast on a name that is not in :data:`MODEL_FACTORIES`, saying which names exist."""
    unknown = [n for n in names if n not in MODEL_FACTORIES]
    if unknown:
        raise ConfigError(
            f"Unknown model {', '.join(map(repr, unknown))} (settings SV_PRICE_MODEL / SV_PATTERN_MODEL).",
            f"Use one of: {', '.join(MODEL_FACTORIES)}.",
            message_vi=f"Không có mô hình {', '.join(map(repr, unknown))}.",
        )


def model_params(name: str, context: ModelContext) -> dict[str, Any]:
    """The constructor arguments of model ``name`` taken from ``context`` (those it accepts)."""
    check_model_names([name])
    accepted = set(MODEL_FACTORIES[name]().get_params())
    wanted = context.to_dict()
    return {k: v for k, v in wanted.items() if k in accepted}


def make_model(name: str, context: ModelContext | None = None, **params: Any) -> Model:
    """Build the model registered as ``name``: ``context``'s shared parameters, then ``params``."""
    check_model_names([name])
    shared = model_params(name, context) if context is not None else {}
    return MODEL_FACTORIES[name](**(shared | params))
