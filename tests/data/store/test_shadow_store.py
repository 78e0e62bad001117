"""The challenger's shadow answers (``shadow_scores``, schema version 5) on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import inspect

from stockvision.data.store import Store
from stockvision.data.store import tables as t
from stockvision.data.store.migrations import current_version, migrate
from stockvision.data.store.shadow import COLUMNS, ShadowStore

pytestmark = pytest.mark.integration


def _row(minute: int, champion_df: float | None = None) -> dict:
    arm = lambda name, version, df: {  # noqa: E731
        f"{name}_price_version": version, f"{name}_pattern_version": "1", f"{name}_loc": 0.01,
        f"{name}_scale": 0.05, f"{name}_df": df, f"{name}_target": 101.0, f"{name}_p_down": 0.2,
        f"{name}_p_sideways": 0.3, f"{name}_p_up": 0.5,
    }  # fmt: skip
    return {"key": f"live:VNM:{minute}:3/1:4/1", "source": "live", "symbol": "VNM",
            "prediction_date": date(2024, 1, 5), "made_at": datetime(2024, 1, 3, 2, minute),
            "last_close": 100.0, **arm("champion", "3", champion_df),
            **arm("challenger", "4", 5.0)}  # fmt: skip


def test_each_pair_is_kept_once_with_both_versions(store: Store) -> None:
    shadow = ShadowStore(store)
    rows = [_row(1), _row(2, champion_df=7.0)]
    assert shadow.record(rows) == 2
    assert shadow.record(rows) == 0  # a worker replaying its input after a crash logs nothing twice
    got = shadow.read("live")
    assert len(got) == 2 and shadow.count() == 2
    assert got["champion_price_version"].tolist() == ["3", "3"]
    assert got["challenger_price_version"].tolist() == ["4", "4"]
    assert got["champion_df"].isna().tolist() == [True, False]  # normal tails stored as null
    assert set(COLUMNS) <= set(got.columns)
    with pytest.raises(ValueError, match="lack"):
        shadow.record([{"key": "x"}])


def test_a_version_four_database_gains_the_shadow_table(store_factory) -> None:
    store = store_factory()
    with store.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE shadow_scores")
        conn.execute(t.schema_version.delete().where(t.schema_version.c.version >= 5))
        assert current_version(conn) == 4
    assert migrate(store.engine) == 4
    assert inspect(store.engine).has_table("shadow_scores")
    assert ShadowStore(store).record([_row(3)]) == 1
