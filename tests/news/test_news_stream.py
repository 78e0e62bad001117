"""Stored headlines and their tone published on the ``news`` stream (in-process bus)."""

from __future__ import annotations

import asyncio

from stockvision.data.store import Store
from stockvision.news.items import make_item
from stockvision.news.repository import NewsRepository
from stockvision.stream.bus import open_bus
from stockvision.stream.news_feed import NEWS_STREAM, publish_news


def test_headlines_reach_the_news_stream_keyed_by_symbol(sqlite_store: Store) -> None:
    repo = NewsRepository(sqlite_store)
    item = make_item(title="HPG và HSG tăng trần", link="https://a.vn/1",
                     published="2025-10-01T03:00:00Z", source="S")  # fmt: skip

    def scorer(titles):
        return ["positive"], [[0.05, 0.15, 0.8]], "t:v1"

    repo.add([item], source="t", tagger=lambda it: ["HPG", "HSG"], scorer=scorer)

    async def run():
        async with open_bus("memory://") as bus:
            seqs = await publish_news(bus, repo.latest(limit=10))
            return seqs, await bus.read(NEWS_STREAM)

    seqs, messages = asyncio.run(run())
    assert seqs == [1, 2]
    assert [m.key for m in messages] == ["HPG", "HSG"]
    data = messages[0].data
    assert data["tone"] == "positive" and data["p_positive"] == 0.8
    assert data["published_at"] == "2025-10-01T03:00:00Z" and data["link"] == "https://a.vn/1"
    assert messages[0].msg_id == f"{item.key}:HPG"


def test_by_keys_returns_the_new_items(sqlite_store: Store) -> None:
    repo = NewsRepository(sqlite_store)
    items = [make_item(title=f"VNM tin {i}", link=f"https://a.vn/{i}",
                       published=f"2025-10-0{i}T03:00:00Z", source="S") for i in (1, 2, 3)]  # fmt: skip
    report = repo.add(items, source="t", tagger=lambda it: ["VNM"])
    assert len(report.new_keys) == 3 and "new_keys" not in report.to_dict()
    assert [r["title"] for r in repo.by_keys(report.new_keys[:2])] == ["VNM tin 2", "VNM tin 1"]
