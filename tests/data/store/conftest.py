"""Store fixtures: the same tests run on a SQLite file and on the local PostgreSQL server.

PostgreSQL cases use a schema of their own (``sv_test_<session>_<n>``, dropped afterwards) via
``search_path``, so parallel runs and other data in the database are never touched. They are
skipped, with the reason, when the server cannot be reached.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sqlalchemy.engine import make_url

from stockvision.data.store import Store, dispose_engine

# Same variable and default as tests/conftest.py.
POSTGRES_URL = os.environ.get(
    "SV_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

_SESSION = uuid.uuid4().hex[:8]
_COUNTER = itertools.count()


def _admin_dsn() -> str:
    return make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[object]:
    """An autocommit psycopg connection to the test server, or a skip saying why not."""
    psycopg = pytest.importorskip("psycopg", reason="psycopg not installed")
    try:
        conn = psycopg.connect(_admin_dsn(), autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}".splitlines()[0])
    yield conn
    # Belt and braces: drop any schema of this session a crashed test left behind.
    leftovers = conn.execute(
        "SELECT nspname FROM pg_namespace WHERE nspname LIKE %s", (f"sv_test_{_SESSION}_%",)
    ).fetchall()
    for (name,) in leftovers:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
    conn.close()


class StoreFactory:
    """Opens stores on one fresh database (SQLite file or PostgreSQL schema) for a test."""

    def __init__(self, backend: str, url: str, connect_args: dict[str, str]) -> None:
        self.backend = backend
        self.url = url
        self.connect_args = connect_args

    def __call__(self, **kwargs: object) -> Store:
        return Store(self.url, connect_args=self.connect_args, **kwargs)  # type: ignore[arg-type]

    def exec_sql(self, *statements: str) -> None:
        """Run raw SQL on the test database (e.g. to install a failure-injecting trigger)."""
        from sqlalchemy import text

        store = self()
        with store.engine.begin() as conn:
            for sql in statements:
                conn.execute(text(sql))


@pytest.fixture(params=["sqlite", "postgres"])
def store_factory(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    if request.param == "sqlite":
        factory = StoreFactory("sqlite", f"sqlite:///{tmp_path / 'store.db'}", {})
        yield factory
        dispose_engine(factory.url, factory.connect_args)
        return
    admin = request.getfixturevalue("postgres_admin")
    schema = f"sv_test_{_SESSION}_{next(_COUNTER)}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    factory = StoreFactory("postgres", POSTGRES_URL, {"options": f"-csearch_path={schema}"})
    try:
        yield factory
    finally:
        dispose_engine(factory.url, factory.connect_args)
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def store(store_factory: StoreFactory) -> Store:
    return store_factory()


def make_daily(
    symbols: list[str], days: int = 30, seed: int = 0, start: str = "2024-01-01"
) -> pd.DataFrame:
    """Consistent random OHLCV bars on business days (the daily contract frame)."""
    rng = np.random.default_rng(seed)
    dates = pd.bdate_range(start, periods=days)
    n = len(symbols) * days
    close = 10_000 * np.exp(rng.normal(0, 0.02, (len(symbols), days)).cumsum(axis=1)).ravel()
    open_ = close * np.exp(rng.normal(0, 0.01, n))
    high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.02, n))
    low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.02, n))
    return pd.DataFrame(
        {
            "symbol": np.repeat(symbols, days),
            "date": np.tile(dates.values, len(symbols)).astype("datetime64[ns]"),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": rng.integers(0, 1_000_000, n).astype("float64"),
        }
    )


@pytest.fixture
def daily() -> Callable[..., pd.DataFrame]:
    return make_daily
