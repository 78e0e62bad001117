"""The composition root of the served application: the API wired with every part it uses.

``serving`` knows nothing of the pipeline; here the retrain endpoint gets the pipeline as a callable.
Multi-worker servers use the factory: ``uvicorn stockvision.app:build_app --factory --workers N``
(with ``PROMETHEUS_MULTIPROC_DIR`` set so ``/metrics`` aggregates every worker).
"""

from __future__ import annotations

from fastapi import FastAPI

from stockvision.config import Settings, get_settings


def build_app(settings: Settings | None = None) -> FastAPI:
    """The FastAPI app with the chat UI, auto-healing and pipeline retraining."""
    from stockvision.pipeline.flow import run_pipeline
    from stockvision.serving.app import create_app, healing_source
    from stockvision.serving.service import PredictionService

    settings = settings or get_settings()
    service = PredictionService(
        settings,
        retrain=lambda: run_pipeline(settings),
        heal_source=healing_source,
    )
    return create_app(settings, service)
