"""HTTP routes, one module per resource; :func:`build_router` assembles them."""

from __future__ import annotations

from fastapi import APIRouter

from stockvision.serving.routes import (
    admin,
    chat,
    health,
    jobs,
    news,
    predictions,
    rankings,
    shadow,
    stream,
    symbols,
)


def build_router(with_chat: bool) -> APIRouter:
    """Every route of the API (the chat endpoint only when the chat layer is available)."""
    router = APIRouter()
    for module in (predictions, rankings, symbols, news, jobs, health, admin, stream, shadow):
        router.include_router(module.router)
    if with_chat:
        from stockvision.serving.routes import agent

        router.include_router(chat.router)
        router.include_router(agent.router)
    return router
