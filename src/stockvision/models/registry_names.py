"""Model names used by the pipeline, registry and CLI, mapped to constructors.

Torch models are imported lazily so that listing or building a non-torch model stays light.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    "random_walk": _random_walk,
    "drift": _drift,
    "lstm": _lstm,
    "gru": _gru,
    "cnn_bilstm_attn": _cnn_bilstm_attn,
    "lgbm_clf": _lgbm_clf,
    "majority": _majority,
    "momentum_sign": _momentum_sign,
}
PRICE_MODELS: list[str] = ["ridge", "lgbm_reg", "arima"]
PATTERN_MODELS: list[str] = ["lstm", "gru", "cnn_bilstm_attn", "lgbm_clf"]
BASELINES: list[str] = ["random_walk", "drift", "majority", "momentum_sign"]
PRICE_BASELINES: list[str] = ["random_walk", "drift"]
PATTERN_BASELINES: list[str] = ["majority", "momentum_sign"]


def make_model(name: str, **params: Any) -> Model:
    """Build the model registered as ``name`` with constructor ``params``."""
    try:
        factory = MODEL_FACTORIES[name]
    except KeyError:
        raise ValueError(
            f"unknown model {name!r}; choose one of {sorted(MODEL_FACTORIES)}"
        ) from None
    return factory(**params)
