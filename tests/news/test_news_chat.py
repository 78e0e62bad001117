"""The chat cites stored, dated headlines with their tone (never an invented one)."""

from __future__ import annotations

from datetime import datetime

import pytest

from stockvision.chat.engine import ChatEngine
from stockvision.chat.news import format_news, is_news_request
from stockvision.errors import ModelUnavailableError
from stockvision.market.listings import LISTINGS
from stockvision.news.views import Headline


def _headline(title: str, day: int, tone: str | None = "negative", link: str | None = None):
    return Headline(
        title=title, source="VnEconomy", published_at=datetime(2026, 1, day, 2, 30),
        link=link or f"https://vneconomy.vn/{day}.htm", tone=tone,
        p_negative=0.81 if tone else None, p_neutral=0.1 if tone else None,
        p_positive=0.09 if tone else None, symbols=["FPT"],
    )  # fmt: skip


NEWS = {
    "FPT": [
        _headline("FPT giảm sàn sau tin *thoái vốn* <img src=x onerror=alert(1)>", 20),
        _headline("FPT ký hợp đồng 100 triệu USD", 12, tone=None, link="javascript:alert(1)"),
    ]
}


def _no_model(symbol: str):
    raise ModelUnavailableError("no model in this test")


@pytest.fixture
def engine() -> ChatEngine:
    return ChatEngine(
        _no_model, lambda *a: [], lambda *a: None, lambda: {}, LISTINGS,
        news_fn=lambda sym, limit: NEWS.get(sym, [])[:limit],
    )  # fmt: skip


def test_why_question_cites_dated_headlines_with_tone(engine: ChatEngine) -> None:
    r = engine.ask("tại sao FPT giảm?", "s")
    assert r.intent == "explain" and r.symbols == ["FPT"]
    assert "20/01/2026 02:30 UTC" in r.answer and "tiêu cực 81%" in r.answer
    assert "12/01/2026" in r.answer and "chưa chấm giọng điệu" in r.answer
    assert "(https://vneconomy.vn/20.htm)" in r.answer
    assert "javascript:" not in r.answer  # an unsafe link is dropped, the title kept
    assert "<img" not in r.answer and "\\*thoái vốn\\*" in r.answer  # escaped, inert


def test_news_requests_and_honest_empty_answer(engine: ChatEngine) -> None:
    r = engine.ask("tin tức FPT", "s")
    assert r.intent == "news" and "Tin tức mới nhất về FPT" in r.answer
    assert engine.ask("VNM có tin gì mới?", "s2").intent == "news"
    r = engine.ask("tại sao VNM giảm?", "s3")
    assert "chưa có tin tức nào về VNM" in r.answer
    en = engine.ask("FPT news", "s4", language="en")
    assert en.intent == "news" and "Latest news about FPT" in en.answer


def test_news_cues() -> None:
    assert is_news_request("Tin tuc HPG") and is_news_request("HPG headlines")
    assert not is_news_request("mô hình có đáng tin cậy không?")
    old = format_news("FPT", NEWS["FPT"], "en", now=datetime(2026, 12, 1))
    assert "days old" in old
