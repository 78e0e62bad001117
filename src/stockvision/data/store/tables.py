"""Relational schema of the store (SQLAlchemy 2 typed declarative), portable SQLite/PostgreSQL.

Conventions: dates are ``DATE`` (a trading day or a week end), timestamps are naive UTC
``DATETIME``; natural composite primary keys (symbol, date) serve as the upsert conflict target and
as the main lookup index, so daily bars need no surrogate id (on SQLite the table is
``WITHOUT ROWID``: one B-tree instead of two).
"""

from __future__ import annotations

from datetime import date, datetime

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
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

#: Weekly feature names, in the order of ``stockvision.features.FEATURES`` (brief: 21 names).
FEATURE_COLUMNS: list[str] = [
    "ret_1w",
    "ret_4w",
    "ret_12w",
    "ret_26w",
    "ret_52w",
    "ma_cross_10_40_w",
    "price_vs_ma20_w",
    "breakout_20w",
    "vol_4w",
    "atr_4w_pct",
    "max_1w",
    "max_4w",
    "bb_width_w",
    "vol_zscore_12w",
    "turnover_w",
    "obv_mom_4w",
    "amihud_w",
    "illiq_rank",
    "rsi_14w",
    "rsi_speed",
    "macd_hist_w",
]
LABEL_FLOAT_COLUMNS = [
    "close",
    "raw_close",
    "future_return",
    "future_log_return",
    "price_target_true",
]
LABEL_COLUMNS = [*LABEL_FLOAT_COLUMNS, "pattern"]
SYMBOL_LEN = 16


#: Deterministic constraint names, so bulk loads can drop and re-create them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base holding the store's metadata."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class DailyPrice(Base):
    """One raw (as traded) daily bar; ``adj_close`` is the source's own adjusted close, if any."""

    __tablename__ = "daily_prices"
    __table_args__ = (Index("ix_daily_prices_date", "date"), {"sqlite_with_rowid": False})

    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    open: Mapped[float] = mapped_column(Float)
    high: Mapped[float] = mapped_column(Float)
    low: Mapped[float] = mapped_column(Float)
    close: Mapped[float] = mapped_column(Float)
    volume: Mapped[float | None] = mapped_column(Float, nullable=True)  # unknown for some exports
    adj_close: Mapped[float | None] = mapped_column(Float)
    #: bits of ``data.repair.FLAGS``: how the bar was repaired on import (0: as read)
    flags: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    source: Mapped[str] = mapped_column(String(32))
    ingested_at: Mapped[datetime] = mapped_column(DateTime)


class AdjustmentFactor(Base):
    """Back-adjustment factor of a symbol on a day (1.0 after its last corporate action)."""

    __tablename__ = "adjustment_factors"
    __table_args__ = ({"sqlite_with_rowid": False},)

    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    factor: Mapped[float] = mapped_column(Float)


class CorporateAction(Base):
    """A detected corporate action (split, stock dividend, ...) and the price jump behind it."""

    __tablename__ = "corporate_actions"

    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN), primary_key=True)
    date: Mapped[date] = mapped_column(Date, primary_key=True)
    prev_close: Mapped[float | None] = mapped_column(Float)
    close: Mapped[float | None] = mapped_column(Float)
    pct_change: Mapped[float | None] = mapped_column(Float)
    ratio: Mapped[float | None] = mapped_column(Float)
    kind: Mapped[str | None] = mapped_column(String(32))
    #: where the event comes from: "source" (the file's adjusted close) or "detected" (band break)
    method: Mapped[str | None] = mapped_column(String(16))


def _week_table(name: str, value_columns: list[Column]) -> Table:
    return Table(
        name,
        Base.metadata,
        Column("symbol", String(SYMBOL_LEN), primary_key=True),
        Column("week_end", Date, primary_key=True),
        *value_columns,
        Index(f"ix_{name}_week_end", "week_end"),
        sqlite_with_rowid=False,
    )


#: One float column per feature; NULL where a feature is undefined (NaN in the frame).
weekly_features = _week_table("weekly_features", [Column(n, Float) for n in FEATURE_COLUMNS])
labels = _week_table(
    "labels",
    [*(Column(n, Float) for n in LABEL_FLOAT_COLUMNS), Column("pattern", String(10))],
)


