"""Schema versioning: an ordered list of migrations, applied in one transaction when a store opens.

The database's version is the highest row of ``schema_version``; a database without that table is
version 0 (new, or created before versioning). ``MIGRATIONS[v]`` upgrades version ``v - 1`` to
``v``. Opening a database whose version is newer than this code's ``SCHEMA_VERSION`` is refused:
old code writing into a newer schema could corrupt it silently.

To change the schema: bump ``SCHEMA_VERSION``, change ``tables.py`` and add ``MIGRATIONS[new]``
performing the same change on an existing database (``ALTER TABLE``, back-fills, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, func, inspect, select, text

from stockvision.data.store import tables
from stockvision.errors import SchemaVersionError

SCHEMA_VERSION = 7

Migration = Callable[[Connection], None]


def _baseline(conn: Connection) -> None:
    """Version 1: the initial schema (creates whatever table is missing)."""
    tables.metadata.create_all(conn, checkfirst=True)


def _news_tables(conn: Connection) -> None:
    """Version 2: news items and their symbols (``stockvision.news``). Self-contained: creates only
    these two tables (and their indexes), so it can be renumbered when merged with other changes."""
    for table in (tables.news_items, tables.news_symbols):
        table.create(conn, checkfirst=True)


def _data_fidelity(conn: Connection) -> None:
    """Version 3 (data fidelity): per-bar repair ``flags``, the symbol's ``kind`` and the
    ``method`` of each corporate action (source-adjusted or detected).

    Self-contained: it adds only the columns a version-1 database lacks (a database created by
    this code's baseline already has them), with defaults that describe the old rows truthfully
    (no repair recorded, kind unknown).
    """
    present = {
        table: {c["name"] for c in inspect(conn).get_columns(table)}
        for table in ("daily_prices", "symbols", "corporate_actions")
    }
    if "flags" not in present["daily_prices"]:
        conn.execute(text("ALTER TABLE daily_prices ADD COLUMN flags INTEGER NOT NULL DEFAULT 0"))
    if "kind" not in present["symbols"]:
        conn.execute(text("ALTER TABLE symbols ADD COLUMN kind VARCHAR(16)"))
    if "method" not in present["corporate_actions"]:
        conn.execute(text("ALTER TABLE corporate_actions ADD COLUMN method VARCHAR(16)"))


def _stream_tables(conn: Connection) -> None:
    """Version 4: the real-time layer's alerts and alert events (creates them if missing)."""
    from stockvision.data.store.stream_tables import stream_metadata

    stream_metadata.create_all(conn, checkfirst=True)


def _shadow_tables(conn: Connection) -> None:
    """Version 5: the challenger's shadow answers beside the champion's (``shadow_scores``).
    Self-contained (creates only that table), so it can be renumbered when merged."""
    from stockvision.data.store.stream_tables import shadow_metadata

    shadow_metadata.create_all(conn, checkfirst=True)


def _prediction_scale(conn: Connection) -> None:
    """Version 6: each stored prediction's ``return_scale`` (the served distribution's scale).
    Old rows get NULL: their scale was not recorded, so they are left out of the live coverage by
    predicted width rather than guessed."""
    columns = {c["name"] for c in inspect(conn).get_columns("predictions")}
    if "return_scale" not in columns:
        conn.execute(text("ALTER TABLE predictions ADD COLUMN return_scale FLOAT"))


def _prediction_caveats(conn: Connection) -> None:
    """Version 7: the caveats each stored prediction was served with (``caveats``, JSON). Old
    rows get NULL: what they were shown with was not recorded, and "none" (``[]``) would be a
    guess."""
    columns = {c["name"] for c in inspect(conn).get_columns("predictions")}
    if "caveats" not in columns:
        conn.execute(text("ALTER TABLE predictions ADD COLUMN caveats TEXT"))


MIGRATIONS: dict[int, Migration] = {
    1: _baseline,
    2: _news_tables,
    3: _data_fidelity,
    4: _stream_tables,
    5: _shadow_tables,
    6: _prediction_scale,
    7: _prediction_caveats,
}

# Arbitrary constant identifying the store's migration lock among PostgreSQL advisory locks.
_PG_LOCK_KEY = 0x5356_0001


def current_version(conn: Connection) -> int:
    """The database's schema version (0 when it has never been versioned)."""
    if not inspect(conn).has_table(tables.schema_version.name):
        return 0
    version = conn.execute(select(func.max(tables.schema_version.c.version))).scalar()
    return int(version or 0)


def migrate(
    engine: Engine,
    *,
    target: int = SCHEMA_VERSION,
    migrations: Mapping[int, Migration] = MIGRATIONS,
) -> int:
    """Bring the database to ``target`` in one transaction; return the version it had before.

    Concurrent openers are serialised (advisory lock on PostgreSQL, write lock on SQLite), and a
    failing migration rolls back every step, leaving the database at its previous version.
    """
    missing = [v for v in range(1, target + 1) if v not in migrations]
    if missing:
        raise SchemaVersionError(f"no migration defined for schema version(s) {missing}")
    # Fast path without the write lock: opening an up-to-date store must not wait for a writer.
    with engine.connect() as conn:
        found = current_version(conn)
    _refuse_newer(engine, found, target)
    if found == target:
        return found
    with engine.connect() as conn:
        conn.execution_options(sv_write=True)
        with conn.begin():
            if conn.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
            found = current_version(conn)  # again, under the lock: another opener may have won
            _refuse_newer(engine, found, target)
            if found < target:
                tables.schema_version.create(conn, checkfirst=True)
            for version in range(found + 1, target + 1):
                migrations[version](conn)
                conn.execute(
                    tables.schema_version.insert().values(
                        version=version, applied_at=datetime.now(UTC).replace(tzinfo=None)
                    )
                )
    return found


def _refuse_newer(engine: Engine, found: int, target: int) -> None:
    if found > target:
        raise SchemaVersionError(
            f"database {engine.url.render_as_string(hide_password=True)} has schema "
            f"version {found}, newer than this Stock Vision supports ({target}). "
            "Upgrade stockvision (pip install -U stockvision) or point SV_DATABASE_URL "
            "to another database."
        )
