"""The Airflow DAG for real: Airflow 3 in its own virtual environment (.airflow-venv, created by
scripts/setup_airflow.sh) loads dags/ into a DagBag and runs ``dag.test()`` end to end on the VN30 data;
every task runs the project's step function in this interpreter (SV_PROJECT_PYTHON).
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
AIRFLOW_PYTHON = ROOT / ".airflow-venv" / "bin" / "python"
DAG_FILE = ROOT / "dags" / "stock_prediction_pipeline.py"
DAG_ID = "stock_prediction_pipeline"

PROBE = rf"""
import json, os, sys
from airflow.dag_processing.dagbag import DagBag

bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
info = {{"import_errors": {{str(k): str(v) for k, v in bag.import_errors.items()}}}}
dag = bag.dags.get("{DAG_ID}")  # get_dag() would read the metadata DB
if dag is not None:
    tt = dag.timetable
    info.update(
        timetable=type(tt).__name__,
        cron=getattr(tt, "expression", None),
        timezone=str(getattr(tt.timezone, "name", tt.timezone)),
        dagrun_timeout=dag.dagrun_timeout.total_seconds() if dag.dagrun_timeout else None,
        tasks={{
            t.task_id: {{
                "retries": t.retries,
                "exponential": float(t.retry_exponential_backoff),
                "upstream": sorted(t.upstream_task_ids),
                "operator": type(t).__name__,
            }}
            for t in dag.tasks
        }},
    )
    if sys.argv[1:] == ["run"]:
        from airflow.models.taskinstance import TaskInstance
        from airflow.utils.session import create_session

        run = dag.test()
        with create_session() as session:
            tis = session.query(TaskInstance).filter(
                TaskInstance.dag_id == dag.dag_id, TaskInstance.run_id == run.run_id
            ).all()
            info["states"] = {{ti.task_id: str(ti.state) for ti in tis}}
        info["run_state"] = str(run.state)
print("SV-JSON:" + json.dumps(info))
"""


def _airflow_env(tmp_path: Path, extra: dict[str, str]) -> dict[str, str]:
    home = tmp_path / "airflow"
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SV_"))}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAG_FILE.parent),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
            "SV_PROJECT_PYTHON": sys.executable,
            **extra,
        }
    )
    return env


def _probe(env: dict[str, str], *args: str, timeout: float) -> dict:
    proc = subprocess.run(
        [str(AIRFLOW_PYTHON), "-c", PROBE, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
    )
    lines = [x for x in proc.stdout.splitlines() if x.startswith("SV-JSON:")]
    assert proc.returncode == 0 and lines, (
        f"Airflow probe failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}"
    )
    return json.loads(lines[-1][len("SV-JSON:") :])


@pytest.fixture(scope="module")
def airflow_python() -> Path:
    if not AIRFLOW_PYTHON.exists():
        pytest.skip(
            f"Airflow is not installed at {AIRFLOW_PYTHON}: run scripts/setup_airflow.sh "
            "(CI does) to create .airflow-venv"
        )
    return AIRFLOW_PYTHON


def _dag_steps() -> list[str]:
    tree = ast.parse(DAG_FILE.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "STEPS" for t in node.targets
        ):
            return list(ast.literal_eval(node.value))
    raise AssertionError("dags/stock_prediction_pipeline.py defines no STEPS")


def test_dag_runs_the_same_steps_as_the_pipeline():
    from stockvision.pipeline.flow import STEP_NAMES

    assert _dag_steps() == STEP_NAMES


def test_dag_schedule_retries_and_timeout(airflow_python, tmp_path):
    info = _probe(_airflow_env(tmp_path, {}), timeout=300)
    assert info["import_errors"] == {}
    assert info["timetable"] == "CronTriggerTimetable"
    assert info["cron"] == "0 0 * * 1"  # Monday 00:00
    assert info["timezone"] == "Asia/Ho_Chi_Minh"
    assert info["dagrun_timeout"] == 4 * 3600
    tasks = info["tasks"]
    assert list(tasks) == _dag_steps()
    for i, (name, task) in enumerate(tasks.items()):
        assert task["retries"] == 3 and task["exponential"] > 0, name
        assert task["operator"].startswith("_PythonExternal") or "External" in task["operator"]
        assert task["upstream"] == ([] if i == 0 else [list(tasks)[i - 1]])


def test_dag_test_runs_end_to_end_and_leaves_a_champion(
    airflow_python, tmp_path, vn30_daily_path, monkeypatch
):
    data_dir = tmp_path / "svdata"
    sv_env = {
        "SV_DATA_DIR": str(data_dir),
        "SV_SOURCE": "csv",
        "SV_CSV_PATHS": str(vn30_daily_path),
        "SV_UNIVERSE": "VNM,FPT,HPG,VCB",
        "SV_PATTERN_MODEL": "lgbm_clf",
        "SV_EVAL_MAX_FOLDS": "2",
    }
    env = _airflow_env(tmp_path, sv_env)
    migrate = subprocess.run(
        [str(airflow_python.parent / "airflow"), "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert migrate.returncode == 0, migrate.stderr[-4000:]
    info = _probe(env, "run", timeout=1800)
    assert info["run_state"] == "success", info
    assert info["states"] == {step: "success" for step in _dag_steps()}, info["states"]

    # the project's registry (this interpreter) sees the champions the DAG promoted
    from stockvision.config import get_settings
    from stockvision.registry import tracking
    from stockvision.registry.model_registry import ModelRegistry

    for key, value in sv_env.items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    tracking.reset()
    registry = ModelRegistry(get_settings())
    for kind in ("price", "pattern"):
        assert registry.champion(kind) is not None, f"no {kind} champion after the DAG run"
    runs = (data_dir / "pipeline" / "state.json").read_text()
    assert set(json.loads(runs)) == set(_dag_steps())
    tracking.reset()
