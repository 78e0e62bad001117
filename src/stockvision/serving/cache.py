"""Prediction cache: Redis when configured, an in-process TTL cache otherwise.

Keys include the model versions and the data date, so a new champion or new data never serves a stale answer.
When Redis goes down the cache degrades to the in-process one (and retries Redis later), never to errors.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from typing import Any

log = logging.getLogger(__name__)


#: Every cache key starts with this, so ``clear()`` never touches other keys (e.g. the rate limiter's).
PREFIX = "sv:c:"


def cache_key(
    kind: str,
    symbol: str,
    price_version: str | None,
    pattern_version: str | None,
    data_as_of: str,
) -> str:
    """The key of one cached answer; every input that changes the answer is part of it."""
    return f"{PREFIX}{kind}:{symbol}:p{price_version or '-'}:c{pattern_version or '-'}:{data_as_of}"


class TTLCache:
    """A small thread-safe LRU cache whose entries expire after ``ttl`` seconds."""

    backend = "memory"

    def __init__(self, ttl: float = 3600, maxsize: int = 10_000) -> None:
        self.ttl = ttl
        self.maxsize = maxsize
        self._data: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> bytes | None:
        now = time.monotonic()
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            expires, value = item
            if expires < now:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        ttl = self.ttl if ttl is None else ttl
        if ttl <= 0:  # TTL 0 disables caching (benchmarks of the cold path)
            return
        with self._lock:
            self._data[key] = (time.monotonic() + ttl, value)
            self._data.move_to_end(key)
            while len(self._data) > self.maxsize:
                self._data.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def healthy(self) -> bool:
        return True


class RedisCache:
    """Redis-backed cache that falls back to an in-process cache whenever Redis fails.

    After a failure Redis is not tried again for ``retry_after`` seconds, so a dead Redis costs one short
    timeout per interval, not one per request.
    """

    def __init__(
        self, url: str, ttl: float = 3600, retry_after: float = 5.0, timeout: float = 0.25
    ) -> None:
        import redis

        self.ttl = ttl
        self.url = url
        self.retry_after = retry_after
        self.fallback = TTLCache(ttl)
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout, health_check_interval=30
        )
        self._down_until = 0.0
        self.last_error: str | None = None

    @property
    def backend(self) -> str:
        return "redis" if self._up() else "memory (redis down)"

    def _up(self) -> bool:
        return time.monotonic() >= self._down_until

    def _fail(self, exc: Exception) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        self._down_until = time.monotonic() + self.retry_after
        log.warning("redis cache unavailable, using in-process cache: %s", self.last_error)

    def get(self, key: str) -> bytes | None:
        if self._up():
            try:
                value = self._client.get(key)
                self.last_error = None
                return value
            except Exception as exc:  # any redis/network error degrades, never fails the request
                self._fail(exc)
        return self.fallback.get(key)

    def set(self, key: str, value: bytes, ttl: float | None = None) -> None:
        ttl = self.ttl if ttl is None else ttl
        if ttl <= 0:
            return
        self.fallback.set(key, value, ttl)
        if self._up():
            try:
                self._client.set(key, value, ex=max(1, int(ttl)))
            except Exception as exc:
                self._fail(exc)

    def clear(self) -> None:
        self.fallback.clear()
        if self._up():
            try:
                keys = list(self._client.scan_iter(f"{PREFIX}*", count=1000))
                for start in range(0, len(keys), 1000):
                    self._client.delete(*keys[start : start + 1000])
            except Exception as exc:
                self._fail(exc)

    def healthy(self) -> bool:
        try:
            ok = bool(self._client.ping())
        except Exception as exc:
            self._fail(exc)
            return False
        self._down_until = 0.0
        return ok


def make_cache(redis_url: str | None, ttl: float) -> Any:
    """Redis when a URL is configured, else the in-process cache."""
    return RedisCache(redis_url, ttl=ttl) if redis_url else TTLCache(ttl)
