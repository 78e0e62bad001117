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
    relocate(settings)
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


def relocate(settings: Settings) -> int:
    """Re-root the artifact locations of an embedded store that was copied to another data dir.

    MLflow records absolute artifact URIs; a data directory copied elsewhere would go on reading and
    writing the ORIGINAL's artifact folder. When the embedded SQLite store lives in this data
    directory but its experiment points at another ``mlartifacts`` folder, every recorded location
    under that folder is rewritten to this one, in one transaction. Returns the rows changed.
    """
    import sqlite3
    from pathlib import Path

    uri = settings.tracking_uri
    if not uri.startswith("sqlite:///"):
        return 0
    db = Path(uri.removeprefix("sqlite:///"))
    home = Path(settings.home)
    if not db.is_file() or not db.resolve().is_relative_to(home.resolve()):
        return 0
    new_root = settings.artifact_dir.resolve()
    conn = sqlite3.connect(db)
    try:
        row = conn.execute(
            "SELECT artifact_location FROM experiments WHERE name = ?", (EXPERIMENT,)
        ).fetchone()
        if row is None or not row[0] or not row[0].startswith("file://"):
            return 0
        old_root = Path(row[0].removeprefix("file://"))
        if old_root == new_root:
            return 0
        pairs = [(old_root.as_uri(), new_root.as_uri()), (str(old_root), str(new_root))]
        changed = 0
        with conn:  # one transaction: all locations move, or none
            tables = [
                r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
            ]
            for table in tables:
                columns = [
                    c[1]
                    for c in conn.execute(f'PRAGMA table_info("{table}")')
                    if "CHAR" in str(c[2]).upper() or "TEXT" in str(c[2]).upper()
                ]
                for column in columns:
                    for old, new in pairs:
                        cur = conn.execute(
                            f'UPDATE "{table}" SET "{column}" = ? || substr("{column}", ?) '
                            f'WHERE substr("{column}", 1, ?) = ?',
                            (new, len(old) + 1, len(old), old),
                        )
                        changed += cur.rowcount
        logging.getLogger(__name__).warning(
            "the MLflow store was copied from %s: %d artifact locations now point at %s",
            old_root, changed, new_root,
        )  # fmt: skip
        return changed
    finally:
        conn.close()


def reset() -> None:
    """Forget cached experiment ids (tests switch data directories)."""
    _configured.clear()
