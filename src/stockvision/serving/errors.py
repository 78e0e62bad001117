"""Errors of the prediction service, each with an HTTP status and a message in Vietnamese and English."""

from __future__ import annotations

from stockvision.errors import StockVisionError


class ServiceError(StockVisionError):
    """Base: ``status`` is the HTTP code the API answers with; ``message_vi`` is shown to Vietnamese users."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, message_vi: str, hint: str | None = None, **details) -> None:
        super().__init__(message, hint)
        self.message_vi = message_vi
        self.details = details

    def payload(self) -> dict:
        return {
            "error": self.code,
            "message": self.message,
            "message_vi": self.message_vi,
            "hint": self.hint,
            **self.details,
        }


class UnknownSymbolError(ServiceError):
    status = 404
    code = "unknown_symbol"

    def __init__(self, symbol: str, suggestions: list[str]) -> None:
        sug = ", ".join(suggestions)
        super().__init__(
            f"Unknown symbol {symbol!r}." + (f" Did you mean: {sug}?" if sug else ""),
            f"Không tìm thấy mã {symbol!r}." + (f" Ý bạn là: {sug}?" if sug else ""),
            "Check the ticker (e.g. VNM, FPT) or list them with GET /api/v1/symbols.",
            symbol=symbol,
            suggestions=suggestions,
        )


class InsufficientHistoryError(ServiceError):
    status = 422
    code = "insufficient_history"

    def __init__(self, symbol: str, have_weeks: int, need_weeks: int) -> None:
        super().__init__(
            f"{symbol} has {have_weeks} weeks of history; at least {need_weeks} are needed.",
            f"Mã {symbol} mới có {have_weeks} tuần dữ liệu; cần ít nhất {need_weeks} tuần.",
            f"Import more history for {symbol} (stockvision ingest) or wait until it has traded longer.",
            symbol=symbol,
            have_weeks=have_weeks,
            need_weeks=need_weeks,
        )


class DataPendingError(ServiceError):
    """The symbol is valid but its data is being fetched in the background: answer 202."""

    status = 202
    code = "data_pending"

    def __init__(self, symbol: str, status_url: str, state: str) -> None:
        super().__init__(
            f"Data for {symbol} is being fetched ({state}); try again shortly.",
            f"Đang tải dữ liệu cho {symbol} ({state}); vui lòng thử lại sau ít phút.",
            f"Poll {status_url}.",
            symbol=symbol,
            status_url=status_url,
            state=state,
        )


class DataUnavailableError(ServiceError):
    status = 503
    code = "data_unavailable"

    def __init__(self, symbol: str, reason: str) -> None:
        super().__init__(
            f"Data for {symbol} could not be fetched: {reason}",
            f"Không tải được dữ liệu cho {symbol}: {reason}",
            "Check the network or import a CSV export with 'stockvision ingest --source csv FILE'.",
            symbol=symbol,
        )


class NoSourceDataError(ServiceError):
    """A listed symbol the configured data source has no prices for (a permanent 404, not an outage)."""

    status = 404
    code = "no_data"

    def __init__(self, symbol: str, reason: str) -> None:
        super().__init__(
            f"{symbol} is a listed symbol but the data source has no prices for it: {reason}",
            f"Mã {symbol} có niêm yết nhưng nguồn dữ liệu không có giá của mã này.",
            f"Import its history (stockvision ingest --source csv FILE with {symbol}) "
            "or configure another source (SV_SOURCE).",
            symbol=symbol,
            suggestions=[],
        )


class NoModelError(ServiceError):
    status = 503
    code = "model_unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(
            f"No champion model is loaded: {reason}",
            f"Chưa có mô hình dự báo: {reason}",
            "Run 'stockvision pipeline run' to train and promote the models.",
        )


class BadUploadError(ServiceError):
    status = 400
    code = "bad_upload"


class InvalidRequestError(ServiceError):
    """A well-formed request asking for something that does not exist (e.g. an unknown sector group)."""

    status = 422
    code = "invalid_request"

    def __init__(self, message: str, message_vi: str, hint: str | None = None) -> None:
        super().__init__(message, message_vi, hint)
