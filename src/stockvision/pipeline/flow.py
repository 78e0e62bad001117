"""The weekly pipeline: one list of steps shared by ``stockvision pipeline run``, the Airflow DAG and the API's
retrain endpoint.

fetch -> features -> labels -> validate -> snapshot -> train -> evaluate -> register -> promote ->
batch_predict -> monitor

Each step is a function of the settings and the typed outputs of earlier steps, with a fingerprint of its
inputs so that an unchanged step is skipped on the next run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from stockvision.config import Settings, get_settings
from stockvision.pipeline import steps
from stockvision.pipeline.outputs import OUTPUT_TYPES
from stockvision.pipeline.runner import PipelineRunner, RunResult, Step, digest

log = logging.getLogger(__name__)

STEP_NAMES = list(OUTPUT_TYPES)


def build_steps(settings: Settings, progress: Callable | None = None) -> list[Step]:
    """The pipeline's steps bound to ``settings`` (progress: ``cb(done, total, label)``)."""

    def out(ctx: dict, name: str) -> Any:
        return ctx.get(name)

    def field(ctx: dict, name: str, attr: str) -> Any:
        value = ctx.get(name)
        return None if value is None else getattr(value, attr, None)

    config = steps.training_config(settings)

    def step(name: str, run: Callable, fingerprint: Callable | None) -> Step:
        return Step(name, run, fingerprint=fingerprint, output_type=OUTPUT_TYPES[name])

    return [
        step("fetch", lambda ctx: steps.fetch(settings, progress=progress), None),
        step(
            "features",
            lambda ctx: steps.build_features(settings, progress=progress),
            lambda ctx: digest("features", field(ctx, "fetch", "data_digest"), steps.CODE_VERSION),
        ),
        step(
            "labels",
            lambda ctx: steps.build_labels(settings),
            lambda ctx: digest(
                "labels", field(ctx, "fetch", "data_digest"), config["labels"], steps.CODE_VERSION
            ),
        ),
        step(
            "validate",
            lambda ctx: steps.validate(settings),
            lambda ctx: digest(
                "validate", field(ctx, "features", "digest"), field(ctx, "labels", "digest")
            ),
        ),
        step(
            "snapshot",
            lambda ctx: steps.snapshot(settings),
            lambda ctx: digest(
                "snapshot", field(ctx, "features", "digest"), field(ctx, "labels", "digest")
            ),
        ),
        step(
            "train",
            lambda ctx: steps.train(settings, out(ctx, "snapshot"), progress=progress),
            lambda ctx: digest(
                "train",
                field(ctx, "snapshot", "digest"),
                config,
                steps.retrain_token(settings),
                steps.CODE_VERSION,
            ),
        ),
        step(
            "evaluate",
            lambda ctx: steps.evaluate(settings, out(ctx, "snapshot"), progress=progress),
            lambda ctx: digest(
                "evaluate",
                field(ctx, "snapshot", "digest"),
                config,
                steps.retrain_token(settings),
                steps.CODE_VERSION,
            ),
        ),
        step(
            "register",
            lambda ctx: steps.register(
                settings, out(ctx, "train"), out(ctx, "evaluate"), out(ctx, "snapshot")
            ),
            lambda ctx: digest("register", out(ctx, "train"), field(ctx, "evaluate", "digest")),
        ),
        step(
            "promote",
            lambda ctx: steps.promote(
                settings, out(ctx, "register"), out(ctx, "evaluate"), out(ctx, "snapshot")
            ),
            lambda ctx: digest("promote", out(ctx, "register")),
        ),
        step(
            "batch_predict",
            lambda ctx: steps.batch_predict(settings),
            lambda ctx: digest(
                "batch_predict",
                steps.champion_versions(settings),
                field(ctx, "features", "digest"),
            ),
        ),
        step(
            "monitor",
            lambda ctx: steps.monitor(settings, retrained=_retrained_since_last_monitor(settings)),
            lambda ctx: digest(
                "monitor", steps.champion_versions(settings), field(ctx, "fetch", "data_digest")
            ),
        ),
    ]


def _retrained_since_last_monitor(settings: Settings) -> bool:
    """Whether the train step succeeded after the last monitoring run (i.e. earlier in this run)."""
    runner = make_runner(settings)
    trained, monitored = runner.succeeded_at("train"), runner.succeeded_at("monitor")
    return bool(trained) and (not monitored or trained > monitored)


def make_runner(
    settings: Settings | None = None,
    progress: Callable | None = None,
    on_event: Callable[[str, str, dict], None] | None = None,
    retries: int = 3,
) -> PipelineRunner:
    settings = settings or get_settings()
    step_list = build_steps(settings, progress)
    for s in step_list:
        s.retries = retries
    return PipelineRunner(step_list, settings.subdir("pipeline"), on_event=on_event)


def run_pipeline(
    settings: Settings | None = None,
    progress: Callable | None = None,
    on_event: Callable[[str, str, dict], None] | None = None,
    force: bool = False,
    wait: float = 0.0,
) -> RunResult:
    """Run every step in order (unchanged steps are skipped unless ``force``).

    One run at a time per store: a second run (CLI, Airflow, ``/admin/retrain``) waits up to
    ``wait`` seconds for the pipeline lock, then stops with :class:`PipelineBusyError`.
    """
    settings = settings or get_settings()
    with pipeline_lock(settings).hold(wait):
        return make_runner(settings, progress, on_event).run(force=force)


def pipeline_lock(settings: Settings):
    """The store-level lock that serialises pipeline runs."""
    from stockvision.data.store import Store

    return Store.from_settings(settings).lock("pipeline")


def last_output(settings: Settings, name: str) -> Any:
    """The typed output of the last successful run of step ``name`` (None if it never ran)."""
    return make_runner(settings).last_output(name)


def run_single_step(name: str, settings: Settings | None = None) -> dict[str, Any]:
    """Run one step with the outputs of the earlier steps taken from the last successful runs.

    Used by the Airflow DAG, where each step is its own task (Airflow does the retries, so one attempt
    here). Returns plain JSON (the task's XCom).
    """
    settings = settings or get_settings()
    runner = make_runner(settings, retries=1)
    with pipeline_lock(settings).hold(600.0, what="pipeline step"):
        record = runner.run_step(name)
    output = runner.last_output(name)
    return {
        "step": name,
        "status": record.status,
        "seconds": round(record.seconds, 3),
        "output": None if output is None else output.to_dict(),
        "record": asdict(record),
    }
