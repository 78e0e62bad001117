"""Schema versioning: recorded on creation, migrations applied in order and atomically,
and a database newer than the code refused (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
from sqlalchemy import Connection, inspect, select, text

from stockvision.data.store import SCHEMA_VERSION, SchemaVersionError, Store
from stockvision.data.store import tables as t
from stockvision.data.store.migrations import MIGRATIONS, current_version, migrate

pytestmark = pytest.mark.integration


def _versions(store: Store) -> list[int]:
    with store.engine.connect() as conn:
        return conn.execute(select(t.schema_version.c.version)).scalars().all()


def _add_note_column(conn: Connection) -> None:
    """The next version's migration as a future release would ship it."""
    conn.execute(text("ALTER TABLE symbols ADD COLUMN note VARCHAR(64)"))
    conn.execute(text("UPDATE symbols SET note = 'migrated'"))


ALL_VERSIONS = list(range(1, SCHEMA_VERSION + 1))
NEXT = SCHEMA_VERSION + 1


def test_new_database_records_current_version(store: Store) -> None:
    assert _versions(store) == ALL_VERSIONS
    assert store.schema_version() == SCHEMA_VERSION
    assert set(inspect(store.engine).get_table_names()) >= set(t.metadata.tables)
    Store(store.url, connect_args=store.connect_args)  # reopening is a no-op
    assert _versions(store) == ALL_VERSIONS


def test_unversioned_database_is_brought_to_baseline(store_factory) -> None:
    store = store_factory()
    with store.engine.begin() as conn:
        t.schema_version.drop(conn)
        t.labels.drop(conn)
        assert current_version(conn) == 0

    assert migrate(store.engine) == 0

    assert _versions(store) == ALL_VERSIONS
    assert inspect(store.engine).has_table("labels")


def test_version_one_database_gains_the_news_tables(store_factory) -> None:
    store = store_factory()
    with store.engine.begin() as conn:
        t.news_symbols.drop(conn)
        t.news_items.drop(conn)
        conn.execute(t.schema_version.delete().where(t.schema_version.c.version >= 2))
        assert current_version(conn) == 1

    assert migrate(store.engine) == 1

    assert _versions(store) == ALL_VERSIONS
    assert inspect(store.engine).has_table("news_items")
    assert inspect(store.engine).has_table("news_symbols")


def test_migration_from_older_version_runs_in_order(store_factory, daily) -> None:
    store = store_factory()
    store.upsert_daily(daily(["FPT"], days=3), source="csv")

    before = migrate(store.engine, target=NEXT, migrations={**MIGRATIONS, NEXT: _add_note_column})

    assert before == SCHEMA_VERSION
    assert _versions(store) == [*ALL_VERSIONS, NEXT]
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT note FROM symbols")).scalars().all() == ["migrated"]
    # Code at the current version now meets a newer database and must refuse it.
    with pytest.raises(SchemaVersionError, match=f"schema version {NEXT}, newer than"):
        Store(store.url, connect_args=store.connect_args)


def test_failing_migration_leaves_database_at_previous_version(store_factory) -> None:
    store = store_factory()

    def broken(conn: Connection) -> None:
        _add_note_column(conn)
        conn.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(Exception, match="no_such_table"):
        migrate(store.engine, target=NEXT, migrations={**MIGRATIONS, NEXT: broken})

    assert _versions(store) == ALL_VERSIONS
    columns = {c["name"] for c in inspect(store.engine).get_columns("symbols")}
    assert "note" not in columns


def test_newer_database_is_refused_with_a_clear_message(store_factory) -> None:
    store = store_factory()
    with store.engine.begin() as conn:
        conn.execute(
            t.schema_version.insert().values(
                version=SCHEMA_VERSION + 5, applied_at=datetime.now(UTC).replace(tzinfo=None)
            )
        )
    with pytest.raises(SchemaVersionError) as err:
        Store(store.url, connect_args=store.connect_args)
    message = str(err.value)
    assert f"version {SCHEMA_VERSION + 5}" in message
    assert "Upgrade stockvision" in message and "SV_DATABASE_URL" in message
    assert not store.healthcheck()


def test_missing_migration_is_reported(store: Store) -> None:
    with pytest.raises(
        SchemaVersionError, match=rf"no migration defined for schema version\(s\) \[{NEXT}\]"
    ):
        migrate(store.engine, target=NEXT)


