"""FastAPI app: the prediction service over HTTP, versioned under /api/v1 with the design's paths kept.

Errors never carry stack traces: service errors map to their HTTP status with a message in English and
Vietnamese; anything unexpected is a plain JSON 500 with a request id that appears in the server log.
Request size and rate limits are enforced by one pure-ASGI middleware (cheaper than ``BaseHTTPMiddleware``
and it also counts chunked bodies that carry no ``Content-Length``).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as instr_metrics
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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
UPLOAD_PREFIX = "/chat/gradio_api/upload"
UPLOAD_MAX_BYTES = 20 * 1024 * 1024 + 64 * 1024  # the chat UI's 20 MB file limit plus form overhead
API_PREFIX = "/api/v1"
SymbolPath = Annotated[
    str,
    Path(min_length=1, max_length=10, pattern=r"^[A-Za-z0-9]+$", description="Ticker, e.g. VNM"),
]
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": ErrorResponse, "description": "Data is being fetched; poll the status URL"},
    404: {"model": ErrorResponse, "description": "Unknown symbol (with the closest valid symbols)"},
    422: {"model": ErrorResponse, "description": "Invalid input or too little history"},
    429: {"model": ErrorResponse, "description": "Rate limit exceeded (see Retry-After)"},
    503: {"model": ErrorResponse, "description": "No model loaded or data unavailable"},
}
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    k: v for k, v in ERROR_RESPONSES.items() if k in (422, 429, 503)
}
ADMIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong X-API-Key"},
    403: {"model": ErrorResponse, "description": "Admin endpoints disabled (no SV_API_KEY set)"},
    429: ERROR_RESPONSES[429],
}
#: Paths never rate limited (probes, scrapes, docs) — exact matches.
UNLIMITED = frozenset(
    {"/health", f"{API_PREFIX}/health", "/ping", f"{API_PREFIX}/ping", "/metrics", "/docs",
     "/openapi.json", "/docs/oauth2-redirect", "/redoc"}
)  # fmt: skip


def get_service(request: Request) -> PredictionService:
    return request.app.state.service


def require_api_key(
    request: Request,
    x_api_key: Annotated[str | None, Header(max_length=200)] = None,
) -> None:
    expected = request.app.state.settings.api_key
    if not expected:
        raise StarletteHTTPException(
            403, "admin endpoints are disabled: set SV_API_KEY to enable them"
        )
    import hmac

    if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), expected.encode()):
        raise StarletteHTTPException(401, "missing or wrong X-API-Key header")


def build_router(with_chat: bool) -> APIRouter:
    router = APIRouter()

    @router.post(
        "/predict/batch",
        response_model=BatchResponse,
        responses=COMMON_RESPONSES,
        tags=["predictions"],
        summary="Predict a list of symbols (default: the configured universe)",
    )
    async def predict_batch(
        body: BatchRequest | None = None, service: PredictionService = Depends(get_service)
    ) -> BatchResponse:  # type: ignore[return]
        symbols = body.symbols if body and body.symbols else None
        preds, errors = await run_in_threadpool(service.predict_many, symbols, "api")
        batch = BatchResponse(
            batch_id=uuid.uuid4().hex,
            created_at=datetime.now(UTC),
            predictions=preds,
            errors=errors,
        )
        return _json(batch.model_dump_json())  # already validated: skip FastAPI's second pass

    @router.post(
        "/predict/{symbol}",
        response_model=Prediction,
        responses=ERROR_RESPONSES,
        tags=["predictions"],
        summary="One-month-ahead price target and pattern for a symbol",
    )
    async def predict(
        symbol: SymbolPath, service: PredictionService = Depends(get_service)
    ) -> Prediction:
        # Hot path: an in-process cache hit is answered on the event loop, bytes as cached.
        if service.cache.backend == "memory":
            raw = service.cached_json(symbol, "api")
        else:  # Redis is network I/O: keep it off the event loop
            raw = await run_in_threadpool(service.cached_json, symbol, "api")
        if raw is not None:
            return _json(raw)  # type: ignore[return-value]
        pred = await run_in_threadpool(service.predict_one, symbol, "api")
        return _json(pred.model_dump_json())  # type: ignore[return-value]

    @router.get(
        "/rankings",
        response_model=RankingResponse,
        responses=COMMON_RESPONSES,
        tags=["predictions"],
        summary="Symbols with the highest (direction=up) or lowest expected 4-week return",
    )
    async def rankings(
        top: Annotated[int, Query(ge=1, le=100)] = 10,
        direction: Literal["up", "down"] = "up",
        group: Annotated[str | None, Query(min_length=1, max_length=40)] = None,
        service: PredictionService = Depends(get_service),
    ) -> RankingResponse:
        items = await run_in_threadpool(service.rankings, top, direction, group)
        as_of = items[0].prediction_date if items else None
        return RankingResponse(direction=direction, top=top, group=group, as_of=as_of, items=items)

    @router.get(
        "/symbols", response_model=list[SymbolInfo], responses=COMMON_RESPONSES, tags=["data"]
    )
    async def symbols(service: PredictionService = Depends(get_service)) -> list[SymbolInfo]:
        return await run_in_threadpool(service.symbols)

    @router.get(
        "/symbols/{symbol}/history",
        response_model=HistoryResponse,
        responses=ERROR_RESPONSES,
        tags=["data"],
        summary="Weekly adjusted OHLCV bars for charts",
    )
    async def history(
        symbol: SymbolPath,
        weeks: Annotated[int, Query(ge=1, le=1040)] = 52,
        service: PredictionService = Depends(get_service),
    ) -> HistoryResponse:
        return await run_in_threadpool(service.history, symbol, weeks)

    @router.get(
        "/predictions/{symbol}",
        response_model=PastPredictionsResponse,
        responses=ERROR_RESPONSES,
        tags=["predictions"],
        summary="Past predictions of a symbol with their realised outcome where known",
    )
    async def past_predictions(
        symbol: SymbolPath, service: PredictionService = Depends(get_service)
    ) -> PastPredictionsResponse:
        return await run_in_threadpool(service.past_predictions, symbol)

    @router.get(
        "/jobs/{symbol}",
        response_model=JobStatus,
        responses=ERROR_RESPONSES,
        tags=["data"],
        summary="Status of a background data fetch (the URL a 202 points to)",
    )
    async def job_status(
        symbol: SymbolPath, service: PredictionService = Depends(get_service)
    ) -> JobStatus:
        status = service.healer.status(symbol.upper())
        if status is None:
            raise StarletteHTTPException(404, f"no data job for {symbol.upper()}")
        return status

    @router.get("/health", response_model=HealthResponse, tags=["operations"])
    async def health(service: PredictionService = Depends(get_service)) -> HealthResponse:
        return await run_in_threadpool(service.health)

    @router.get("/ping", tags=["operations"], summary="Liveness probe (no dependencies touched)")
    async def ping() -> dict[str, str]:
        return {"status": "ok"}

    @router.post("/admin/reload", responses=ADMIN_RESPONSES, tags=["admin"])
    async def admin_reload(
        service: PredictionService = Depends(get_service), _: None = Depends(require_api_key)
    ) -> dict:
        """Reload the champions now (and the data panel if the store changed)."""
        await run_in_threadpool(service.refresh_panel_if_changed)
        return await run_in_threadpool(service.reload, True)

    @router.post("/admin/retrain", status_code=202, responses=ADMIN_RESPONSES, tags=["admin"])
    async def admin_retrain(
        service: PredictionService = Depends(get_service), _: None = Depends(require_api_key)
    ) -> dict:
        """Run the pipeline in the background; the new champion is picked up when it finishes."""
        return service.start_retrain()

    @router.post("/admin/cache/clear", responses=ADMIN_RESPONSES, tags=["admin"])
    async def admin_cache_clear(
        service: PredictionService = Depends(get_service), _: None = Depends(require_api_key)
    ) -> dict:
        """Drop every cached answer (benchmarks of the cold path, or after a manual data fix)."""
        await run_in_threadpool(service.cache.clear)
        return {"cleared": True, "backend": service.cache.backend}

    if with_chat:

        @router.post(
            "/chat", response_model=ChatResponseModel, responses=COMMON_RESPONSES, tags=["chat"]
        )
        async def chat(body: ChatRequest, request: Request) -> ChatResponseModel:
            engine = request.app.state.chat_engine
            return await run_in_threadpool(engine.respond_model, body.message, body.session_id)

    return router


def _json(content: str | bytes) -> Response:
    return Response(content=content, media_type="application/json")


class GuardMiddleware:
    """Body size limit, per-client rate limit, error counting and a catch-all for unhandled errors."""

    def __init__(self, app: ASGIApp, *, limiter: Any, max_body: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.limiter = limiter
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False
        t0 = time.perf_counter()

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                status = int(message["status"])
                if status >= 400:
                    m.ERRORS.labels(str(status)).inc()
                elapsed = f"{(time.perf_counter() - t0) * 1000:.2f}".encode()
                extra = [(b"x-process-time-ms", elapsed)]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        path = scope.get("path", "")
        # file uploads to the chat UI may be larger than API bodies (Gradio enforces max_file_size)
        max_body = UPLOAD_MAX_BYTES if path.startswith(UPLOAD_PREFIX) else self.max_body
        length = None
        for name, value in scope.get("headers") or ():
            if name == b"content-length":
                length = value
                break
        if length is not None and (not length.isdigit() or int(length) > max_body):
            await _send_error(tracking_send, 413, "payload_too_large", self._too_large())
            return
        if path not in UNLIMITED and not path.startswith("/chat/"):
            client = scope.get("client")
            verdict = self.limiter.hit(client[0] if client else "unknown")
            if not verdict.allowed:
                await _send_error(
                    tracking_send,
                    429,
                    "rate_limited",
                    f"too many requests: at most {self.limiter.limit} per minute per client",
                    message_vi="Quá nhiều yêu cầu, vui lòng thử lại sau.",
                    headers=[(b"retry-after", str(verdict.retry_after).encode())],
                )
                return

        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            if too_large:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_body:  # a chunked body without Content-Length
                    too_large = True
                    return {"type": "http.disconnect"}  # stop reading; the answer becomes 413
            return message

        replaced = False

        async def guarded_send(message: Message) -> None:
            nonlocal replaced
            if too_large:
                if message["type"] == "http.response.start" and not replaced:
                    replaced = True
                    await _send_error(tracking_send, 413, "payload_too_large", self._too_large())
                return
            await tracking_send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:  # never leak a traceback to the client
            rid = uuid.uuid4().hex[:12]
            log.exception("unhandled error, request id %s", rid)
            if not started:
                await _send_error(
                    tracking_send, 500, "internal_error", f"internal error (request id {rid})"
                )

    def _too_large(self) -> str:
        return f"request body over {self.max_body} bytes"


async def _send_error(
    send: Send,
    status: int,
    code: str,
    message: str,
    message_vi: str | None = None,
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    body = json.dumps({"error": code, "message": message, "message_vi": message_vi}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def create_app(
    settings: Settings | None = None,
    service: PredictionService | None = None,
    *,
    start_background: bool = True,
    mount_chat_ui: bool = True,
) -> FastAPI:
    """Build the app. ``service`` may be injected (tests); otherwise it is built from settings.

    The service starts (models and data loaded) in the lifespan; ``start_background`` also runs the model
    watcher (hot swap every ``reload_interval_seconds``) and the writer of served predictions.
    """
    settings = settings or get_settings()
    service = service or PredictionService(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        await run_in_threadpool(service.start, start_background)
        try:
            yield
        finally:
            await run_in_threadpool(service.stop)

    app = FastAPI(
        title="Stock Vision API",
        version=__version__,
        description=(
            "One-month-ahead price targets (with conformal intervals) and calibrated UP/DOWN/SIDEWAYS "
            "patterns for Vietnamese stocks. Prices in VND, with thousand-VND display values (`*_k`). "
            "Not investment advice."
        ),
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.service = service
    limiter = make_rate_limiter(settings.redis_url, settings.rate_limit_per_minute)
    app.state.limiter = limiter
    app.state.chat_engine = None
    try:
        from stockvision.chat.wiring import build_engine

        app.state.chat_engine = build_engine(service, settings)
    except ImportError:  # chat layer optional
        log.info("chat engine unavailable")

    router = build_router(with_chat=app.state.chat_engine is not None)
    app.include_router(router, prefix=API_PREFIX)
    app.include_router(router, include_in_schema=False)  # the design's unversioned paths

    @app.get("/", include_in_schema=False)
    async def root():
        return RedirectResponse("/chat/" if app.state.chat_ui_mounted else "/docs")

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError):
        headers = {"Location": exc.details["status_url"]} if exc.status == 202 else None
        return JSONResponse(exc.payload(), status_code=exc.status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        codes = {401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}
        return JSONResponse(
            {"error": codes.get(exc.status_code, "http_error"), "message": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        problems = [
            {"loc": [str(x) for x in e.get("loc", [])], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        return JSONResponse(
            {
                "error": "invalid_request",
                "message": "the request is invalid: "
                + "; ".join(f"{'.'.join(p['loc'])}: {p['msg']}" for p in problems),
                "message_vi": "Yêu cầu không hợp lệ.",
                "details": problems,
            },
            status_code=422,
        )

    # Guard inside the instrumentation, so 413/429/500 answers are counted per route like any other.
    app.add_middleware(GuardMiddleware, limiter=limiter)
    registry = m.app_registry()
    instrumentator = Instrumentator(excluded_handlers=["/metrics"], registry=registry)
    instrumentator.add(
        instr_metrics.default(latency_lowr_buckets=m.HTTP_LATENCY_BUCKETS, registry=registry)
    )
    instrumentator.instrument(app).expose(app, endpoint="/metrics", include_in_schema=False)

    app.state.chat_ui_mounted = False
    if mount_chat_ui and app.state.chat_engine is not None:
        try:
            from stockvision.chat.ui import mount_chat_ui as _mount

            app = _mount(app, app.state.chat_engine, service)
            app.state.chat_ui_mounted = True
        except ImportError:
            log.info("gradio not installed: chat UI not mounted")
    return app
