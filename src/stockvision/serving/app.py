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
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as instr_metrics
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stockvision import __version__
from stockvision.config import Settings
from stockvision.errors import StockVisionError
from stockvision.serving import metrics as m
from stockvision.serving.errors import http_status
from stockvision.serving.ratelimit import make_rate_limiter
from stockvision.serving.routes import build_router
from stockvision.serving.service import PredictionService

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
UPLOAD_PREFIX = "/chat/gradio_api/upload"
UPLOAD_MAX_BYTES = 20 * 1024 * 1024 + 64 * 1024  # the chat UI's 20 MB file limit plus form overhead
API_PREFIX = "/api/v1"
#: Paths never rate limited (probes, scrapes, docs) — exact matches.
UNLIMITED = frozenset(
    {"/health", f"{API_PREFIX}/health", "/ping", f"{API_PREFIX}/ping", "/metrics", "/docs",
     "/openapi.json", "/docs/oauth2-redirect", "/redoc"}
)  # fmt: skip


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
    settings: Settings,
    service: PredictionService | None = None,
    *,
    start_background: bool = True,
    mount_chat_ui: bool = True,
) -> FastAPI:
    """Build the app. ``service`` may be injected; otherwise it is built from settings (without
    retraining: :func:`stockvision.app.build_app` wires that in).

    The service starts (models and data loaded) in the lifespan; ``start_background`` also runs the
    model watcher (hot swap every ``reload_interval_seconds``) and the writer of served predictions.
    """
    service = service or PredictionService(settings, heal_source=healing_source)

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

    @app.exception_handler(StockVisionError)
    async def service_error(request: Request, exc: StockVisionError):
        status = http_status(exc)
        if not exc.user_error:  # a fault, not a user mistake: keep its traceback in the log
            log.error("%s on %s: %s", exc.code, request.url.path, exc, exc_info=exc)
        headers = {"Location": exc.details["status_url"]} if "status_url" in exc.details else None
        return JSONResponse(exc.payload(), status_code=status, headers=headers)

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


def healing_source(settings: Settings):
    """The data source the auto-healer fetches from (built with the service's settings when a
    fetch starts)."""
    from stockvision.data.sources import get_source

    return get_source(settings.source, settings)
