"""Challenger shadow scoring (A/B) of live forecasts: the challenger answers too, nobody sees it.

When the registry holds a ``challenger``, every live forecast the worker serves is also computed by
the challenger on the same window (same live row, same price) and the pair is logged in the store
(``shadow_scores``) with the version of each. It runs in a background thread after the served
forecast has been published, on its own :class:`~stockvision.stream.predictions.LivePredictor`, so
it can neither delay nor change what clients get; a failure is logged and counted, never raised.
``stockvision stream shadow`` / ``GET /models/shadow`` compare the two once outcomes arrive.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from stockvision.predict import Prediction

log = logging.getLogger(__name__)

#: shadow batches allowed to wait (a replay at full speed bursts; the market closes a minute a
#: minute); beyond, a batch is skipped and counted rather than letting memory grow
MAX_QUEUED = 2000


@dataclass
class ShadowStats:
    batches: int = 0
    answers: int = 0
    stored: int = 0
    skipped_batches: int = 0
    errors: int = 0


def _arm(p: Prediction, arm: str) -> dict[str, Any]:
    dist = p.distribution
    if dist is None:
        raise ValueError(f"{p.symbol}: a prediction without its distribution cannot be scored")
    return {
        f"{arm}_price_version": p.model_versions.price,
        f"{arm}_pattern_version": p.model_versions.pattern,
        f"{arm}_loc": float(dist.loc),
        f"{arm}_scale": float(dist.scale),
        f"{arm}_df": None if dist.df is None else float(dist.df),
        f"{arm}_target": float(p.price_target),
        f"{arm}_p_down": float(p.probabilities.down),
        f"{arm}_p_sideways": float(p.probabilities.sideways),
        f"{arm}_p_up": float(p.probabilities.up),
    }


def shadow_rows(
    served: list[Prediction], shadow: list[Prediction], made_at_ns: int, source: str = "live"
) -> list[dict[str, Any]]:
    """One row per symbol both arms answered: the served answer beside the challenger's."""
    other = {p.symbol: p for p in shadow}
    made_at = datetime.fromtimestamp(made_at_ns / 1e9, UTC).replace(tzinfo=None)
    rows = []
    for p in served:
        q = other.get(p.symbol)
        if q is None or p.distribution is None or q.distribution is None:
            continue
        v, w = p.model_versions, q.model_versions
        key = f"{source}:{p.symbol}:{made_at_ns}:{v.price}/{v.pattern}:{w.price}/{w.pattern}"
        rows.append(
            {
                "key": key[:200],
                "source": source,
                "symbol": p.symbol,
                "prediction_date": p.prediction_date,
                "made_at": made_at,
                "last_close": float(p.last_close),
                **_arm(p, "champion"),
                **_arm(q, "challenger"),
            }
        )
    return rows


class ShadowScorer:
    """Scores live forecasts with the challenger in the background and logs the pairs.

    ``predictor``: a ``LivePredictor`` whose models are the challenger set (a ``ModelSet`` or a
    callable returning it, None while there is no challenger); ``store``: a
    :class:`~stockvision.data.store.shadow.ShadowStore`.
    """

    def __init__(self, predictor: Any, store: Any, source: str = "live") -> None:
        self.predictor = predictor
        self.store = store
        self.source = source
        self.stats = ShadowStats()
        self._lock = threading.Lock()  # one shadow batch at a time on the predictor's cache
        self._queue: deque[tuple] = deque()
        self._runner: asyncio.Task | None = None

    def offer(
        self, live: pd.DataFrame, raw_close: np.ndarray, served: list[Prediction], stamp: int
    ) -> None:
        """Queue the shadow answers of a batch the worker just served (returns at once); one
        background task works the queue in order, each batch in a thread."""
        if not served:
            return
        if len(self._queue) >= MAX_QUEUED:
            self.stats.skipped_batches += 1
            return
        self._queue.append((live.copy(), np.array(raw_close), list(served), stamp))
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._work())

    async def _work(self) -> None:
        while self._queue:
            await asyncio.to_thread(self.score, *self._queue.popleft())

    def score(
        self, live: pd.DataFrame, raw_close: np.ndarray, served: list[Prediction], stamp: int
    ) -> int:
        """The challenger's answers for ``live`` paired with ``served`` and stored; returns how
        many rows were new (0 while there is no challenger). Never raises."""
        try:
            with self._lock:
                shadow = self.predictor.predict(live, raw_close)
                if not shadow:
                    return 0
                rows = shadow_rows(served, shadow, stamp, self.source)
                new = self.store.record(rows)
            self.stats.batches += 1
            self.stats.answers += len(rows)
            self.stats.stored += new
            return new
        except Exception as exc:  # the served side must never notice
            self.stats.errors += 1
            log.warning("shadow scoring failed: %s", exc)
            return 0

    async def drain(self) -> None:
        """Wait until the queued shadow batches are scored (at the worker's end)."""
        while self._runner is not None and not self._runner.done():
            await asyncio.shield(self._runner)
