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
