"""The challenger's shadow answers in the store (table ``shadow_scores``, schema version 5).

While a challenger exists, each live answer of the champion is also computed by the challenger in
the background and logged here beside the champion's, with the version of each. Nothing here ever
reaches a client: the comparison on realised outcomes (``stockvision.monitoring.shadow``) reads
these rows once the four weeks have passed. Writes are idempotent on ``key`` (insert or ignore),
so a worker that replays its input after a crash logs each pair once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite

from stockvision.data.store.stream_tables import shadow_scores

COLUMNS = [c.name for c in shadow_scores.columns if c.name not in ("id", "recorded_at")]


class ShadowStore:
    """Shadow rows of a :class:`~stockvision.data.store.Store`."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.engine = store.engine

    def record(self, rows: Iterable[dict[str, Any]]) -> int:
        """Store ``rows`` (dicts with :data:`COLUMNS`); returns how many were new."""
        rows = list(rows)
        if not rows:
            return 0
        now = datetime.now(UTC).replace(tzinfo=None)
        missing = set(COLUMNS) - set(rows[0])
        if missing:
            raise ValueError(f"shadow rows lack {sorted(missing)}")
        values = [{k: r[k] for k in COLUMNS} | {"recorded_at": now} for r in rows]
        insert = sqlite.insert if self.store.dialect == "sqlite" else postgresql.insert
        stmt = (
            insert(shadow_scores)
            .on_conflict_do_nothing(index_elements=["key"])
            .returning(shadow_scores.c.key)
        )
        with self.store._write() as conn:  # RETURNING per row: rowcount varies by driver
            return sum(len(conn.execute(stmt, v).all()) for v in values)

    def read(self, source: str | None = None) -> pd.DataFrame:
        """Every shadow row (optionally of one ``source``), oldest first."""
        stmt = select(shadow_scores).order_by(shadow_scores.c.made_at, shadow_scores.c.id)
        if source is not None:
            stmt = stmt.where(shadow_scores.c.source == source)
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(stmt).mappings().all())
        if frame.empty:
            return pd.DataFrame(columns=[c.name for c in shadow_scores.columns])
        frame["prediction_date"] = pd.to_datetime(frame["prediction_date"])
        return frame

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(shadow_scores)).scalar() or 0)