class PredictionRow(Base):
    """One served prediction. Re-serving the same (symbol, cut-off, models) updates, never duplicates.

    Model versions are stored as ``''`` when unknown so the unique key also holds for them
    (SQL treats NULLs as distinct).
    """

    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint(
            "symbol",
            "prediction_date",
            "price_model_version",
            "pattern_model_version",
            name="uq_predictions_key",
        ),
        Index("ix_predictions_symbol_date", "symbol", "prediction_date"),
        Index("ix_predictions_created_at", "created_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN))
    prediction_date: Mapped[date] = mapped_column(Date)
    target_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    last_close: Mapped[float | None] = mapped_column(Float)
    price_target: Mapped[float | None] = mapped_column(Float)
    interval_low: Mapped[float | None] = mapped_column(Float)
    interval_high: Mapped[float | None] = mapped_column(Float)
    expected_return: Mapped[float | None] = mapped_column(Float)
    #: scale of the served 4-week log-return distribution: what the walk-forward's coverage by
    #: predicted width is binned on, so live outcomes can be checked bin by bin (monitoring)
    return_scale: Mapped[float | None] = mapped_column(Float)
    #: the measured caveats this prediction was (last) served with, as JSON
    #: ``[{"code": ..., "measured": ...}]`` sorted by code: ``"[]"`` when it was served with
    #: none, NULL when not recorded (rows from before schema version 7)
    caveats: Mapped[str | None] = mapped_column(Text)
    pattern: Mapped[str | None] = mapped_column(String(10))
    p_up: Mapped[float | None] = mapped_column(Float)
    p_down: Mapped[float | None] = mapped_column(Float)
    p_sideways: Mapped[float | None] = mapped_column(Float)
    confidence: Mapped[float | None] = mapped_column(Float)
    price_model_version: Mapped[str] = mapped_column(String(64), default="", server_default="")
    pattern_model_version: Mapped[str] = mapped_column(String(64), default="", server_default="")
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(16), default="api")
    request_id: Mapped[str | None] = mapped_column(String(64))


class IngestRun(Base):
    """Log of one ingestion: counts in/out and its outcome."""

    __tablename__ = "ingest_runs"
    __table_args__ = (Index("ix_ingest_runs_finished_at", "finished_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    rows_in: Mapped[int] = mapped_column(Integer, default=0)
    rows_written: Mapped[int] = mapped_column(Integer, default=0)
    rows_rejected: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)


class SymbolRow(Base):
    """What the store holds per symbol: listing details and the covered date range."""

    __tablename__ = "symbols"

    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN), primary_key=True)
    exchange: Mapped[str | None] = mapped_column(String(16))
    name: Mapped[str | None] = mapped_column(String(256))
    #: stock, fund, etf or index (``market.universe.KINDS``); indices are points, never adjusted
    kind: Mapped[str | None] = mapped_column(String(16))
    simulated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    first_date: Mapped[date | None] = mapped_column(Date)
    last_date: Mapped[date | None] = mapped_column(Date)


class SchemaVersion(Base):
    """One row per applied schema version; the highest is the database's version."""

    __tablename__ = "schema_version"

    version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    applied_at: Mapped[datetime] = mapped_column(DateTime)


class NewsItemRow(Base):
    """One news item (schema version 2). ``key`` is the dedup hash of normalised title and link;
    tone columns are NULL until a sentiment model has scored the headline."""

    __tablename__ = "news_items"
    __table_args__ = (Index("ix_news_items_published_at", "published_at"),)

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    published_at: Mapped[datetime] = mapped_column(DateTime)  # naive UTC
    source: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    origin_id: Mapped[str | None] = mapped_column(String(128))
    ingested_at: Mapped[datetime] = mapped_column(DateTime)
    tone: Mapped[str | None] = mapped_column(String(8))
    p_negative: Mapped[float | None] = mapped_column(Float)
    p_neutral: Mapped[float | None] = mapped_column(Float)
    p_positive: Mapped[float | None] = mapped_column(Float)
    tone_model: Mapped[str | None] = mapped_column(String(64))


class NewsSymbolRow(Base):
    """Which symbols a news item concerns (schema version 2); looked up by symbol."""

    __tablename__ = "news_symbols"
    __table_args__ = (Index("ix_news_symbols_symbol", "symbol"), {"sqlite_with_rowid": False})

    key: Mapped[str] = mapped_column(String(40), primary_key=True)
    symbol: Mapped[str] = mapped_column(String(SYMBOL_LEN), primary_key=True)


metadata = Base.metadata
daily_prices: Table = DailyPrice.__table__  # type: ignore[assignment]
adjustment_factors: Table = AdjustmentFactor.__table__  # type: ignore[assignment]
corporate_actions: Table = CorporateAction.__table__  # type: ignore[assignment]
predictions: Table = PredictionRow.__table__  # type: ignore[assignment]
ingest_runs: Table = IngestRun.__table__  # type: ignore[assignment]
symbols: Table = SymbolRow.__table__  # type: ignore[assignment]
schema_version: Table = SchemaVersion.__table__  # type: ignore[assignment]
news_items: Table = NewsItemRow.__table__  # type: ignore[assignment]
news_symbols: Table = NewsSymbolRow.__table__  # type: ignore[assignment]
