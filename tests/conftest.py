"""Shared fixtures: isolated data directory per test, paths to the real VN market data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SV_SHARED_DATA", ROOT.parent / "shared" / "data"))
VN30_DAILY = SHARED_DATA / "vn30" / "vn30_constituents_daily_2016_2019.csv"
VN30_INDEX = SHARED_DATA / "vn30" / "vn30_index_daily_2009_2019.csv"
POSTGRES_URL = os.environ.get(
    "SV_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("SV_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


@pytest.fixture(autouse=True)
def _isolated_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Every test gets its own SV_DATA_DIR so nothing leaks into ~/.stockvision."""
    monkeypatch.setenv("SV_DATA_DIR", str(tmp_path / "svdata"))
    for var in (
        "SV_DATABASE_URL",
        "SV_MLFLOW_TRACKING_URI",
        "SV_REDIS_URL",
        "SV_SOURCE",
        "SV_UNIVERSE",
    ):
        monkeypatch.delenv(var, raising=False)
    from stockvision.config import get_settings

    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def vn30_daily_path() -> Path:
    if not VN30_DAILY.exists():
        pytest.skip(
            f"real VN30 data not found at {VN30_DAILY} (expected ../shared/data beside the repo)"
        )
    return VN30_DAILY


@pytest.fixture(scope="session")
def vn30_index_path() -> Path:
    if not VN30_INDEX.exists():
        pytest.skip(f"real VN30 index data not found at {VN30_INDEX}")
    return VN30_INDEX


@pytest.fixture(scope="session")
def trained_home(tmp_path_factory: pytest.TempPathFactory, vn30_daily_path: Path) -> Path:
    """A data directory holding a trained, promoted, batch-predicted system (built once per session)."""
    from trained_system import build_trained_home

    return build_trained_home(tmp_path_factory.mktemp("trained") / "home", vn30_daily_path)


@pytest.fixture()
def trained_settings(
    trained_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, vn30_daily_path: Path
):
    """Settings (and SV_* environment) pointing at a private copy of the trained system."""
    from trained_system import copy_home, fast_env

    from stockvision.config import Settings, get_settings
    from stockvision.registry import tracking

    home = copy_home(trained_home, tmp_path / "trained-copy")
    for key, value in fast_env(home, vn30_daily_path).items():
        monkeypatch.setenv(key, value)
    get_settings.cache_clear()
    tracking.reset()
    yield Settings()
    tracking.reset()
