"""``/rankings``: the symbols with the highest (or lowest) expected 4-week return."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from stockvision.serving.api_schemas import RankingResponse
from stockvision.serving.deps import ServiceDep
from stockvision.serving.routes.responses import COMMON_RESPONSES, ERROR_RESPONSES
from stockvision.serving.service import ties_of

router = APIRouter(tags=["predictions"])


@router.get(
    "/rankings",
    response_model=RankingResponse,
    responses={**COMMON_RESPONSES, 404: ERROR_RESPONSES[404]},
    summary="Symbols with the highest (direction=up) or lowest expected 4-week return",
)
async def rankings(
    service: ServiceDep,
    top: Annotated[int, Query(ge=1, le=100)] = 10,
    direction: Literal["up", "down"] = "up",
    group: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
) -> RankingResponse:
    items = await run_in_threadpool(service.rankings, top, direction, group)
    as_of = items[0].prediction_date if items else None
    return RankingResponse(
        direction=direction,
        top=top,
        group=group,
        as_of=as_of,
        items=items,
        ranked_by=items[0].rank_basis if items else None,
        ties=ties_of(items),
    )
