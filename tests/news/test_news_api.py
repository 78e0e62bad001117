"""``GET /news/{symbol}`` on an app over a store holding a few news items (no models needed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from stockvision.data.store import Store
from stockvision.news.items import make_item
from stockvision.news.repository import NewsRepository


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """One app for the module (its start-up dominates the cost); the rate-limit test runs last."""
    from stockvision.config import Settings
    from stockvision.serving.app import create_app

    settings = Settings(
        data_dir=tmp_path_factory.mktemp("newsapi"),
        startup_wait_seconds=0,
        rate_limit_per_minute=20,
    )
    store = Store.from_settings(settings)
    items = [
        make_item(title="HPG lãi kỷ lục <script>alert(1)</script>", link="https://a.vn/1",
                  published="2025-10-01T03:00:00Z", source="A & B"),
        make_item(title="HPG giảm sàn", link="https://a.vn/2", published="2025-10-02T03:00:00Z",
                  source="A"),
    ]  # fmt: skip
    items[0].title = "HPG lãi kỷ lục <b>x</b>"  # as if a feed had let markup through

    def scorer(titles):
        return ["positive", "negative"][: len(titles)], [[0.1, 0.2, 0.7], [0.8, 0.1, 0.1]], "t:v1"

    NewsRepository(store).add(items, source="t", tagger=lambda it: ["HPG"], scorer=scorer)
    app = create_app(settings, start_background=False, mount_chat_ui=False)
    with TestClient(app) as c:
        yield c


def test_news_route_lists_latest_headlines_with_tone_escaped(client: TestClient) -> None:
    r = client.get("/api/v1/news/hpg", params={"limit": 5})
    assert r.status_code == 200, r.text
    doc = r.json()
    assert doc["symbol"] == "HPG" and doc["count"] == 2
    newest, older = doc["items"]
    assert newest["published_at"].startswith("2025-10-02") and newest["tone"] == "negative"
    assert older["title"] == "HPG lãi kỷ lục &lt;b&gt;x&lt;/b&gt;"
    assert older["source"] == "A &amp; B" and older["p_positive"] == pytest.approx(0.7)
    assert older["link"] == "https://a.vn/1"


def test_news_route_known_symbol_without_news_and_unknown_symbol(client: TestClient) -> None:
    r = client.get("/news/VNM")
    assert r.status_code == 200 and r.json()["items"] == []
    r = client.get("/news/VNMX")
    assert r.status_code == 404 and r.json()["error"] == "unknown_symbol"
    assert client.get("/news/../etc").status_code == 404
    assert client.get("/news/HPG", params={"limit": 500}).status_code == 422


@pytest.mark.integration
def test_news_route_passes_every_schemathesis_check(client: TestClient) -> None:
    """Generated valid and invalid requests to /news/{symbol}: documented codes and bodies only."""
    schemathesis = pytest.importorskip("schemathesis")
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    ops = [r.ok() for r in schema.get_all_operations()]
    ops = [op for op in ops if op.path == "/api/v1/news/{symbol}"]
    assert len(ops) == 1
    seen: set[int] = set()
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @given(case=ops[0].as_strategy(generation_mode=mode))
        @settings(max_examples=10, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))  # fmt: skip
        def run(case) -> None:
            response = case.call()
            seen.add(response.status_code)
            if response.status_code != 429:
                case.validate_response(response)

        try:
            run()
        except Unsatisfiable:
            assert mode is GenerationMode.NEGATIVE
    assert seen and all(code < 500 for code in seen)
    assert 200 in seen


def test_news_route_is_rate_limited(client: TestClient) -> None:
    codes = [client.get("/news/HPG").status_code for _ in range(65)]
    assert 429 in codes
