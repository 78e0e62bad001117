"""Serving fixtures: the API over a private copy of the trained system, real Redis/PostgreSQL helpers."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serving_support import API_KEY, free_port

#: A Redis database of its own (flushed by these tests only) on the shared local server.
SERVING_REDIS_DB = int(os.environ.get("SV_TEST_SERVING_REDIS_DB", "11"))
SHARED_REDIS = os.environ.get("SV_TEST_REDIS_HOST", "redis://127.0.0.1:6379")


@pytest.fixture
def api_settings(trained_settings, monkeypatch: pytest.MonkeyPatch):
    """Trained settings with an admin key, a generous rate limit and no watcher delay surprises."""
    from stockvision.config import Settings, get_settings

    monkeypatch.setenv("SV_API_KEY", API_KEY)
    monkeypatch.setenv("SV_RATE_LIMIT_PER_MINUTE", "100000")
    # A dead HTTP registry must fail fast, not retry for minutes.
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    get_settings.cache_clear()
    return Settings()


@pytest.fixture
def client(api_settings) -> Iterator[TestClient]:
    """The app (no chat UI, no background threads: writes happen inline) with its service started."""
    from stockvision.serving.app import create_app

    app = create_app(api_settings, start_background=False, mount_chat_ui=False)
    with TestClient(app) as c:
        yield c


@pytest.fixture
def shared_redis_url() -> Iterator[str]:
    """The local Redis (dedicated db, flushed before and after) or a skip saying why."""
    redis = pytest.importorskip("redis")
    url = f"{SHARED_REDIS}/{SERVING_REDIS_DB}"
    client = redis.Redis.from_url(url, socket_connect_timeout=1)
    try:
        client.ping()
    except Exception as exc:
        pytest.skip(f"Redis not reachable at {url}: {exc}")
    client.flushdb()
    yield url
    client.flushdb()
    client.close()


class OwnRedis:
    """A redis-server process of this test's own (so it can be killed without hurting anyone)."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no",
             "--daemonize", "no", "--dir", str(workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        client = redis.Redis(port=port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except Exception:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.kill()
                    raise RuntimeError(f"redis-server did not start on port {port}") from None
                time.sleep(0.05)
        client.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[OwnRedis]:
    if not _which("redis-server"):
        pytest.skip("redis-server not installed")
    pytest.importorskip("redis")
    server = OwnRedis(free_port(), tmp_path)
    yield server
    server.kill()


def _which(name: str) -> bool:
    import shutil

    return shutil.which(name) is not None
