"""Per-client, work-weighted rate limiting in named buckets: a one-minute window, in Redis when
configured, else in process.

A request costs units (a batch one per ten symbols, see the batch route); each bucket (``api``, ``ui``,
``ops``) has its own limit per client. With Redis, every replica shares the counts; the in-process
counter runs alongside, so when Redis fails the limiter keeps limiting from this process's counts
instead of failing open with fresh quotas, and a dead Redis never blocks or fails a request.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_BUCKET = "api"


@dataclass
class Verdict:
    allowed: bool
    remaining: int
    retry_after: int  # seconds until the window resets


def _retry(now: float) -> int:
    return int(60 - (now % 60)) or 1


class MemoryRateLimiter:
    backend = "memory"

    def __init__(self, limits: Mapping[str, int] | int) -> None:
        self.limits = {DEFAULT_BUCKET: limits} if isinstance(limits, int) else dict(limits)
        self._windows: dict[tuple[str, str], tuple[int, int]] = {}
        self._lock = threading.Lock()

    @property
    def limit(self) -> int:
        return self.limit_of(DEFAULT_BUCKET)

    def limit_of(self, bucket: str) -> int:
        return self.limits.get(bucket, self.limits[DEFAULT_BUCKET])

    def hit(
        self, client: str, cost: int = 1, bucket: str = DEFAULT_BUCKET, now: float | None = None
    ) -> Verdict:
        now = time.time() if now is None else now
        window = int(now // 60)
        key = (bucket, client)
        with self._lock:
            start, count = self._windows.get(key, (window, 0))
            if start != window:
                start, count = window, 0
            count += max(0, int(cost))
            self._windows[key] = (start, count)
            if len(self._windows) > 100_000:  # forget old clients
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
        limit = self.limit_of(bucket)
        return Verdict(count <= limit, max(0, limit - count), _retry(now))


class RedisRateLimiter:
    """Fixed-window counters shared by every API replica through Redis (INCRBY + EXPIRE)."""

    def __init__(self, url: str, limits: Mapping[str, int] | int, timeout: float = 0.25) -> None:
        import redis

        self.local = MemoryRateLimiter(limits)
        self.limits = self.local.limits
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._down_until = 0.0

    @property
    def limit(self) -> int:
        return self.local.limit

    def limit_of(self, bucket: str) -> int:
        return self.local.limit_of(bucket)

    @property
    def fallback(self) -> MemoryRateLimiter:
        return self.local

    @property
    def backend(self) -> str:
        return "redis" if time.monotonic() >= self._down_until else "memory (redis down)"

    def hit(
        self, client: str, cost: int = 1, bucket: str = DEFAULT_BUCKET, now: float | None = None
    ) -> Verdict:
        now = time.time() if now is None else now
        local = self.local.hit(client, cost, bucket, now)  # always counted: the fallback's memory
        if time.monotonic() >= self._down_until:
            key = f"sv:rl:{bucket}:{client}:{int(now // 60)}"
            try:
                pipe = self._client.pipeline()
                pipe.incrby(key, max(0, int(cost)))
                pipe.expire(key, 61)
                count = int(pipe.execute()[0])
                limit = self.limit_of(bucket)
                return Verdict(count <= limit, max(0, limit - count), _retry(now))
            except Exception:
                self._down_until = time.monotonic() + 5.0
        return local


def make_rate_limiter(redis_url: str | None, limits: Mapping[str, int] | int):
    return RedisRateLimiter(redis_url, limits) if redis_url else MemoryRateLimiter(limits)
