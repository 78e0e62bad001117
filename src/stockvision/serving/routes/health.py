"""``/health`` (models, data freshness, dependencies) and ``/ping`` (liveness)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from stockvision.serving.api_schemas import HealthResponse
from stockvision.serving.deps import ServiceDep

router = APIRouter(tags=["operations"])


@router.get("/health", response_model=HealthResponse)
async def health(service: ServiceDep) -> HealthResponse:
    return await run_in_threadpool(service.health)


@router.get("/ping", summary="Liveness probe (no dependencies touched)")
async def ping() -> dict[str, str]:
    return {"status": "ok"}
