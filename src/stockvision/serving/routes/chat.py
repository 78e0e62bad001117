"""``POST /chat``: the chat engine over HTTP (the same answers as the web UI)."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from stockvision.chat.schemas import ChatRequest, ChatResponseModel
from stockvision.serving.deps import ChatDep
from stockvision.serving.routes.responses import BODY_RESPONSES

router = APIRouter(tags=["chat"])


@router.post("/chat", response_model=ChatResponseModel, responses=BODY_RESPONSES)
async def chat(body: ChatRequest, engine: ChatDep) -> ChatResponseModel:
    return await run_in_threadpool(engine.respond_model, body.message, body.session_id)
