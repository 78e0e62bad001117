"""What investors type: typos in names, foreign tickers, months beyond the horizon, premises the
model contradicts, English names, several symbols with one missing (on the real listings)."""

from __future__ import annotations

import pytest
from prediction_factory import make_prediction

from stockvision.chat.engine import ChatEngine
from stockvision.errors import NotInDemoError


@pytest.fixture
def engine() -> ChatEngine:
    from stockvision.market.listings import LISTINGS

    held = ["VNM", "FPT", "HPG", "HSG"]

    def predict(sym: str):
        if sym not in held:
            raise NotInDemoError(sym, held)
        return make_prediction(sym, probs=(0.2, 0.25, 0.55), simulated=True)

    return ChatEngine(
        predict_fn=predict,
        rank_fn=lambda u, d, n: [predict(s) for s in held][:n],
        history_fn=lambda s, w: None,
        metrics_fn=dict,
        listings=LISTINGS,
        track_fn=lambda s: [],
    )


def test_typo_in_a_company_name_is_read_and_said(engine):
    r = engine.ask("Vinamik tháng sau thế nào?", "a")
    assert r.symbols == ["VNM"] and "Mình hiểu “Vinamik” là VNM" in r.answer


def test_foreign_ticker_is_not_listed_in_vietnam(engine):
    r = engine.ask("Predict TSLA next month", "b")
    assert "not listed in Vietnam" in r.answer and r.predictions == []


def test_named_month_beyond_the_horizon_is_explained(engine):
    r = engine.ask("Giá VNM tháng 3 bao nhiêu?", "c")  # data as of 31/05/2024: March is 2025
    assert "ngoài tầm" in r.answer and "3/2025" in r.answer and r.predictions
    assert "ngoài tầm" not in engine.ask("Giá VNM tháng 6?", "c2").answer


def test_premise_contradicting_the_model_is_corrected(engine):
    r = engine.ask("Why is HPG forecast to fall?", "d")
    assert "does not forecast HPG to fall" in r.answer and "▲ UP" in r.answer


def test_english_answers_use_english_names(engine):
    r = engine.ask("Predict VNM next month", "e")
    assert "Vietnam Dairy Products" in r.answer and "Sữa" not in r.answer


def test_several_symbols_with_missing_ones(engine):
    r = engine.ask("so sánh VNM, FPT, DGC và VCB", "f")
    assert {p.symbol for p in r.predictions} == {"VNM", "FPT"}
    assert r.answer.count("không có ở đây") == 1 and "DGC, VCB" in r.answer
    assert "So sánh dự báo 4 tuần" in r.answer


def test_time_follow_up_refers_to_the_last_symbol(engine):
    engine.ask("Dự đoán FPT", "g")
    r = engine.ask("so với tháng trước?", "g")
    assert r.intent == "track_record" and r.symbols == ["FPT"]
    assert "Chưa có dự báo nào của FPT được lưu" in r.answer
