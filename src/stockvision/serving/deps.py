"""Typed dependencies of the routes: the service, the chat and the admin key check."""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import Depends, Header, Path, Request
from starlette.exceptions import HTTPException as StarletteHTTPException

from stockvision.config import Settings
from stockvision.errors import RateLimitedError
from stockvision.serving.service import PredictionService


def get_service(request: Request) -> PredictionService:
    return request.app.state.service


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.settings


def get_chat(request: Request) -> Any:
    return request.app.state.chat_engine


def require_api_key(
    settings: Annotated[Settings, Depends(get_settings_dep)],
    x_api_key: Annotated[str | None, Header(max_length=200)] = None,
) -> None:
    expected = settings.api_key
    if not expected:
        raise StarletteHTTPException(
            403, "admin endpoints are disabled: set SV_API_KEY to enable them"
        )
    if x_api_key is None or not hmac.compare_digest(x_api_key.encode(), expected.encode()):
        raise StarletteHTTPException(401, "missing or wrong X-API-Key header")


def charge(request: Request, units: int) -> None:
    """Charge ``units`` more work to the client of ``request`` (its route knows the real cost)."""
    if units <= 0:
        return
    limiter = request.app.state.limiter
    client = request.scope.get("state", {}).get("sv_client", "unknown")
    verdict = limiter.hit(client, units, "api")
    if not verdict.allowed:
        raise RateLimitedError(limiter.limit_of("api"), verdict.retry_after)


ServiceDep = Annotated[PredictionService, Depends(get_service)]
ChatDep = Annotated[Any, Depends(get_chat)]
AdminKey = Annotated[None, Depends(require_api_key)]
SymbolPath = Annotated[
    str,
    Path(min_length=1, max_length=10, pattern=r"^[A-Za-z0-9]+$", description="Ticker, e.g. VNM"),
]
