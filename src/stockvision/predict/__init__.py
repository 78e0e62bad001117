"""The prediction core: the ``Prediction`` type and the pure predictor every surface calls.

``Predictor.predict(window, models)`` turns the models' outputs for a feature window into predictions
with their drivers; ``load_panel`` gives the window of what the store holds. API, batch step, chat,
CLI, CSV upload and stream workers share it; it knows nothing about HTTP, threads or MLflow.
"""

from __future__ import annotations

from stockvision.predict.model_set import ModelSet
from stockvision.predict.panel import InferencePanel, load_panel
from stockvision.predict.predictor import Predictor, min_weeks
from stockvision.predict.types import (
    DISCLAIMER_EN,
    DISCLAIMER_VI,
    Caveat,
    Driver,
    ModelVersions,
    PatternProbabilities,
    Prediction,
    PriceInterval,
    ReturnDistributionInfo,
    ServingModel,
)

__all__ = [
    "DISCLAIMER_EN",
    "DISCLAIMER_VI",
    "Caveat",
    "Driver",
    "InferencePanel",
    "ModelSet",
    "ModelVersions",
    "PatternProbabilities",
    "Prediction",
    "Predictor",
    "PriceInterval",
    "ReturnDistributionInfo",
    "ServingModel",
    "load_panel",
    "min_weeks",
]
