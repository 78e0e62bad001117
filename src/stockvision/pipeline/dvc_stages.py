"""The stages of ``dvc.yaml`` (ingest -> features -> train -> evaluate), run by ``dvc repro`` as
``python -m stockvision.pipeline.dvc_stages STAGE``.

Each stage reads only its declared dependencies (files and ``params.yaml`` keys) and writes only
its declared outputs, so DVC's cache decides correctly what to rerun and what a data version is:

* ``ingest``: the project's ``fetch`` step (CSV source, validation, repairs, corporate actions) into
  a scratch store, exported as the adjusted daily frame ``data/dvc/daily.parquet``;
* ``features``: the weekly features and labels of that frame (the functions the pipeline's feature
  step runs), one snapshot ``data/dvc/features.parquet`` in the pipeline's snapshot format;
* ``train``: the pipeline's ``train`` step on that snapshot (``data/dvc/models/``), validation
  metrics in ``data/dvc/train.json``;
* ``evaluate``: the walk-forward evaluation (``data/dvc/report/``, metrics ``data/dvc/metrics.json``)
  and one MLflow run that records the DVC data version it used: the md5 of each data file (the
  same digest ``dvc.lock`` holds) and the git commit.

DVC itself lives in its own virtualenv (.dvc-venv); it never imports this package.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from stockvision.config import Settings

__all__ = ["STAGES", "main"]

OUT = Path("data/dvc")
DAILY = OUT / "daily.parquet"
FEATURES = OUT / "features.parquet"
TRAIN_METRICS = OUT / "train.json"
METRICS = OUT / "metrics.json"
REPORT = OUT / "report"
WORK = OUT / "work"  # scratch data directory (store, MLflow database): not a DVC output


def load_params(path: Path | str = "params.yaml") -> dict[str, Any]:
    return yaml.safe_load(Path(path).read_text()) or {}


def settings_from_params(params: dict[str, Any]) -> Settings:
    """The settings a stage runs with: the ``settings`` block of params.yaml over the defaults."""
    values = dict(params.get("settings") or {})
    return Settings(data_dir=WORK.resolve(), **values)


def md5(path: Path) -> str:
    """The file digest DVC records in dvc.lock for a file output."""
    h = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _write_parquet(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    frame.to_parquet(tmp)
    tmp.replace(path)


def ingest(params: dict[str, Any]) -> None:
    from stockvision.data.ingest import adjusted_daily
    from stockvision.data.store import Store
    from stockvision.pipeline import steps

    settings = settings_from_params(params)
    db = settings.home / "stockvision.db"
    db.unlink(missing_ok=True)  # the stage's output depends on its inputs only
    csv = params["ingest"]["csv"]
    paths = [Path(p) for p in ([csv] if isinstance(csv, str) else csv)]
    result = steps.fetch(settings, paths=paths, source="csv")
    store = Store.from_settings(settings)
    daily = adjusted_daily(store).sort_values(["symbol", "date"]).reset_index(drop=True)
    _write_parquet(daily, DAILY)
    print(f"ingest: {daily['symbol'].nunique()} symbols, {len(daily)} rows ({result.written} new)")


def features(params: dict[str, Any]) -> None:
    from stockvision.features import build_features_and_labels
    from stockvision.features.labels import LabelSpec

    settings = settings_from_params(params)
    daily = pd.read_parquet(DAILY)
    feats, labels = build_features_and_labels(daily, LabelSpec.from_settings(settings))
    joined = feats.join(labels, how="left").sort_index()
    _write_parquet(joined, FEATURES)
    print(f"features: {len(joined)} weekly rows, {joined.shape[1]} columns")


def _snapshot(settings: Settings):
    from stockvision.data.ingest import frame_digest
    from stockvision.pipeline.outputs import SnapshotOutput

    joined = pd.read_parquet(FEATURES)
    weeks = joined.index.get_level_values(1)
    return SnapshotOutput(
        digest=frame_digest(joined),
        path=str(FEATURES.resolve()),
        start=str(pd.Timestamp(weeks.min()).date()),
        end=str(pd.Timestamp(weeks.max()).date()),
        symbols=sorted(joined.index.get_level_values(0).unique().tolist()),
        rows=len(joined),
    )


def train(params: dict[str, Any]) -> None:
    import shutil

    from stockvision.pipeline import steps

    settings = settings_from_params(params)
    trained = steps.train(settings, _snapshot(settings))
    target = OUT / "models"
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    summary = {}
    for name, info in trained.models.items():
        shutil.copytree(steps.resolve(settings, info.dir), target / name)
        summary[name] = {"kind": info.kind, f"val_{info.val_metric_name}": info.val_metric}
    TRAIN_METRICS.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    print(f"train: {sorted(summary)}")


def _git_commit() -> str | None:
    proc = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or None


def evaluate(params: dict[str, Any]) -> None:
    import mlflow

    from stockvision.evaluation.evaluate import evaluate_dataset
    from stockvision.evaluation.splits import WalkForwardSplitter
    from stockvision.pipeline import steps

    settings = settings_from_params(params)
    builder = steps._builder_from_snapshot(settings, _snapshot(settings))
    cfg = steps.training_config(settings)
    names = params.get("evaluate", {}).get("models") or list(
        dict.fromkeys([*cfg["primary"].values(), *cfg["baseline"].values()])
    )
    splitter = WalkForwardSplitter(
        horizon=settings.horizon_weeks, val_weeks=settings.val_weeks,
        max_folds=settings.eval_max_folds,
    )  # fmt: skip
    evaluate_dataset(
        builder, pd.read_parquet(DAILY), REPORT, names, splitter, settings=settings,
        show_progress=False, on_error="raise",
        model_params={n: steps.model_params(n, settings) for n in names},
    )  # fmt: skip
    metrics = json.loads((REPORT / "metrics.json").read_text())
    METRICS.write_text((REPORT / "metrics.json").read_text())

    mlflow.set_tracking_uri(settings.tracking_uri)
    mlflow.set_experiment("stockvision-dvc")
    data_version = {"dvc.daily_md5": md5(DAILY), "dvc.features_md5": md5(FEATURES)}
    with mlflow.start_run(run_name="dvc-evaluate") as run:
        mlflow.set_tags({**data_version, "git.commit": _git_commit() or "none"})
        mlflow.log_params({"models": ",".join(names), **(params.get("settings") or {})})
        for name, block in metrics["models"].items():
            for key, value in steps.flat_metrics(block).items():
                mlflow.log_metric(f"{name}.{key}", value)
        for name, block in json.loads(TRAIN_METRICS.read_text()).items():
            for key, value in block.items():
                if isinstance(value, int | float):
                    mlflow.log_metric(f"train.{name}.{key}", float(value))
    (OUT / "mlflow_run.json").write_text(
        json.dumps({"run_id": run.info.run_id, **data_version}, indent=2) + "\n"
    )
    print(f"evaluate: {len(names)} models; MLflow run {run.info.run_id} tagged {data_version}")


STAGES = {"ingest": ingest, "features": features, "train": train, "evaluate": evaluate}


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] not in STAGES:
        print(f"usage: python -m stockvision.pipeline.dvc_stages {{{','.join(STAGES)}}}")
        return 2
    STAGES[args[0]](load_params())
    return 0


if __name__ == "__main__":
    sys.exit(main())
