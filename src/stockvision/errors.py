"""The one error hierarchy of Stock Vision.

Every error the package raises on purpose is a :class:`StockVisionError`. Each carries a stable ``code``
(what the API, the CLI's ``--json`` output and the chat switch on), a ``message`` in English and a
``message_vi`` in Vietnamese (what a user reads), a ``hint`` (what to do about it) and ``details`` (the
structured facts: symbol, weeks, suggestions...), so no layer has to rebuild a message from numbers it
guesses. ``user_error`` tells a user mistake or a state the user can act on (unknown ticker, too little
history, data being fetched) from a system fault (a model file that does not load, a registry that is
down): faults are logged with their traceback, user errors are not.

The HTTP status of each code lives in one table in :mod:`stockvision.serving.errors`; nothing below the
serving layer knows about HTTP.
"""

from __future__ import annotations

import os
import re
from typing import Any, ClassVar


class StockVisionError(Exception):
    """Base of every deliberate error: ``message`` says what is wrong, ``hint`` what to do about it."""

    #: stable machine-readable code (class default; an instance may override it)
    code: ClassVar[str] = "error"
    #: a user mistake or a user-actionable state (True) or a system fault (False)
    user_error: ClassVar[bool] = True
    #: retrying the same work will not help (the pipeline runner does not retry these)
    permanent: ClassVar[bool] = True

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        message_vi: str | None = None,
        code: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.message_vi = message_vi or message
        if code is not None:
            self.code = code  # type: ignore[misc]  # instance override of the class default
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message

    def localized(self, lang: str) -> str:
        """The message in ``lang`` ("vi" or "en")."""
        return self.message_vi if lang == "vi" else self.message

    def payload(self) -> dict[str, Any]:
        """The JSON body of this error (API and ``--json`` CLI output)."""
        return {
            "error": self.code,
            "message": self.message,
            "message_vi": self.message_vi,
            "hint": self.hint,
            **self.details,
        }


def is_user_error(exc: BaseException) -> bool:
    """True for errors a user can act on from the message alone (no traceback needed)."""
    if isinstance(exc, StockVisionError):
        return exc.user_error
    return isinstance(exc, FileNotFoundError | PermissionError)


_PATH = re.compile(r"(?<![\w:/.])(?:/[\w.@~+-]+){2,}/?")
#: URL prefixes of this app: never mistaken for server paths
_URL_ROOTS = frozenset({"api", "chat", "jobs", "predict", "predictions", "symbols", "rankings",
                        "health", "admin", "docs", "metrics", "ws", "alerts", "news", "agent"})  # fmt: skip


def _server_roots() -> frozenset[str]:
    try:
        return frozenset(n for n in os.listdir("/") if n not in _URL_ROOTS)
    except OSError:
        return frozenset()


_ROOTS = _server_roots()


def scrub_paths(text: str | None) -> str | None:
    """``text`` with absolute server paths reduced to their last part (error bodies never show
    where files live on the server); URL paths of the API are left alone."""
    if not text:
        return text

    def short(mm: re.Match[str]) -> str:
        path = mm.group(0)
        if path.split("/", 2)[1] not in _ROOTS:
            return path
        return "…/" + path.rstrip("/").rsplit("/", 1)[-1]

    return _PATH.sub(short, text)


# ------------------------------------------------------------------------------------------- symbols
class UnknownSymbolError(StockVisionError, KeyError):
    """A ticker that is neither listed nor in the store (or not in a source); with the closest ones.

    A ``KeyError`` too, so listing lookups keep the mapping protocol.
    """

    code = "unknown_symbol"

    def __init__(
        self,
        symbol: str | list[str],
        suggestions: list[str] | None = None,
        *,
        source: str | None = None,
    ) -> None:
        symbols = [symbol] if isinstance(symbol, str) else list(symbol)
        self.symbols = symbols
        self.symbol = symbols[0] if symbols else ""
        self.suggestions = list(suggestions or [])
        self.source = source
        shown = ", ".join(symbols)
        where_en = f" in the {source} source" if source else ""
        where_vi = f" trong nguồn {source}" if source else ""
        sug = ", ".join(self.suggestions)
        super().__init__(
            f"Unknown symbol {shown}{where_en}." + (f" Did you mean: {sug}?" if sug else ""),
            "Check the ticker (e.g. VNM, FPT) or list the symbols with 'stockvision data status' "
            "or GET /api/v1/symbols.",
            message_vi=f"Không tìm thấy mã {shown}{where_vi}."
            + (f" Ý bạn là: {sug}?" if sug else ""),
            details={"symbol": self.symbol, "symbols": symbols, "suggestions": self.suggestions}
            | ({"source": source} if source else {}),
        )

    __str__ = StockVisionError.__str__  # not KeyError's quoted repr


