"""A newcomer's first hour, offline: fresh data directory, no ../shared, no network.

The real pipeline runs on the ``auto`` source (which falls back to the simulated demo market), then
the real app answers the questions the UI offers as example chips and the README's headline one.
Every answer must be about symbols the store holds, say the data is simulated, state the data's
age, and never show an exception name; a real ticker the demo lacks is explained in one sentence
with how to get real data.
"""

from __future__ import annotations

import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from trained_system import sv_environment

from stockvision.chat.ui import EXAMPLES

DEMO_ENV = {
    "SV_SOURCE": "auto",
    "SV_SYNTHETIC_SYMBOLS": "12",
    "SV_PATTERN_MODEL": "lgbm_clf",
    "SV_EVAL_MAX_FOLDS": "3",
    "SV_RATE_LIMIT_PER_MINUTE": "100000",
}
# the data's age in either language, whatever day the suite runs on (0, 1 or N days after the demo)
DATA_AGE = re.compile(r"cách đây \d+ ngày|hôm nay|\b\d+ days? old\b|\btoday\b")
RAW_ERRORS = re.compile(r"\b[A-Z][a-z]+(Error|Exception)\b|Traceback|DataUnavailable")


def _offline(*args, **kwargs):
    raise OSError("network disabled in this test (offline first hour)")


@pytest.fixture(scope="module")
def demo_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from stockvision.config import Settings
    from stockvision.pipeline.flow import run_pipeline
    from stockvision.serving.app import create_app

    home: Path = tmp_path_factory.mktemp("first_hour")
    env = {**DEMO_ENV, "SV_DATA_DIR": str(home)}
    with pytest.MonkeyPatch.context() as mp, sv_environment(env, ["SV_CSV_PATHS"]):
        mp.setattr(socket, "create_connection", _offline)
        mp.delenv("SV_CSV_PATHS", raising=False)
        run_pipeline(Settings())
        app = create_app(Settings(), start_background=False, mount_chat_ui=False)
        with TestClient(app) as client:
            yield client


def _ask(client: TestClient, message: str, session: str | None = None) -> dict:
    r = client.post("/chat", json={"message": message, "session_id": session})
    assert r.status_code == 200, r.text
    return r.json()


def test_fresh_demo_is_current_and_labelled(demo_client):
    health = demo_client.get("/health").json()
    assert health["data_age_days"] is not None and health["data_age_days"] <= 7
    assert health["data_stale"] is False
    # a stationary simulated market does not raise the (calibrated) drift alarm
    assert health["monitoring"]["drift_detected"] is False
    assert health["status"] == "ok", health
    held = {s["symbol"] for s in demo_client.get("/api/v1/symbols").json()}
    assert {"VNM", "FPT", "HPG", "HSG"} <= held  # the examples' symbols are in the demo


@pytest.mark.parametrize("question", [*EXAMPLES, "Dự đoán giá VNM tháng sau?"])
def test_every_example_gets_a_real_answer(demo_client, question):
    body = _ask(demo_client, question)
    answer = body["answer"]
    assert not RAW_ERRORS.search(answer), answer
    assert "sự cố" not in answer and "failed" not in answer
    if body["intent"] in {"predict", "compare", "explain", "ranking"}:
        assert body["predictions"], answer
        assert "MÔ PHỎNG" in answer or "SIMULATED" in answer
        assert DATA_AGE.search(answer), answer
    if body["intent"] == "compare":
        assert {p["symbol"] for p in body["predictions"]} == {"HPG", "HSG"}


def test_real_ticker_missing_from_the_demo_is_explained(demo_client):
    body = _ask(demo_client, "so sánh VNM, FPT và DGC")
    answer = body["answer"]
    assert {p["symbol"] for p in body["predictions"]} == {"VNM", "FPT"}
    assert "DGC không có ở đây" in answer and "mô phỏng" in answer
    assert "stockvision ingest --source csv" in answer and not RAW_ERRORS.search(answer)
    en = _ask(demo_client, "Predict DGC next month")["answer"]
    assert "simulated demo market" in en and "SV_SOURCE=vnstock" in en


def test_follow_ups_market_and_premise(demo_client):
    sid = "first-hour"
    first = _ask(demo_client, "Dự đoán giá VNM tháng sau?", sid)
    assert first["predictions"][0]["symbol"] == "VNM"
    back = _ask(demo_client, "so với tháng trước?", sid)
    assert back["intent"] == "track_record" and "VNM" in back["answer"]
    market = _ask(demo_client, "VN-Index tháng sau thế nào?")
    assert market["intent"] == "market" and "theo điểm" in market["answer"]
    pattern = first["predictions"][0]["pattern"]
    opposite = "tăng" if pattern != "UP" else "giảm"
    why = _ask(demo_client, f"Tại sao VNM được dự báo {opposite}?")
    assert "mô hình không dự báo VNM" in why["answer"]


