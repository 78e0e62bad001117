"""Base error for problems a user can fix: the CLI and API show its message without a traceback."""

from __future__ import annotations


class StockVisionError(Exception):
    """A user-facing error: ``message`` says what is wrong, ``hint`` what to do about it."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


def is_user_error(exc: BaseException) -> bool:
    """True for errors raised deliberately by Stock Vision or by bad input (no traceback needed)."""
    if isinstance(exc, StockVisionError | FileNotFoundError | PermissionError):
        return True
    return type(exc).__module__.startswith("stockvision.")
