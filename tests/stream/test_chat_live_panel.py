"""The chat page's live panel reads the hub of an app with the live side on the memory bus."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from stockvision.chat.ui import LIVE_OFF, live_panel
from stockvision.config import Settings
from stockvision.serving.app import create_app, live_latest


def _wait(pred, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_live_panel_shows_a_price_that_moves_after_ticks(tmp_path):
    settings = Settings(data_dir=tmp_path, stream_enabled=True, stream_bus="memory://",
                        stream_prefix="uipanel")  # fmt: skip
    app = create_app(settings, start_background=False, mount_chat_ui=False)
    latest = live_latest(app.state)
    with TestClient(app) as client:
        bus = app.state.live.bus

        async def publish(price, minute):
            await bus.publish_many("bars", [({"symbol": "VNM", "price": price, "change_pct": 0.5,
                                              "time": minute * 60 * 10**9}, "VNM",
                                             f"bar:VNM:{minute}")])  # fmt: skip

        client.portal.call(publish, 61000.0, 1)
        assert _wait(lambda: (latest("price", "VNM") or {}).get("data", {}).get("price") == 61000)
        first = live_panel(latest, "VNM", "en")
        client.portal.call(publish, 61500.0, 2)
        assert _wait(lambda: latest("price", "VNM")["data"]["price"] == 61500)
        second = live_panel(latest, "VNM", "vi")
    assert "61,000 VND" in first and "+0.50 %" in first and "**VNM**" in first
    assert "61,500 VND" in second and first != second
    assert live_panel(None, "VNM", "en") == LIVE_OFF["en"]
    assert "<b>" not in live_panel(lambda k, s: None, "<b>x</b>", "en")


def _reader(messages):
    """``latest(kind, symbol)`` over a dict {(kind, symbol): message}, as the hub holds them."""
    return lambda kind, symbol: messages.get((kind, symbol))


def _forecast(target, low, high, minute, version="7"):
    return {"kind": "prediction", "symbol": "VNM", "seq": minute, "time": minute * 60 * 10**9,
            "data": {"symbol": "VNM", "price_target": target, "live": True,
                     "interval": {"low": low, "high": high, "coverage": 0.8},
                     "model_versions": {"price": version, "pattern": "3"}}}  # fmt: skip


def test_the_forecast_line_shows_the_newest_live_forecast_with_its_version_and_time():
    bar = {"kind": "price", "symbol": "VNM", "seq": 1, "time": 1_700_000_000 * 10**9,
           "data": {"symbol": "VNM", "price": 61000.0, "change_pct": -0.25}}  # fmt: skip
    messages = {("price", "VNM"): bar}
    no_forecast = live_panel(_reader(messages), "VNM", "en")
    assert "61,000 VND (-0.25 %)" in no_forecast and "forecast" not in no_forecast
    messages[("prediction", "VNM")] = _forecast(63250.4, 55100.0, 71900.0, 28_333_340)
    first = live_panel(_reader(messages), "VNM", "en")
    line = first.split("\n")[1]
    assert line == (
        "4-week forecast, refreshed 2023-11-14 22:20 UTC, model v7: "
        "80 % range 55,100 – 71,900 VND, median 63,250"
    )
    messages[("prediction", "VNM")] = _forecast(64000.0, 56000.0, 72500.0, 28_333_345, "8")
    second = live_panel(_reader(messages), "VNM", "vi")
    assert second.split("\n")[1] == (
        "Dự báo 4 tuần, cập nhật 2023-11-14 22:25 UTC, mô hình v8: "
        "khoảng 80 % 56,000 – 72,500 VND, trung vị 64,000"
    )
    # a forecast without an interval (a malformed message) shows the price only, never a guess
    messages[("prediction", "VNM")] = {"data": {"price_target": 64000.0}}
    assert "\n" not in live_panel(_reader(messages), "VNM", "en")
    # another symbol's forecast is never shown under this one
    assert "forecast" not in live_panel(_reader({("price", "VNM"): bar,
                                                 ("prediction", "FPT"): _forecast(1, 0, 2, 1)}),
                                        "VNM", "en")  # fmt: skip


def test_the_live_panel_polls_are_charged_to_the_ui_bucket_and_answers_to_the_api_one(tmp_path):
    """``queue/join`` of the panel's handlers costs a ``ui`` unit; an answer costs an ``api`` one."""
    from stockvision.chat.ui import LIVE_HANDLERS

    settings = Settings(data_dir=tmp_path, stream_enabled=True, stream_bus="memory://",
                        stream_prefix="uibucket", rate_limit_per_minute=3,
                        ui_rate_limit_per_minute=1000)  # fmt: skip
    app = create_app(settings, start_background=False)
    events = app.state.chat_ui_events
    assert len(events) >= len(LIVE_HANDLERS)  # timer tick, dropdown change, follow, load
    ask = next(i for i in range(500) if i not in events)  # the first other event: the question
    with TestClient(app) as client:

        def join(fn_index):
            body = {"data": [None, "vi"], "fn_index": fn_index, "session_hash": "abcdefgh12"}
            return client.post("/chat/gradio_api/queue/join", json=body).status_code

        polls = [join(i) for i in sorted(events) for _ in range(4)]
        assert 429 not in polls, polls  # 4 x each poll > the api limit of 3
        answers = [join(ask) for _ in range(4)]
        assert answers[-1] == 429 and 429 not in answers[:3], answers
        assert join(min(events)) != 429  # polls still go through once the api bucket is spent
        big = client.post("/chat/gradio_api/queue/join",
                          content=b'{"fn_index": 1, "data": ["' + b"x" * 70_000 + b'"]}',
                          headers={"content-type": "application/json",
                                   "transfer-encoding": "chunked"})  # fmt: skip
        assert big.status_code == 413


def test_a_new_demo_pass_is_delivered_although_its_ids_repeat_the_previous_pass():
    """The embedded demo replays the same days again: the hub drops a repeated ``msg_id`` (an
    at-least-once duplicate) until the pass starts and it forgets them."""
    from stockvision.stream.bus import Message
    from stockvision.stream.hub import Hub

    hub = Hub(bus=None)
    bar = lambda seq, price: Message(stream="bars", seq=seq, data={"symbol": "VNM", "price": price},  # noqa: E731
                                     key="VNM", msg_id="bar:VNM:1", time=0.0)  # fmt: skip
    hub.dispatch(bar(1, 61000.0))
    hub.dispatch(bar(2, 61000.0))  # a redelivery within the pass: dropped
    assert hub.duplicates == 1 and hub.last["price"]["VNM"]["seq"] == 1
    hub.forget_seen()  # the next pass
    hub.dispatch(bar(3, 61000.0))
    assert hub.last["price"]["VNM"]["seq"] == 3 and hub.duplicates == 1
