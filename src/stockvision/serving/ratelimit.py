"""Per-client rate limiting: a fixed one-minute window, in Redis when configured, else in process.

A Redis failure falls back to the in-process limiter so a dead Redis never blocks or fails requests.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass


@dataclass
class Verdict:
    allowed: bool
    remaining: int
    retry_after: int  # seconds until the window resets


class MemoryRateLimiter:
    backend = "memory"

    def __init__(self, limit_per_minute: int) -> None:
        self.limit = limit_per_minute
        self._windows: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()

    def hit(self, client: str, now: float | None = None) -> Verdict:
        now = time.time() if now is None else now
        window = int(now // 60)
        with self._lock:
            start, count = self._windows.get(client, (window, 0))
            if start != window:
                start, count = window, 0
            count += 1
            self._windows[client] = (start, count)
            if len(self._windows) > 100_000:  # forget old clients
                self._windows = {k: v for k, v in self._windows.items() if v[0] == window}
        retry = int(60 - (now % 60)) or 1
        return Verdict(count <= self.limit, max(0, self.limit - count), retry)


class RedisRateLimiter:
    """Fixed-window counter shared by every API replica through Redis (INCR + EXPIRE)."""

    def __init__(self, url: str, limit_per_minute: int, timeout: float = 0.25) -> None:
        import redis

        self.limit = limit_per_minute
        self.fallback = MemoryRateLimiter(limit_per_minute)
        self._client = redis.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._down_until = 0.0

    @property
    def backend(self) -> str:
        return "redis" if time.monotonic() >= self._down_until else "memory (redis down)"

    def hit(self, client: str, now: float | None = None) -> Verdict:
        now = time.time() if now is None else now
        if time.monotonic() >= self._down_until:
            window = int(now // 60)
            key = f"sv:rl:{client}:{window}"
            try:
                pipe = self._client.pipeline()
                pipe.incr(key)
                pipe.expire(key, 61)
                count = int(pipe.execute()[0])
                retry = int(60 - (now % 60)) or 1
                return Verdict(count <= self.limit, max(0, self.limit - count), retry)
            except Exception:
                self._down_until = time.monotonic() + 5.0
        return self.fallback.hit(client, now)


def make_rate_limiter(redis_url: str | None, limit_per_minute: int):
    return (
        RedisRateLimiter(redis_url, limit_per_minute)
        if redis_url
        else MemoryRateLimiter(limit_per_minute)
    )
