"""Answer formatting (vi/en, labels, disclaimer) and the engine with real service functions."""

from __future__ import annotations

import pandas as pd
import pytest
from prediction_factory import make_prediction

from stockvision.chat import answers as A
from stockvision.chat.engine import ChatEngine
from stockvision.errors import DataPendingError, InsufficientHistoryError
from stockvision.predict.types import DISCLAIMER_EN, DISCLAIMER_VI, Driver

METRICS = {
    "models": {
        "ridge": {
            "price": {"mae_pct": 6.21, "mae_ratio_vs_random_walk": 0.97, "interval_coverage": 0.78}
        },
        "random_walk": {"price": {"mae_pct": 6.4, "mae_ratio_vs_random_walk": 1.0}},
        "lstm": {"pattern": {"accuracy": 0.431, "log_loss_skill": 0.021, "ece": 0.034}},
    }
}


def test_data_age_reads_right_on_the_day_the_day_after_and_later():
    from datetime import date

    day = date(2026, 12, 7)
    ages = {
        (n, lang): A.data_age(day, lang, today=date(2026, 12, 7 + n))
        for n in (0, 1, 5)
        for lang in ("vi", "en")
    }
    assert ages == {
        (0, "vi"): "hôm nay",
        (0, "en"): "today",
        (1, "vi"): "cách đây 1 ngày",
        (1, "en"): "1 day old",
        (5, "vi"): "cách đây 5 ngày",
        (5, "en"): "5 days old",
    }


def test_number_formats():
    assert A.fmt_number(1234.5, "vi") == "1.234,5"
    assert A.fmt_number(1234.5, "en") == "1,234.5"
    assert A.fmt_price_k(68.5, "vi") == "68,5" and A.fmt_price_k(8.45, "vi") == "8,45"
    assert A.fmt_pct(0.054, "vi") == "+5,4%" and A.fmt_pct(-0.054, "en") == "-5.4%"
    assert A.fmt_number(float("nan"), "vi") == "—"


def test_prediction_vi_has_target_range_pattern_and_date():
    text = A.format_prediction(make_prediction(), "vi")
    assert "Giá mục tiêu 4 tuần" in text
    assert "68,5 nghìn đồng (+5,4%)" in text
    # one word per meaning: the interval is the "khoảng dự báo", the pattern has probabilities
    assert "khoảng dự báo 80%: 64,2 – 72,9" in text and "78% số lần" in text
    assert "độ tin cậy" not in text
    assert "cách đây" in text  # the data's age
    assert "▲ TĂNG" in text and "tăng 55%" in text and "đi ngang 25%" in text and "giảm 20%" in text
    assert "31/05/2024" in text and "ridge@v3" not in text
    assert "ridge@v3" in A.format_prediction(make_prediction(), "vi", show_versions=True)


def test_prediction_en_and_down_pattern():
    p = make_prediction(target=60_000, low=55_000, high=65_000, probs=(0.6, 0.3, 0.1))
    text = A.format_prediction(p, "en")
    assert "▼ DOWN" in text and "60.0 thousand VND (-7.7%)" in text and "2024-05-31" in text
    assert "80% range: 55.0 – 65.0" in text and "days old" in text and "confidence" not in text
    named = A.format_prediction(p, "en", name="Vietnam Dairy Products")
    assert "— Vietnam Dairy Products" in named and "Sữa" not in named


def test_compose_labels_and_disclaimer():
    sim = A.compose("body", "vi", simulated=True)
    assert sim.startswith("⚠ DỮ LIỆU MÔ PHỎNG") and sim.rstrip().endswith(DISCLAIMER_VI)
    real = A.compose("body", "en", simulated=False)
    assert "SIMULATED" not in real and real.count(DISCLAIMER_EN) == 1


