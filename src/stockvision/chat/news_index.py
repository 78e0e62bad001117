"""Stored news items into the agent's shared documents (Qdrant ``sv_documents``, ``kind="news"``).

Why a background indexer with a cap: the agent retrieves news by meaning ("tại sao FPT giảm?"),
so every item must be embedded, and multilingual-e5-small embeds only about 15 headlines a second
on this 2-core machine (the shared 22,497-item file would take ~25 minutes). So:

* **incremental**: a pass takes the newest ``max_items`` stored items by publication time
  (``SV_AGENT_NEWS_INDEX_MAX``) and embeds only those not in memory yet with the same text (point
  ids come from the store's dedup key; :meth:`Memory.index_documents` skips unchanged ones), so a
  restart or a second pass embeds nothing old, and raising the cap later indexes the older ones;
* **in the background**: one daemon thread at a lower CPU priority (``nice`` on Linux), in
  batches of ``batch`` items, so start-up and answers are not slowed; it runs at start-up and
  again whenever an import changed the store (checked every ``SV_AGENT_NEWS_POLL_SECONDS`` with
  one ``COUNT``/``MAX`` query, or at once after :meth:`NewsIndexer.notify`);
* **progress recorded**: after every batch in ``<data_dir>/memory/news_index.json`` (items
  considered, embedded, already there, over the cap, rate), and on :attr:`NewsIndexer.progress`.

Each document carries the item's date (``published_at``, ``published_ts`` for range filters), its
symbols, source, tone and link; answers escape the publisher text (:mod:`stockvision.chat.news`).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stockvision.chat.memory import news_documents

log = logging.getLogger(__name__)


@dataclass
class NewsIndexProgress:
    """What the latest pass did (also written to the progress file)."""

    status: str = "idle"  # idle | running | done | error
    stored: int = 0  # news items in the store
    considered: int = 0  # the newest ones this pass looked at (at most the cap)
    embedded: int = 0  # embedded by this pass (new or changed items)
    already: int = 0  # already in memory unchanged: not embedded again
    over_cap: int = 0  # stored items older than the newest ``max_items``: not indexed
    indexed: int = 0  # news documents in memory after the pass
    seconds: float = 0.0
    per_second: float | None = None  # embedding rate of this pass
    updated_at: str = ""
    error: str | None = None


class NewsIndexer:
    """Keeps the newest stored news items embedded in the shared documents of ``memory``."""

    def __init__(
        self,
        memory: Any,
        store: Any,
        *,
        max_items: int = 2000,
        batch: int = 16,
        poll_seconds: float = 60.0,
        progress_path: Path | None = None,
        niceness: int = 10,
    ) -> None:
        self.memory = memory
        self.store = store
        self.max_items = max(0, int(max_items))
        self.batch = max(1, int(batch))
        self.poll_seconds = poll_seconds
        self.progress_path = progress_path
        self.niceness = niceness
        self.progress = NewsIndexProgress()
        self._done_marker: tuple[Any, ...] | None = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.passes = 0

    # ------------------------------------------------------------------ one pass
    def sync(self) -> NewsIndexProgress:
        """Embed the newest stored items not in memory yet; nothing when the store is unchanged."""
        from stockvision.news.repository import NewsRepository

        repo = NewsRepository(self.store)
        stored, last = repo.marker()
        marker = (stored, last, self.max_items)
        if marker == self._done_marker:
            return self.progress
        t0 = time.perf_counter()
        p = NewsIndexProgress(status="running", stored=stored)
        self.progress = p
        rows = repo.latest(limit=self.max_items) if self.max_items and stored else []
        p.considered, p.over_cap = len(rows), max(0, stored - len(rows))
        embed_s = 0.0
        for i in range(0, len(rows), self.batch):
            if self._stop.is_set():
                break
            docs = news_documents(rows[i : i + self.batch])
            t1 = time.perf_counter()
            n = self.memory.index_documents(docs)
            if n:
                embed_s += time.perf_counter() - t1
            p.embedded += n
            p.already += len(docs) - n
            p.seconds = time.perf_counter() - t0
            p.per_second = p.embedded / embed_s if embed_s > 0 else None
            self._record(p)
        p.indexed = self.memory.count_documents("news")
        p.seconds = time.perf_counter() - t0
        p.status = "done" if not self._stop.is_set() else "idle"
        self._record(p)
        if p.status == "done":
            self._done_marker = marker
        self.passes += 1
        if p.embedded:
            rate = f"{p.per_second:.1f}/s" if p.per_second else "-"
            log.info(
                "news into memory: %d embedded, %d already there, %d over the cap of %d "
                "(%.1f s, %s)", p.embedded, p.already, p.over_cap, self.max_items, p.seconds, rate,
            )  # fmt: skip
        return p

    def _record(self, p: NewsIndexProgress) -> None:
        p.updated_at = datetime.now(UTC).isoformat(timespec="seconds")
        if self.progress_path is None:
            return
        try:
            self.progress_path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.progress_path.with_suffix(".tmp")
            tmp.write_text(json.dumps(asdict(p), indent=1), encoding="utf-8")
            os.replace(tmp, self.progress_path)
        except OSError as exc:  # progress is informative; indexing goes on
            log.debug("cannot write %s: %s", self.progress_path, exc)

    # ------------------------------------------------------------------ background
    def start(self) -> threading.Thread | None:
        """Index in a daemon thread now, then whenever the store changes (polled) or on notify.
        After :meth:`stop` (the app shutting down, memory about to close) it starts nothing."""
        if self._stop.is_set():
            return None
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._loop, name="sv-news-index", daemon=True)
            self._thread.start()
        return self._thread

    def notify(self) -> None:
        """A news import just finished: check the store now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        try:  # this thread only (Linux: a thread is a task); the embedding threads inherit it
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), self.niceness)
        except (AttributeError, OSError, PermissionError) as exc:
            log.debug("news indexer keeps its priority: %s", exc)
        while not self._stop.is_set():
            try:
                self.sync()
            except Exception as exc:  # optional part: answers work without news in memory
                self.progress.status, self.progress.error = "error", str(exc)[:300]
                self._record(self.progress)
                log.warning("news into memory failed (retried at the next poll): %s", exc)
            if self.poll_seconds <= 0:
                return
            self._wake.wait(self.poll_seconds)
            self._wake.clear()
