"""Service errors the chat understands, and how any exception maps onto them.

The prediction service (wired by the lead) should raise these, or any exception carrying a
``code`` attribute with one of the codes below; ``LookupError``s (e.g.
``stockvision.market.listings.UnknownSymbolError``) count as an unknown symbol.
"""

from __future__ import annotations

UNKNOWN_SYMBOL = "unknown_symbol"
INSUFFICIENT_HISTORY = "insufficient_history"
DATA_PENDING = "data_pending"
MODEL_UNAVAILABLE = "model_unavailable"
SERVICE_ERROR = "service_error"
CODES = (UNKNOWN_SYMBOL, INSUFFICIENT_HISTORY, DATA_PENDING, MODEL_UNAVAILABLE, SERVICE_ERROR)


class ChatServiceError(Exception):
    """Base class: ``code`` says what went wrong, ``symbol`` which stock (if any)."""

    code = SERVICE_ERROR

    def __init__(self, message: str = "", symbol: str | None = None) -> None:
        super().__init__(message or self.code)
        self.symbol = symbol


class UnknownSymbol(ChatServiceError):
    code = UNKNOWN_SYMBOL


class InsufficientHistory(ChatServiceError):
    code = INSUFFICIENT_HISTORY


class DataPending(ChatServiceError):
    code = DATA_PENDING


class ModelUnavailable(ChatServiceError):
    code = MODEL_UNAVAILABLE


def error_code(exc: BaseException) -> str:
    """The chat error code of any exception raised by an injected service function."""
    code = getattr(exc, "code", None)
    if isinstance(code, str) and code in CODES:
        return code
    if isinstance(exc, LookupError):
        return UNKNOWN_SYMBOL
    return SERVICE_ERROR