def test_agent_route_remembers_a_holding_and_answers_the_portfolio(demo_client):
    user = "first-hour-user-1"
    said = demo_client.post(
        "/agent/chat", json={"message": "mình đang cầm 1.000 HPG giá vốn 28k", "user_id": user}
    ).json()
    assert said["intent"] == "holding" and said["grounded"]
    assert said["memory_writes"][0] == {
        "kind": "fact",
        "key": "holding:HPG",
        "symbol": "HPG",
        "quantity": 1000,
        "cost": 28000.0,
    }
    folio = demo_client.post(
        "/agent/chat",
        json={"message": "danh mục của mình tháng sau thế nào?", "user_id": user},
    ).json()
    assert folio["grounded"] and "HPG × 1.000" in folio["answer"]
    assert {c["name"] for c in folio["tool_calls"]} >= {"memory_holdings", "predict", "portfolio"}
    assert any(s["tool"] == "predict" and s["data_as_of"] for s in folio["sources"])
    # a user id is a secret of the browser: too short or odd characters are refused
    bad = demo_client.post("/agent/chat", json={"message": "hi", "user_id": "../x"})
    assert bad.status_code == 422


def test_ui_asks_the_agent_with_the_browsers_user_id(demo_client):
    from stockvision.chat.ui import build_blocks, make_handlers, new_user_id

    state = demo_client.app.state
    build_blocks(state.chat_engine, state.service, state.agent)  # the page builds with the agent
    h = make_handlers(state.chat_engine, state.service, state.agent)
    user = new_user_id(None)
    assert new_user_id(user) == user and new_user_id("../../etc") != "../../etc"
    history, _, sid, chart = h["ask"]("I hold 300 VNM at 50k", [], None, "auto", user)
    assert "Noted: you hold 300 VNM" in history[-1]["content"] and chart["symbol"] == "VNM"
    history, _, _, _ = h["ask"]("what do you remember about me?", history, sid, "auto", user)
    assert "VNM: 300 shares" in history[-1]["content"]
    _, _, _, chart = h["ask"]("Biểu đồ FPT 1 năm", [], sid, "auto", user)
    assert chart["symbol"] == "FPT" and chart["weeks"] == 52


def test_alerts_made_in_chat_are_the_rest_clients_own_and_nobody_elses(demo_client):
    """One owner per user id: the agent's ``user_id`` and REST's ``X-User-Id`` name the same
    alerts; another id, or no id, never sees, lists or deletes them."""
    alice, bob = {"X-User-Id": "alice-alerts-01"}, {"X-User-Id": "bob-alerts-0001"}
    made = demo_client.post(
        "/agent/chat",
        json={"message": "báo cho mình khi VNM trên 90k", "user_id": "alice-alerts-01"},
    ).json()
    assert made["intent"] == "alert_create" and made["grounded"]
    mine = demo_client.get("/api/v1/alerts", headers=alice).json()["alerts"]
    assert [(a["symbol"], a["kind"], a["threshold"]) for a in mine] == [
        ("VNM", "price_above", 90000.0)
    ]
    assert demo_client.get("/alerts", headers=bob).json()["alerts"] == []
    assert demo_client.get("/alerts").json()["alerts"] == []  # anonymous: the client address
    assert demo_client.delete(f"/alerts/{mine[0]['id']}", headers=bob).status_code == 404
    # made over REST, listed in the chat (same owner), and bob's chat sees none of it
    r = demo_client.post(
        "/alerts/pattern", json={"symbol": "HPG"}, headers={"X-User-Id": "alice-alerts-01"}
    )
    assert r.status_code == 201
    listed = demo_client.post(
        "/agent/chat",
        json={"message": "mình đang đặt cảnh báo gì?", "user_id": "alice-alerts-01"},
    ).json()["answer"]
    assert (
        "VNM: khi giá vượt lên trên 90.000 đồng" in listed and "HPG: khi dự báo đổi chiều" in listed
    )
    other = demo_client.post(
        "/agent/chat", json={"message": "mình đang đặt cảnh báo gì?", "user_id": "bob-alerts-0001"}
    ).json()["answer"]
    assert "chưa đặt cảnh báo" in other
    assert demo_client.delete(f"/alerts/{mine[0]['id']}", headers=alice).status_code == 204
    left = demo_client.get("/alerts", headers=alice).json()["alerts"]
    assert [a["symbol"] for a in left] == ["HPG"]
    # a malformed id is refused, not hashed into some owner
    assert demo_client.get("/alerts", headers={"X-User-Id": "../x"}).status_code == 422
