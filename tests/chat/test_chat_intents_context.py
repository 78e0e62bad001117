"""Intent parser rules and conversation follow-ups."""

from __future__ import annotations

import threading

import pytest

from stockvision.chat.context import Conversation, SessionStore
from stockvision.chat.intents import IntentParser, correct_token, detect_language
from stockvision.chat.symbols import SymbolResolver


@pytest.fixture()
def parser(small_listings):
    return IntentParser(SymbolResolver(small_listings))


@pytest.mark.parametrize(
    ("text", "intent", "symbols"),
    [
        ("Dự đoán giá VNM tháng sau?", "predict", ["VNM"]),
        ("Dự đoán VCB, VCI, FPT", "predict", ["VCB", "VCI", "FPT"]),
        ("vnm thang sau the nao", "predict", ["VNM"]),
        ("Tại sao FPT tăng?", "explain", ["FPT"]),
        ("so sánh HPG và HSG", "compare", ["HPG", "HSG"]),
        ("có nên mua FPT không?", "advice", ["FPT"]),
        ("Có nên bắt đáy VCB không?", "advice", ["VCB"]),
        ("mô hình chính xác không?", "model_quality", []),
        ("Xin chào", "greeting", []),
        ("Bạn làm được gì?", "help", []),
        ("", "help", []),
        ("Thời tiết Hà Nội hôm nay thế nào?", "out_of_scope", []),
        ("Giá vàng hôm nay bao nhiêu?", "out_of_scope", []),
        ("tell me a joke", "out_of_scope", []),
    ],
)
def test_intents(parser, text, intent, symbols):
    q = parser.parse(text)
    assert (q.intent, q.symbols) == (intent, symbols)
    assert 0 < q.confidence <= 1


def test_ranking_slots(parser):
    q = parser.parse("top 5 cổ phiếu ngân hàng giảm mạnh nhất")
    assert (q.intent, q.group, q.top_n, q.direction) == ("ranking", "banking", 5, "down")
    q = parser.parse("Mã nào tăng lên tháng tới?")
    assert (q.intent, q.group, q.top_n, q.direction) == ("ranking", None, None, "up")
    q = parser.parse("năm mã xanh nhất")  # "năm" = five here, "xanh" = up (slang)
    assert (q.intent, q.top_n, q.direction) == ("ranking", 5, "up")
    assert parser.parse("Which banks will fall the most?").direction == "down"


def test_strict_accented_cues(parser):
    # "độ chính xác" must not read as the colour "đỏ" (down) when diacritics are present
    assert parser.parse("độ chính xác mô hình").direction is None
    assert parser.parse("mã nào đỏ nhất").direction == "down"
    assert parser.parse("ma nao do nhat").direction == "down"  # no diacritics: folded form


@pytest.mark.parametrize(
    ("text", "weeks"),
    [
        ("biểu đồ FPT 1 năm", 52),
        ("bieu do FPT 6 thang", 26),
        ("FPT chart 3 years", 156),
        ("plot FPT last 8 weeks", 8),
        ("biểu đồ FPT nửa năm", 26),
        ("biểu đồ FPT", None),
    ],
)
def test_chart_period(parser, text, weeks):
    q = parser.parse(text)
    assert (q.intent, q.symbols, q.weeks) == ("chart", ["FPT"], weeks)


def test_slang_tags(parser):
    q = parser.parse("F0 lướt sóng HPG được không")
    assert q.intent == "advice" and {"new_investor", "short_term"} <= set(q.slang)
    q = parser.parse("HPG tháng sau có tím trần không")
    assert q.intent == "predict" and "limit_up" in q.slang


def test_typo_correction_and_language():
    assert correct_token("predcit") == "predict"
    assert correct_token("dona") == "doan"
    assert correct_token("vinamilk") == "vinamilk"
    assert detect_language("Dự đoán VNM") == "vi"
    assert detect_language("du doan gia vnm thang sau") == "vi"
    assert detect_language("vnm thang sau the nao") == "vi"
    assert detect_language("What is the price target for FPT?") == "en"
    assert detect_language("VNM") == "vi"  # no evidence: the primary audience


