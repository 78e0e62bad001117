"""``/health``: models, data freshness, dependencies and the monitoring summary in one answer.

With the watcher running, the registry state is the one of its last poll (every
``reload_interval_seconds``), so a slow or dead registry never slows ``/health`` down.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from stockvision.serving.api_schemas import HealthResponse, ModelStatus

log = logging.getLogger(__name__)


def build_health(service: Any) -> HealthResponse:
    models = service.models
    deps: dict[str, str] = {}
    try:
        deps["database"] = "up" if service.store.healthcheck() else "down"
    except Exception:
        deps["database"] = "down"
    if service.settings.redis_url:
        deps["redis"] = "up" if service.cache.healthy() else "down"
    if not service.background:  # no watcher: check the registry now
        service.champions.check()
    deps["registry"] = "up" if service.registry_ok else "down"
    data_as_of = None
    age = None
    try:
        latest = service.store.latest_trading_day()
        if latest is not None:
            data_as_of = pd.Timestamp(latest).date()
            age = (datetime.now(UTC).date() - data_as_of).days
    except Exception as exc:
        log.debug("latest trading day unavailable: %s", exc)
    stale = age is not None and age > service.settings.stale_after_days
    monitoring = service.monitoring_summary()
    if not models.ready:
        status = "down"
    elif "down" in deps.values() or stale or (monitoring or {}).get("degraded"):
        status = "degraded"
    else:
        status = "ok"
    model_status = [
        ModelStatus(
            name=name,
            version=version,
            alias="fallback" if models.notes.get(kind) else "champion",
            model_class=cls,
            loaded_at=models.loaded_at if version else None,
            note=models.notes.get(kind),
            **_evaluation(metrics),
        )
        for kind, name, version, cls, metrics in (
            (
                "price",
                "price_target_model",
                models.price_version,
                models.price_class,
                models.price_metrics,
            ),
            (
                "pattern",
                "pattern_model",
                models.pattern_version,
                models.pattern_class,
                models.pattern_metrics,
            ),
        )
    ]
    baseline_status = None
    if models.baseline_version:
        baseline_status = ModelStatus(
            name="price_baseline_model",
            version=models.baseline_version,
            alias="baseline",
            model_class=getattr(models.baseline, "name", None),
            loaded_at=models.loaded_at,
            note="serves the symbols whose history is shorter than the champion's features read",
            **_evaluation(models.baseline_metrics),
        )
    if models.notes and status == "ok":
        status = "degraded"
    champions = service.champions
    return HealthResponse(
        status=status,
        models=model_status,
        baseline_model=baseline_status,
        registry_reachable=bool(champions.registry_ok),
        registry_message=champions.registry_message,
        registry_checked_at=champions.registry_checked_at,
        data_as_of=data_as_of,
        data_age_days=age,
        data_stale=stale,
        dependencies=deps,
        last_inference_ms=service.last_inference_ms,
        cache_backend=service.cache.backend,
        monitoring=monitoring,
    )


def _evaluation(metrics: dict) -> dict[str, Any]:
    """How a served version was evaluated: walk-forward, or why that was skipped (a short
    history is not a degradation: the baselines serve, labelled, and /health says why)."""
    from stockvision.evaluation.splits import ShortHistory

    short = ShortHistory.from_metrics(dict(metrics or {}))
    if short is not None:
        return {
            "walk_forward": False,
            "evaluation": short.reason_en,
            "evaluation_vi": short.reason_vi,
        }
    if any(k.startswith("distribution_") or k == "mae_pct" for k in metrics or {}):
        return {"walk_forward": True}
    return {}
