"""LLM rephrasing at the HTTP boundary (httpx.MockTransport): numbers kept or fall back."""

from __future__ import annotations

import json

import httpx
import pytest
from prediction_factory import make_prediction

from stockvision.chat.engine import ChatEngine
from stockvision.chat.llm import LLMRephraser, numbers_in, preserves_facts
from stockvision.config import get_settings

ORIGINAL = "VNM: giá mục tiêu 68,5 nghìn đồng (+5,4%), khoảng 64,2 – 72,9, độ tin cậy 80%."


def _transport(reply: str | None = None, status: int = 200, seen: list | None = None):
    def handler(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        if reply is None:
            raise httpx.ConnectError("no route", request=request)
        return httpx.Response(status, json={"choices": [{"message": {"content": reply}}]})

    return httpx.MockTransport(handler)


def test_numbers_and_fact_check():
    assert numbers_in(ORIGINAL) == ["68,5", "5,4", "64,2", "72,9", "80"]
    assert preserves_facts("VNM 68,5", "Mã VNM có mục tiêu 68,5.")
    assert not preserves_facts("VNM 68,5", "Mã VNM có mục tiêu 68,6.")
    assert not preserves_facts("VNM 68,5", "Mục tiêu 68,5.")  # ticker dropped


def test_rephrase_used_when_numbers_preserved():
    good = "Theo mô hình, VNM có giá mục tiêu 68,5 nghìn đồng (+5,4%), dao động 64,2 – 72,9 (80%)."
    seen: list[httpx.Request] = []
    llm = LLMRephraser(
        "http://llm.local/v1", api_key="k", model="m", transport=_transport(good, seen=seen)
    )
    assert llm.rephrase(ORIGINAL, "vi") == good
    req = seen[0]
    assert req.url == "http://llm.local/v1/chat/completions"
    assert req.headers["Authorization"] == "Bearer k"
    body = json.loads(req.content)
    assert body["model"] == "m" and body["messages"][1]["content"] == ORIGINAL


@pytest.mark.parametrize(
    "transport",
    [
        _transport("VNM sẽ lên 70 nghìn đồng!"),  # invented number, dropped ones
        _transport(None),  # network error
        _transport("x", status=500),  # server error
        httpx.MockTransport(lambda r: httpx.Response(200, json={"unexpected": True})),
        httpx.MockTransport(lambda r: httpx.Response(200, content=b"not json")),
    ],
)
def test_rephrase_falls_back(transport):
    llm = LLMRephraser("http://llm.local/v1", transport=transport)
    assert llm.rephrase(ORIGINAL, "vi") == ORIGINAL


def test_from_settings(monkeypatch):
    assert LLMRephraser.from_settings(get_settings()) is None
    monkeypatch.setenv("SV_LLM_BASE_URL", "http://llm.local/v1")
    get_settings.cache_clear()
    llm = LLMRephraser.from_settings(get_settings())
    assert llm is not None and llm.base_url == "http://llm.local/v1"


def test_engine_keeps_label_and_disclaimer_outside_rephrasing(small_listings):
    def echo_upper(request: httpx.Request) -> httpx.Response:
        text = json.loads(request.content)["messages"][1]["content"]
        return httpx.Response(200, json={"choices": [{"message": {"content": "Tóm lại: " + text}}]})

    llm = LLMRephraser("http://llm.local/v1", transport=httpx.MockTransport(echo_upper))
    eng = ChatEngine(
        lambda s: make_prediction(s, simulated=True),
        lambda *a: [],
        lambda *a: None,
        lambda: {},
        small_listings,
        rephraser=llm,
    )
    r = eng.ask("Dự đoán VNM", "s")
    assert r.answer.startswith("⚠ DỮ LIỆU MÔ PHỎNG")
    assert "Tóm lại: ▲ VNM" in r.answer and r.answer.count("không phải khuyến nghị đầu tư") == 1
