"""``/predict/{symbol}``, ``/predict/batch`` and ``/predictions/{symbol}`` (past predictions)."""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from stockvision.predict.types import Prediction
from stockvision.serving.api_schemas import BatchRequest, BatchResponse, PastPredictionsResponse
from stockvision.serving.deps import ServiceDep, SymbolPath, charge
from stockvision.serving.routes.responses import (
    BODY_RESPONSES,
    ERROR_RESPONSES,
    json_response,
)

router = APIRouter(tags=["predictions"])
#: symbols per unit of the rate limit in a batch
BATCH_UNIT = 10


@router.post(
    "/predict/batch",
    response_model=BatchResponse,
    responses=BODY_RESPONSES,
    summary="Predict a list of symbols (default: the configured universe)",
)
async def predict_batch(
    request: Request, service: ServiceDep, body: BatchRequest | None = None
) -> BatchResponse:  # type: ignore[return]
    """Costs one unit of the client's rate limit per ten symbols (the request itself is one)."""
    symbols = body.symbols if body and body.symbols else None
    n = len(symbols) if symbols else len(service.settings.symbols())
    charge(request, math.ceil(n / BATCH_UNIT) - 1)
    preds, errors = await run_in_threadpool(service.predict_many, symbols, "api")
    batch = BatchResponse(
        batch_id=uuid.uuid4().hex, created_at=datetime.now(UTC), predictions=preds, errors=errors
    )
    return json_response(batch.model_dump_json())  # type: ignore[return-value]


@router.post(
    "/predict/{symbol}",
    response_model=Prediction,
    responses=ERROR_RESPONSES,
    summary="One-month-ahead price target and pattern for a symbol",
)
async def predict(symbol: SymbolPath, service: ServiceDep) -> Prediction:
    # Hot path: an in-process cache hit is answered on the event loop, bytes as cached.
    if service.cache.backend == "memory":
        raw = service.cached_json(symbol, "api")
    else:  # Redis is network I/O: keep it off the event loop
        raw = await run_in_threadpool(service.cached_json, symbol, "api")
    if raw is not None:
        return json_response(raw)  # type: ignore[return-value]
    pred = await run_in_threadpool(service.predict_one, symbol, "api")
    return json_response(pred.model_dump_json())  # type: ignore[return-value]


@router.get(
    "/predictions/{symbol}",
    response_model=PastPredictionsResponse,
    responses=ERROR_RESPONSES,
    summary="Past predictions of a symbol with their realised outcome where known",
)
async def past_predictions(symbol: SymbolPath, service: ServiceDep) -> PastPredictionsResponse:
    return await run_in_threadpool(service.past_predictions, symbol)
