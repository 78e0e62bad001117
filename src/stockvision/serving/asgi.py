"""ASGI entry point for multi-worker servers: ``uvicorn stockvision.serving.asgi:app --workers N``.

With several workers set ``PROMETHEUS_MULTIPROC_DIR`` so /metrics aggregates every worker.
"""

from stockvision.serving.app import create_app

app = create_app()
