"""Weekly Stock Vision pipeline for Airflow 3 (TaskFlow API).

Airflow runs in its own virtual environment; every task runs the *project's* step function in the project's
interpreter (``@task.external_python``), so the DAG and ``stockvision pipeline run`` execute the same code.
Set ``SV_PROJECT_PYTHON`` to that interpreter (default: /opt/sv-venv/bin/python, as in the Airflow image).
"""

from __future__ import annotations

import os
from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, task

PROJECT_PYTHON = os.environ.get("SV_PROJECT_PYTHON", "/opt/sv-venv/bin/python")
TIMEZONE = "Asia/Ho_Chi_Minh"
#: The step names of ``stockvision.pipeline.flow.STEP_NAMES`` (Airflow's interpreter cannot import the
#: project; tests/dags checks the two lists are equal).
STEPS = [
    "fetch",
    "features",
    "labels",
    "validate",
    "snapshot",
    "train",
    "evaluate",
    "register",
    "promote",
    "batch_predict",
    "monitor",
]

default_args = {
    "owner": "stockvision",
    "retries": 3,
    "retry_delay": timedelta(minutes=1),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(minutes=20),
    "execution_timeout": timedelta(hours=2),
}


def _step_task(step: str):
    @task.external_python(task_id=step, python=PROJECT_PYTHON, expect_airflow=False)
    def run_step(step_name: str) -> dict:
        from stockvision.pipeline.flow import run_single_step

        return run_single_step(step_name)

    return run_step(step)


@dag(
    dag_id="stock_prediction_pipeline",
    description="Fetch VN market data, build weekly features, retrain, evaluate, promote, predict, monitor.",
    schedule=CronTriggerTimetable("0 0 * * 1", timezone=TIMEZONE),  # Monday 00:00 Vietnam time
    start_date=pendulum.datetime(2026, 1, 5, tz=TIMEZONE),
    catchup=False,
    max_active_runs=1,
    dagrun_timeout=timedelta(hours=4),  # SLA-style: a run taking over 4 h is failed
    default_args=default_args,
    tags=["stockvision", "mlops"],
)
def stock_prediction_pipeline():
    previous = None
    for step in STEPS:
        current = _step_task(step)
        if previous is not None:
            previous >> current
        previous = current


dag_object = stock_prediction_pipeline()

if __name__ == "__main__":
    dag_object.test()
