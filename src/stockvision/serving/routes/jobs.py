"""``/jobs/{symbol}``: the status of a background data fetch (the URL a 202 points to)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.exceptions import HTTPException as StarletteHTTPException

from stockvision.errors import scrub_paths
from stockvision.serving.api_schemas import JobStatus
from stockvision.serving.deps import ServiceDep, SymbolPath
from stockvision.serving.routes.responses import ERROR_RESPONSES

router = APIRouter(tags=["data"])


@router.get(
    "/jobs/{symbol}",
    response_model=JobStatus,
    responses=ERROR_RESPONSES,
    summary="Status of a background data fetch (the URL a 202 points to)",
)
async def job_status(symbol: SymbolPath, service: ServiceDep) -> JobStatus:
    status = service.healer.status(symbol.upper())
    if status is None:
        raise StarletteHTTPException(404, f"no data job for {symbol.upper()}")
    return status.model_copy(
        update={
            "message": scrub_paths(status.message),
            "message_vi": scrub_paths(status.message_vi),
        }
    )
