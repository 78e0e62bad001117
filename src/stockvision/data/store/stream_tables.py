"""Tables of the real-time layer: alerts and the alert events they fired (schema version 4) and the
challenger's shadow answers (schema version 5).

Kept in their own ``MetaData`` and created by the self-contained migration ``_stream_tables``, so the
version-1 baseline stays what it was. An event is unique on ``(alert_id, crossing_key)``: the key
names the crossing (the market minute it happened in), so a worker that replays its input after a
crash writes the same event again and the store keeps one.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
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

#: Schema version 5 (own ``MetaData``, created by the self-contained migration ``_shadow_tables``):
#: the challenger's shadow answers, one row per served answer the challenger also scored, side by
#: side with the champion's (both predictive distributions and pattern probabilities, and the
#: version of each), so the comparison on realised outcomes needs nothing else. ``key`` names the
#: pair (source, symbol, event time, versions): a worker replaying its input writes it once.
shadow_metadata = MetaData()

SHADOW_ARMS = ("champion", "challenger")


def _arm_columns(arm: str) -> list[Column]:
    """One answer's columns: its versions, its return distribution (``df`` null = normal tails),
    its target and its pattern probabilities."""
    return [
        Column(f"{arm}_price_version", String(32)),
        Column(f"{arm}_pattern_version", String(32)),
        Column(f"{arm}_loc", Float, nullable=False),
        Column(f"{arm}_scale", Float, nullable=False),
        Column(f"{arm}_df", Float),
        Column(f"{arm}_target", Float, nullable=False),
        Column(f"{arm}_p_down", Float, nullable=False),
        Column(f"{arm}_p_sideways", Float, nullable=False),
        Column(f"{arm}_p_up", Float, nullable=False),
    ]


shadow_scores = Table(
    "shadow_scores",
    shadow_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(200), nullable=False),
    Column("source", String(16), nullable=False),  # live (stream worker), api, ...
    Column("symbol", String(16), nullable=False),
    Column("prediction_date", Date, nullable=False),  # data cut-off (a live answer: its day)
    Column("made_at", DateTime, nullable=False),  # event time of the answer (UTC)
    Column("last_close", Float, nullable=False),  # the price the answers were made from, VND
    *_arm_columns("champion"),
    *_arm_columns("challenger"),
    Column("recorded_at", DateTime, nullable=False),
    UniqueConstraint("key", name="uq_shadow_scores_key"),
    Index("ix_shadow_scores_symbol_date", "symbol", "prediction_date"),
)
