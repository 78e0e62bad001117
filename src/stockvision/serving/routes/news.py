"""``/news/{symbol}``: the latest headlines about a symbol, with tone, time and link.

Rate-limited like every API route (the guard's ``api`` bucket). Publisher text is untrusted: it is
returned HTML-escaped, links only when they are plain http(s) URLs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from stockvision.errors import UnknownSymbolError
from stockvision.serving.deps import ServiceDep, SymbolPath
from stockvision.serving.routes.responses import COMMON_RESPONSES, ERROR_RESPONSES

router = APIRouter(tags=["news"])


class NewsItemOut(BaseModel):
    title: str
    source: str
    published_at: datetime
    link: str | None = None
    tone: str | None = None
    p_negative: float | None = None
    p_neutral: float | None = None
    p_positive: float | None = None
    symbols: list[str]


class NewsResponse(BaseModel):
    symbol: str
    count: int
    items: list[NewsItemOut]
    note: str = (
        "Headlines from publishers (HTML-escaped); tone from the registered sentiment model "
        "when scored. News explains, it does not forecast."
    )


def _news(service, symbol: str, limit: int) -> NewsResponse:
    from stockvision.market.listings import closest_symbols, is_known
    from stockvision.news.views import headlines, html_text

    sym = symbol.strip().upper()
    items = headlines(service.store, sym, limit=limit)
    if not items and not is_known(sym):
        raise UnknownSymbolError(sym, closest_symbols(sym))
    out = [
        NewsItemOut(
            **{**h.to_dict(), "published_at": h.published_at},
            # escaped after the fact: the stored text stays as published
        ).model_copy(update={"title": html_text(h.title), "source": html_text(h.source)})
        for h in items
    ]
    return NewsResponse(symbol=sym, count=len(out), items=out)


@router.get(
    "/news/{symbol}",
    response_model=NewsResponse,
    responses={**COMMON_RESPONSES, 404: ERROR_RESPONSES[404]},
    summary="Latest news headlines about a symbol, with tone",
)
async def news(
    symbol: SymbolPath,
    service: ServiceDep,
    limit: Annotated[int, Query(ge=1, le=50)] = 10,
) -> NewsResponse:
    return await run_in_threadpool(_news, service, symbol, limit)
