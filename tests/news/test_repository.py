"""News in the store: idempotent import, symbol links, reads; the shared file imported twice."""

from __future__ import annotations

from datetime import datetime

import pytest

from stockvision.data.store import Store
from stockvision.news.items import make_item
from stockvision.news.repository import NewsRepository
from stockvision.news.sources import ItemError, read_jsonl
from stockvision.news.tagging import SymbolTagger


def _item(title: str, day: int, link: str = "", symbols: tuple[str, ...] = ()):
    item = make_item(
        title=title,
        link=link or f"https://n.vn/{abs(hash(title))}",
        published=f"2025-10-{day:02d}T03:00:00Z",
        source="T",
    )
    item.symbols = list(symbols)
    return item


def test_import_is_idempotent_and_counts_everything(news_store: Store) -> None:
    repo = NewsRepository(news_store)
    items = [
        _item("Cổ phiếu HPG tăng mạnh", 1),
        _item("cổ phiếu HPG tăng mạnh!", 1, link=""),  # same title, different link: new item
        _item("Vinamilk chia cổ tức", 2),
    ]
    items[1].link = items[0].link + "?utm_source=fb"  # same item after normalisation
    tagger = SymbolTagger()
    report = repo.add(items, source="test", errors=[ItemError("f:9", "bad")], tagger=tagger)
    assert (report.read, report.rejected, report.duplicates_in_input) == (4, 1, 1)
    assert (report.inserted, report.already_stored, report.tagged_items) == (2, 0, 2)
    assert report.symbol_links_added == 2
    again = repo.add(items, source="test", tagger=tagger)
    assert (again.inserted, again.already_stored, again.symbol_links_added) == (0, 2, 0)
    assert repo.count() == 2
    hpg = repo.for_symbol("hpg")
    assert [r["title"] for r in hpg] == ["Cổ phiếu HPG tăng mạnh"] and hpg[0]["symbols"] == ["HPG"]
    assert [r["symbols"] for r in repo.for_symbol("VNM")] == [["VNM"]]
    # a later source can add a symbol to a stored item
    extra = _item("Vinamilk chia cổ tức", 2, link=items[2].link, symbols=("MCH",))
    assert repo.add([extra], source="vnstock").symbol_links_added == 1
    assert repo.for_symbol("MCH")[0]["symbols"] == ["MCH", "VNM"]


def test_reads_filter_by_time_and_limit(sqlite_store: Store) -> None:
    repo = NewsRepository(sqlite_store)
    repo.add([_item(f"HPG tin {d}", d, symbols=("HPG",)) for d in range(1, 8)], source="t")
    rows = repo.for_symbol("HPG", limit=3)
    assert [r["published_at"].day for r in rows] == [7, 6, 5]
    rows = repo.for_symbol("HPG", since=datetime(2025, 10, 2), until=datetime(2025, 10, 3, 23))
    assert [r["published_at"].day for r in rows] == [3, 2]
    frame = repo.symbol_frame(["HPG"], end=datetime(2025, 10, 4))
    assert len(frame) == 3 and frame["tone"].isna().all()


def test_scoring_at_import_and_backfill(sqlite_store: Store) -> None:
    repo = NewsRepository(sqlite_store)

    def scorer(titles: list[str]):
        probs = [[0.7, 0.2, 0.1] if "giảm" in t else [0.1, 0.2, 0.7] for t in titles]
        labels = ["negative" if p[0] > 0.5 else "positive" for p in probs]
        return labels, probs, "test-v1"

    report = repo.add([_item("HPG giảm sàn", 1, symbols=("HPG",))], source="t", scorer=scorer)
    assert report.scored == 1
    repo.add([_item("HPG lãi lớn", 2, symbols=("HPG",))], source="t")
    rows = {r["title"]: r for r in repo.for_symbol("HPG")}
    assert rows["HPG giảm sàn"]["tone"] == "negative" and rows["HPG lãi lớn"]["tone"] is None
    assert repo.set_tones(scorer) == 1
    rows = {r["title"]: r for r in repo.for_symbol("HPG")}
    assert rows["HPG lãi lớn"]["tone"] == "positive"
    assert rows["HPG lãi lớn"]["p_positive"] == pytest.approx(0.7)
    assert rows["HPG lãi lớn"]["tone_model"] == "test-v1"


@pytest.mark.integration
def test_shared_news_file_imported_twice_stores_each_item_once(
    sqlite_store: Store, news_file
) -> None:
    items, errors = read_jsonl(news_file)
    repo = NewsRepository(sqlite_store)
    first = repo.add(items, source="shared", errors=errors, tagger=SymbolTagger())
    assert first.read == 22_497
    assert first.inserted + first.duplicates_in_input + first.rejected == first.read
    assert first.rejected == 5  # five items have no title (counted, reported, not stored)
    assert first.tagged_items > 3000
    items, errors = read_jsonl(news_file)
    second = repo.add(items, source="shared", errors=errors, tagger=SymbolTagger())
    assert second.inserted == 0 and second.already_stored == first.inserted
    assert repo.count() == first.inserted
    # its speed is measured by benchmarks/bench_news.py, never timed in a test
