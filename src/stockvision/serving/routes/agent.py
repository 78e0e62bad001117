"""``POST /agent/chat``: the agent (tools, grounded answers, per-user memory) over HTTP."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from stockvision.chat.agent import AgentResponse
from stockvision.chat.schemas import AgentRequest
from stockvision.serving.routes.responses import BODY_RESPONSES

router = APIRouter(tags=["agent"])


@router.post("/agent/chat", response_model=AgentResponse, responses=BODY_RESPONSES)
async def agent_chat(body: AgentRequest, request: Request) -> AgentResponse:
    agent = request.app.state.agent
    session = body.session_id or uuid.uuid4().hex
    return await run_in_threadpool(agent.chat, body.message, body.user_id, session, body.language)