class InsufficientHistoryError(StockVisionError):
    """A symbol with fewer weeks of history than a prediction needs."""

    code = "insufficient_history"

    def __init__(self, symbol: str, have_weeks: int, need_weeks: int) -> None:
        super().__init__(
            f"{symbol} has {have_weeks} weeks of history; at least {need_weeks} are needed.",
            f"Import more history for {symbol} (stockvision ingest) or wait until it has traded longer.",
            message_vi=f"Mã {symbol} mới có {have_weeks} tuần dữ liệu; cần ít nhất {need_weeks} tuần.",
            details={"symbol": symbol, "have_weeks": have_weeks, "need_weeks": need_weeks},
        )


class DataPendingError(StockVisionError):
    """The symbol is valid and its data is being fetched in the background."""

    code = "data_pending"
    permanent = False

    def __init__(self, symbol: str, status_url: str, state: str) -> None:
        super().__init__(
            f"Data for {symbol} is being fetched ({state}); try again shortly.",
            f"Poll {status_url}.",
            message_vi=f"Đang tải dữ liệu cho {symbol} ({state}); vui lòng thử lại sau ít phút.",
            details={"symbol": symbol, "status_url": status_url, "state": state},
        )


class DataUnavailableError(StockVisionError):
    """Prices that should exist could not be obtained (source down, offline)."""

    code = "data_unavailable"
    permanent = False

    def __init__(
        self, symbol: str, reason: str, reason_vi: str | None = None, cause: str | None = None
    ) -> None:
        super().__init__(
            f"Data for {symbol} could not be fetched: {reason}",
            "Check the network or import a CSV export with 'stockvision ingest --source csv FILE'.",
            message_vi=f"Không tải được dữ liệu cho {symbol}: {reason_vi or reason}",
            # ``cause``: the failed fetch's own code (source_unavailable = offline, source_error...)
            details={"symbol": symbol, "cause": cause},
        )


class NotInDemoError(StockVisionError):
    """A real ticker asked of an installation that holds only the simulated demo market.

    Fetching it cannot help: the store never mixes real prices into a simulated market, so the
    answer says what the installation holds and how to load real data instead.
    """

    code = "not_in_demo"

    def __init__(self, symbol: str, held: list[str]) -> None:
        sample = ", ".join(held[:6])
        n = len(held)
        super().__init__(
            f"This installation holds only a simulated demo market of {n} symbols ({sample}...), "
            f"and {symbol} is not one of them.",
            "For real prices import a CSV export with 'stockvision ingest --source csv FILE "
            "--replace-simulated', or set SV_SOURCE=vnstock and rerun the pipeline when the "
            "machine is online.",
            message_vi=(
                f"Bản cài đặt này chỉ có thị trường mô phỏng gồm {n} mã ({sample}...), không có "
                f"{symbol}."
            ),
            details={"symbol": symbol, "held": held[:30], "suggestions": held[:3]},
        )


class NoSourceDataError(StockVisionError):
    """A listed symbol the configured data source has no prices for (permanent, not an outage)."""

    code = "no_data"

    def __init__(self, symbol: str, reason: str) -> None:
        super().__init__(
            f"{symbol} is a listed symbol but the data source has no prices for it: {reason}",
            f"Import its history (stockvision ingest --source csv FILE with {symbol}) "
            "or configure another source (SV_SOURCE).",
            message_vi=f"Mã {symbol} có niêm yết nhưng nguồn dữ liệu không có giá của mã này.",
            details={"symbol": symbol, "suggestions": []},
        )


class SimulatedDataError(StockVisionError):
    """Simulated and real prices would end up in one store (never allowed)."""

    code = "simulated_mix"


class NoDataError(StockVisionError):
    """The store has nothing to work on yet (or too little to train on)."""

    code = "no_data_in_store"


# ------------------------------------------------------------------------------------------- sources
class SourceError(StockVisionError):
    """A data source could not read or parse what it was given."""

    code = "source_error"


class SourceUnavailableError(SourceError):
    """The source cannot be reached or used right now (offline, missing package, no files)."""

    code = "source_unavailable"
    permanent = False


class DataValidationError(StockVisionError, ValueError):
    """A frame cannot be validated at all (wrong structure), as opposed to bad rows."""

    code = "invalid_data"


