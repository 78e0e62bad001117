"""Rate limits: who the client is (forged headers buy nothing), every route limited, work-weighted."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from stockvision.serving.guard import ClientResolver, route_bucket


def _scope(peer: str, forwarded: str | None = None) -> dict:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return {"type": "http", "client": (peer, 5000), "headers": headers}


def test_forwarded_header_ignored_from_an_untrusted_peer():
    resolver = ClientResolver()
    assert resolver.client(_scope("203.0.113.9", "1.2.3.4")) == "203.0.113.9"
    resolver = ClientResolver(["10.0.0.0/8"])
    assert resolver.client(_scope("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


def test_trusted_proxy_gives_the_rightmost_untrusted_hop():
    resolver = ClientResolver(["10.0.0.0/8", "127.0.0.1"])
    assert resolver.client(_scope("10.1.2.3", "198.51.100.7")) == "198.51.100.7"
    # a client forging the left part of the header is still itself (the proxy appended its address)
    assert resolver.client(_scope("10.1.2.3", "6.6.6.6, 198.51.100.7")) == "198.51.100.7"
    # a chain of trusted proxies is walked through
    assert resolver.client(_scope("127.0.0.1", "198.51.100.7, 10.9.9.9")) == "198.51.100.7"
    # garbage or no header: the proxy itself
    assert resolver.client(_scope("10.1.2.3", "not-an-ip")) == "10.1.2.3"
    assert resolver.client(_scope("10.1.2.3")) == "10.1.2.3"


@pytest.fixture()
def tight_app(tmp_path, monkeypatch):
    """The whole app (chat UI mounted) with tiny limits, on an empty data directory."""
    from stockvision.config import Settings
    from stockvision.serving.app import create_app

    settings = Settings(
        data_dir=tmp_path / "home",
        rate_limit_per_minute=2,
        ui_rate_limit_per_minute=2,
        ops_rate_limit_per_minute=2,
        trusted_proxies=["10.0.0.1"],
        startup_wait_seconds=1,
    )
    return create_app(settings, start_background=False, mount_chat_ui=True)


def test_spoofed_forwarded_for_gets_no_fresh_quota(tight_app):
    with TestClient(tight_app, client=("203.0.113.9", 4000)) as c:
        codes = [
            c.get("/api/v1/symbols", headers={"X-Forwarded-For": f"1.2.3.{i}"}).status_code
            for i in range(4)
        ]
    assert codes[2:] == [429, 429]


def test_clients_behind_a_trusted_proxy_have_their_own_quota(tight_app):
    with TestClient(tight_app, client=("10.0.0.1", 4000)) as c:
        a = [c.get("/api/v1/symbols", headers={"X-Forwarded-For": "198.51.100.1"}).status_code
             for _ in range(3)]  # fmt: skip
        b = c.get("/api/v1/symbols", headers={"X-Forwarded-For": "198.51.100.2"}).status_code
    assert a[2] == 429 and b != 429


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "VNM", path).replace(":path", "")


def _routes(app) -> list[tuple[str, str]]:
    """(method, path) of every route of the app, the mounted chat UI's included."""
    from starlette.routing import Mount

    out: list[tuple[str, str]] = []

    def walk(routes, prefix: str) -> None:
        for route in routes:
            if isinstance(route, Mount):
                walk(route.routes, prefix + route.path)
                continue
            context = getattr(route, "include_context", None)  # FastAPI's included routers
            if context is not None:
                walk(context.included_router.routes, prefix + context.prefix)
                continue
            path = getattr(route, "path", None)
            if path is None:
                continue
            methods = sorted(getattr(route, "methods", None) or {"GET"})
            method = "GET" if "GET" in methods else methods[0]
            out.append((method, prefix + path))

    walk(app.routes, "")
    return out


def test_every_route_is_limited_or_closed(tight_app):
    routes = _routes(tight_app)
    assert len(routes) > 60  # the API twice (versioned and not), the chat UI's own routes
    unlimited = []
    with TestClient(tight_app, client=("192.0.2.1", 4000), raise_server_exceptions=False) as c:
        for method, path in routes:
            url = _concrete(path)
            bucket = route_bucket(url)
            codes: list[int] = []
            # the window is a fixed minute: three requests that straddle its end (a slow route on
            # a loaded machine) legitimately get a fresh quota, so a route must be limited on one
            # of two tries (X-Forwarded-For is not trusted here: every request is one client)
            for _ in range(2):
                codes = [c.request(method, url).status_code for _ in range(3)]
                if bucket is None or codes[-1] == 429:
                    break
            if bucket is None:
                assert set(codes) == {404}, (method, url, codes)
            elif codes[-1] != 429:
                unlimited.append((method, url, codes))
    assert not unlimited, unlimited


def test_forwarded_clients_of_untrusted_peers_share_one_bucket_per_route_class():
    assert route_bucket("/api/v1/health") == "ops"
    assert route_bucket("/chat/gradio_api/queue/join") == "api"
    assert route_bucket("/chat/gradio_api/call/upload_csv") == "api"
    assert route_bucket("/chat/assets/index-abc.js") == "ui"
    assert route_bucket("/chat/gradio_api/file=/etc/passwd") is None
    assert route_bucket("/api/v1/predict/VNM") == "api"


def test_the_in_process_counts_go_on_when_redis_dies():
    from stockvision.serving.ratelimit import RedisRateLimiter

    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", {"api": 3}, timeout=0.05)
    verdicts = [limiter.hit("c1", 1, "api", now=1000.0) for _ in range(5)]
    assert [v.allowed for v in verdicts] == [True, True, True, False, False]
    assert limiter.backend == "memory (redis down)"
