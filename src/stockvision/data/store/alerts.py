"""Alerts and their fired events in the store: created by API and chat, written by the stream worker.

Writes are idempotent: an event is keyed by ``(alert_id, crossing_key)`` and inserted with
"on conflict do nothing", so a worker replaying its input after a crash adds no duplicate, and
:meth:`AlertStore.record_events` returns only the events that are new (the ones to deliver).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from stockvision.data.store.stream_tables import alert_events, alerts
from stockvision.errors import AlertNotFoundError, InvalidRequestError

ALERT_KINDS = ("price_above", "price_below", "pattern_change")
#: What a user id may look like at the HTTP boundary (the agent's ``user_id``, the REST
#: ``X-User-Id`` header): a random secret the client keeps. It is a bearer credential, so only
#: its hash is stored.
USER_ID_PATTERN = r"^[A-Za-z0-9_-]{8,100}$"


def user_owner(user_id: str) -> str:
    """The alert owner of a user id: ``user:`` + a salted SHA-256 (never the id itself).

    Why one function: the chat agent (``POST /agent/chat`` with ``user_id``) and a REST client
    (``X-User-Id`` on ``/alerts``) holding the same id must see the same alerts, and nobody who
    lacks the id can name its owner (the hash is not reversible and is never sent to a client).
    """
    if not user_id:
        raise InvalidRequestError(
            "an alert owner needs a user id", "send X-User-Id (the agent's user_id)",
            message_vi="Cần mã người dùng để đặt cảnh báo.",
        )  # fmt: skip
    return "user:" + hashlib.sha256(f"stockvision-alerts:{user_id}".encode()).hexdigest()[:48]


@dataclass(frozen=True)
class AlertEvent:
    """One firing of an alert: which crossing (``crossing_key``), when (event time) and what."""

    alert_id: str
    symbol: str
    crossing_key: str
    fired_at: datetime
    payload: dict[str, Any]


def _naive(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


class AlertStore:
    """Alert rows of a :class:`~stockvision.data.store.Store` (schema version 2)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.engine = store.engine

    def create(
        self,
        symbol: str,
        kind: str,
        threshold: float | None = None,
        owner: str = "public",
        note: str | None = None,
    ) -> dict[str, Any]:
        if kind not in ALERT_KINDS:
            raise InvalidRequestError(
                f"unknown alert kind {kind!r}", f"use one of {', '.join(ALERT_KINDS)}"
            )
        if kind != "pattern_change" and (threshold is None or not threshold > 0):
            raise InvalidRequestError(
                "a price alert needs a positive threshold in VND",
                "e.g. threshold=90000 for 'báo khi VNM vượt 90k'",
                message_vi="Cảnh báo giá cần một ngưỡng giá dương (VND).",
            )
        row = {
            "id": uuid.uuid4().hex,
            "owner": owner[:64],
            "symbol": symbol.upper()[:16],
            "kind": kind,
            "threshold": None if kind == "pattern_change" else float(threshold or 0),
            "note": (note or None) and note[:200],
            "active": True,
            "created_at": datetime.now(UTC).replace(tzinfo=None),
        }
        with self.store._write() as conn:
            conn.execute(alerts.insert().values(**row))
        return row

    def list(self, owner: str | None = None, active_only: bool = True) -> list[dict[str, Any]]:
        stmt = select(alerts).order_by(alerts.c.created_at, alerts.c.id)
        if owner is not None:
            stmt = stmt.where(alerts.c.owner == owner)
        if active_only:
            stmt = stmt.where(alerts.c.active.is_(True))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(stmt)]

    def delete(self, alert_id: str, owner: str | None = None) -> None:
        stmt = update(alerts).where(alerts.c.id == alert_id).values(active=False)
        if owner is not None:
            stmt = stmt.where(alerts.c.owner == owner)
        with self.store._write() as conn:
            if conn.execute(stmt).rowcount == 0:
                raise AlertNotFoundError(
                    f"no alert {alert_id!r}", "list yours with GET /alerts",
                    message_vi="Không tìm thấy cảnh báo này.",
                )  # fmt: skip

    def adopt(self, from_owner: str, to_owner: str) -> int:
        """Move every alert of ``from_owner`` to ``to_owner`` (a one-time rename of an older owner
        naming); the number of alerts moved."""
        if from_owner == to_owner:
            return 0
        stmt = update(alerts).where(alerts.c.owner == from_owner).values(owner=to_owner[:64])
        with self.store._write() as conn:
            return int(conn.execute(stmt).rowcount or 0)

    def record_events(self, events: Iterable[AlertEvent]) -> list[AlertEvent]:
        """Store ``events``; return those not stored before (insert or ignore, one transaction)."""
        events = list(events)
        if not events:
            return []
        now = datetime.now(UTC).replace(tzinfo=None)
        rows = [
            {
                "alert_id": e.alert_id,
                "symbol": e.symbol,
                "crossing_key": e.crossing_key,
                "fired_at": _naive(e.fired_at),
                "payload": json.dumps(e.payload, default=str),
                "recorded_at": now,
            }
            for e in events
        ]
        insert = sqlite.insert if self.store.dialect == "sqlite" else postgresql.insert
        stmt = (
            insert(alert_events)
            .on_conflict_do_nothing(index_elements=["alert_id", "crossing_key"])
            .returning(alert_events.c.alert_id, alert_events.c.crossing_key)
        )
        with self.store._write() as conn:
            new = set()
            for row in rows:  # RETURNING per row: executemany+returning varies by driver
                new.update((r[0], r[1]) for r in conn.execute(stmt, row))
        return [e for e in events if (e.alert_id, e.crossing_key) in new]

    def events(
        self, owner: str | None = None, symbol: str | None = None, limit: int = 100
    ) -> list[dict[str, Any]]:
        stmt = (
            select(alert_events, alerts.c.kind, alerts.c.threshold, alerts.c.owner)
            .join(alerts, alerts.c.id == alert_events.c.alert_id)
            .order_by(alert_events.c.id.desc())
            .limit(limit)
        )
        if owner is not None:
            stmt = stmt.where(alerts.c.owner == owner)
        if symbol is not None:
            stmt = stmt.where(alert_events.c.symbol == symbol.upper())
        with self.engine.connect() as conn:
            out = []
            for r in conn.execute(stmt):
                d = dict(r._mapping)
                d["payload"] = json.loads(d["payload"])
                out.append(d)
            return out

    def purge(self) -> None:
        """Delete every alert and event (tests)."""
        with self.store._write() as conn:
            conn.execute(delete(alert_events))
            conn.execute(delete(alerts))