class FeatureInputError(DataValidationError):
    """The daily frame given to the feature builder lacks what it needs."""

    code = "invalid_feature_input"


# ------------------------------------------------------------------------------------------- models
class ModelUnavailableError(StockVisionError):
    """No champion model is loaded (none promoted yet, or none could be loaded)."""

    code = "model_unavailable"
    user_error = False
    permanent = False

    def __init__(self, reason: str, reason_vi: str | None = None) -> None:
        super().__init__(
            f"No champion model is loaded: {reason}",
            "Run 'stockvision pipeline run' to train and promote the models.",
            message_vi=f"Chưa có mô hình dự báo: {reason_vi or reason}",
        )


class ModelLoadError(StockVisionError):
    """A saved model directory is missing, corrupt or of an incompatible format (a system fault)."""

    code = "model_load_failed"
    user_error = False

    def __init__(self, file: object, reason: str) -> None:
        from pathlib import Path

        self.file = Path(str(file))
        super().__init__(
            f"Cannot load model file {self.file.name}: {reason}.",
            "Fix: retrain the model and save it again (or restore the directory from the registry).",
            message_vi=f"Không nạp được tệp mô hình {self.file.name}: {reason}.",
            details={"reason": reason},
        )


class NotFittedError(StockVisionError):
    """A model was used before ``fit`` (or ``load``): a programming error, not a user one."""

    code = "not_fitted"
    user_error = False


class RegistryError(StockVisionError):
    """The registry cannot do what was asked (unknown version, unreachable server...)."""

    code = "registry_error"


class SchemaVersionError(StockVisionError):
    """The database's schema cannot be used by this version of Stock Vision."""

    code = "schema_version"


# ------------------------------------------------------------------------------------------- requests
class InvalidRequestError(StockVisionError):
    """A well-formed request asking for something that does not exist (e.g. an unknown sector)."""

    code = "invalid_request"


class BadUploadError(StockVisionError):
    """An uploaded file that cannot be used (format, size, content)."""

    code = "bad_upload"


class ConfigError(StockVisionError, ValueError):
    """A setting (``SV_*``) or option with a value that cannot work."""

    code = "bad_config"


class EngineUnavailableError(StockVisionError):
    """The distributed engine (SV_ENGINE=dask) cannot run: not installed or no scheduler answers."""

    code = "engine_unavailable"
    user_error = False
    permanent = False


class RateLimitedError(StockVisionError):
    """A client asked for more work than its per-minute budget."""

    code = "rate_limited"
    permanent = False

    def __init__(self, limit: int, retry_after: int) -> None:
        super().__init__(
            f"Too many requests: at most {limit} work units per minute per client.",
            f"Retry after {retry_after} seconds, or ask for fewer symbols at once.",
            message_vi="Quá nhiều yêu cầu, vui lòng thử lại sau.",
            details={"retry_after": retry_after},
        )


class PipelineBusyError(StockVisionError):
    """Another pipeline run holds the lock."""

    code = "pipeline_busy"
    permanent = False


class StepFailedError(StockVisionError):
    """A pipeline step failed after its retries."""

    code = "step_failed"
    user_error = False

    def __init__(
        self, step: str, reason: str, attempts: int, cause: BaseException | None = None
    ) -> None:
        known = cause if isinstance(cause, StockVisionError) else None
        reason_vi = known.message_vi if known is not None else reason
        if known is not None and known.hint:
            reason_vi = f"{reason_vi} ({known.hint})"
        super().__init__(
            f"Pipeline step '{step}' failed after {attempts} attempt(s): {reason}",
            "The previous champion models keep serving. Fix the cause and run the pipeline again; "
            "finished steps are not redone.",
            message_vi=f"Bước '{step}' của pipeline thất bại sau {attempts} lần thử: {reason_vi}",
            details={
                "step": step,
                "attempts": attempts,
                "cause": known.code if known is not None else None,
                **({"cause_details": known.details} if known is not None and known.details else {}),
            },
        )
        if known is not None and known.user_error:
            self.user_error = True  # type: ignore[misc]  # the cause is the user's to fix
        self.step = step
        self.reason = reason


# -------------------------------------------------------------------------------------- streaming
class StreamBusError(StockVisionError):
    """The stream bus (NATS, Kafka) cannot be reached or refused an operation."""

    code = "stream_unavailable"
    user_error = False
    permanent = False


class AlertNotFoundError(StockVisionError):
    """No alert with that id (for this owner)."""

    code = "alert_not_found"
