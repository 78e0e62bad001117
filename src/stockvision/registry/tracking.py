"""MLflow set-up: an embedded SQLite tracking store under the data directory, or any tracking URI.

MLflow 3 refuses the old ``./mlruns`` file store by default, so the embedded default is
``sqlite:///<data_dir>/mlflow.db`` with artifacts in ``<data_dir>/mlartifacts``.
"""

from __future__ import annotations

import logging
import os
import warnings
from typing import TYPE_CHECKING

from stockvision.config import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient

EXPERIMENT = "stockvision"

_configured: dict[str, str] = {}


def _quiet_mlflow() -> None:
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("DO_NOT_TRACK", "true")
    for name in ("mlflow", "alembic", "mlflow.store", "mlflow.tracking"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="mlflow")


def configure(settings: Settings) -> MlflowClient:
    """Point MLflow at the configured store and return a client; creates the experiment once."""
    _quiet_mlflow()
    import mlflow
    from mlflow import MlflowClient

    _quiet_mlflow()  # mlflow sets its own logger levels on import
    uri = settings.tracking_uri
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    if _configured.get(uri) is None:
        exp = client.get_experiment_by_name(EXPERIMENT)
        if exp is None:
            artifact_location = (
                settings.artifact_dir.as_uri() if uri.startswith("sqlite:") else None
            )
            exp_id = client.create_experiment(EXPERIMENT, artifact_location=artifact_location)
        else:
            exp_id = exp.experiment_id
        _configured[uri] = exp_id
    mlflow.set_experiment(experiment_id=_configured[uri])
    return client


def reset() -> None:
    """Forget cached experiment ids (tests switch data directories)."""
    _configured.clear()
