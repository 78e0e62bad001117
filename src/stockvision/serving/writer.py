"""The prediction writer: stores served predictions beside the answers, off the request path.

Requests queue what they served; a background thread writes everything queued in one transaction. With
no thread running (CLI, batch step, tests) a queued batch is written at once. The store's upsert is
idempotent, so a prediction written twice is stored once. A prediction served again with other
caveats (monitoring flagged or cleared its width bin since) is written again: its row then holds the
caveats it was last shown with.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from stockvision.predict.types import Prediction

log = logging.getLogger(__name__)

MAX_REMEMBERED = 200_000


class PredictionWriter:
    """Queue served predictions and write the new ones to ``store.save_predictions``."""

    def __init__(self, store: Any) -> None:
        self.store = store
        # served predictions already in the store: stored key -> the caveats stored with it
        self._stored: dict[tuple, tuple] = {}
        self._served_json: dict[tuple, int] = {}  # stored key -> hash of the cached answer recorded
        self._queue: queue.Queue = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="sv-pred-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
            self._thread = None
        self.flush()

    def record_json(self, key: tuple, raw: bytes, source: str) -> None:
        """A cached answer (its JSON) served again: parsed and recorded only when it is not the
        answer last recorded from the cache for ``key`` (a hash compare, not a parse, per hit)."""
        digest = hash(raw)
        if key in self._stored and self._served_json.get(key) == digest:
            return
        self.record([Prediction.model_validate_json(raw)], source)
        self._served_json[key] = digest

    def _is_new(self, p: Prediction) -> bool:
        return self._stored.get(p.stored_key()) != p.shown_caveats()

    def record(self, preds: list[Prediction], source: str) -> None:
        """Queue ``preds`` not in the store yet, or stored with other caveats (written now when
        no thread runs)."""
        new = [p for p in preds if self._is_new(p)]
        if not new:
            return
        self._queue.put((new, source))
        if self._thread is None:
            self.flush()

    def flush(self) -> None:
        """Write every queued prediction now."""
        items = []
        while True:
            try:
                items.append(self._queue.get_nowait())
            except queue.Empty:
                break
        if items:
            self._write(items)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                first = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            items = [first]
            while True:  # write everything queued in one transaction
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._write(items)

    def _write(self, items: list[tuple[list[Prediction], str]]) -> None:
        rows: dict[tuple, dict[str, Any]] = {}
        shown: dict[tuple, tuple] = {}
        for preds, source in items:
            for p in preds:
                key, caveats = p.stored_key(), p.shown_caveats()
                if self._is_new(p) and shown.get(key) != caveats:  # first serve, or new caveats
                    rows[key], shown[key] = p.to_record(source), caveats
        if not rows:
            return
        try:
            self.store.save_predictions(list(rows.values()))
        except Exception:
            log.exception(
                "could not store %d served predictions; will retry on next serve", len(rows)
            )
            return
        self._stored.update(shown)
        if len(self._stored) > MAX_REMEMBERED:  # bounded memory; the upsert is idempotent anyway
            self._stored.clear()
            self._served_json.clear()
