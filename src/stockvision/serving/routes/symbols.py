"""``/symbols`` (listings) and ``/symbols/{symbol}/history`` (weekly bars for charts)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from stockvision.serving.api_schemas import HistoryResponse, SymbolInfo
from stockvision.serving.deps import ServiceDep, SymbolPath
from stockvision.serving.routes.responses import COMMON_RESPONSES, ERROR_RESPONSES

router = APIRouter(tags=["data"])


@router.get("/symbols", response_model=list[SymbolInfo], responses=COMMON_RESPONSES)
async def symbols(service: ServiceDep) -> list[SymbolInfo]:
    return await run_in_threadpool(service.symbols)


@router.get(
    "/symbols/{symbol}/history",
    response_model=HistoryResponse,
    responses=ERROR_RESPONSES,
    summary="Weekly adjusted OHLCV bars for charts",
)
async def history(
    symbol: SymbolPath,
    service: ServiceDep,
    weeks: Annotated[int, Query(ge=1, le=1040)] = 52,
) -> HistoryResponse:
    return await run_in_threadpool(service.history, symbol, weeks)
