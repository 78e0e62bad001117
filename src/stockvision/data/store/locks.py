"""Named locks held through the store, so two pipeline runs never overlap (CLI, Airflow, the API).

- PostgreSQL: a session-level advisory lock on a connection of its own; it dies with the session, so
  a killed holder never leaves the lock taken.
- SQLite file: an exclusive ``flock`` on ``<database>.<name>.lock``; the kernel releases it when the
  holder dies. The file also says who holds it (pid, host, since), for the message a waiter gets.
- SQLite in memory: a lock of this process (nothing else can reach the database).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from stockvision.errors import PipelineBusyError

_MEMORY_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_MEMORY_GUARD = threading.Lock()


class StoreLock:
    """An exclusive named lock for every process that uses the same store."""

    def __init__(self, store: Any, name: str) -> None:
        self.store = store
        self.name = name
        self._conn: Any = None
        self._fd: int | None = None
        self._memory: threading.Lock | None = None

    # ------------------------------------------------------------------ public
    def acquire(self, timeout: float = 0.0, poll: float = 0.5) -> bool:
        """Take the lock, waiting up to ``timeout`` seconds; True when taken."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            if self._try():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(poll, max(0.0, deadline - time.monotonic())))

    def release(self) -> None:
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": self._key()})
            finally:
                self._conn.close()
                self._conn = None
        if self._fd is not None:
            import fcntl

            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None
        if self._memory is not None:
            self._memory.release()
            self._memory = None

    def is_held(self) -> bool:
        """Whether someone (another process, or this object) holds the lock right now."""
        if self._conn is not None or self._fd is not None or self._memory is not None:
            return True
        if self._try():
            self.release()
            return False
        return True

    def holder(self) -> str | None:
        """Who holds the lock, when the backend can tell (SQLite files)."""
        path = self._path()
        if path is None or not path.exists():
            return None
        try:
            info = json.loads(path.read_text() or "{}")
        except (OSError, json.JSONDecodeError):
            return None
        if not info:
            return None
        return f"pid {info.get('pid')} on {info.get('host')} since {info.get('since')}"

    @contextmanager
    def hold(self, timeout: float = 0.0, what: str = "pipeline run") -> Iterator[StoreLock]:
        """``with lock.hold():`` the lock for the block, or :class:`PipelineBusyError` at once."""
        if not self.acquire(timeout):
            who = self.holder()
            raise PipelineBusyError(
                f"Another {what} is in progress" + (f" ({who})." if who else "."),
                "Wait for it to finish and run again (or pass a wait time, e.g. --wait 600).",
                message_vi="Một lượt chạy pipeline khác đang diễn ra.",
                details={"lock": self.name},
            )
        try:
            yield self
        finally:
            self.release()

    # ------------------------------------------------------------------ backends
    def _key(self) -> int:
        digest = hashlib.sha256(f"stockvision:{self.name}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def _path(self) -> Path | None:
        url = make_url(self.store.url)
        if not url.drivername.startswith("sqlite") or url.database in (None, "", ":memory:"):
            return None
        return Path(f"{url.database}.{self.name}.lock")

    def _try(self) -> bool:
        dialect = self.store.dialect
        if dialect == "postgresql":
            conn = self.store.engine.connect()
            got = bool(
                conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": self._key()}).scalar()
            )
            conn.commit()
            if got:
                self._conn = conn
            else:
                conn.close()
            return got
        path = self._path()
        if path is None:
            with _MEMORY_GUARD:
                lock = _MEMORY_LOCKS.setdefault((self.store.url, self.name), threading.Lock())
            if lock.acquire(blocking=False):
                self._memory = lock
                return True
            return False
        import fcntl

        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        info = {"pid": os.getpid(), "host": socket.gethostname(),
                "since": datetime.now(UTC).isoformat(timespec="seconds")}  # fmt: skip
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(info).encode())
        self._fd = fd
        return True