def test_explanation_uses_drivers_in_order_of_strength():
    drivers = [
        Driver(
            feature="rsi_14w",
            value=71.0,
            contribution=-0.004,
            description_vi="RSI tuần cao",
            description_en="High weekly RSI",
        ),
        Driver(
            feature="ret_12w",
            value=0.081,
            contribution=0.012,
            description_vi="Đà tăng 12 tuần",
            description_en="12-week momentum",
        ),
    ]
    text = A.format_explanation(make_prediction(drivers=drivers), "vi")
    assert text.index("Đà tăng 12 tuần") < text.index("RSI tuần cao")
    assert "+1,20%" in text and "-0,40%" in text and "kéo dự báo xuống" in text
    assert "not provide drivers" in A.format_explanation(make_prediction(), "en")


def test_comparison_and_ranking():
    a = make_prediction("HPG", target=70_000)
    b = make_prediction("HSG", target=66_000, probs=(0.1, 0.2, 0.7))
    table = A.format_comparison([a, b], "vi")
    assert "HPG" in table and "HSG" in table and "Kỳ vọng cao nhất: HPG" in table
    assert "xác suất tăng cao nhất: HSG (70%)" in table
    # both forecasts rise: a "fallers" list must say none is forecast to fall
    ranking = A.format_ranking([b, a], "en", "down", "banking")
    assert ranking.splitlines()[0].startswith("No banking stock is forecast to fall")
    assert ranking.splitlines()[1].startswith("1. ▲ HSG") and "probability down" in ranking
    c = make_prediction("NKG", target=60_000, probs=(0.6, 0.3, 0.1))
    ranking = A.format_ranking([c, b], "vi", "down")
    assert ranking.splitlines()[0] == "Top 1 mã được dự báo giảm mạnh nhất trong 4 tuần tới:"
    assert "Chỉ 1 mã được dự báo giảm." in ranking and "XS" not in ranking
    market = A.format_market([a, b, c], "en", "VN-Index")
    assert "no VN-Index series" in market and "2 ▲ UP · 0 ► SIDEWAYS · 1 ▼ DOWN" in market


def test_model_quality_uses_only_given_numbers():
    vi = A.format_model_quality(METRICS, "vi")
    assert "6,21%" in vi and "0,97 lần" in vi and "78,0%" in vi and "43,1%" in vi and "0,034" in vi
    assert "random_walk" in vi and "không tốt hơn" in vi
    en = A.format_model_quality({"models": {"lstm": {"pattern": {"accuracy": 0.5}}}}, "en")
    assert "50.0%" in en and "4-week price" not in en
    assert "No model evaluation" in A.format_model_quality({}, "en")


# ------------------------------------------------------------------------------- engine
class Services:
    """Real, simple service functions standing at the boundary the lead will wire."""

    def __init__(self, simulated=False):
        self.simulated = simulated
        self.rank_calls = []

    def predict(self, symbol):
        if symbol == "NKG":
            raise InsufficientHistoryError(symbol, 12, 26)
        if symbol == "VCI":
            raise DataPendingError(symbol, f"/api/v1/jobs/{symbol}", "running")
        if symbol == "ACB":
            raise RuntimeError("boom")
        return make_prediction(symbol, simulated=self.simulated)

    def rank(self, symbols, direction, top_n):
        self.rank_calls.append((symbols, direction, top_n))
        universe = list(symbols or ["VNM", "FPT", "HPG", "VCB", "TCB", "SSI"])
        preds = [make_prediction(s, target=60_000 + 1000 * i) for i, s in enumerate(universe)]
        preds.sort(key=lambda p: p.expected_return, reverse=direction == "up")
        return preds[:top_n]

    def history(self, symbol, weeks):
        dates = pd.date_range("2023-06-02", periods=weeks, freq="W-FRI")
        frame = pd.DataFrame({"date": dates, "close": [100_000.0 + 500 * i for i in range(weeks)]})
        frame.attrs["simulated"] = self.simulated
        return frame

    def metrics(self):
        return METRICS


@pytest.fixture()
def services():
    return Services()


@pytest.fixture()
def engine(services, small_listings):
    return ChatEngine(
        services.predict,
        services.rank,
        services.history,
        services.metrics,
        small_listings,
        rephraser=None,
    )


