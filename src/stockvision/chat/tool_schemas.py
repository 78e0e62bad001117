"""The agent's tools as an LLM sees them: typed arguments (pydantic) and their JSON schemas.

Why pydantic models and not hand-written JSON: the schema offered to the model
(OpenAI-compatible ``tools``) and the validation of what the model sends back are the same object,
so a tool never runs with arguments its schema does not allow (unknown keys, a string where a
number belongs, a ticker with a slash are refused and the model is told why).
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Symbol = Field(pattern=r"^[A-Za-z0-9]{1,10}$", description="Ticker, e.g. VNM")


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NoArgs(_Args):
    pass


class SymbolArgs(_Args):
    symbol: str = Symbol


class CompareArgs(_Args):
    symbols: list[str] = Field(
        min_length=2, max_length=5, description='Two to five tickers, e.g. ["HPG", "HSG"]'
    )


class RankArgs(_Args):
    direction: Literal["up", "down"] = "up"
    top_n: int = Field(default=5, ge=1, le=20)
    group: str | None = Field(
        default=None, max_length=40, description="Sector key, e.g. banking, steel, securities"
    )


class HistoryArgs(_Args):
    symbol: str = Symbol
    weeks: int = Field(default=52, ge=4, le=520, description="Weekly bars to return")


class NewsArgs(_Args):
    symbol: str = Symbol
    limit: int = Field(default=5, ge=1, le=10)


class NewsSearchArgs(_Args):
    query: str = Field(min_length=1, max_length=300, description="What the news should be about")
    symbol: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{1,10}$")
    until: date | None = Field(
        default=None,
        description="Only items published on or before this day (use the forecast's data date "
        "when the news is given as a reason)",
    )


class DocumentsArgs(_Args):
    query: str = Field(min_length=1, max_length=300)


class AlertsListArgs(_Args):
    symbol: str | None = Field(default=None, pattern=r"^[A-Za-z0-9]{1,10}$")


class AlertCreateArgs(_Args):
    symbol: str = Symbol
    kind: Literal["price_above", "price_below", "pattern_change"]
    threshold: float | None = Field(
        default=None,
        gt=0,
        lt=1e9,
        description="Price in VND (90k = 90000); none for pattern_change",
    )


class AlertDeleteArgs(_Args):
    symbol: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9]{1,10}$",
        description="Delete the user's alerts on this ticker; none: all of them",
    )


class HoldingArgs(_Args):
    symbol: str = Symbol
    quantity: int = Field(gt=0, lt=10**10, description="Shares held")
    cost: float | None = Field(default=None, gt=0, lt=1e9, description="Cost per share in VND")


#: name -> (description, argument model). Tools that change something (``SIDE_EFFECTS``) run only
#: when the user's own message asks for that change (see ``Agent.llm_tools``).
TOOLS: dict[str, tuple[str, type[_Args]]] = {
    "predict": ("4-week forecast of one stock: target, 80% range, pattern.", SymbolArgs),
    "compare": ("4-week forecasts of several stocks side by side.", CompareArgs),
    "rank": ("Stocks ranked by forecast 4-week change (optionally one sector).", RankArgs),
    "history": ("Weekly closing prices of a stock (for charts and past moves).", HistoryArgs),
    "model_quality": ("Walk-forward metrics of the served models and their baselines.", NoArgs),
    "track_record": ("Past forecasts of a stock next to what happened.", SymbolArgs),
    "market": ("The forecasts of every tracked stock, summarised.", NoArgs),
    "news": ("Latest stored headlines about a stock, with tone and date.", NewsArgs),
    "news_search": ("Stored news items closest in meaning to a query.", NewsSearchArgs),
    "documents": (
        "Sections of the evaluation docs (how the models were validated).",
        DocumentsArgs,
    ),
    "alerts_list": ("The user's price and pattern alerts.", AlertsListArgs),
    "alert_create": ("Create a price or pattern-change alert for the user.", AlertCreateArgs),
    "alert_delete": ("Delete the user's alerts (one ticker or all).", AlertDeleteArgs),
    "portfolio": ("The user's remembered holdings: each one's and the total 4-week range.", NoArgs),
    "remember_holding": ("Remember that the user holds shares (quantity, cost).", HoldingArgs),
    "memory_list": ("What is remembered about the user.", NoArgs),
    "memory_forget": ("Delete everything remembered about the user.", NoArgs),
}
SIDE_EFFECTS = frozenset({"alert_create", "alert_delete", "remember_holding", "memory_forget"})


def _clean(schema: Any) -> Any:
    """The model's JSON schema without pydantic's ``title`` keys (noise for an LLM)."""
    if isinstance(schema, dict):
        return {k: _clean(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_clean(v) for v in schema]
    return schema


def tool_schema(name: str) -> dict[str, Any]:
    """One tool in the OpenAI ``tools`` format."""
    description, model = TOOLS[name]
    params = _clean(model.model_json_schema())
    params.setdefault("properties", {})
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": params},
    }


def tool_schemas(names: Any = None) -> list[dict[str, Any]]:
    return [tool_schema(n) for n in (TOOLS if names is None else names)]
