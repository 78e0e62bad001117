"""DVC for real (.dvc-venv, scripts/setup_ops.sh dvc): in a fresh git repository holding the project's
dvc.yaml, .dvc/config and sources, ``dvc repro`` runs the four stages on the real VN30 data, a second
``repro`` has nothing to do, the MLflow run records the data digests dvc.lock holds, and
``dvc push`` / ``dvc pull`` through a local-folder remote round-trip the data after the cache and the
outputs are deleted. Telemetry off (DVC_NO_ANALYTICS and core.analytics)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DVC = ROOT / ".dvc-venv" / "bin" / "dvc"
SHARED = Path(os.environ.get("SV_SHARED_DATA", ROOT.parent / "shared" / "data"))
VN30 = SHARED / "vn30" / "vn30_constituents_daily_2016_2019.csv"
OUTS = ["data/dvc/daily.parquet", "data/dvc/features.parquet", "data/dvc/models"]


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    if not DVC.exists():
        pytest.skip("DVC not installed: run `bash scripts/setup_ops.sh dvc` (scripts/test.sh does)")
    if not VN30.exists():
        pytest.skip(f"real VN30 data not found at {VN30} (../shared/data beside the repo)")
    repo = tmp_path_factory.mktemp("dvc-clone")
    for name in ("dvc.yaml", ".dvcignore"):
        shutil.copy(ROOT / name, repo / name)
    shutil.copytree(ROOT / ".dvc", repo / ".dvc", ignore=shutil.ignore_patterns("tmp", "cache"))
    shutil.copytree(ROOT / "src" / "stockvision", repo / "src" / "stockvision",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["ingest"]["csv"] = str(VN30)
    params["settings"]["eval_max_folds"] = 1  # keep the test short; the stages are the same
    (repo / "params.yaml").write_text(yaml.safe_dump(params))
    _run(repo, "git", "init", "-q")
    _run(repo, "git", "add", "-A")
    _run(
        repo, "git", "-c", "user.email=t@example.org", "-c", "user.name=t", "commit", "-qm", "init"
    )
    return repo


def _env(repo: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}"
    env.update(PYTHONPATH=str(repo / "src"), DVC_NO_ANALYTICS="1", OMP_NUM_THREADS="1")
    return env


def _run(repo: Path, *cmd: str, timeout: float = 300) -> str:
    proc = subprocess.run(
        cmd, cwd=repo, env=_env(repo), capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"{cmd}: {proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


def _dvc(repo: Path, *args: str) -> str:
    return _run(repo, str(DVC), *args)


@pytest.fixture(scope="module")
def reproduced(repo) -> dict:
    out = _dvc(repo, "repro")
    for stage in ("ingest", "features", "train", "evaluate"):
        assert f"Running stage '{stage}'" in out
    return yaml.safe_load((repo / "dvc.lock").read_text())


def _out_md5(lock: dict, stage: str, path: str) -> str:
    return next(o["md5"] for o in lock["stages"][stage]["outs"] if o["path"] == path)


def test_repro_runs_every_stage_then_nothing(repo, reproduced):
    assert "Data and pipelines are up to date" in _dvc(repo, "repro")
    metrics = json.loads((repo / "data/dvc/metrics.json").read_text())
    train = json.loads((repo / "data/dvc/train.json").read_text())
    # the primary models (params.yaml) and their baselines were trained and evaluated
    assert {"ridge", "lgbm_clf"} < set(train) <= set(metrics["models"])
    assert train["ridge"]["kind"] == "price" and "val_log_loss" in train["lgbm_clf"]
    assert (repo / "data/dvc/report/report.html").exists()
    config = (repo / ".dvc" / "config").read_text()
    assert "analytics = false" in config


def test_mlflow_run_records_the_dvc_data_version(repo, reproduced):
    import mlflow

    record = json.loads((repo / "data/dvc/mlflow_run.json").read_text())
    assert record["dvc.features_md5"] == _out_md5(
        reproduced, "features", "data/dvc/features.parquet"
    )
    assert record["dvc.daily_md5"] == _out_md5(reproduced, "ingest", "data/dvc/daily.parquet")
    client = mlflow.MlflowClient(f"sqlite:///{repo / 'data/dvc/work/mlflow.db'}")
    run = client.get_run(record["run_id"])
    assert run.data.tags["dvc.features_md5"] == record["dvc.features_md5"]
    assert len(run.data.tags["git.commit"]) == 40
    assert run.data.metrics["lgbm_clf.log_loss"] > 0


def test_push_then_pull_round_trips_the_data(repo, reproduced, tmp_path):
    remote = tmp_path / "remote"
    _dvc(repo, "remote", "add", "--local", "-f", "local", str(remote))
    _dvc(repo, "push")
    assert any(remote.rglob("*")), "nothing was pushed"
    shutil.rmtree(repo / ".dvc" / "cache")
    for out in OUTS:
        path = repo / out
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    assert "not in cache" in _dvc(repo, "status")
    _dvc(repo, "pull")
    assert "Data and pipelines are up to date" in _dvc(repo, "status")
    from stockvision.pipeline.dvc_stages import md5

    assert md5(repo / "data/dvc/features.parquet") == _out_md5(
        reproduced, "features", "data/dvc/features.parquet"
    )