def test_engine_predict_and_follow_up(engine):
    r = engine.ask("Dự đoán giá VNM tháng sau?", "s1")
    assert r.intent == "predict" and r.symbols == ["VNM"] and r.language == "vi"
    assert [p.symbol for p in r.predictions] == ["VNM"]
    assert "68,5 nghìn đồng" in r.answer and r.answer.endswith(DISCLAIMER_VI)
    assert "MÔ PHỎNG" not in r.answer and r.suggestions
    r = engine.ask("còn FPT thì sao?", "s1")
    assert r.intent == "predict" and r.symbols == ["FPT"]
    r = engine.ask("tại sao?", "s1")
    assert r.intent == "explain" and r.symbols == ["FPT"]
    assert engine.ask("tại sao?", "other-session").predictions == []  # sessions are separate


def test_engine_simulated_label_and_english(services, small_listings):
    services.simulated = True
    eng = ChatEngine(
        services.predict,
        services.rank,
        services.history,
        services.metrics,
        small_listings,
        rephraser=None,
    )
    r = eng.ask("Predict VNM next month", "s")
    assert r.language == "en" and r.answer.startswith("⚠ SIMULATED DATA")
    assert r.answer.endswith(DISCLAIMER_EN)
    assert "SIMULATED" in eng.ask("FPT chart 1 year", "s").answer


def test_engine_ranking_passes_group_and_slots(engine, services, small_listings):
    r = engine.ask("top 2 cổ phiếu ngân hàng giảm mạnh nhất", "s")
    banks = [s for s, x in small_listings.items() if x.group == "banking"]
    assert services.rank_calls[-1] == (banks, "down", 2)
    assert r.intent == "ranking" and len(r.predictions) == 2
    assert "nhóm ngân hàng" in r.answer and "giảm mạnh nhất" in r.answer


def test_engine_chart_compare_quality(engine):
    r = engine.ask("biểu đồ FPT 1 năm", "s")
    assert (r.intent, r.chart_symbol, r.chart_weeks) == ("chart", "FPT", 52)
    assert "100,0 → 125,5 nghìn đồng" in r.answer
    r = engine.ask("so sánh HPG và HSG", "s")
    assert r.intent == "compare" and len(r.predictions) == 2 and "```" in r.answer
    r = engine.ask("How accurate is the model?", "s")
    assert r.intent == "model_quality" and "6.21%" in r.answer


def test_engine_advice_states_it_is_not_advice(engine):
    r = engine.ask("có nên mua FPT không?", "s")
    assert r.intent == "advice" and r.predictions[0].symbol == "FPT"
    assert "không đưa ra lời khuyên" in r.answer and "không phải là khuyến nghị đầu tư" in r.answer
    r = engine.ask("Should I buy FPT?", "s")
    assert "not investment advice" in r.answer


def test_engine_errors_are_friendly(engine):
    r = engine.ask("Dự đoán NKG, VCI, ACB", "s")
    assert r.predictions == []
    # the weeks come from the error itself (what the service enforces), not from a setting
    assert "chưa đủ lịch sử giá" in r.answer and "mới có 12 tuần, cần ít nhất 26 tuần" in r.answer
    assert "đang tải dữ liệu" in r.answer
    assert "đang gặp sự cố" in r.answer and "RuntimeError" not in r.answer
    r = engine.ask("predict NKG", "s")
    assert "not have enough price history" in r.answer


def test_engine_did_you_mean_and_unknown_flows(engine):
    r = engine.ask("Dự đoán VNN tháng sau", "s")
    assert r.predictions == [] and "Ý bạn là VNM" in r.answer
    assert r.suggestions[0] == "Dự đoán VNM tháng sau"
    r = engine.ask("Thời tiết hôm nay thế nào", "s")
    assert r.intent == "out_of_scope" and "chỉ trả lời về dự báo cổ phiếu" in r.answer
    assert "Xin chào" in engine.ask("xin chào", "s").answer


