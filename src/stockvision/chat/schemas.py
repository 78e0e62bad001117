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
