"""End to end in a real browser: headless Chromium (Playwright) against the running app at /chat/.

Screenshots go to ``artifacts/screenshots/`` (git-ignored) for a human to look at.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

import pytest
from chat_trained_helpers import write_index_style_csv

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
BOT = '#sv-chatbot [data-testid="bot"]'
PRICE = re.compile(
    r"\d{1,3}(?:\.\d{3})*,\d{1,2} nghìn đồng"
)  # Vietnamese format: "123,7 nghìn đồng"
TICKER = re.compile(r"\b[A-Z]{3}\b:")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def live_url(trained_settings):
    """The real app (API + Gradio chat) served by uvicorn on a free loopback port."""
    import httpx
    import uvicorn

    from stockvision.serving.app import create_app

    app = create_app(trained_settings, start_background=False)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="sv-test-uvicorn", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/chat/", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    else:
        raise RuntimeError("the app did not start within 90 s")
    yield url
    server.should_exit = True
    thread.join(timeout=30)


@pytest.fixture()
def page():
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        pg = browser.new_page(viewport={"width": 1440, "height": 1000}, locale="vi-VN")
        pg.set_default_timeout(60_000)
        yield pg
        browser.close()


def _ask(page, question: str) -> str:
    before = page.locator(BOT).count()
    page.fill("#sv-input textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "([sel, n]) => document.querySelectorAll(sel).length > n", arg=[BOT, before]
    )
    return page.locator(BOT).nth(before).inner_text()


def _wait_chart(page, panel: str, symbol: str) -> None:
    """Until the panel's Plotly title names ``symbol`` (the chart is drawn after the answer)."""
    page.wait_for_function(
        "([panel, sym]) => { const t = document.querySelector(panel + ' .gtitle');"
        " return !!t && t.textContent.startsWith(sym); }",
        arg=[panel, symbol],
    )


def test_chat_and_upload_in_a_real_browser(live_url, page, vn30_daily_path, tmp_path):
    refused: list[str] = []  # what the page asked for and the guard does not serve (must be none)
    page.on(
        "response",
        lambda r: refused.append(r.url) if r.status in (404, 429) and "/chat" in r.url else None,
    )
    page.goto(f"{live_url}/chat/")
    page.wait_for_selector("#sv-input textarea")

    answer = _ask(page, "Dự đoán giá VNM tháng sau?")
    assert "VNM" in answer and PRICE.search(answer), answer
    assert "không phải khuyến nghị đầu tư" in answer
    _wait_chart(page, "#sv-chart", "VNM")  # the chart follows the answer
    page.screenshot(path=str(SHOTS / "chat_predict_vnm.png"), full_page=True)

    ranking = _ask(page, "Mã nào tăng tháng tới?")
    listed = TICKER.findall(ranking)
    assert len(listed) >= 3, ranking
    _wait_chart(page, "#sv-chart", listed[0].rstrip(":"))
    page.screenshot(path=str(SHOTS / "chat_ranking.png"), full_page=True)

    page.get_by_role("button", name="so sánh HPG và HSG").click()  # an example button
    page.wait_for_function("([sel]) => document.querySelectorAll(sel).length >= 3", arg=[BOT])
    assert "HPG" in page.locator(BOT).nth(2).inner_text()

    csv = write_index_style_csv(vn30_daily_path, "VNM", tmp_path / "VNM Historical Data.csv")
    page.get_by_role("tab", name="Tải CSV / Upload CSV").click()
    page.set_input_files("#sv-upload input[type=file]", str(csv))
    page.wait_for_function(
        "() => document.querySelector('#sv-upload-result').innerText.includes('Kết quả dự báo')"
    )
    result = page.locator("#sv-upload-result").inner_text()
    assert "VNM" in result and PRICE.search(result), result
    _wait_chart(page, "#sv-upload-chart", "VNM")
    page.screenshot(path=str(SHOTS / "upload_vnm.png"), full_page=True)

    bad = tmp_path / "broken.csv"
    bad.write_text("foo,bar\n1,2\n", encoding="utf-8")
    page.locator("#sv-upload button[aria-label='Clear']").click()  # back to the drop zone
    page.set_input_files("#sv-upload input[type=file]", str(bad))
    page.wait_for_function(
        "() => document.querySelector('#sv-upload-result').innerText.includes('Không dự báo được')"
    )
    assert "missing required column" in page.locator("#sv-upload-result").inner_text()
    page.screenshot(path=str(SHOTS / "upload_bad_file.png"), full_page=True)
    assert refused == [], f"the chat UI asked for routes the guard refuses: {refused}"
