"""What a person running ``scripts/run.sh`` sees: the chat page's live panel moving, in a real browser.

The real app (API + Gradio chat) on uvicorn, on a free port, with the live side on the in-process
bus exactly as ``scripts/run.sh`` serves it (``SV_STREAM_ENABLED=1``, ``memory://``, replay of the
stored days through the stream worker with the served champions), on the trained system. Headless
Debian Chromium driven by Playwright (no downloaded browser). The panel's price line and forecast
line must both change over time, its symbol must follow the question and the dropdown, and none of
the page's polls may be refused (the API bucket is set low: polls charged to it would be).
Screenshots go to ``artifacts/screenshots/``.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path

import pytest
from live_server import free_port

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
PRICE_LINE = re.compile(
    r"^\*?\*?(?P<sym>[A-Z0-9]+)\*?\*? \d{4}-\d\d-\d\d \d\d:\d\d UTC: [\d,]+ VND"
)
FORECAST_LINE = re.compile(
    r"^Dự báo 4 tuần, cập nhật .* UTC, mô hình v\d+: khoảng 80 % [\d,]+ – [\d,]+ VND, "
    r"trung vị [\d,]+$"
)


@pytest.fixture()
def run_sh_app(trained_settings):
    """The app as ``scripts/run.sh`` serves it, live side on; replay fast so a test sees it move."""
    import uvicorn

    from stockvision.cli.serve_cmds import WS_PROTOCOL
    from stockvision.serving.app import create_app

    settings = trained_settings.model_copy(
        update={
            "stream_enabled": True,
            "stream_bus": "memory://",
            "stream_speed": 600.0,  # 10 market minutes a second: a session day in ~27 s
            "rate_limit_per_minute": 10,  # 12 polls a minute would be refused if charged to api
        }
    )
    app = create_app(settings, start_background=False)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", ws=WS_PROTOCOL)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="sv-live-browser", daemon=True)
    thread.start()
    deadline = time.monotonic() + 120
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.1)
    yield f"http://127.0.0.1:{port}", app
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture()
def page():
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (scripts/services.sh installs it)")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        pg = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="vi-VN")
        pg.set_default_timeout(90_000)
        yield pg
        browser.close()


def _panel(page) -> tuple[str | None, str | None, str | None]:
    """(symbol, price line, forecast line) of the live panel as the browser shows it."""
    lines = [x.strip() for x in page.locator("#sv-live").inner_text().splitlines() if x.strip()]
    price = next((x for x in lines if PRICE_LINE.match(x)), None)
    forecast = next((x for x in lines if FORECAST_LINE.match(x)), None)
    symbol = PRICE_LINE.match(price).group("sym") if price else None
    return symbol, price, forecast


def _watch(page, symbol: str, seconds: float) -> list[tuple[str | None, str | None]]:
    """The panel's (price line, forecast line) of ``symbol`` every second for up to ``seconds``,
    until both have changed at least once."""
    seen: list[tuple[str | None, str | None]] = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        sym, price, forecast = _panel(page)
        if sym == symbol and price and forecast:
            if not seen or seen[-1] != (price, forecast):
                seen.append((price, forecast))
            if len({p for p, _ in seen}) >= 3 and len({f for _, f in seen}) >= 2:
                break
        page.wait_for_timeout(1000)
    return seen


def test_run_sh_page_shows_prices_and_forecasts_moving(run_sh_app, page):
    url, app = run_sh_app
    refused: list[str] = []
    page.on(
        "response", lambda r: refused.append(f"{r.status} {r.url}") if r.status >= 400 else None
    )
    page.goto(f"{url}/chat/")
    page.wait_for_selector("#sv-input textarea")
    page.wait_for_selector("#sv-live-symbol")
    assert "Chọn một mã" in page.locator("#sv-live").inner_text()

    # asking about a symbol points the live panel at it
    page.fill("#sv-input textarea", "Dự đoán giá VNM tháng sau?")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => /\\bVNM\\b .* UTC: /.test(document.querySelector('#sv-live').innerText)",
        timeout=120_000,
    )
    seen = _watch(page, "VNM", 150)
    page.screenshot(path=str(SHOTS / "live_panel_vnm.png"), full_page=True)
    prices = [p for p, _ in seen]
    forecasts = [f for _, f in seen]
    assert len(set(prices)) >= 3, f"the live price did not move: {seen}"
    assert len(set(forecasts)) >= 2, f"the forecast was not refreshed: {seen}"

    # the dropdown offers the store's symbols and switches the panel
    page.locator("#sv-live-symbol input").click()
    page.locator("#sv-live-symbol input").fill("FPT")
    page.get_by_role("option", name="FPT", exact=True).click()
    page.wait_for_function(
        "() => /\\bFPT\\b .* UTC: /.test(document.querySelector('#sv-live').innerText)"
    )
    fpt = _watch(page, "FPT", 60)
    page.screenshot(path=str(SHOTS / "live_panel_fpt.png"), full_page=True)
    assert fpt and all("FPT" in p for p, _ in fpt)
    assert refused == [], f"requests of the page were refused: {refused}"
    worker_hub = app.state.live.hub
    assert worker_hub.status()["received"] > 0 and app.state.live.error is None
