"""Auto-healing: fetch a valid symbol the store lacks in the background, one job per symbol.

Concurrent requests for the same symbol share one job; they all get ``202`` with the job's status URL
until it finishes. A finished job (done or failed) is not repeated for ``retry_after`` seconds, so a
symbol the source cannot serve costs one fetch per interval, not one per request. Jobs run one at a
time on one worker thread (one writer to the store) and at most ``max_queued`` wait: a flood of
requests for listed symbols cannot start unbounded work.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from stockvision.errors import StockVisionError
from stockvision.serving.api_schemas import JobStatus

log = logging.getLogger(__name__)


class Healer:
    def __init__(
        self,
        fetch: Callable[[str], str],
        on_done: Callable[[str], None] | None = None,
        retry_after: float = 300.0,
        max_queued: int = 8,
    ) -> None:
        self._fetch = fetch
        self._on_done = on_done or (lambda s: None)
        self.retry_after = retry_after
        self.max_queued = max_queued
        self._jobs: dict[str, JobStatus] = {}
        self._finished_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[str] = queue.Queue()
        self._worker: threading.Thread | None = None
        self.started = 0  # number of fetch jobs started (tests check duplicates never start)

    def status(self, symbol: str) -> JobStatus | None:
        return self._jobs.get(symbol)

    def request(self, symbol: str) -> JobStatus:
        """Start a fetch for ``symbol`` unless one is running or finished recently; return its status."""
        with self._lock:
            job = self._jobs.get(symbol)
            if job is not None and job.state in ("pending", "running"):
                return job
            recent = time.monotonic() - self._finished_at.get(symbol, -1e18) < self.retry_after
            if job is not None and recent:  # done or failed a moment ago
                return job
            active = sum(j.state in ("pending", "running") for j in self._jobs.values())
            if active >= self.max_queued:
                return JobStatus(
                    symbol=symbol,
                    state="failed",
                    message=f"{active} data fetches are already in progress; ask again shortly",
                    message_vi=f"Đang có {active} lượt tải dữ liệu; vui lòng hỏi lại sau ít phút",
                    error_code="fetch_busy",
                    retryable=True,
                )
            job = JobStatus(symbol=symbol, state="pending", started_at=datetime.now(UTC))
            self._jobs[symbol] = job
            self.started += 1
            self._queue.put(symbol)
            if self._worker is None or not self._worker.is_alive():
                self._worker = threading.Thread(target=self._work, name="sv-heal", daemon=True)
                self._worker.start()
        return job

    def _work(self) -> None:
        while True:
            try:
                symbol = self._queue.get(timeout=5.0)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._worker = None
                        return
                continue
            self._run(symbol)

    def _run(self, symbol: str) -> None:
        with self._lock:
            self._jobs[symbol] = self._jobs[symbol].model_copy(update={"state": "running"})
        try:
            message = self._fetch(symbol)
            self._on_done(symbol)
            state, msg, retryable = "done", message, True
            code, msg_vi = None, None
        except StockVisionError as exc:  # a known failure: its code says why, in both languages
            log.warning("auto-heal of %s failed: %s", symbol, exc)
            state, msg, msg_vi = "failed", exc.message[:500], exc.message_vi[:500]
            code, retryable = exc.code, not exc.permanent
        except Exception as exc:  # a fault: logged with its traceback, worded without its class
            log.exception("auto-heal of %s failed unexpectedly", symbol)
            state, code, retryable = "failed", "source_error", True
            msg = f"the data source failed: {(str(exc).splitlines() or ['no details'])[0][:300]}"
            msg_vi = "nguồn dữ liệu gặp lỗi khi tải mã này"
        with self._lock:
            self._jobs[symbol] = self._jobs[symbol].model_copy(
                update={
                    "state": state,
                    "message": msg,
                    "message_vi": msg_vi,
                    "error_code": code,
                    "retryable": retryable,
                    "finished_at": datetime.now(UTC),
                }
            )
            self._finished_at[symbol] = time.monotonic()

    def wait(self, symbol: str, timeout: float = 30.0) -> JobStatus | None:
        """Block until the symbol's job finishes (tests and the CLI)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self._jobs.get(symbol)
            if job is None or job.state in ("done", "failed"):
                return job
            time.sleep(0.05)
        return self._jobs.get(symbol)