def test_did_you_mean_in_parse(parser):
    q = parser.parse("Dự đoán VNN tháng sau")
    assert q.intent == "predict" and q.symbols == [] and q.did_you_mean[0] == "VNM"


def _turn(parser, conv, text):
    q = parser.parse(text, conv)
    conv.remember(q, "answer")
    return q


def test_follow_ups(parser):
    conv = Conversation("s")
    _turn(parser, conv, "Dự đoán giá VNM tháng sau?")
    q = _turn(parser, conv, "còn FPT thì sao?")
    assert (q.intent, q.symbols, q.follow_up) == ("predict", ["FPT"], False)
    q = _turn(parser, conv, "tại sao?")
    assert (q.intent, q.symbols, q.follow_up) == ("explain", ["FPT"], True)
    q = _turn(parser, conv, "biểu đồ 1 năm")
    assert (q.intent, q.symbols, q.weeks) == ("chart", ["FPT"], 52)
    q = _turn(parser, conv, "so với HPG thì sao?")
    assert (q.intent, q.symbols) == ("compare", ["FPT", "HPG"])
    # a mistyped ticker is reported, not silently replaced by the previous symbol
    q = _turn(parser, conv, "dự đoán VNN")
    assert q.symbols == [] and q.did_you_mean[0] == "VNM"


def test_ranking_follow_up_keeps_direction(parser):
    conv = Conversation("s")
    _turn(parser, conv, "top 3 mã giảm mạnh nhất")
    q = _turn(parser, conv, "còn ngân hàng thì sao?")
    assert (q.intent, q.group, q.direction, q.top_n) == ("ranking", "banking", "down", 3)


def test_small_talk_does_not_reset_topic(parser):
    conv = Conversation("s")
    _turn(parser, conv, "Dự đoán HPG")
    _turn(parser, conv, "cảm ơn, chào bạn")
    assert _turn(parser, conv, "vì sao?").symbols == ["HPG"]


def test_session_store_ttl_bounds_and_threads():
    now = [0.0]
    store = SessionStore(ttl_seconds=10, max_sessions=3, max_turns=2, clock=lambda: now[0])
    conv = store.get("a")
    assert store.get("a") is conv
    for i in range(5):
        store.record(
            "a", type("Q", (), {"text": str(i), "intent": "predict", "symbols": ["VNM"]})(), "x"
        )
    assert len(conv.turns) == 2 and conv.last_symbols == ["VNM"]
    for sid in "bcd":
        store.get(sid)
    assert len(store) == 3  # "a" was the least recently used one
    now[0] = 100.0
    assert len(store) == 0
    with pytest.raises(ValueError, match="session_id"):
        store.get("")

    store = SessionStore()
    errors = []

    def worker(k: int) -> None:
        try:
            for i in range(200):
                store.get(f"s{(k * 200 + i) % 50}")
        except Exception as exc:  # pragma: no cover - only on a race
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(store) == 50


def test_unknown_ticker_with_context_is_not_answered_for_the_previous_symbol():
    from stockvision.chat.intents import IntentParser
    from stockvision.chat.symbols import SymbolResolver
    from stockvision.market.listings import LISTINGS

    parser = IntentParser(SymbolResolver(LISTINGS))
    ctx = type("Ctx", (), {"last_symbols": ["VNM"], "last_intent": "predict"})()
    q = parser.parse("dự đoán XYZ", ctx)
    assert q.symbols == [] and "XYZ" in q.unknown and not q.follow_up
    # the same question without the unknown ticker still follows the conversation
    assert parser.parse("còn tháng sau thì sao?", ctx).symbols == ["VNM"]
