"""Tables of the real-time layer (schema version 2): alerts and the alert events they fired.

Kept in their own ``MetaData`` and created by the self-contained migration ``_stream_tables``, so the
version-1 baseline stays what it was. An event is unique on ``(alert_id, crossing_key)``: the key
names the crossing (the market minute it happened in), so a worker that replays its input after a
crash writes the same event again and the store keeps one.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

stream_metadata = MetaData()

alerts = Table(
    "alerts",
    stream_metadata,
    Column("id", String(32), primary_key=True),
    Column("owner", String(64), nullable=False, default="public"),
    Column("symbol", String(16), nullable=False),
    Column("kind", String(24), nullable=False),  # price_above, price_below, pattern_change
    Column("threshold", Float),
    Column("note", String(200)),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime, nullable=False),
    Index("ix_alerts_symbol", "symbol"),
    Index("ix_alerts_owner", "owner"),
)

alert_events = Table(
    "alert_events",
    stream_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("alert_id", String(32), nullable=False),
    Column("symbol", String(16), nullable=False),
    Column("crossing_key", String(64), nullable=False),
    Column("fired_at", DateTime, nullable=False),  # event time of the crossing (UTC)
    Column("payload", Text, nullable=False),  # JSON
    Column("recorded_at", DateTime, nullable=False),
    UniqueConstraint("alert_id", "crossing_key", name="uq_alert_events_crossing"),
    Index("ix_alert_events_alert", "alert_id"),
)
