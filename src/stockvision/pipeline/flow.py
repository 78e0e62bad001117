"""The weekly pipeline: one list of steps shared by ``stockvision pipeline run``, the Airflow DAG and the API's
retrain endpoint.

fetch -> features -> labels -> validate -> snapshot -> train -> evaluate -> register -> promote ->
batch_predict -> monitor

Each step is a plain function of the settings and the outputs of earlier steps (JSON-able dicts), with a
fingerprint of its inputs so that an unchanged step is skipped on the next run.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stockvision.config import Settings, get_settings
from stockvision.pipeline import steps
from stockvision.pipeline.runner import PipelineRunner, RunResult, Step, digest

log = logging.getLogger(__name__)

STEP_NAMES = [
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


def build_steps(settings: Settings, progress: Callable | None = None) -> list[Step]:
    """The pipeline's steps bound to ``settings`` (progress: ``cb(done, total, label)``)."""

    def out(ctx: dict, name: str) -> dict:
        return ctx.get(name) or {}

    config = steps.training_config(settings)

    return [
        Step("fetch", lambda ctx: steps.fetch(settings, progress=progress), fingerprint=None),
        Step(
            "features",
            lambda ctx: steps.build_features(settings, progress=progress),
            fingerprint=lambda ctx: digest(
                "features", out(ctx, "fetch").get("data_digest"), steps.CODE_VERSION
            ),
        ),
        Step(
            "labels",
            lambda ctx: steps.build_labels(settings),
            fingerprint=lambda ctx: digest(
                "labels", out(ctx, "fetch").get("data_digest"), config["labels"], steps.CODE_VERSION
            ),
        ),
        Step(
            "validate",
            lambda ctx: steps.validate(settings),
            fingerprint=lambda ctx: digest(
                "validate", out(ctx, "features").get("digest"), out(ctx, "labels").get("digest")
            ),
        ),
        Step(
            "snapshot",
            lambda ctx: steps.snapshot(settings),
            fingerprint=lambda ctx: digest(
                "snapshot", out(ctx, "features").get("digest"), out(ctx, "labels").get("digest")
            ),
        ),
        Step(
            "train",
            lambda ctx: steps.train(settings, out(ctx, "snapshot"), progress=progress),
            fingerprint=lambda ctx: digest(
                "train",
                out(ctx, "snapshot").get("digest"),
                config,
                steps.retrain_token(settings),
                steps.CODE_VERSION,
            ),
        ),
        Step(
            "evaluate",
            lambda ctx: steps.evaluate(settings, out(ctx, "snapshot"), progress=progress),
            fingerprint=lambda ctx: digest(
                "evaluate",
                out(ctx, "snapshot").get("digest"),
                config,
                steps.retrain_token(settings),
                steps.CODE_VERSION,
            ),
        ),
        Step(
            "register",
            lambda ctx: steps.register(
                settings, out(ctx, "train"), out(ctx, "evaluate"), out(ctx, "snapshot")
            ),
            fingerprint=lambda ctx: digest(
                "register", out(ctx, "train"), out(ctx, "evaluate").get("digest")
            ),
        ),
        Step(
            "promote",
            lambda ctx: steps.promote(
                settings, out(ctx, "register"), out(ctx, "evaluate"), out(ctx, "snapshot")
            ),
            fingerprint=lambda ctx: digest("promote", out(ctx, "register")),
        ),
        Step(
            "batch_predict",
            lambda ctx: steps.batch_predict(settings),
            fingerprint=lambda ctx: digest(
                "batch_predict",
                steps.champion_versions(settings),
                out(ctx, "features").get("digest"),
            ),
        ),
        Step(
            "monitor",
            lambda ctx: steps.monitor(settings, retrained=_retrained_since_last_monitor(settings)),
            fingerprint=lambda ctx: digest(
                "monitor", steps.champion_versions(settings), out(ctx, "fetch").get("data_digest")
            ),
        ),
    ]


def _retrained_since_last_monitor(settings: Settings) -> bool:
    """Whether the train step succeeded after the last monitoring run (i.e. earlier in this run)."""
    path = state_dir(settings) / "state.json"
    try:
        state = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return False
    trained = (state.get("train") or {}).get("succeeded_at")
    monitored = (state.get("monitor") or {}).get("succeeded_at")
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
) -> RunResult:
    """Run every step in order (unchanged steps are skipped unless ``force``)."""
    settings = settings or get_settings()
    return make_runner(settings, progress, on_event).run(force=force)


def run_single_step(name: str, settings: Settings | None = None) -> dict[str, Any]:
    """Run one step with the outputs of the earlier steps taken from the last successful runs.

    Used by the Airflow DAG, where each step is its own task (Airflow does the retries, so one attempt here).
    """
    if name not in STEP_NAMES:
        raise ValueError(f"unknown pipeline step {name!r}; steps are {', '.join(STEP_NAMES)}")
    settings = settings or get_settings()
    runner = make_runner(settings, retries=1)
    state_path = runner.state_path
    state = json.loads(state_path.read_text()) if state_path.exists() else {}
    ctx = {n: (state.get(n) or {}).get("output") for n in STEP_NAMES[: STEP_NAMES.index(name)]}
    step = next(s for s in runner.steps if s.name == name)
    record = runner._run_step(step, ctx, state, force=False)
    return {
        "step": name,
        "status": record.status,
        "seconds": round(record.seconds, 3),
        "output": ctx.get(name),
    }


def ingest_symbols(settings: Settings, symbols: list[str], store: Any = None) -> dict[str, Any]:
    """Fetch a few symbols and bring their features and labels up to date (used by auto-healing)."""
    return steps.ingest_and_featurize(settings, symbols, store=store)


def state_dir(settings: Settings) -> Path:
    return settings.subdir("pipeline")
