"""The chat wired to the real prediction service of a trained system (no stand-ins)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from stockvision.chat import answers as A
from stockvision.chat.schemas import ChatResponseModel
from stockvision.chat.wiring import ChatService, WalkForwardMetrics, build_engine
from stockvision.errors import ModelUnavailableError, UnknownSymbolError

pytestmark = pytest.mark.integration


@pytest.fixture()
def service(trained_settings):
    from stockvision.serving.service import PredictionService

    svc = PredictionService(trained_settings)
    svc.start(background=False)
    yield svc
    svc.stop()


@pytest.fixture()
def chat(service, trained_settings) -> ChatService:
    return build_engine(service, trained_settings)


def test_prediction_answer_quotes_the_service_numbers(chat, service):
    resp = chat.ask("Dự đoán giá VNM tháng sau?", "s1")
    expected = service.predict_one("VNM")
    assert resp.intent == "predict" and resp.symbols == ["VNM"]
    assert [p.symbol for p in resp.predictions] == ["VNM"]
    got = resp.predictions[0]
    assert got.price_target == expected.price_target
    assert got.model_versions == expected.model_versions
    assert f"{A.fmt_price_k(expected.price_target_k, 'vi')} nghìn đồng" in resp.answer
    assert A.fmt_date(expected.data_as_of, "vi") in resp.answer


def test_follow_up_keeps_the_session_context(chat):
    chat.ask("Dự đoán giá VNM tháng sau?", "s1")
    follow = chat.ask("còn FPT thì sao?", "s1")
    assert follow.intent == "predict" and follow.symbols == ["FPT"]
    why = chat.ask("tại sao?", "s1")
    assert why.intent == "explain" and why.symbols == ["FPT"]
    fresh = chat.ask("tại sao?", "other-session")
    assert fresh.predictions == []


def test_ranking_lists_several_tracked_symbols_best_first(chat, service):
    resp = chat.ask("Mã nào tăng tháng tới?", "r")
    assert resp.intent == "ranking"
    tracked = set(service.panel.symbols)
    symbols = [p.symbol for p in resp.predictions]
    assert len(symbols) >= 3 and set(symbols) <= tracked
    returns = [p.expected_return for p in resp.predictions]
    assert returns == sorted(returns, reverse=True)
    for sym in symbols:
        assert sym in resp.answer


def test_group_ranking_keeps_members_and_explains_an_empty_group(chat):
    banks = chat.ask("top 3 ngân hàng tăng mạnh nhất", "g")
    assert [p.symbol for p in banks.predictions] == ["VCB"]  # the only tracked bank
    empty = chat.ask("cổ phiếu bất động sản nào tăng mạnh nhất?", "g2")
    assert empty.predictions == []
    assert "Chưa có mã nào trong nhóm này" in empty.answer and "VNM" in empty.answer


def test_model_quality_quotes_the_latest_walk_forward_metrics(chat, trained_settings):
    metrics_path = WalkForwardMetrics(chat.service, trained_settings).metrics_path()
    assert metrics_path is not None and metrics_path.name == "metrics.json"
    metrics = json.loads(metrics_path.read_text())
    resp = chat.ask("mô hình chính xác không?", "q")
    assert resp.intent == "model_quality"
    for name, block in metrics["models"].items():
        assert name in resp.answer
        if "accuracy" in (block.get("pattern") or {}):
            shown = A.fmt_number(block["pattern"]["accuracy"] * 100, "vi", 1)
            assert f"đoán đúng xu hướng {shown}%" in resp.answer


def test_model_quality_falls_back_to_the_champions_registry_metrics(chat, trained_settings):
    state = Path(trained_settings.home) / "pipeline" / "state.json"
    state.unlink()
    loaded = chat.service.models
    resp = chat.ask("How accurate is the model?", "q")
    assert resp.language == "en"
    mae = loaded.price_metrics["mae_pct"]
    assert f"mean absolute error {A.fmt_number(mae, 'en', 2)}% of price" in resp.answer
    assert loaded.price_class in resp.answer


def test_service_errors_become_friendly_chat_answers(chat):
    engine = chat.engine
    text = engine._error_text(UnknownSymbolError("VNX", ["VNM", "VIX"]), None, "en")
    assert "VNX" in text and "VNM, VIX" in text
    text = engine._error_text(ModelUnavailableError("none"), None, "vi")
    assert "Chưa có mô hình" in text
    # a listed symbol the store lacks: the service starts fetching it and answers 202
    resp = chat.ask("Dự đoán giá HSG tháng sau", "e")
    assert resp.predictions == []
    assert "đang tải dữ liệu" in resp.answer
    # asked again: still pending, or the background fetch already failed (HSG is not in the CSV)
    again = _pending(chat, "HSG")
    assert again.code in ("data_pending", "data_unavailable", "no_data")
    assert type(again).__name__ not in engine._error_text(again, "HSG", "vi")


def _pending(chat, symbol):
    try:
        chat.service.predict_one(symbol)
    except Exception as exc:  # the real DataPendingError (or what the healer turned it into)
        return exc
    raise AssertionError(f"{symbol} unexpectedly predicted")


def test_respond_model_generates_a_session_and_returns_the_api_model(chat):
    out = chat.respond_model("Dự đoán VNM", None)
    assert isinstance(out, ChatResponseModel)
    assert len(out.session_id) == 32 and out.symbols == ["VNM"]
    again = chat.respond_model("còn FPT?", out.session_id)
    assert again.session_id == out.session_id and again.symbols == ["FPT"]
    assert len(chat.sessions.get(out.session_id).turns) == 2
