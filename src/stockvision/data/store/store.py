"""The store: daily bars, adjustment factors, weekly features, labels and served predictions.

A thin, DataFrame-in / DataFrame-out facade over SQLAlchemy Core that works the same on SQLite
(the zero-setup default) and PostgreSQL. Every write method is one transaction: a failure half way
leaves the store as it was. Daily bars are validated first (``data.validation``); rejected rows
come back in the result, never silently dropped. Writes are idempotent: importing the same data
twice reports 0 inserted and 0 updated the second time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Connection,
    Engine,
    String,
    Table,
    cast,
    create_engine,
    delete,
    event,
    func,
    or_,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from stockvision.data.schema import DAILY_COLUMNS, DATE, FLAGS_COLUMN, OHLCV, SYMBOL, WEEK_END
from stockvision.data.store import tables as t
from stockvision.data.store.bulk import DEFAULT_CHUNK_SIZE, write_frame
from stockvision.data.store.locks import StoreLock
from stockvision.data.store.migrations import SCHEMA_VERSION, current_version, migrate
from stockvision.data.validation import ValidationReport, validate_daily
from stockvision.errors import SimulatedDataError
from stockvision.faults import crash_point

if TYPE_CHECKING:
    from stockvision.config import Settings

DateLike = date | datetime | str | pd.Timestamp

PREDICTION_COLUMNS = [c.name for c in t.predictions.columns if c.name != "id"]
PREDICTION_SOURCES = ("api", "batch", "chat", "cli")


@dataclass
class UpsertResult:
    """Counts of one write; ``rejected`` is the validation report of the input."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: ValidationReport = field(default_factory=ValidationReport)
    #: simulated symbols removed because real prices replaced the demo market
    replaced_simulated: int = 0
    #: corporate actions found when factors were recomputed in the same transaction
    factor_events: int = 0
    factors_recomputed: bool = False

    @property
    def written(self) -> int:
        return self.inserted + self.updated

    def to_dict(self) -> dict[str, Any]:
        return {
            "inserted": self.inserted,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "rejected": self.rejected.n_rejected,
            "validation": self.rejected.to_dict(),
        }


#: ``factors(daily) -> (factors, events)``: adjustment factors computed from the stored daily frame.
FactorsFn = Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]]


# --- engines --------------------------------------------------------------------------------

_ENGINES: dict[tuple[str, str], Engine] = {}
_ENGINES_LOCK = threading.Lock()