def test_prediction_without_supported_direction_shows_no_arrow_and_names_the_model():
    from stockvision.predict.types import PatternProbabilities, PriceInterval, ServingModel

    p = make_prediction(probs=(0.45, 0.08, 0.47), direction_supported=False)
    p = p.model_copy(
        update={
            "base_rates": PatternProbabilities(down=0.44, sideways=0.09, up=0.47),
            "interval_50": PriceInterval(low=66_000, high=71_000, coverage=0.5),
            "serving_model": ServingModel(
                name="vol_random_walk",
                label_vi="mô hình biến động EWMA — mốc cơ sở",
                label_en="EWMA-volatility random walk (baseline)",
                baseline=True,
                crps_skill=0.03,
                crps_dm_pvalue=1e-5,
            ),
        }
    )
    vi = A.format_prediction(p, "vi")
    assert "▲" not in vi and "▼" not in vi and vi.startswith("• VNM")
    assert "chưa đủ bằng chứng" in vi and "mô hình biến động EWMA — mốc cơ sở" in vi
    assert "tỷ lệ cơ sở trong dữ liệu huấn luyện: tăng 47%" in vi
    # the range comes before the target, the 50 % range next to the 80 % one
    assert vi.index("khoảng dự báo 80%: 64,2 – 72,9") < vi.index("Giá mục tiêu")
    assert "khoảng 50%: 66" in vi
    en = A.format_prediction(p, "en")
    assert "not enough evidence" in en and "EWMA-volatility random walk (baseline)" in en
    assert "CRPS 3.0% better than the constant-width random walk (statistically significant)" in en
    assert "tốt hơn bước ngẫu nhiên biên độ cố định 3,0% (có ý nghĩa thống kê)" in vi
    ranking = A.format_ranking([p], "en", "up")
    assert ranking.splitlines()[1].startswith("1. • VNM")


def test_ranking_reports_its_basis_and_ties():
    a = make_prediction("HPG", target=68_500).model_copy(
        update={"rank_basis": "momentum_12_1", "rank_score": 0.2}
    )
    b = make_prediction("HSG", target=68_500).model_copy(
        update={"rank_basis": "momentum_12_1", "rank_score": 0.1}
    )
    c = make_prediction("NKG", target=68_500).model_copy(
        update={"rank_basis": "momentum_12_1", "rank_score": 0.1}
    )
    vi = A.format_ranking([a, b, c], "vi", "up")
    assert (
        "đà giá 12-1 tháng" in vi and "Đồng hạng (cùng điểm, không phân biệt được): HSG, NKG" in vi
    )
    en = A.format_ranking([a, b], "en", "up")
    assert "12-1 month momentum" in en and "Tied" not in en


def test_model_quality_shows_the_crps_skill_of_a_distribution():
    metrics = {
        "models": {
            "har_vol": {
                "price": {"mae_pct": 6.0},
                "distribution": {"crps_skill": 0.0167, "dm_pvalue": 3e-45},
            }
        }
    }
    assert "CRPS tốt hơn bước ngẫu nhiên biên độ cố định 1,67%" in A.format_model_quality(
        metrics, "vi"
    )
    assert "1.67% better than the constant-width" in A.format_model_quality(metrics, "en")


def test_no_riser_list_or_market_arrow_without_evidence():
    # argmax UP at 0.0 %: the served model's direction is not supported by its measured skill
    flat = [
        make_prediction(s, target=65_000, probs=(0.40, 0.17, 0.43), direction_supported=False)
        for s in ("GAS", "SBT")
    ]
    en = A.format_ranking(flat, "en", "up")
    assert en.splitlines()[0].startswith("No stock can be said to rise over the next 4 weeks")
    assert "Top" not in en and "▲" not in en
    vi = A.format_ranking(flat, "vi", "up")
    assert vi.splitlines()[0].startswith("Chưa thể nói mã nào sẽ tăng") and "Top" not in vi
    supported = make_prediction("HSG", target=70_000, probs=(0.1, 0.2, 0.7))
    summary = A.market_summary([*flat, supported])
    assert (summary["up"], summary["down"], summary["sideways"], summary["unclear"]) == (1, 0, 0, 2)
    market = A.format_market([*flat, supported], "en")
    assert "1 ▲ UP · 0 ► SIDEWAYS · 0 ▼ DOWN · 2 with no clear direction" in market
    assert "2 mã chưa rõ hướng" in A.format_market([*flat, supported], "vi")
