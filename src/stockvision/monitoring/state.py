"""The monitoring files, owned by one object: the latest report, the degraded flag and its acknowledgement.

Monitoring marks the champions *degraded* with a new token when it finds drift or a live-accuracy drop.
The pipeline folds the unanswered token into the train step's fingerprint, so the next run retrains even
on unchanged data; a retrain on the same data that the flag was raised for acknowledges the token, so
one flag causes one retrain, not one per run. The API shows the latest summary in ``/health``.

Files (under ``<data_dir>/monitoring``): ``latest.json`` (the last report), ``degraded.json`` (token,
reasons, time) and ``retrain_ack.json`` (the acknowledged token). Every write is atomic.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class DegradedFlag:
    token: str
    reasons: list[str]
    at: str


class MonitoringState:
    """Read and write the monitoring files of one data directory."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)

    @property
    def latest_path(self) -> Path:
        return self.directory / "latest.json"

    @property
    def degraded_path(self) -> Path:
        return self.directory / "degraded.json"

    @property
    def ack_path(self) -> Path:
        return self.directory / "retrain_ack.json"

    # ------------------------------------------------------------------ the latest report
    def latest(self) -> dict[str, Any] | None:
        """The last monitoring report (None when there is none or it is unreadable)."""
        return _read(self.latest_path)

    def summary(self) -> dict[str, Any] | None:
        data = self.latest()
        return None if data is None else dict(data.get("summary") or {})

    def write_latest(self, data: dict[str, Any]) -> None:
        _write(self.latest_path, data)

    # ------------------------------------------------------------------ the degraded flag
    def degraded(self) -> DegradedFlag | None:
        data = _read(self.degraded_path)
        if not data or not data.get("token"):
            return None
        return DegradedFlag(
            str(data["token"]), list(data.get("reasons") or []), str(data.get("at"))
        )

    def mark_degraded(self, reasons: list[str]) -> DegradedFlag:
        """Flag the champions degraded; a new token only when the reasons changed."""
        previous = self.degraded()
        if previous is not None and previous.reasons == reasons:
            return previous
        flag = DegradedFlag(uuid.uuid4().hex, list(reasons), datetime.now(UTC).isoformat())
        _write(self.degraded_path, {"token": flag.token, "reasons": flag.reasons, "at": flag.at})
        return flag

    def clear_degraded(self) -> None:
        self.degraded_path.unlink(missing_ok=True)

    # ------------------------------------------------------------------ acknowledgement
    def acknowledge(self, token: str) -> None:
        """Record that a retrain answered the degradation ``token``."""
        _write(self.ack_path, {"token": token, "at": datetime.now(UTC).isoformat()})

    def acknowledged_token(self) -> str | None:
        data = _read(self.ack_path)
        return None if not data else data.get("token")

    def retrain_token(self) -> str | None:
        """The token of a degradation not yet answered by a retrain (None when there is none)."""
        flag = self.degraded()
        if flag is None:
            return None
        return None if flag.token == self.acknowledged_token() else flag.token


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _write(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1), encoding="utf-8")
    os.replace(tmp, path)
