"""Models layer: price (4-week log return + conformal interval) and pattern (calibrated 3-class) models.

Torch-based models (``SequencePatternModel``, ``CnnBiLstmAttentionModel``, transfer learning) are
imported lazily on first attribute access so that light consumers (API, CLI) do not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from stockvision.models.arima import ArimaPriceModel
from stockvision.models.base import (
    Model,
    ModelLoadError,
    NotFittedError,
    PatternModel,
    PriceModel,
    load_model,
)
from stockvision.models.baselines import (
    DriftModel,
    MajorityClassModel,
    MomentumSignModel,
    RandomWalkModel,
)
from stockvision.models.calibration import apply_temperature, fit_temperature
from stockvision.models.conformal import conformal_quantile
from stockvision.models.lgbm import LGBMPatternModel, LGBMPriceModel
from stockvision.models.price import RidgePriceModel
from stockvision.models.registry_names import (
    BASELINES,
    FALLBACK,
    MODEL_FACTORIES,
    PATTERN_MODELS,
    PRICE_MODELS,
    ModelContext,
    check_model_names,
    make_model,
    model_params,
)

_LAZY = {
    "SequencePatternModel": "stockvision.models.sequence",
    "CnnBiLstmAttentionModel": "stockvision.models.cnn_bilstm",
    "TorchPatternModel": "stockvision.models.torch_training",
    "run_transfer_experiment": "stockvision.models.transfer",
    "fine_tune": "stockvision.models.transfer",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'stockvision.models' has no attribute {name!r}")


__all__ = [
    "BASELINES",
    "FALLBACK",
    "MODEL_FACTORIES",
    "PATTERN_MODELS",
    "PRICE_MODELS",
    "ArimaPriceModel",
    "CnnBiLstmAttentionModel",
    "DriftModel",
    "LGBMPatternModel",
    "LGBMPriceModel",
    "MajorityClassModel",
    "Model",
    "ModelContext",
    "ModelLoadError",
    "MomentumSignModel",
    "NotFittedError",
    "PatternModel",
    "PriceModel",
    "RandomWalkModel",
    "RidgePriceModel",
    "SequencePatternModel",
    "TorchPatternModel",
    "apply_temperature",
    "check_model_names",
    "conformal_quantile",
    "fine_tune",
    "fit_temperature",
    "load_model",
    "make_model",
    "model_params",
    "run_transfer_experiment",
]
