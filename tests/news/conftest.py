"""News fixtures: a store on SQLite (always) and PostgreSQL (when reachable), small item builders."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockvision.data.store import Store, dispose_engine

ROOT = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("SV_SHARED_DATA", ROOT.parent / "shared" / "data"))
NEWS_FILE = SHARED / "news" / "vn_finance_news_2025_2026.jsonl"
SENTIMENT_FILE = SHARED / "news-sentiment" / "cafef_headlines_labelled.csv"
POSTGRES_URL = os.environ.get(
    "SV_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
_SESSION = uuid.uuid4().hex[:8]
_COUNTER = itertools.count()


@pytest.fixture(params=["sqlite", "postgres"])
def news_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'news.db'}"
        yield Store(url)
        dispose_engine(url)
        return
    psycopg = pytest.importorskip("psycopg")
    from sqlalchemy.engine import make_url

    dsn = make_url(POSTGRES_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        admin = psycopg.connect(dsn, autocommit=True, connect_timeout=3)
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}".splitlines()[0])
    schema = f"sv_news_{_SESSION}_{next(_COUNTER)}"
    admin.execute(f'CREATE SCHEMA "{schema}"')
    args = {"options": f"-csearch_path={schema}"}
    try:
        yield Store(POSTGRES_URL, connect_args=args)
    finally:
        dispose_engine(POSTGRES_URL, args)
        admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.close()


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Store]:
    url = f"sqlite:///{tmp_path / 'news1.db'}"
    yield Store(url)
    dispose_engine(url)


@pytest.fixture(scope="session")
def news_file() -> Path:
    if not NEWS_FILE.exists():
        pytest.skip(f"shared news file not found at {NEWS_FILE} (expected ../shared/data)")
    return NEWS_FILE


@pytest.fixture(scope="session")
def sentiment_file() -> Path:
    if not SENTIMENT_FILE.exists():
        pytest.skip(f"labelled headlines not found at {SENTIMENT_FILE} (expected ../shared/data)")
    return SENTIMENT_FILE