def _sqlite_events(engine: Engine, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy (below) emit BEGIN itself: pysqlite's implicit transactions would
        # neither take the write lock up front nor make DDL transactional.
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        if not in_memory:
            cursor.execute("PRAGMA journal_mode=WAL")
        for pragma in (
            "synchronous=NORMAL",
            "foreign_keys=ON",
            "busy_timeout=30000",
            "temp_store=MEMORY",
            "cache_size=-131072",
        ):
            cursor.execute(f"PRAGMA {pragma}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        # Writers take the write lock at BEGIN so counts taken inside stay exact.
        immediate = conn.get_execution_options().get("sv_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def get_engine(url: str, connect_args: Mapping[str, Any] | None = None) -> Engine:
    """A process-wide engine per (URL, connect_args), configured for the store."""
    key = (url, repr(sorted((connect_args or {}).items())))
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            parsed = make_url(url)
            kwargs: dict[str, Any] = {"connect_args": dict(connect_args or {})}
            if parsed.get_backend_name() == "sqlite":
                database = parsed.database or ""
                in_memory = database in ("", ":memory:") or "mode=memory" in url
                if not in_memory:
                    from pathlib import Path

                    Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
                engine = create_engine(url, **kwargs)
                _sqlite_events(engine, in_memory)
            else:
                engine = create_engine(url, pool_pre_ping=True, **kwargs)
            _ENGINES[key] = engine
        return engine


def dispose_engine(url: str, connect_args: Mapping[str, Any] | None = None) -> None:
    """Close and forget the cached engine of ``url`` (tests, forks, dropping a database)."""
    key = (url, repr(sorted((connect_args or {}).items())))
    with _ENGINES_LOCK:
        engine = _ENGINES.pop(key, None)
    if engine is not None:
        engine.dispose()


# --- helpers --------------------------------------------------------------------------------


def _to_date(value: DateLike | None) -> date | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError) as exc:
        raise ValueError(f"invalid date {value!r}: use ISO format YYYY-MM-DD") from exc


def _symbols(values: str | Iterable[str] | None) -> list[str] | None:
    if values is None:
        return None
    if isinstance(values, str):
        values = [values]
    return sorted({str(s).strip().upper() for s in values})


def _iso_date(col: Any, dialect: str) -> Any:
    """A DATE column as 'YYYY-MM-DD' text, whatever the server's DateStyle (parsed in pandas)."""
    if dialect == "postgresql":
        return func.to_char(col, "YYYY-MM-DD")
    return cast(col, String)  # SQLite stores SQLAlchemy dates as ISO text already


def _parse_dates(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, format="ISO8601").astype("datetime64[ns]")


def _read(conn: Connection, stmt: Any) -> pd.DataFrame:
    result = conn.execute(stmt)
    keys = list(result.keys())
    # Raw DBAPI tuples: reads cast dates to text in SQL and parse/cast in pandas, so
    # SQLAlchemy's per-row Row objects and result processors would only add overhead.
    rows = result.cursor.fetchall()
    result.close()
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in keys]
    return pd.DataFrame({k: list(v) for k, v in zip(keys, columns, strict=True)}, columns=keys)


def _weekly_frame(frame: pd.DataFrame, value_columns: list[str], what: str) -> pd.DataFrame:
    """Flatten a (symbol, week_end)-indexed frame into columns, checking names and uniqueness."""
    data = frame.reset_index() if WEEK_END not in frame.columns else frame.copy()
    if SYMBOL not in data.columns or WEEK_END not in data.columns:
        raise ValueError(f"{what} frame needs index or columns ({SYMBOL}, {WEEK_END})")
    data = data.drop(columns=[c for c in data.columns if c == "index"])
    missing = [c for c in value_columns if c not in data.columns]
    extra = [c for c in data.columns if c not in (SYMBOL, WEEK_END, *value_columns)]
    if missing or extra:
        raise ValueError(
            f"{what} frame columns do not match the store: missing {missing}, unknown {extra}; "
            f"expected {value_columns}"
        )
    data[SYMBOL] = data[SYMBOL].astype(str).str.strip().str.upper()
    data[WEEK_END] = pd.to_datetime(data[WEEK_END]).dt.normalize()
    duplicated = data.duplicated([SYMBOL, WEEK_END])
    if duplicated.any():
        first = data.loc[duplicated, [SYMBOL, WEEK_END]].iloc[0].tolist()
        raise ValueError(
            f"{what} frame has {int(duplicated.sum())} duplicate (symbol, week_end) rows, "
            f"e.g. {first}; aggregate or drop them before writing"
        )
    return data[[SYMBOL, WEEK_END, *value_columns]]


def _flatten_prediction(record: Mapping[str, Any] | Any) -> dict[str, Any]:
    """Accept a flat row dict, a ``serving.schemas.Prediction`` or its ``model_dump()``."""
    if hasattr(record, "model_dump"):
        record = record.model_dump()
    row = dict(record)
    nested = {
        "interval": {"low": "interval_low", "high": "interval_high"},
        "probabilities": {"up": "p_up", "down": "p_down", "sideways": "p_sideways"},
        "model_versions": {"price": "price_model_version", "pattern": "pattern_model_version"},
        "distribution": {"scale": "return_scale"},
    }
    for key, mapping in nested.items():
        inner = row.pop(key, None)
        if isinstance(inner, Mapping):
            for src, dst in mapping.items():
                row.setdefault(dst, inner.get(src))
    if "generated_at" in row:
        row.setdefault("created_at", row.pop("generated_at"))
    out = {c: row.get(c) for c in PREDICTION_COLUMNS}
    if not out["symbol"] or out["prediction_date"] is None:
        raise ValueError("a prediction needs at least 'symbol' and 'prediction_date'")
    out["symbol"] = str(out["symbol"]).strip().upper()
    out["prediction_date"] = _to_date(out["prediction_date"])
    out["target_date"] = _to_date(out["target_date"])
    created = out["created_at"]
    created = pd.Timestamp(created) if created is not None else pd.Timestamp.now(tz="UTC")
    if created.tzinfo is not None:
        created = created.tz_convert("UTC").tz_localize(None)
    out["created_at"] = created.to_pydatetime()
    for version in ("price_model_version", "pattern_model_version"):
        out[version] = "" if out[version] is None else str(out[version])
    out["simulated"] = bool(out["simulated"]) if out["simulated"] is not None else False
    out["source"] = out["source"] or "api"
    if out["source"] not in PREDICTION_SOURCES:
        raise ValueError(f"prediction source {out['source']!r} not in {PREDICTION_SOURCES}")
    out["caveats"] = _caveats_json(out["caveats"])
    for key, value in out.items():
        if isinstance(value, float) and np.isnan(value):
            out[key] = None
    return out


def _caveats_json(value: Any) -> str | None:
    """The ``caveats`` column: a list of caveats (objects or dicts with ``code`` and ``measured``)
    as canonical JSON sorted by code, so the same caveats always compare equal in the upsert;
    None stays None (not recorded)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    try:
        if isinstance(value, str):
            value = json.loads(value)  # a row read back: normalised like any other
        items = []
        for c in value:
            c = c.model_dump() if hasattr(c, "model_dump") else dict(c)
            measured = c.get("measured")
            items.append(
                {"code": str(c["code"]), "measured": None if measured is None else float(measured)}
            )
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(
            f"a prediction's caveats must be a list of {{code, measured}} (got {value!r:.80}): {exc}"
        ) from exc
    return json.dumps(sorted(items, key=lambda c: c["code"]), separators=(",", ":"))


# --- the store ------------------------------------------------------------------------------


class Store:
    """All persistent market data and predictions of Stock Vision, behind one URL.

    Opening a store creates or migrates its schema (``migrations``); it refuses a database
    written by a newer version.
    """

    def __init__(
        self,
        url: str,
        *,
        connect_args: Mapping[str, Any] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
    ) -> None:
        self.url = url
        self.connect_args = dict(connect_args or {})
        self.chunk_size = chunk_size
        self.engine = get_engine(url, self.connect_args)
        self.create_all()

    @classmethod
    def from_settings(cls, settings: Settings) -> Store:
        """The store configured by ``SV_DATABASE_URL`` (default: SQLite under ``SV_DATA_DIR``)."""
        return cls(settings.db_url)

    def __repr__(self) -> str:
        return f"Store({make_url(self.url).render_as_string(hide_password=True)!r})"

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def _iso(self, col: Any) -> Any:
        return _iso_date(col, self.dialect)

    def create_all(self) -> None:
        """Create the schema or migrate it to ``SCHEMA_VERSION`` (idempotent)."""
        migrate(self.engine)

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return current_version(conn)

    def dispose(self) -> None:
        """Close this URL's pooled connections (other Store objects on it reconnect lazily)."""
        dispose_engine(self.url, self.connect_args)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(sv_write=True)
            with conn.begin():
                yield conn

    # --- daily bars -------------------------------------------------------------------------

    def upsert_daily(
        self,
        frame: pd.DataFrame,
        source: str,
        *,
        simulated: bool | None = None,
        replace_simulated: bool = False,
        factors: FactorsFn | None = None,
    ) -> UpsertResult:
        """Validate and write daily bars in one transaction; rows failing validation are reported.

        ``simulated`` marks the symbols as synthetic (default: ``source == "synthetic"``). A store never
        mixes simulated and real symbols: simulated bars are refused when the store holds real ones;
        real bars are refused when it holds simulated ones unless ``replace_simulated``, which removes
        the simulated market (prices, factors, features, labels, predictions) in the same transaction.

        ``factors(daily)`` (optional) computes ``(factors, events)`` from the whole stored daily frame
        after the write; they replace the stored ones in the same transaction, so no reader ever sees
        new prices without their adjustment factors, and a killed process leaves the old state.
        """
        is_sim = source == "synthetic" if simulated is None else bool(simulated)
        good, report = validate_daily(frame)
        result = UpsertResult(rejected=report)
        if good.empty:
            return result
        columns = [
            *DAILY_COLUMNS,
            *(["adj_close"] if "adj_close" in good.columns else []),
            FLAGS_COLUMN,
        ]
        now = datetime.now(UTC).replace(tzinfo=None)
        with self._write() as conn:
            result.replaced_simulated = self._guard_mix(conn, is_sim, replace_simulated)
            had_rows = self._symbols_with_rows(conn, good)
            inserted, updated = write_frame(
                conn,
                t.daily_prices,
                good[columns],
                compare=columns[2:],
                constants={"source": source, "ingested_at": now},
                chunk_size=self.chunk_size,
            )
            self._refresh_symbols(conn, good, is_sim)
            crash_point("ingest:prices_written")
            if factors is not None and (inserted or updated or result.replaced_simulated):
                daily = self._affected_daily(conn, good, columns, had_rows)
                fac, events = factors(daily)
                result.factor_events = len(events)
                result.factors_recomputed = True
                self._replace_factors(conn, fac, events)
        result.inserted, result.updated = inserted, updated
        result.unchanged = len(good) - inserted - updated
        return result

    @staticmethod
    def _symbols_with_rows(conn: Connection, good: pd.DataFrame) -> set[str]:
        """The symbols of ``good`` that already have stored bars (before this write)."""
        wanted = pd.unique(good[SYMBOL]).tolist()
        found: set[str] = set()
        d = t.daily_prices.c
        for start in range(0, len(wanted), 500):
            batch = wanted[start : start + 500]
            found |= {
                r[0] for r in conn.execute(select(d.symbol).where(d.symbol.in_(batch)).distinct())
            }
        return found

    def _affected_daily(
        self, conn: Connection, good: pd.DataFrame, columns: list[str], had_rows: set[str]
    ) -> pd.DataFrame:
        """The stored daily frame of the symbols this write touched, for their new factors.

        Symbols without earlier bars are exactly ``good`` (no read back: a first import of the
        whole market does not re-read 1.4 M rows); the others are read from the store.
        """
        fresh = good.loc[~good[SYMBOL].isin(had_rows), columns]
        parts = [fresh]
        if had_rows:
            parts.append(self._read_daily_conn(conn, symbols=sorted(had_rows)))
        daily = (
            pd.concat([p for p in parts if len(p)], ignore_index=True)
            if any(len(p) for p in parts)
            else fresh
        )
        if "adj_close" not in daily.columns:
            daily["adj_close"] = np.nan
        if daily["adj_close"].isna().all():
            daily = daily.drop(columns="adj_close")
        return daily.sort_values([SYMBOL, DATE], kind="stable").reset_index(drop=True)

    def daily_digest(self) -> str:
        """A content digest of every stored bar, computed in SQL (per-symbol counts and sums).

        Equal stores give equal digests, and any change of a value, a date or a flag changes
        it, without reading the bars into memory.
        """
        import hashlib

        d = t.daily_prices.c
        stmt = select(
            d.symbol,
            func.count(),
            self._iso(func.min(d.date)),
            self._iso(func.max(d.date)),
            func.sum(d.open),
            func.sum(d.high),
            func.sum(d.low),
            func.sum(d.close),
            func.sum(func.coalesce(d.volume, -1.0)),
            func.sum(func.coalesce(d.adj_close, -1.0)),
            func.sum(d.flags),
            func.sum(d.close * func.length(self._iso(d.date))),
        ).group_by(d.symbol)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.order_by(d.symbol)).all()
        if not rows:
            return "empty"
        text_rows = "\n".join(
            ",".join(f"{v:.6f}" if isinstance(v, float) else str(v) for v in row) for row in rows
        )
        return hashlib.sha256(text_rows.encode()).hexdigest()

    def composition(self) -> dict[str, int]:
        """How many stored symbols are real and how many simulated."""
        with self.engine.connect() as conn:
            return self._composition(conn)

    @staticmethod
    def _composition(conn: Connection) -> dict[str, int]:
        d, s = t.daily_prices.c, t.symbols.c
        held = select(d.symbol).distinct().subquery()
        rows = conn.execute(
            select(s.simulated, func.count())
            .select_from(held.outerjoin(t.symbols, held.c.symbol == s.symbol))
            .group_by(s.simulated)
        ).all()
        out = {"real": 0, "simulated": 0}
        for flag, count in rows:
            out["simulated" if bool(flag) else "real"] += int(count)
        return out

    def _guard_mix(self, conn: Connection, incoming_simulated: bool, replace: bool) -> int:
        held = self._composition(conn)
        if incoming_simulated and held["real"]:
            raise SimulatedDataError(
                f"The store holds real prices of {held['real']} symbols; simulated data is never "
                "written next to them.",
                "Use another data directory (SV_DATA_DIR) for the simulated demo market.",
                message_vi=(
                    f"Kho đang chứa giá thật của {held['real']} mã; không ghi dữ liệu mô phỏng "
                    "vào cùng kho."
                ),
                details={"real_symbols": held["real"]},
            )
        if not incoming_simulated and held["simulated"]:
            if not replace:
                raise SimulatedDataError(
                    f"The store holds the simulated demo market ({held['simulated']} symbols); "
                    "real prices are not mixed with it.",
                    "Run 'stockvision ingest --replace-simulated ...' to replace the demo market "
                    "with real data, or use another data directory (SV_DATA_DIR).",
                    message_vi=(
                        f"Kho đang chứa thị trường mô phỏng ({held['simulated']} mã); không trộn "
                        "giá thật vào."
                    ),
                    details={"simulated_symbols": held["simulated"]},
                )
            return self._purge_simulated(conn)
        return 0

    def _purge_simulated(self, conn: Connection) -> int:
        """Delete every row of the simulated symbols (inside the caller's transaction)."""
        s = t.symbols.c
        sims = [r[0] for r in conn.execute(select(s.symbol).where(s.simulated.is_(True)))]
        tables = [
            t.daily_prices, t.adjustment_factors, t.corporate_actions, t.weekly_features,
            t.labels, t.predictions, t.symbols,
        ]  # fmt: skip
        for start in range(0, len(sims), 500):
            batch = sims[start : start + 500]
            for table in tables:
                conn.execute(delete(table).where(table.c.symbol.in_(batch)))
        return len(sims)

    def _refresh_symbols(self, conn: Connection, good: pd.DataFrame, simulated: bool) -> None:
        span = good.groupby(SYMBOL, sort=True)[DATE].agg(["min", "max"])
        existing = _read(
            conn,
            select(t.symbols.c.symbol, t.symbols.c.first_date, t.symbols.c.last_date).where(
                t.symbols.c.symbol.in_(span.index.tolist())
            ),
        ).set_index("symbol")
        first, last = span["min"], span["max"]
        if not existing.empty:
            old_first = pd.to_datetime(existing["first_date"]).reindex(span.index)
            old_last = pd.to_datetime(existing["last_date"]).reindex(span.index)
            first = first.where(old_first.isna() | (first < old_first), old_first)
            last = last.where(old_last.isna() | (last > old_last), old_last)
        rows = pd.DataFrame(
            {
                "symbol": span.index.astype(str),
                "first_date": first.to_numpy(),
                "last_date": last.to_numpy(),
                "simulated": simulated,
            }
        )
        write_frame(conn, t.symbols, rows, compare=["first_date", "last_date", "simulated"])

    def read_daily(
        self,
        symbols: str | Iterable[str] | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
    ) -> pd.DataFrame:
        """Daily bars (contract frame) sorted by (symbol, date); ``adj_close`` only if stored."""
        with self.engine.connect() as conn:
            return self._read_daily_conn(conn, symbols, start, end)

    def _read_daily_conn(
        self,
        conn: Connection,
        symbols: str | Iterable[str] | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
    ) -> pd.DataFrame:
        d = t.daily_prices.c
        stmt = select(
            d.symbol,
            self._iso(d.date).label("date"),
            *(d[c] for c in OHLCV),
            d.adj_close,
            d.flags,
        )
        stmt = self._filter(stmt, d.symbol, d.date, symbols, start, end)
        frame = _read(conn, stmt.order_by(d.symbol, d.date))
        frame[SYMBOL] = frame[SYMBOL].astype(str)
        frame[DATE] = _parse_dates(frame[DATE])
        for col in [*OHLCV, "adj_close"]:
            frame[col] = pd.to_numeric(frame[col]).astype("float64")
        frame[FLAGS_COLUMN] = pd.to_numeric(frame[FLAGS_COLUMN]).fillna(0).astype("int64")
        if frame["adj_close"].isna().all():
            frame = frame.drop(columns="adj_close")
        return frame

    @staticmethod
    def _filter(stmt: Any, sym_col: Any, date_col: Any, symbols: Any, start: Any, end: Any) -> Any:
        wanted = _symbols(symbols)
        if wanted is not None:
            stmt = stmt.where(sym_col.in_(wanted))
        if (lo := _to_date(start)) is not None:
            stmt = stmt.where(date_col >= lo)
        if (hi := _to_date(end)) is not None:
            stmt = stmt.where(date_col <= hi)
        return stmt

    def latest_trading_day(self) -> date | None:
        """The newest date of any daily bar, or None when the store is empty."""
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(t.daily_prices.c.date))).scalar()
        return None if value is None else pd.Timestamp(value).date()

    def trading_days(self) -> pd.DatetimeIndex:
        """The market calendar seen by the store: every date on which some symbol traded."""
        d = t.daily_prices.c
        with self.engine.connect() as conn:
            frame = _read(conn, select(self._iso(d.date).label("date")).distinct())
        return pd.DatetimeIndex(_parse_dates(frame["date"]).sort_values(), name=DATE)

    def symbols_summary(self) -> pd.DataFrame:
        """Per symbol: rows, first/last date, gaps (missing market days in its range), last update.

        The market calendar is the set of dates on which any stored symbol traded.
        """
        d, s = t.daily_prices.c, t.symbols.c
        stmt = select(
            d.symbol,
            func.count().label("rows"),
            self._iso(func.min(d.date)).label("first_date"),
            self._iso(func.max(d.date)).label("last_date"),
            func.max(d.ingested_at).label("last_update"),
        ).group_by(d.symbol)
        with self.engine.connect() as conn:
            summary = _read(conn, stmt.order_by(d.symbol))
            meta = _read(conn, select(s.symbol, s.exchange, s.name, s.simulated))
        calendar = self.trading_days().to_numpy()
        summary["first_date"] = _parse_dates(summary["first_date"])
        summary["last_date"] = _parse_dates(summary["last_date"])
        span = np.searchsorted(calendar, summary["last_date"].to_numpy(), side="right")
        span -= np.searchsorted(calendar, summary["first_date"].to_numpy(), side="left")
        summary["rows"] = summary["rows"].astype("int64")
        summary["gaps"] = (span - summary["rows"].to_numpy()).astype("int64")
        summary["last_update"] = pd.to_datetime(summary["last_update"])
        summary = summary.merge(meta, on="symbol", how="left")
        summary["simulated"] = summary["simulated"].fillna(False).astype(bool)
        cols = ["symbol", "exchange", "name", "rows", "first_date", "last_date", "gaps"]
        return summary[[*cols, "last_update", "simulated"]]

    def upsert_symbols(self, frame: pd.DataFrame) -> UpsertResult:
        """Record listing details (``symbol`` plus any of ``exchange``, ``name``, ``kind``,
        ``simulated``)."""
        allowed = ["symbol", "exchange", "name", "kind", "simulated"]
        unknown = [c for c in frame.columns if c not in allowed]
        if unknown or "symbol" not in frame.columns:
            raise ValueError(f"symbols frame needs 'symbol' and only columns {allowed}: {unknown}")
        data = frame.copy()
        data["symbol"] = data["symbol"].astype(str).str.strip().str.upper()
        data = data.drop_duplicates("symbol", keep="last")
        with self._write() as conn:
            compare = [c for c in data.columns if c != "symbol"] or ["symbol"]
            inserted, updated = write_frame(conn, t.symbols, data, compare=compare)
        return UpsertResult(inserted, updated, len(data) - inserted - updated)

    def read_symbols(self) -> pd.DataFrame:
        with self.engine.connect() as conn:
            frame = _read(conn, select(t.symbols).order_by(t.symbols.c.symbol))
        for col in ("first_date", "last_date"):
            frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
        frame["simulated"] = frame["simulated"].astype(bool)
        return frame

    # --- corporate actions ------------------------------------------------------------------

    def replace_factors(self, factors: pd.DataFrame, events: pd.DataFrame | None = None) -> int:
        """Replace the adjustment factors and corporate actions of the symbols in the frames.

        ``factors``: columns symbol, date, factor (as stored, daily or change points);
        ``events``: symbol, date, prev_close, close, pct_change, ratio, kind. Symbols not present
        keep their rows. Returns the number of factor rows written.
        """
        with self._write() as conn:
            return self._replace_factors(conn, factors, events)

    def _replace_factors(
        self, conn: Connection, factors: pd.DataFrame, events: pd.DataFrame | None
    ) -> int:
        factors, events = _factor_frames(factors, events)
        event_cols = [c.name for c in t.corporate_actions.columns]
        affected = sorted(set(pd.unique(factors["symbol"])) | set(pd.unique(events["symbol"])))
        for target in (t.adjustment_factors, t.corporate_actions):
            for start in range(0, len(affected), 500):
                batch = affected[start : start + 500]
                conn.execute(delete(target).where(target.c.symbol.in_(batch)))
        written, _ = write_frame(conn, t.adjustment_factors, factors, compare=["factor"])
        write_frame(conn, t.corporate_actions, events, compare=event_cols[2:])
        return written

    def read_factors(self, symbols: str | Iterable[str] | None = None) -> pd.DataFrame:
        """Stored adjustment factors: symbol, date, factor."""
        f = t.adjustment_factors.c
        stmt = self._filter(
            select(f.symbol, self._iso(f.date).label("date"), f.factor),
            f.symbol,
            f.date,
            symbols,
            None,
            None,
        )
        with self.engine.connect() as conn:
            frame = _read(conn, stmt.order_by(f.symbol, f.date))
        frame["date"] = _parse_dates(frame["date"])
        frame["factor"] = frame["factor"].astype("float64")
        return frame

    def read_corporate_actions(self, symbols: str | Iterable[str] | None = None) -> pd.DataFrame:
        """Stored corporate actions: symbol, date, prev_close, close, pct_change, ratio, kind."""
        c = t.corporate_actions.c
        others = [col for col in t.corporate_actions.columns if col.name not in ("symbol", "date")]
        stmt = select(c.symbol, self._iso(c.date).label("date"), *others)
        stmt = self._filter(stmt, c.symbol, c.date, symbols, None, None)
        with self.engine.connect() as conn:
            frame = _read(conn, stmt.order_by(c.symbol, c.date))
        frame["date"] = _parse_dates(frame["date"])
        for col in ("prev_close", "close", "pct_change", "ratio"):
            frame[col] = pd.to_numeric(frame[col]).astype("float64")
        return frame

    # --- weekly features and labels ---------------------------------------------------------

    def _upsert_weekly(
        self, target: Table, frame: pd.DataFrame, cols: list[str], what: str
    ) -> UpsertResult:
        data = _weekly_frame(frame, cols, what)
        with self._write() as conn:
            inserted, updated = write_frame(
                conn, target, data, compare=cols, chunk_size=self.chunk_size
            )
        n = len(data)
        return UpsertResult(inserted, updated, n - inserted - updated, ValidationReport(n, n))

    def _read_weekly(
        self, target: Table, cols: list[str], symbols: Any, start: Any, end: Any
    ) -> pd.DataFrame:
        c = target.c
        stmt = select(c.symbol, self._iso(c.week_end).label(WEEK_END), *(c[n] for n in cols))
        stmt = self._filter(stmt, c.symbol, c.week_end, symbols, start, end)
        with self.engine.connect() as conn:
            frame = _read(conn, stmt.order_by(c.symbol, c.week_end))
        frame[SYMBOL] = frame[SYMBOL].astype(str)
        frame[WEEK_END] = _parse_dates(frame[WEEK_END])
        return frame.set_index([SYMBOL, WEEK_END])

    def upsert_features(self, frame: pd.DataFrame) -> UpsertResult:
        """Write the weekly feature matrix (index symbol, week_end; columns ``FEATURE_COLUMNS``)."""
        return self._upsert_weekly(t.weekly_features, frame, t.FEATURE_COLUMNS, "features")

    def read_features(
        self,
        symbols: str | Iterable[str] | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
    ) -> pd.DataFrame:
        """Weekly features indexed by (symbol, week_end), float64, NaN where undefined."""
        frame = self._read_weekly(t.weekly_features, t.FEATURE_COLUMNS, symbols, start, end)
        return frame.astype("float64")

    def upsert_labels(self, frame: pd.DataFrame) -> UpsertResult:
        """Write the labels frame (index symbol, week_end; columns ``LABEL_COLUMNS``)."""
        return self._upsert_weekly(t.labels, frame, t.LABEL_COLUMNS, "labels")

    def read_labels(
        self,
        symbols: str | Iterable[str] | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
    ) -> pd.DataFrame:
        """Labels indexed by (symbol, week_end); ``pattern`` is None where not yet known."""
        frame = self._read_weekly(t.labels, t.LABEL_COLUMNS, symbols, start, end)
        for col in t.LABEL_FLOAT_COLUMNS:
            frame[col] = pd.to_numeric(frame[col]).astype("float64")
        frame["pattern"] = frame["pattern"].astype(object).where(frame["pattern"].notna(), None)
        return frame

    def last_feature_week(self, symbol: str) -> dict[str, Any] | None:
        """The newest feature row of ``symbol`` as a dict (symbol, week_end, features), or None."""
        c = t.weekly_features.c
        sym = str(symbol).strip().upper()
        newest = select(func.max(c.week_end)).where(c.symbol == sym).scalar_subquery()
        with self.engine.connect() as conn:
            row = conn.execute(
                select(t.weekly_features).where(c.symbol == sym, c.week_end == newest)
            ).first()
        if row is None:
            return None
        out = dict(row._mapping)
        out[WEEK_END] = pd.Timestamp(out[WEEK_END])
        for name in t.FEATURE_COLUMNS:
            out[name] = float("nan") if out[name] is None else float(out[name])
        return out

    # --- predictions ------------------------------------------------------------------------

    def save_predictions(self, predictions: pd.DataFrame | Sequence[Any]) -> int:
        """Store served predictions; returns how many rows were new or changed.

        Accepts a DataFrame or dicts with the ``predictions`` columns, or ``Prediction`` objects.
        A prediction already stored for the same (symbol, prediction_date, model versions) is
        updated in place only if its values changed, keeping the ``created_at``, ``source`` and
        ``request_id`` of its first serve.
        """
        if isinstance(predictions, pd.DataFrame):
            records: Sequence[Any] = predictions.to_dict(orient="records")
        else:
            records = list(predictions)
        rows = [_flatten_prediction(r) for r in records]
        if not rows:
            return 0
        p = t.predictions
        key = ["symbol", "prediction_date", "price_model_version", "pattern_model_version"]
        # Who asked and when (source, request_id, created_at) stay those of the first serve.
        values = [
            c for c in PREDICTION_COLUMNS if c not in (*key, "created_at", "source", "request_id")
        ]
        insert = sqlite.insert(p) if self.dialect == "sqlite" else postgresql.insert(p)
        stmt = insert.on_conflict_do_update(
            index_elements=[p.c[k] for k in key],
            set_={c: insert.excluded[c] for c in values},
            where=or_(*(p.c[c].is_distinct_from(insert.excluded[c]) for c in values)),
        ).returning(p.c.id)
        with self._write() as conn:
            return len(conn.execute(stmt, rows).all())

    def read_predictions(
        self,
        symbol: str | Iterable[str] | None = None,
        since: DateLike | None = None,
    ) -> pd.DataFrame:
        """Stored predictions (prediction_date >= ``since``), sorted by date then symbol."""
        p = t.predictions.c
        stmt = self._filter(select(t.predictions), p.symbol, p.prediction_date, symbol, since, None)
        with self.engine.connect() as conn:
            frame = _read(conn, stmt.order_by(p.prediction_date, p.symbol, p.id))
        for col in ("prediction_date", "target_date", "created_at"):
            frame[col] = pd.to_datetime(frame[col]).astype("datetime64[ns]")
        for col in ("price_model_version", "pattern_model_version"):
            frame[col] = frame[col].astype(object).where(frame[col] != "", None)
        frame["simulated"] = frame["simulated"].astype(bool)
        frame["caveats"] = frame["caveats"].astype(object).where(frame["caveats"].notna(), None)
        return frame

    # --- ingest log and health --------------------------------------------------------------

    def log_ingest_run(
        self,
        source: str,
        *,
        started_at: datetime,
        finished_at: datetime | None = None,
        rows_in: int = 0,
        rows_written: int = 0,
        rows_rejected: int = 0,
        status: str = "ok",
        message: str = "",
    ) -> int:
        """Record one ingestion (timestamps naive UTC); returns its id."""
        finished = finished_at or datetime.now(UTC).replace(tzinfo=None)
        with self._write() as conn:
            result = conn.execute(
                t.ingest_runs.insert().values(
                    source=source,
                    started_at=_naive_utc(started_at),
                    finished_at=_naive_utc(finished),
                    rows_in=int(rows_in),
                    rows_written=int(rows_written),
                    rows_rejected=int(rows_rejected),
                    status=status,
                    message=message,
                )
            )
            return int(result.inserted_primary_key[0])

    def last_ingest(self, status: str | None = None) -> dict[str, Any] | None:
        """The most recent ingest run (optionally with ``status``) as a dict, or None."""
        r = t.ingest_runs.c
        stmt = select(t.ingest_runs)
        if status is not None:
            stmt = stmt.where(r.status == status)
        with self.engine.connect() as conn:
            row = conn.execute(stmt.order_by(r.finished_at.desc(), r.id.desc()).limit(1)).first()
        return None if row is None else dict(row._mapping)

    def lock(self, name: str = "pipeline") -> StoreLock:
        """A lock named ``name`` shared by every process using this store (see ``locks.py``)."""
        return StoreLock(self, name)

    def healthcheck(self) -> bool:
        """True when the database answers and has this code's schema version."""
        try:
            return self.schema_version() == SCHEMA_VERSION
        except Exception:
            return False


def _factor_frames(
    factors: pd.DataFrame, events: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Checked, normalised copies of a factors frame and an events frame (see ``replace_factors``)."""
    factor_cols = ["symbol", "date", "factor"]
    event_cols = [c.name for c in t.corporate_actions.columns]
    events = pd.DataFrame(columns=event_cols) if events is None else events
    if "method" not in events.columns:  # events detected by callers that predate the column
        events = events.assign(method="detected")
    for name, frame, cols in (("factors", factors, factor_cols), ("events", events, event_cols)):
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} frame lacks column(s) {missing}; expected {cols}")
    factors = factors[factor_cols].copy()
    events = events[event_cols].copy()
    for frame in (factors, events):
        frame["symbol"] = frame["symbol"].astype(str).str.strip().str.upper()
        frame["date"] = pd.to_datetime(frame["date"]).dt.normalize()
    for name, frame in (("factors", factors), ("events", events)):
        if frame.duplicated(["symbol", "date"]).any():
            raise ValueError(f"{name} frame has duplicate (symbol, date) rows")
    return factors, events


def _naive_utc(value: datetime) -> datetime:
    stamp = pd.Timestamp(value)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return stamp.to_pydatetime()
