"""Admin routes (``X-API-Key``): reload the champions, retrain, clear the cache."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from stockvision.serving.deps import AdminKey, ServiceDep
from stockvision.serving.routes.responses import ADMIN_RESPONSES

router = APIRouter(tags=["admin"], responses=ADMIN_RESPONSES)


@router.post("/admin/reload")
async def admin_reload(service: ServiceDep, _: AdminKey) -> dict:
    """Reload the champions now (and the data panel if the store changed)."""
    await run_in_threadpool(service.refresh_panel_if_changed)
    return await run_in_threadpool(service.reload, True)


@router.post("/admin/retrain", status_code=202)
async def admin_retrain(service: ServiceDep, _: AdminKey) -> dict:
    """Run the pipeline in the background; the new champion is picked up when it finishes."""
    return service.start_retrain()


@router.post("/admin/cache/clear")
async def admin_cache_clear(service: ServiceDep, _: AdminKey) -> dict:
    """Drop every cached answer (benchmarks of the cold path, or after a manual data fix)."""
    await run_in_threadpool(service.cache.clear)
    return {"cleared": True, "backend": service.cache.backend}
