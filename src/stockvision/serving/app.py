"""FastAPI app: the prediction service over HTTP, versioned under /api/v1 with the design's paths kept.

Errors never carry stack traces: service errors map to their HTTP status with a message in English and
Vietnamese; anything unexpected is a plain 500 with a request id that appears in the server log.
"""

from __future__ import annotations

import logging
import time
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from prometheus_fastapi_instrumentator import Instrumentator
from starlette.concurrency import run_in_threadpool

from stockvision import __version__
from stockvision.config import Settings, get_settings
from stockvision.serving import metrics as m
from stockvision.serving.api_schemas import (
    BatchRequest,
    BatchResponse,
    ChatRequest,
    ChatResponseModel,
    ErrorResponse,
    HealthResponse,
    HistoryResponse,
    JobStatus,
    PastPredictionsResponse,
    RankingResponse,
    SymbolInfo,
)
from stockvision.serving.errors import ServiceError
from stockvision.serving.ratelimit import make_rate_limiter
from stockvision.serving.schemas import Prediction
from stockvision.serving.service import PredictionService

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
SymbolPath = Annotated[
    str, Path(min_length=1, max_length=10, pattern=r"^[A-Za-z0-9]+$", description="Ticker, e.g. VNM")
]
ERROR_RESPONSES = {
    202: {"model": ErrorResponse, "description": "Data is being fetched; poll the status URL"},
    404: {"model": ErrorResponse, "description": "Unknown symbol (with the closest valid symbols)"},
    422: {"model": ErrorResponse, "description": "Invalid input or too little history"},
    429: {"model": ErrorResponse, "description": "Rate limit exceeded (see Retry-After)"},
    503: {"model": ErrorResponse, "description": "No model loaded or data unavailable"},
}
UNLIMITED = ("/health", "/api/v1/health", "/metrics", "/docs", "/openapi.json", "/chat")


def get_service(request: Request) -> PredictionService:
    return request.app.state.service


def build_router() -> APIRouter:
    router = APIRouter()

    @router.post(
        "/predict/batch",
        response_model=BatchResponse,
        tags=["predictions"],
        summary="Predict a list of symbols (default: the configured universe)",
    )
    async def predict_batch(
        body: BatchRequest | None = None, service: PredictionService = Depends(get_service)
    ) -> BatchResponse:
        symbols = body.symbols if body and body.symbols else None
        preds, errors = await run_in_threadpool(service.predict_many, symbols, "api")
        return BatchResponse(
            batch_id=uuid.uuid4().hex,
            created_at=datetime.now(UTC),
            predictions=preds,
            errors=errors,
        )

    @router.post(
        "/predict/{symbol}",
        response_model=Prediction,
        responses=ERROR_RESPONSES,
        tags=["predictions"],
        summary="One-month-ahead price target and pattern for a symbol",
    )
    async def predict(symbol: SymbolPath, service: PredictionService = Depends(get_service)) -> Prediction:
        return await run_in_threadpool(service.predict_one, symbol, "api")

    @router.get("/rankings", response_model=RankingResponse, tags=["predictions"])
    async def rankings(
        top: Annotated[int, Query(ge=1, le=100)] = 10,
        direction: Literal["up", "down"] = "up",
        group: Annotated[str | None, Query(max_length=40)] = None,
        service: PredictionService = Depends(get_service),
    ) -> RankingResponse:
        items = await run_in_threadpool(service.rankings, top, direction, group)
        as_of = items[0].prediction_date if items else None
        return RankingResponse(direction=direction, top=top, group=group, as_of=as_of, items=items)

    @router.get("/symbols", response_model=list[SymbolInfo], tags=["data"])
    async def symbols(service: PredictionService = Depends(get_service)) -> list[SymbolInfo]:
        return await run_in_threadpool(service.symbols)

    @router.get(
        "/symbols/{symbol}/history", response_model=HistoryResponse, responses=ERROR_RESPONSES, tags=["data"]
    )
    async def history(
        symbol: SymbolPath,
        weeks: Annotated[int, Query(ge=1, le=1040)] = 52,
        service: PredictionService = Depends(get_service),
    ) -> HistoryResponse:
        return await run_in_threadpool(service.history, symbol, weeks)

    @router.get(
        "/predictions/{symbol}", response_model=PastPredictionsResponse, responses=ERROR_RESPONSES, tags=["predictions"]
    )
    async def past_predictions(
        symbol: SymbolPath, service: PredictionService = Depends(get_service)
    ) -> PastPredictionsResponse:
        return await run_in_threadpool(service.past_predictions, symbol)

    @router.get("/jobs/{symbol}", response_model=JobStatus, responses=ERROR_RESPONSES, tags=["data"])
    async def job_status(symbol: SymbolPath, service: PredictionService = Depends(get_service)) -> JobStatus:
        status = service.healer.status(symbol.upper())
        if status is None:
            raise HTTPException(404, f"no data job for {symbol.upper()}")
        return status

    @router.get("/health", response_model=HealthResponse, tags=["operations"])
    async def health(service: PredictionService = Depends(get_service)) -> HealthResponse:
        return await run_in_threadpool(service.health)

    @router.post("/admin/reload", tags=["admin"])
    async def admin_reload(
        service: PredictionService = Depends(get_service), _: None = Depends(require_api_key)
    ) -> dict:
        return await run_in_threadpool(service.reload, True)

    @router.post("/admin/retrain", status_code=202, tags=["admin"])
    async def admin_retrain(
        service: PredictionService = Depends(get_service), _: None = Depends(require_api_key)
    ) -> dict:
        return service.start_retrain()

    @router.post("/chat", response_model=ChatResponseModel, tags=["chat"])
    async def chat(body: ChatRequest, request: Request) -> ChatResponseModel:
        engine = request.app.state.chat_engine
        if engine is None:
            raise HTTPException(503, "chat engine not available")
        return await run_in_threadpool(engine.respond_model, body.message, body.session_id)

    return router


