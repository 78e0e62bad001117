"""Agent tools for news (stored headlines with tone) and alerts (the real alert store)."""

from __future__ import annotations

import pytest
from agent_support import make_agent, make_alerts

from stockvision.chat.alerts import read_alert


def test_news_tool_recorded_grounded_and_empty_store_says_so():
    agent = make_agent()
    r = agent.chat("tin tức HPG", "u1", "s1")
    assert [c.name for c in r.tool_calls] == ["news"] and r.grounded
    assert "Hòa Phát báo lãi" in r.answer and "82%" in r.answer  # tone probability of the item
    assert r.tool_calls[0].result[0]["tone"] == "positive"
    empty = agent.chat("VNM có tin gì?", "u1", "s1")
    assert empty.tool_calls[0].result == [] and "chưa có tin tức nào về VNM" in empty.answer
    assert empty.grounded


def test_alerts_created_listed_deleted_in_the_store_per_user(tmp_path):
    book = make_alerts(tmp_path)
    agent = make_agent(alerts=book)
    made = agent.chat("báo cho mình khi VNM trên 90k", "alice", "a")
    assert made.intent == "alert_create" and made.grounded
    assert "90.000 đồng" in made.answer
    (row,) = book.list()
    assert (row["symbol"], row["kind"], row["threshold"]) == ("VNM", "price_above", 90000.0)
    assert "alice" not in row["owner"]  # hashed user id, never the id itself
    assert "chưa đặt cảnh báo" in agent.chat("mình đang đặt cảnh báo gì?", "bob", "b").answer
    listed = agent.chat("mình đang đặt cảnh báo gì?", "alice", "a")
    assert "VNM: khi giá vượt lên trên 90.000 đồng" in listed.answer
    assert "Không có" in agent.chat("xoá cảnh báo VNM", "bob", "b").answer  # bob's: none
    gone = agent.chat("xoá cảnh báo VNM", "alice", "a")
    assert gone.grounded and "Đã xoá 1 cảnh báo" in gone.answer and book.list() == []


@pytest.mark.parametrize(
    ("text", "symbols", "want"),
    [
        ("bao cho minh khi VNM tren 90k", ["VNM"], ("create", "price_above", 90000.0)),
        ("Alert me when HPG falls below 25,000", ["HPG"], ("create", "price_below", 25000.0)),
        ("báo khi FPT dưới 95", ["FPT"], ("create", "price_below", 95000.0)),
        ("cảnh báo khi VNM đổi chiều", ["VNM"], ("create", "pattern_change", None)),
        ("what alerts do I have?", [], ("list", None, None)),
        ("huỷ hết cảnh báo", [], ("delete", None, None)),
        ("VNM tháng sau thế nào?", ["VNM"], None),
    ],
)
def test_read_alert(text, symbols, want):
    ask = read_alert(text, symbols)
    assert (ask and (ask.action, ask.kind, ask.threshold)) == want


def test_alert_owner_is_shared_with_rest_and_legacy_chat_alerts_are_adopted(tmp_path):
    from stockvision.chat.agent import _user_key
    from stockvision.data.store.alerts import user_owner

    book = make_alerts(tmp_path)
    # an alert made by an older version of the chat (owner "agent:" + the memory hash)
    book.create("FPT", "price_below", 80000.0, owner=f"agent:{_user_key('carol-0001')[:48]}")
    book.create("HPG", "pattern_change", None, owner=user_owner("dave-00001"))
    agent = make_agent(alerts=book)
    listed = agent.chat("what alerts do I have?", "carol-0001", "c")
    assert (
        "FPT: when the price falls below 80,000 VND" in listed.answer and "HPG" not in listed.answer
    )
    assert [r["owner"] for r in book.list(user_owner("carol-0001"))] == [user_owner("carol-0001")]
    assert user_owner("carol-0001") != user_owner("carol-0002") and "carol" not in user_owner(
        "carol-0001"
    )