def test_version_1_database_gains_flags_and_kind(store_factory, daily) -> None:
    """A store written by version-1 code keeps its bars and gets flags 0 and an empty kind."""
    store = store_factory()
    store.upsert_daily(daily(["FPT"], days=3), source="csv")
    with store.engine.begin() as conn:  # back to what version 1 created
        conn.execute(text("ALTER TABLE daily_prices DROP COLUMN flags"))
        conn.execute(text("ALTER TABLE symbols DROP COLUMN kind"))
        conn.execute(text("ALTER TABLE corporate_actions DROP COLUMN method"))
        conn.execute(t.schema_version.delete().where(t.schema_version.c.version > 1))

    assert migrate(store.engine) == 1

    frame = store.read_daily()
    assert len(frame) == 3 and (frame["flags"] == 0).all()
    assert store.read_symbols()["kind"].isna().all()


def test_stream_migration_adds_alert_tables_to_an_older_database(store_factory) -> None:
    from stockvision.data.store.migrations import _stream_tables
    from stockvision.data.store.stream_tables import stream_metadata

    version = next(v for v, fn in MIGRATIONS.items() if fn is _stream_tables)
    store = store_factory()
    with store.engine.begin() as conn:
        for table in reversed(stream_metadata.sorted_tables):
            table.drop(conn)
        conn.execute(t.schema_version.delete().where(t.schema_version.c.version >= version))
    assert migrate(store.engine) == version - 1
    assert set(inspect(store.engine).get_table_names()) >= {"alerts", "alert_events"}
    assert _versions(store) == ALL_VERSIONS


#: the prediction columns later migrations added: a database at an older version lacks them
ADDED_PREDICTION_COLUMNS = {6: "return_scale", 7: "caveats"}


def _at_version(store_factory, version: int) -> tuple[Store, dict]:
    """A store brought back to ``version`` (later prediction columns dropped) holding one
    prediction written with only the columns that version had; the store and that row."""
    store = store_factory()
    row = {
        "symbol": "FPT",
        "prediction_date": datetime(2024, 3, 1).date(),
        "last_close": 100_000.0,
        "interval_low": 95_000.0,
        "interval_high": 112_000.0,
        "price_model_version": "3",
        "pattern_model_version": "5",
        "created_at": datetime(2024, 3, 1, 9),
        **({"return_scale": 0.07} if version >= 6 else {}),
    }
    with store.engine.begin() as conn:
        for added, column in ADDED_PREDICTION_COLUMNS.items():
            if added > version:
                conn.exec_driver_sql(f"ALTER TABLE predictions DROP COLUMN {column}")
        conn.execute(t.schema_version.delete().where(t.schema_version.c.version > version))
        conn.execute(t.predictions.insert().values(**row, simulated=False, source="api"))
        assert current_version(conn) == version
    assert migrate(store.engine) == version
    return store, row


def test_a_version_five_database_gains_the_prediction_scale_and_keeps_its_rows(
    store_factory,
) -> None:
    store, row = _at_version(store_factory, 5)
    old = store.read_predictions()
    assert len(old) == 1 and old["return_scale"].isna().all()  # not recorded: never guessed
    new = {**row, "symbol": "VNM", "distribution": {"scale": 0.071, "loc": 0.0}}
    assert store.save_predictions([new]) == 1
    got = store.read_predictions().set_index("symbol")["return_scale"]
    assert got["VNM"] == pytest.approx(0.071) and np.isnan(got["FPT"])


def test_a_version_six_database_gains_the_caveats_and_keeps_its_rows(store_factory) -> None:
    """Old rows: NULL (what they were shown with was not recorded), never "[]" (none shown)."""
    store, row = _at_version(store_factory, 6)
    assert store.read_predictions()["caveats"].isna().all()
    shown = [{"code": "live_coverage_departed", "measured": 0.55, "message_en": "…"}]
    store.save_predictions([{**row, "symbol": "VNM", "caveats": shown}, {**row, "symbol": "HPG",
                            "caveats": []}])  # fmt: skip
    got = store.read_predictions().set_index("symbol")["caveats"]
    assert got["VNM"] == '[{"code":"live_coverage_departed","measured":0.55}]'
    assert got["HPG"] == "[]" and got["FPT"] is None
