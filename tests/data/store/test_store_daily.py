"""Daily bars in the store, on SQLite and PostgreSQL: round trip, idempotence, updates,
rejections, atomicity (a real failure injected mid-import by a trigger) and the summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import inspect
from sqlalchemy.exc import SQLAlchemyError

from stockvision.data.store import Store, bulk

pytestmark = pytest.mark.integration


def _install_failure(factory, symbol: str = "ZZZ") -> None:
    """A trigger that aborts any insert of ``symbol``: a genuine database error mid-import."""
    if factory.backend == "sqlite":
        factory.exec_sql(
            "CREATE TRIGGER sv_test_boom BEFORE INSERT ON daily_prices "
            f"WHEN NEW.symbol = '{symbol}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
        )
    else:
        factory.exec_sql(
            "CREATE FUNCTION sv_test_boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            f"IF NEW.symbol = '{symbol}' THEN RAISE EXCEPTION 'injected failure'; END IF; "
            "RETURN NEW; END $$",
            "CREATE TRIGGER sv_test_boom BEFORE INSERT ON daily_prices "
            "FOR EACH ROW EXECUTE FUNCTION sv_test_boom()",
        )


def test_round_trip_keeps_the_contract(store: Store, daily) -> None:
    frame = daily(["FPT", "VNM"], days=25)
    frame.loc[frame.index[::7], "volume"] = 0.0

    result = store.upsert_daily(frame, source="csv")

    assert (result.inserted, result.updated, result.unchanged) == (50, 0, 0)
    assert result.rejected.ok
    back = store.read_daily()
    assert list(back.columns) == [
        "symbol",
        "date",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "flags",
    ]
    assert (back["flags"] == 0).all()
    assert back["date"].dtype == "datetime64[ns]"
    pd.testing.assert_frame_equal(
        back.drop(columns="flags"), frame, check_dtype=False, check_exact=True
    )
    assert store.latest_trading_day() == frame["date"].max().date()


def test_adj_close_round_trip_and_filters(store: Store, daily) -> None:
    frame = daily(["AAA", "BBB", "CCC"], days=10)
    frame["adj_close"] = frame["close"] * 0.9
    frame.loc[3, "adj_close"] = np.nan
    store.upsert_daily(frame, source="vnstock")

    back = store.read_daily(symbols=["bbb", "CCC"], start="2024-01-03", end="2024-01-09")
    want = frame[
        frame["symbol"].isin(["BBB", "CCC"])
        & frame["date"].between(pd.Timestamp("2024-01-03"), pd.Timestamp("2024-01-09"))
    ].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        back.drop(columns="flags"), want, check_dtype=False, check_exact=True
    )
    assert np.isnan(store.read_daily("AAA")["adj_close"].iloc[3])


def test_second_import_of_same_data_changes_nothing(store: Store, daily) -> None:
    frame = daily(["FPT", "HPG", "VNM"], days=40)
    store.upsert_daily(frame, source="csv")
    stamped = store.symbols_summary()["last_update"]

    again = store.upsert_daily(frame.sample(frac=1.0, random_state=1), source="csv")

    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 120)
    pd.testing.assert_series_equal(store.symbols_summary()["last_update"], stamped)


def test_changed_values_are_updated_and_counted(store: Store, daily) -> None:
    frame = daily(["FPT", "VNM"], days=20)
    store.upsert_daily(frame, source="csv")
    revised = frame.copy()
    revised.loc[[2, 25], "close"] = revised.loc[[2, 25], "close"] * 1.001
    revised.loc[[2, 25], "high"] = revised.loc[[2, 25], ["high", "close"]].max(axis=1)
    extra = daily(["FPT"], days=21).tail(1)

    result = store.upsert_daily(pd.concat([revised, extra]), source="csv")

    assert (result.inserted, result.updated, result.unchanged) == (1, 2, 38)
    back = store.read_daily()
    want = pd.concat([revised, extra]).sort_values(["symbol", "date"]).reset_index(drop=True)
    pd.testing.assert_frame_equal(
        back.drop(columns="flags"), want, check_dtype=False, check_exact=True
    )


def test_bad_rows_are_rejected_with_reasons_and_good_rows_written(store: Store, daily) -> None:
    frame = daily(["FPT"], days=6)
    frame.loc[1, "low"] = frame.loc[1, "high"] * 1.5  # low > high
    frame.loc[2, "close"] = np.nan
    frame.loc[3, "volume"] = -5.0

    result = store.upsert_daily(frame, source="csv")

    assert result.inserted == 3
    rejected = result.rejected.rejected
    assert rejected["row"].tolist() == [1, 2, 3]
    assert "low > high" in rejected["reason"].iloc[0]
    assert "missing or non-finite close" in rejected["reason"].iloc[1]
    assert rejected["reason"].iloc[2] == "volume < 0"
    assert len(store.read_daily()) == 3
    assert result.to_dict()["rejected"] == 3


@pytest.mark.parametrize("chunk_size", [7, 100_000])
def test_failure_midway_leaves_store_unchanged(store_factory, daily, chunk_size: int) -> None:
    store = store_factory(chunk_size=chunk_size)
    before = daily(["AAA", "BBB"], days=10)
    store.upsert_daily(before, source="csv")
    _install_failure(store_factory)
    # New rows for AAA/BBB (written first, in earlier chunks), updates, then the failing ZZZ.
    batch = pd.concat([daily(["AAA", "BBB"], days=30, seed=5), daily(["ZZZ"], days=5)])

    with pytest.raises(SQLAlchemyError, match="injected failure"):
        store.upsert_daily(batch, source="csv")

    pd.testing.assert_frame_equal(
        store.read_daily().drop(columns="flags"), before, check_dtype=False, check_exact=True
    )
    assert store.read_symbols()["symbol"].tolist() == ["AAA", "BBB"]


def test_first_bulk_load_rebuilds_indexes_and_rolls_back_cleanly(
    store_factory, daily, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bulk, "BULK_LOAD_MIN_ROWS", 50)
    store = store_factory(chunk_size=40)
    _install_failure(store_factory)

    with pytest.raises(SQLAlchemyError, match="injected failure"):
        store.upsert_daily(daily(["AAA", "ZZZ"], days=40), source="csv")
    assert store.read_daily().empty

    frame = daily(["AAA", "BBB"], days=40)
    result = store.upsert_daily(frame, source="csv")
    assert (result.inserted, result.updated) == (80, 0)
    pd.testing.assert_frame_equal(
        store.read_daily().drop(columns="flags"), frame, check_dtype=False, check_exact=True
    )
    insp = inspect(store.engine)
    assert {ix["name"] for ix in insp.get_indexes("daily_prices")} >= {"ix_daily_prices_date"}
    assert insp.get_pk_constraint("daily_prices")["constrained_columns"] == ["symbol", "date"]
    again = store.upsert_daily(frame, source="csv")
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 80)


def test_symbols_summary_counts_gaps_against_market_calendar(store: Store, daily) -> None:
    frame = daily(["AAA", "BBB", "CCC"], days=20)
    dates = sorted(frame["date"].unique())
    holes = frame["symbol"].eq("BBB") & frame["date"].isin(dates[5:8])  # 3 missing days inside
    late = frame["symbol"].eq("CCC") & frame["date"].lt(dates[10])  # listed later: not a gap
    store.upsert_daily(frame[~holes & ~late], source="synthetic")

    summary = store.symbols_summary().set_index("symbol")

    assert summary["rows"].to_dict() == {"AAA": 20, "BBB": 17, "CCC": 10}
    assert summary["gaps"].to_dict() == {"AAA": 0, "BBB": 3, "CCC": 0}
    assert summary.loc["CCC", "first_date"] == dates[10]
    assert summary.loc["AAA", "last_date"] == dates[-1]
    assert summary["simulated"].all()
    age = datetime.now(UTC).replace(tzinfo=None) - summary["last_update"].max().to_pydatetime()
    assert timedelta(0) <= age < timedelta(minutes=5)


def test_symbols_table_tracks_date_range_and_listing(store: Store, daily) -> None:
    frame = daily(["FPT"], days=30)
    store.upsert_daily(frame.iloc[10:20], source="csv")
    store.upsert_daily(frame.iloc[:5], source="csv")
    store.upsert_symbols(pd.DataFrame({"symbol": ["fpt"], "exchange": ["HOSE"], "name": ["FPT"]}))

    row = store.read_symbols().iloc[0]
    assert (row["first_date"], row["last_date"]) == (frame["date"].iloc[0], frame["date"].iloc[19])
    assert (row["exchange"], row["name"], bool(row["simulated"])) == ("HOSE", "FPT", False)


def test_ingest_log_and_health(store: Store) -> None:
    assert store.last_ingest() is None
    start = datetime(2024, 5, 1, 8, 0)
    first = store.log_ingest_run(
        "csv", started_at=start, finished_at=start + timedelta(seconds=5), rows_in=10
    )
    second = store.log_ingest_run(
        "vnstock",
        started_at=start + timedelta(hours=1),
        finished_at=start + timedelta(hours=1, seconds=3),
        rows_in=7,
        rows_written=5,
        rows_rejected=2,
        status="partial",
        message="2 rows rejected",
    )
    assert second > first
    last = store.last_ingest()
    assert last is not None
    assert (last["source"], last["rows_written"], last["status"]) == ("vnstock", 5, "partial")
    assert store.last_ingest(status="ok")["id"] == first
    assert store.healthcheck()
    assert store.latest_trading_day() is None


def test_from_settings_uses_configured_sqlite(monkeypatch: pytest.MonkeyPatch, tmp_path, daily):
    from stockvision.config import get_settings

    monkeypatch.setenv("SV_DATABASE_URL", f"sqlite:///{tmp_path / 'sub' / 'cfg.db'}")
    get_settings.cache_clear()
    store = Store.from_settings(get_settings())
    store.upsert_daily(daily(["VNM"], days=3), source="csv")
    assert (tmp_path / "sub" / "cfg.db").exists()
    assert len(Store.from_settings(get_settings()).read_daily()) == 3
    store.dispose()


def test_integer_and_boolean_columns_keep_their_values_and_nulls(store: Store, daily) -> None:
    """Flags (Integer) and the simulated mark (Boolean) go through the vectorised conversion."""
    frame = daily(["FPT"], days=60)
    frame["flags"] = (np.arange(len(frame)) % 5) * 16 + (np.arange(len(frame)) % 2)
    store.upsert_daily(frame, source="csv")
    back = store.read_daily()
    assert back["flags"].tolist() == frame["flags"].tolist()
    symbols = pd.DataFrame({"symbol": ["FPT", "VNM"], "exchange": ["HOSE", None]})
    symbols["simulated"] = pd.array([False, True], dtype="boolean")
    store.upsert_symbols(symbols)
    table = store.read_symbols().set_index("symbol")
    assert not bool(table.loc["FPT", "simulated"]) and bool(table.loc["VNM", "simulated"])
    assert table.loc["FPT", "exchange"] == "HOSE" and pd.isna(table.loc["VNM", "exchange"])


def test_nullable_ints_are_python_ints_and_none() -> None:
    values = bulk._nullable_ints(pd.Series([3.0, np.nan, 0.0, 17.0]))
    assert values == [3, None, 0, 17] and all(type(v) is int for v in values if v is not None)
    flags = bulk._nullable_ints(pd.Series([True, None, False], dtype=object), as_bool=True)
    assert flags == [1, None, 0]
    assert bulk._nullable_ints(pd.Series([2, 0], dtype="int64"), as_bool=True) == [1, 0]
