"""FastAPI app: the prediction service over HTTP, versioned under /api/v1 with the design's paths kept.

Errors never carry stack traces or server paths: service errors map to their HTTP status with a message
in English and Vietnamese; anything unexpected is a plain JSON 500 with a request id that appears in the
server log. Client identity, rate limits, body sizes and the chat UI's surface are enforced by
:class:`~stockvision.serving.guard.GuardMiddleware`.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from prometheus_fastapi_instrumentator import Instrumentator
from prometheus_fastapi_instrumentator import metrics as instr_metrics
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from stockvision import __version__
from stockvision.config import Settings
from stockvision.errors import StockVisionError
from stockvision.serving import metrics as m
from stockvision.serving.errors import http_status
from stockvision.serving.guard import API_PREFIX, ClientResolver, GuardMiddleware, scrub
from stockvision.serving.live import LiveSide
from stockvision.serving.ratelimit import make_rate_limiter
from stockvision.serving.routes import build_router
from stockvision.serving.service import PredictionService

log = logging.getLogger(__name__)


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
        if getattr(app.state, "agent", None) is not None:
            app.state.agent.start_indexing()  # docs, then news, into memory in the background
        app.state.live = LiveSide(settings, service)
        await app.state.live.start()
        try:
            yield
        finally:
            await app.state.live.stop()
            await run_in_threadpool(service.stop)
            agent = getattr(app.state, "agent", None)
            if agent is not None:  # before the store and memory they write close
                await run_in_threadpool(agent.stop_indexing)
            if agent is not None and agent.memory is not None:
                agent.memory.close()  # releases the local Qdrant store's lock

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
    limiter = make_rate_limiter(
        settings.redis_url,
        {
            "api": settings.rate_limit_per_minute,
            "ui": settings.ui_rate_limit_per_minute,
            "ops": settings.ops_rate_limit_per_minute,
        },
    )
    app.state.limiter = limiter
    app.state.chat_engine = None
    app.state.agent = None
    try:
        from stockvision.chat.wiring import build_engine

        app.state.chat_engine = build_engine(service, settings)
        from stockvision.chat.wiring import build_agent

        app.state.agent = build_agent(app.state.chat_engine, settings, start_indexing=False)
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
        if "retry_after" in exc.details:
            headers = {"Retry-After": str(exc.details["retry_after"])}
        return JSONResponse(scrub(exc.payload()), status_code=status, headers=headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        codes = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
                 405: "method_not_allowed"}  # fmt: skip
        return JSONResponse(
            {"error": codes.get(exc.status_code, "http_error"), "message": scrub(str(exc.detail))},
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
    # Gradio function indices of the chat page's live-panel polls, filled when the UI is mounted
    app.state.chat_ui_events = ui_events = set()
    app.add_middleware(
        GuardMiddleware,
        limiter=limiter,
        resolver=ClientResolver(settings.trusted_proxies),
        ui_events=ui_events,
    )
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

            live_reader = live_latest(app.state) if settings.stream_enabled else None
            app = _mount(app, app.state.chat_engine, service, agent=app.state.agent,
                         latest=live_reader, live_symbols=stored_symbols(service),
                         ui_events=ui_events)  # fmt: skip
            app.state.chat_ui_mounted = True
        except ImportError:
            log.info("gradio not installed: chat UI not mounted")
    return app


def live_latest(state: Any):
    """For the chat page: ``latest(kind, symbol)``, the hub's newest message (None if none yet)."""

    def latest(kind: str, symbol: str) -> dict | None:
        live = getattr(state, "live", None)
        hub = getattr(live, "hub", None)
        return None if hub is None else hub.last.get(kind, {}).get(symbol)

    return latest


def stored_symbols(service: Any):
    """For the chat page's live dropdown: the symbols the store holds, sorted (read per call)."""

    def symbols() -> list[str]:
        try:
            summary = service.store.symbols_summary()
        except Exception as exc:  # an unreadable store must not break the page
            log.warning("live symbols: %s", exc)
            return []
        return sorted(summary["symbol"].astype(str)) if len(summary) else []

    return symbols


def healing_source(settings: Settings):
    """The data source the auto-healer fetches from: real prices only (built with the service's
    settings when a fetch starts)."""
    from stockvision.data.sources import real_source

    return real_source(settings)
