"""Typed outputs of the pipeline's steps.

Each step returns one of these records; the runner stores ``to_dict()`` in ``state.json`` and gives it
back as the same type (``from_dict``), so a later step, the Airflow task of the next step and the CLI
all read fields by name instead of string keys into untyped dicts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from stockvision.data.ingest import IngestResult
from stockvision.evaluation.splits import ShortHistory
from stockvision.features.refresh import FeaturesBuild, LabelsBuild
from stockvision.jsonutil import JsonRecord

__all__ = ["ShortHistory"]  # re-exported: the train and evaluate outputs carry it

#: What the fetch step read and wrote: the data layer's ingest result.
FetchOutput = IngestResult


#: What the features step built: the features layer's refresh result.
FeaturesOutput = FeaturesBuild
#: What the labels step built.
LabelsOutput = LabelsBuild


@dataclass(frozen=True)
class ValidateOutput(JsonRecord):
    alerts: list[Any]
    report_dir: str


@dataclass(frozen=True)
class SnapshotOutput(JsonRecord):
    """The frozen feature/label matrix the models train on (``path`` relative to the data dir)."""

    digest: str
    path: str
    start: str
    end: str
    symbols: list[str]
    rows: int
    simulated: bool = False


@dataclass(frozen=True)
class TrainedModel(JsonRecord):
    kind: str
    dir: str  # relative to the data dir
    val_metric: float
    val_metric_name: str
    seconds: float
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainOutput(JsonRecord):
    models: dict[str, TrainedModel]
    primary: dict[str, str]
    baseline: dict[str, str]
    train_window: list[str]
    val_window: list[str]
    # identifies this training run: a retry of ``register`` after a crash reuses the versions it
    # logged, while a new (e.g. forced) training on the same data registers new ones
    run_id: str = ""
    #: set when the history is too short for walk-forward: only the baselines were trained
    short_history: ShortHistory | None = None


@dataclass(frozen=True)
class EvaluateOutput(JsonRecord):
    digest: str
    report_dir: str  # relative to the data dir when under it
    metrics: dict[str, dict[str, float]]
    window: dict[str, Any] | None = None
    failed: list[str] = field(default_factory=list)
    temperatures: dict[str, float] = field(default_factory=dict)
    #: set when the walk-forward evaluation was skipped (too short a history); ``metrics`` then
    #: holds the baselines' holdout measurements (``holdout_*``), if any could be made
    skipped: ShortHistory | None = None


@dataclass(frozen=True)
class RegisteredVersion(JsonRecord):
    version: str
    model: str


@dataclass(frozen=True)
class RegisterOutput(JsonRecord):
    versions: dict[str, RegisteredVersion]
    #: the price baseline registered beside the champion candidates (served for new listings)
    baseline: RegisteredVersion | None = None


@dataclass(frozen=True)
class PromotionOutcome(JsonRecord):
    version: str
    action: str  # "promoted" | "kept_challenger"
    reason: str
    compared: dict[str, Any] = field(default_factory=dict)
    fallback_champion: RegisteredVersion | None = None


@dataclass(frozen=True)
class PromoteOutput(JsonRecord):
    decisions: dict[str, PromotionOutcome]


@dataclass(frozen=True)
class BatchPredictOutput(JsonRecord):
    predicted: int
    errors: list[dict[str, Any]]
    versions: dict[str, str | None]


@dataclass(frozen=True)
class MonitorOutput(JsonRecord):
    summary: dict[str, Any]
    report_dir: str


#: The output type of every step, by step name (the runner rebuilds recorded outputs with it).
OUTPUT_TYPES: dict[str, type[JsonRecord]] = {
    "fetch": FetchOutput,
    "features": FeaturesOutput,
    "labels": LabelsOutput,
    "validate": ValidateOutput,
    "snapshot": SnapshotOutput,
    "train": TrainOutput,
    "evaluate": EvaluateOutput,
    "register": RegisterOutput,
    "promote": PromoteOutput,
    "batch_predict": BatchPredictOutput,
    "monitor": MonitorOutput,
}
