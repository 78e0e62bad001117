"""The chat's HTTP schema (``POST /chat``): request and response bodies."""

from __future__ import annotations

from pydantic import BaseModel, Field

from stockvision.predict.types import Prediction


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=2000)
    session_id: str | None = Field(default=None, max_length=100)


class ChatResponseModel(BaseModel):
    answer: str
    intent: str
    symbols: list[str]
    language: str
    session_id: str
    predictions: list[Prediction] = Field(default_factory=list)
    suggestions: list[str] = Field(default_factory=list)


class AgentRequest(BaseModel):
    """``POST /agent/chat``. ``user_id`` keys the long-term memory: treat it as a secret (the chat
    UI keeps a random one in the browser); it is stored only as a hash."""

    message: str = Field(min_length=1, max_length=2000)
    user_id: str = Field(min_length=8, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    session_id: str | None = Field(default=None, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")
    language: str | None = Field(default=None, pattern=r"^(vi|en)$")
