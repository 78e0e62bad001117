"""Request/response schemas of the HTTP API (besides ``Prediction`` in ``schemas.py``)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator

from stockvision.predict.types import Prediction

SYMBOL_PATTERN = r"^[A-Za-z0-9]{1,10}$"


Ticker = Annotated[str, Field(pattern=r"^\s*[A-Za-z0-9]{1,10}\s*$", examples=["VNM"])]


class BatchRequest(BaseModel):
    symbols: list[Ticker] | None = Field(
        default=None,
        max_length=500,
        description="Symbols to predict; default: the configured universe",
    )

    @field_validator("symbols")
    @classmethod
    def _clean(cls, v: list[str] | None) -> list[str] | None:
        if v is None:
            return v
        out = []
        for s in v:
            s = s.strip().upper()
            if not s or len(s) > 10 or not s.isalnum():
                raise ValueError(f"invalid symbol {s!r}: use tickers like VNM or FPT")
            out.append(s)
        return out


class PredictionErrorItem(BaseModel):
    symbol: str
    status: int
    error: str
    message: str
    message_vi: str


class BatchResponse(BaseModel):
    batch_id: str
    created_at: datetime
    predictions: list[Prediction]
    errors: list[PredictionErrorItem] = Field(default_factory=list)


class RankingResponse(BaseModel):
    direction: Literal["up", "down"]
    top: int
    group: str | None = None
    as_of: date | None = None
    items: list[Prediction]
    ranked_by: str | None = Field(
        default=None, description="'model' or 'momentum_12_1' (see Prediction.rank_basis)"
    )
    ties: list[list[str]] = Field(
        default_factory=list, description="Symbols of the list with equal scores: tied, unranked"
    )


class SymbolInfo(BaseModel):
    symbol: str
    exchange: str
    name: str
    group: str | None = None
    in_store: bool
    first_date: date | None = None
    last_date: date | None = None
    rows: int = 0


class Bar(BaseModel):
    week_end: date
    open: float
    high: float
    low: float
    close: float
    volume: float


class HistoryResponse(BaseModel):
    symbol: str
    weeks: int
    adjusted: bool = True
    simulated: bool = False
    bars: list[Bar]


class PastPrediction(BaseModel):
    prediction_date: date
    target_date: date | None = None
    last_close: float
    price_target: float
    interval_low: float | None = None
    interval_high: float | None = None
    pattern: str
    confidence: float | None = None
    price_model_version: str | None = None
    pattern_model_version: str | None = None
    resolved: bool
    actual_price: float | None = None
    actual_pattern: str | None = None
    abs_error_pct: float | None = None
    in_interval: bool | None = None


class PastPredictionsResponse(BaseModel):
    symbol: str
    items: list[PastPrediction]


class JobStatus(BaseModel):
    symbol: str
    state: Literal["pending", "running", "done", "failed"]
    message: str | None = None
    message_vi: str | None = None
    error_code: str | None = Field(
        default=None, description="Why a failed fetch failed (e.g. source_unavailable, no_data)"
    )
    retryable: bool = Field(
        default=True, description="False when the source has no data for the symbol at all"
    )
    started_at: datetime | None = None
    finished_at: datetime | None = None


class ModelStatus(BaseModel):
    name: str
    version: str | None
    alias: str
    model_class: str | None = None
    loaded_at: datetime | None = None
    note: str | None = Field(
        default=None, description="Why this version serves instead of the champion (fallback)"
    )
    walk_forward: bool | None = Field(
        default=None,
        description=(
            "False when the served version was not validated walk-forward (too short a history; "
            "evaluation says why), True when it was, null when unknown"
        ),
    )
    evaluation: str | None = Field(
        default=None, description="Why the walk-forward evaluation was skipped, if it was"
    )
    evaluation_vi: str | None = None


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded", "down"]
    models: list[ModelStatus]
    baseline_model: ModelStatus | None = Field(
        default=None,
        description=(
            "The price baseline serving symbols whose history is shorter than the champion's "
            "features read (new listings); null when none is registered"
        ),
    )
    registry_reachable: bool
    registry_message: str | None = None
    registry_checked_at: datetime | None = None
    data_as_of: date | None = None
    data_age_days: int | None = None
    data_stale: bool | None = None
    dependencies: dict[str, str]
    last_inference_ms: float | None = None
    cache_backend: str
    monitoring: dict | None = None


class ErrorResponse(BaseModel):
    error: str
    message: str
    message_vi: str | None = None
    hint: str | None = None