def require_api_key(request: Request, x_api_key: Annotated[str | None, Header()] = None) -> None:
    expected = request.app.state.settings.api_key
    if not expected:
        raise HTTPException(403, "admin endpoints are disabled: set SV_API_KEY to enable them")
    if x_api_key != expected:
        raise HTTPException(401, "missing or wrong X-API-Key header")


def create_app(
    settings: Settings | None = None,
    service: PredictionService | None = None,
    *,
    start_background: bool = True,
    mount_chat_ui: bool = True,
) -> FastAPI:
    """Build the app. ``service`` may be injected (tests); otherwise it is built from settings."""
    settings = settings or get_settings()
    service = service or PredictionService(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(service.start, start_background)
        try:
            yield
        finally:
            service.stop()

    app = FastAPI(
        title="Stock Vision API",
        version=__version__,
        description=(
            "One-month-ahead price targets (with conformal intervals) and calibrated UP/DOWN/SIDEWAYS "
            "patterns for Vietnamese stocks. Not investment advice."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    app.state.limiter = make_rate_limiter(settings.redis_url, settings.rate_limit_per_minute)
    app.state.chat_engine = None
    try:
        from stockvision.chat.engine import build_engine

        app.state.chat_engine = build_engine(service, settings)
    except ImportError:  # chat layer optional
        log.info("chat engine unavailable")

    router = build_router()
    app.include_router(router, prefix="/api/v1")
    app.include_router(router, include_in_schema=False)  # the design's unversioned paths

    @app.get("/", include_in_schema=False)
    async def root():
        return RedirectResponse("/chat/" if app.state.chat_ui_mounted else "/docs")

    @app.middleware("http")
    async def guard(request: Request, call_next):
        length = request.headers.get("content-length")
        if length is not None and (not length.isdigit() or int(length) > MAX_BODY_BYTES):
            return _error(413, "payload_too_large", f"request body over {MAX_BODY_BYTES} bytes")
        path = request.url.path
        if not path.startswith(UNLIMITED) and not path.startswith("/chat/"):
            client = request.headers.get("x-api-key") or (request.client.host if request.client else "?")
            verdict = app.state.limiter.hit(client)
            if not verdict.allowed:
                m.ERRORS.labels("429").inc()
                resp = _error(
                    429,
                    "rate_limited",
                    "too many requests; slow down",
                    message_vi="Quá nhiều yêu cầu, vui lòng thử lại sau.",
                )
                resp.headers["Retry-After"] = str(verdict.retry_after)
                return resp
        t0 = time.perf_counter()
        try:
            response = await call_next(request)
        except Exception:  # never leak a traceback to the client
            rid = uuid.uuid4().hex[:12]
            log.exception("unhandled error, request id %s", rid)
            m.ERRORS.labels("500").inc()
            return _error(500, "internal_error", f"internal error (request id {rid})")
        if response.status_code >= 400:
            m.ERRORS.labels(str(response.status_code)).inc()
        response.headers["X-Process-Time-Ms"] = f"{(time.perf_counter() - t0) * 1000:.2f}"
        return response

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError):
        headers = {"Location": exc.details["status_url"]} if exc.status == 202 else None
        return JSONResponse(exc.payload(), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        problems = [
            {"loc": [str(x) for x in e.get("loc", [])], "msg": str(e.get("msg", ""))} for e in exc.errors()
        ]
        return JSONResponse(
            {
                "error": "invalid_request",
                "message": "the request is invalid: " + "; ".join(p["msg"] for p in problems),
                "message_vi": "Yêu cầu không hợp lệ.",
                "details": problems,
            },
            status_code=422,
        )

    Instrumentator(excluded_handlers=["/metrics"]).instrument(app).expose(
        app, endpoint="/metrics", include_in_schema=False
    )

    app.state.chat_ui_mounted = False
    if mount_chat_ui and app.state.chat_engine is not None:
        try:
            from stockvision.chat.ui import mount_chat_ui as _mount

            app = _mount(app, app.state.chat_engine, service)
            app.state.chat_ui_mounted = True
        except ImportError:
            log.info("gradio not installed: chat UI not mounted")
    return app


def _error(status: int, code: str, message: str, message_vi: str | None = None) -> JSONResponse:
    return JSONResponse({"error": code, "message": message, "message_vi": message_vi}, status_code=status)
