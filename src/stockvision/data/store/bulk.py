"""Fast, counted, dialect-specific bulk upserts of DataFrames (SQLite and PostgreSQL).

One entry point, :func:`write_frame`, inside the caller's transaction:

- **SQLite**: chunked ``executemany`` of ``INSERT ... ON CONFLICT (pk) DO UPDATE SET ... WHERE
  <a compared value differs>`` straight through the DBAPI (values pre-converted, vectorised, to
  SQLAlchemy's storage formats). Counts: rows changed (the statement's rowcount, which excludes
  conflicts whose values are equal) and inserted = growth of ``count(*)``; exact because the store
  holds the write lock (``BEGIN IMMEDIATE``) for the whole transaction.
- **PostgreSQL**: the frame is serialised to CSV by Arrow, ``COPY``-ed into a temporary staging
  table, then one ``INSERT ... SELECT ... ON CONFLICT DO UPDATE ... WHERE ... IS DISTINCT FROM``
  whose ``RETURNING (xmax = 0)`` is counted in SQL (inserted vs updated).
- **First bulk load** into an empty table (at least ``BULK_LOAD_MIN_ROWS`` rows): secondary
  indexes (and on PostgreSQL the primary key) are dropped, rows are loaded without conflict
  handling and indexes are rebuilt in one pass, several times faster than maintaining them row by
  row. DDL is transactional on both engines, so a failure restores the indexes with the rollback.

Frames must be unique on the table's primary key (the store validates before calling).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import (
    Boolean,
    Connection,
    Date,
    DateTime,
    Float,
    Integer,
    Table,
    column,
    func,
    literal_column,
    not_,
    or_,
    select,
    table,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import DBAPIError
from sqlalchemy.schema import AddConstraint, DropConstraint

#: Rows per ``executemany`` call on SQLite (bounds the memory of the converted tuples).
DEFAULT_CHUNK_SIZE = 100_000
#: Minimum batch size for which an empty table is loaded with its indexes dropped.
BULK_LOAD_MIN_ROWS = 50_000
_COPY_BLOCK = 1 << 20


def write_frame(
    conn: Connection,
    target: Table,
    frame: pd.DataFrame,
    *,
    compare: Sequence[str],
    constants: Mapping[str, Any] | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> tuple[int, int]:
    """Upsert ``frame`` (columns named like ``target``'s) into ``target``; return (inserted, updated).

    ``compare``: columns whose difference makes an existing row count (and be written) as updated;
    other non-key columns and ``constants`` (same value for every row, e.g. ``ingested_at``) are
    written along with a change but do not trigger one.
    """
    constants = dict(constants or {})
    keys = [c.name for c in target.primary_key.columns]
    unknown = [c for c in [*frame.columns, *constants] if c not in target.c]
    if unknown:
        raise ValueError(f"columns {unknown} do not exist in table {target.name!r}")
    missing = [k for k in keys if k not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks key column(s) {missing} of table {target.name!r}")
    if frame.empty:
        return 0, 0
    dialect = conn.dialect.name
    bulk = len(frame) >= BULK_LOAD_MIN_ROWS and _is_empty(conn, target)
    if dialect == "sqlite":
        return _write_sqlite(conn, target, frame, keys, compare, constants, chunk_size, bulk)
    if dialect == "postgresql":
        return _write_postgres(conn, target, frame, keys, compare, constants, bulk)
    raise NotImplementedError(
        f"bulk writes support sqlite and postgresql, not {dialect!r}; "
        "set SV_DATABASE_URL to a sqlite:/// or postgresql+psycopg:// URL"
    )


def _is_empty(conn: Connection, target: Table) -> bool:
    return conn.execute(select(literal_column("1")).select_from(target).limit(1)).first() is None


def _secondary_indexes(target: Table) -> list:
    return sorted(target.indexes, key=lambda ix: ix.name or "")


# --- SQLite ---------------------------------------------------------------------------------


def _sqlite_values(series: pd.Series, col_type: Any) -> Iterable[Any]:
    """Vectorised conversion to what SQLAlchemy's SQLite types store (ISO text dates, ...)."""
    if isinstance(col_type, DateTime):
        ts = pd.to_datetime(series)
        text_ = ts.dt.strftime("%Y-%m-%d %H:%M:%S.%f")
        return text_.astype(object).where(ts.notna(), None).tolist()
    if isinstance(col_type, Date):
        # Few distinct days, many rows: format each distinct day once, then gather.
        codes, uniques = pd.factorize(pd.to_datetime(series).to_numpy().astype("datetime64[D]"))
        labels = np.append(uniques.astype(str).astype(object), None)
        return labels[codes].tolist()  # code -1 (NaT) picks the trailing None
    if isinstance(col_type, Boolean):
        return _nullable_ints(series, as_bool=True)
    if isinstance(col_type, Float):
        # NaN binds as NULL in SQLite, so no per-value replacement is needed.
        return pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64").tolist()
    if isinstance(col_type, Integer):
        return _nullable_ints(series)
    codes, uniques = pd.factorize(series)
    labels = np.append(np.asarray(uniques, dtype=object), None)
    return labels[codes].tolist()


def _nullable_ints(series: pd.Series, as_bool: bool = False) -> list[Any]:
    """Python ints (None where missing; 0/1 when ``as_bool``), converted in one vectorised pass:
    a per-value ``pd.isna`` costs seconds on a whole-market frame (1.4 M flags)."""
    missing = series.isna().to_numpy()
    numbers = pd.to_numeric(series.where(~missing, 0)).to_numpy()
    values = ((numbers != 0) if as_bool else numbers).astype(np.int64).tolist()
    if missing.any():
        for i in np.flatnonzero(missing).tolist():
            values[i] = None
    return values


def _sqlite_constant(value: Any, col_type: Any, dialect: Any) -> Any:
    processor = col_type.dialect_impl(dialect).bind_processor(dialect)
    return processor(value) if processor is not None else value


def _write_sqlite(
    conn: Connection,
    target: Table,
    frame: pd.DataFrame,
    keys: list[str],
    compare: Sequence[str],
    constants: dict[str, Any],
    chunk_size: int,
    bulk: bool,
) -> tuple[int, int]:
    names = [*frame.columns, *constants]
    stmt = sqlite.insert(target)
    if not bulk:
        update = [n for n in names if n not in keys]
        differs = or_(*(target.c[c].is_distinct_from(stmt.excluded[c]) for c in compare))
        stmt = stmt.on_conflict_do_update(
            index_elements=[target.c[k] for k in keys],
            set_={n: stmt.excluded[n] for n in update},
            where=differs,
        )
    compiled = stmt.compile(dialect=conn.dialect, column_keys=names)
    order = list(compiled.positiontup or [])
    for name in order:  # columns the frame omits but that have a Python-side scalar default
        default = target.c[name].default
        if name not in names:
            if default is None or not default.is_scalar:
                raise ValueError(f"no value for column {name!r} of table {target.name!r}")
            constants[name] = default.arg  # type: ignore[union-attr]
    consts = {k: _sqlite_constant(v, target.c[k].type, conn.dialect) for k, v in constants.items()}

    indexes = _secondary_indexes(target) if bulk else []
    for index in indexes:
        index.drop(conn)
    before = 0 if bulk else conn.execute(select(func.count()).select_from(target)).scalar_one()
    changed = 0
    sql = str(compiled)
    for start in range(0, len(frame), chunk_size):
        part = frame.iloc[start : start + chunk_size]
        columns = {
            n: (
                itertools.repeat(consts[n])
                if n in consts
                else _sqlite_values(part[n], target.c[n].type)
            )
            for n in order
        }
        rows = list(zip(*(columns[n] for n in order), strict=False))
        result = conn.exec_driver_sql(sql, rows)
        changed += max(result.rowcount, 0)
    for index in indexes:
        index.create(conn)
    if bulk:
        return len(frame), 0
    after = conn.execute(select(func.count()).select_from(target)).scalar_one()
    inserted = after - before
    return inserted, changed - inserted


# --- PostgreSQL -----------------------------------------------------------------------------


def _arrow_csv(frame: pd.DataFrame, target: Table, constants: dict[str, Any]) -> bytes:
    """Serialise to headerless CSV (NULL = empty field) with types PostgreSQL parses exactly."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    arrays, names = [], []
    for name in frame.columns:
        col_type = target.c[name].type
        series = frame[name]
        if isinstance(col_type, Date):
            days = pd.to_datetime(series).to_numpy().astype("datetime64[D]")
            arr = pa.array(days, pa.date32(), from_pandas=True)
        elif isinstance(col_type, DateTime):
            stamps = pd.to_datetime(series).to_numpy().astype("datetime64[us]")
            arr = pa.array(stamps, pa.timestamp("us"), from_pandas=True)
        elif isinstance(col_type, Float):
            values = pd.to_numeric(series, errors="coerce").to_numpy(dtype="float64")
            arr = pa.array(values, pa.float64(), from_pandas=True)
        elif isinstance(col_type, Boolean):
            arr = pa.array(series.astype(object).where(series.notna(), None), pa.bool_())
        elif isinstance(col_type, Integer):
            arr = pa.array(series.astype(object).where(series.notna(), None), pa.int64())
        else:
            arr = pa.array(series.astype(object).where(series.notna(), None), pa.string())
        arrays.append(arr)
        names.append(name)
    for name, value in constants.items():
        arrays.append(pa.repeat(_arrow_scalar(value, target.c[name].type), len(frame)))
        names.append(name)
    buffer = io.BytesIO()
    pacsv.write_csv(
        pa.table(arrays, names=names),
        buffer,
        pacsv.WriteOptions(include_header=False, quoting_style="needed"),
    )
    return buffer.getvalue()


def _arrow_scalar(value: Any, col_type: Any) -> Any:
    import pyarrow as pa

    if isinstance(col_type, DateTime):
        return pa.scalar(pd.Timestamp(value).to_datetime64().astype("datetime64[us]"))
    if isinstance(col_type, Date):
        return pa.scalar(pd.Timestamp(value).date(), pa.date32())
    return pa.scalar(value)


def _copy(conn: Connection, table_name: str, names: list[str], payload: bytes) -> None:
    import psycopg

    raw = conn.connection.driver_connection
    quoted = ", ".join(f'"{n}"' for n in names)
    sql = f'COPY "{table_name}" ({quoted}) FROM STDIN (FORMAT csv)'
    try:
        with raw.cursor() as cursor, cursor.copy(sql) as copy:
            view = memoryview(payload)
            for start in range(0, len(view), _COPY_BLOCK):
                copy.write(view[start : start + _COPY_BLOCK])
    except psycopg.Error as exc:
        # Surface driver errors as SQLAlchemy's, like every other statement of the store.
        raise DBAPIError.instance(sql, None, exc, psycopg.Error, dialect=conn.dialect) from exc


def _write_postgres(
    conn: Connection,
    target: Table,
    frame: pd.DataFrame,
    keys: list[str],
    compare: Sequence[str],
    constants: dict[str, Any],
    bulk: bool,
) -> tuple[int, int]:
    names = [*frame.columns, *constants]
    payload = _arrow_csv(frame, target, constants)
    if bulk:
        conn.execute(text(f'LOCK TABLE "{target.name}" IN ACCESS EXCLUSIVE MODE'))
        bulk = _is_empty(conn, target)
    if bulk:
        conn.execute(text("SET LOCAL maintenance_work_mem = '256MB'"))
        indexes = _secondary_indexes(target)
        for index in indexes:
            index.drop(conn)
        conn.execute(DropConstraint(target.primary_key, isolate_from_table=False))
        _copy(conn, target.name, names, payload)
        conn.execute(AddConstraint(target.primary_key, isolate_from_table=False))
        for index in indexes:
            index.create(conn)
        conn.execute(text(f'ANALYZE "{target.name}"'))
        return len(frame), 0

    stage_name = f"sv_stage_{target.name}"
    quoted = ", ".join(f'"{n}"' for n in names)
    conn.execute(text(f'DROP TABLE IF EXISTS "{stage_name}"'))
    conn.execute(
        text(
            f'CREATE TEMP TABLE "{stage_name}" ON COMMIT DROP AS '
            f'SELECT {quoted} FROM "{target.name}" WITH NO DATA'
        )
    )
    _copy(conn, stage_name, names, payload)
    stage = table(stage_name, *(column(n) for n in names))
    ins = postgresql.insert(target).from_select(names, select(*(stage.c[n] for n in names)))
    update = [n for n in names if n not in keys]
    ins = ins.on_conflict_do_update(
        index_elements=[target.c[k] for k in keys],
        set_={n: ins.excluded[n] for n in update},
        where=or_(*(target.c[c].is_distinct_from(ins.excluded[c]) for c in compare)),
    ).returning(literal_column("(xmax = 0)").label("inserted"))
    written = ins.cte("written")
    counts = select(
        func.count().filter(written.c.inserted),
        func.count().filter(not_(written.c.inserted)),
    )
    inserted, updated = conn.execute(counts).one()
    conn.execute(text(f'DROP TABLE IF EXISTS "{stage_name}"'))
    return int(inserted), int(updated)
