"""The web chat: a Gradio Blocks app mounted at ``/chat`` in the FastAPI app.

Two tabs: the conversation (chat, example questions, a VI/EN/auto language switch and the chart
panel, drawn after the answer so the text is never held up by it) and a CSV upload that predicts
from the user's own export without writing it anywhere. Each browser session gets its own
session id (``gr.State``), so the engine's follow-up context and the chat history are per session.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI

from stockvision.chat import answers as A
from stockvision.chat.charts import build_chart, empty_figure, figure_for
from stockvision.chat.text import escape_markdown
from stockvision.errors import StockVisionError
from stockvision.predict.types import Prediction
from stockvision.predict.upload import FORMAT_HINT, FORMAT_HINT_VI

log = logging.getLogger(__name__)

UI_PATH = "/chat"
MAX_UPLOAD = "20mb"
EXAMPLES = [
    "Dự đoán giá VNM tháng sau?",
    "Mã nào tăng tháng tới?",
    "Tại sao FPT tăng?",
    "so sánh HPG và HSG",
    "mô hình chính xác không?",
    "Predict FPT next month",
]
LANGUAGES = [("Tự động / Auto", "auto"), ("Tiếng Việt", "vi"), ("English", "en")]
CSS = """
#sv-header h1 {margin-bottom: 0}
#sv-header p {margin-top: 4px; color: var(--body-text-color-subdued)}
.sv-examples button {font-size: 0.85em !important}
#sv-upload-result {min-height: 120px}
"""
HEADER = """# Stock Vision
Dự báo 1 tháng cho cổ phiếu Việt Nam (HoSE/HNX/UPCoM): giá mục tiêu kèm khoảng tin cậy, xu hướng
tăng/giảm/đi ngang và lý do. *One-month-ahead outlook for Vietnamese stocks.*
**Không phải khuyến nghị đầu tư / not investment advice.**"""


def _language(value: str | None) -> str | None:
    return value if value in ("vi", "en") else None


def _new_session(engine: Any) -> str:
    maker = getattr(engine, "new_session_id", None)
    if maker is not None:
        return maker()
    import uuid

    return uuid.uuid4().hex


def upload_summary(info: dict[str, Any], lang: str) -> str:
    """One line about what was read from the uploaded file."""
    if not info:
        return ""
    vi = lang == "vi"
    d0 = A.fmt_date(date.fromisoformat(info["first_date"]), lang)
    d1 = A.fmt_date(date.fromisoformat(info["last_date"]), lang)
    file = escape_markdown(info["file"])
    text = (
        f"{file}: {info['rows']} phiên, {info['symbols']} mã, {d0} → {d1}"
        if vi
        else f"{file}: {info['rows']} sessions, {info['symbols']} symbol(s), {d0} → {d1}"
    )
    if info.get("rows_skipped"):
        text += (
            f"; bỏ qua {info['rows_skipped']} dòng lỗi"
            if vi
            else f"; {info['rows_skipped']} bad row(s) skipped"
        )
        if info.get("problems"):
            text += f" ({'; '.join(escape_markdown(x) for x in info['problems'][:2])})"
    short = info.get("too_short") or {}
    if short:
        listed = ", ".join(f"{escape_markdown(s)} ({n})" for s, n in short.items())
        need = info.get("min_weeks")
        text += (
            f"; chưa đủ {need} tuần để dự báo: {listed}"
            if vi
            else f"; under {need} weeks, not predicted: {listed}"
        )
    return text + "."


class _AgentReply:
    """The agent's answer in the shape the UI draws from (answer, predictions, chart)."""

    def __init__(self, resp: Any) -> None:
        self.answer = resp.answer
        self.language = resp.language
        found: list[dict] = []
        for c in resp.tool_calls:  # predictions from predict (one), rank (a list), market (items)
            result = c.result.get("items") if c.name == "market" else c.result
            if c.name in ("predict", "rank", "market") and result:
                found += [r for r in (result if isinstance(result, list) else [result])]
        self.predictions = [
            Prediction.model_validate(r)
            for r in found
            if isinstance(r, dict) and "price_target" in r
        ]
        charts = [c for c in resp.tool_calls if c.name == "history" and c.args.get("symbol")]
        self.chart_symbol = charts[0].args["symbol"] if charts and resp.intent == "chart" else None
        self.chart_weeks = charts[0].args.get("weeks") if self.chart_symbol else None


def new_user_id(current: str | None) -> str:
    """The browser's user id for the agent's memory: kept if valid, else a new random one."""
    import re
    import uuid

    if current and re.fullmatch(r"[A-Za-z0-9_-]{8,100}", str(current)):
        return str(current)
    return uuid.uuid4().hex


LIVE_OFF = {
    "vi": "Dữ liệu trực tiếp đang tắt (bật SV_STREAM_ENABLED).",
    "en": "Live data is off (turn on SV_STREAM_ENABLED).",
}


def live_panel(latest: Any, symbol: str | None, lang: str | None) -> str:
    """The live panel's text: the newest price and refreshed forecast of ``symbol``.

    ``latest(kind, symbol)`` is passed in by the composition (it reads the stream hub); None means
    the live side is off. Everything shown comes from numbers or is escaped.
    """
    vi = _language(lang) != "en"
    if latest is None:
        return LIVE_OFF["vi" if vi else "en"]
    if not symbol:
        return (
            "Chọn một mã (hoặc hỏi về một mã) để xem giá trực tiếp."
            if vi
            else "Pick a symbol (or ask about one) to see it live."
        )
    sym = escape_markdown(str(symbol))
    bar = latest("price", symbol)
    if bar is None:
        return f"**{sym}**: " + ("chưa có giá trực tiếp." if vi else "no live price yet.")
    data = bar.get("data") or {}
    when = _utc_minute(bar.get("time") or 0)
    change = data.get("change_pct")
    text = f"**{sym}** {when} UTC: {float(data['price']):,.0f} VND"
    if change is not None:
        text += f" ({float(change):+.2f} %)"
    pred = latest("prediction", symbol)
    pdata = (pred or {}).get("data") or {}
    interval = pdata.get("interval") or {}
    if pdata.get("price_target") is not None and interval:
        label = "Dự báo 4 tuần, cập nhật" if vi else "4-week forecast, refreshed"
        ptime = _utc_minute((pred or {}).get("time"))
        version = (pdata.get("model_versions") or {}).get("price")
        made = f" {ptime} UTC" if ptime else ""
        if version:
            made += f", {'mô hình' if vi else 'model'} v{escape_markdown(str(version))}"
        unit = ("điểm" if vi else "points") if pdata.get("unit") == "points" else "VND"
        # the range first, then its median (the order of every other answer)
        text += (
            f"  \n{label}{made}: {'khoảng 80 %' if vi else '80 % range'} "
            f"{float(interval['low']):,.0f} – {float(interval['high']):,.0f} {unit}, "
            f"{'trung vị' if vi else 'median'} {float(pdata['price_target']):,.0f}"
        )
    return text


def _utc_minute(time_ns: Any) -> str | None:
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(int(time_ns) / 1e9, UTC).strftime("%Y-%m-%d %H:%M")
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def make_handlers(
    engine: Any,
    service: Any,
    agent: Any = None,
    latest: Any = None,
    live_symbols: Any = None,
) -> dict[str, Any]:
    """The UI's event functions, plain Python (tested without a browser).

    With an ``agent`` and the browser's user id, questions go through the agent (memory of the
    user's holdings across visits, grounded answers); without, through the chat engine.
    """

    def ask(
        message: str,
        history: list[dict] | None,
        session_id: str | None,
        lang: str | None,
        user_id: str | None = None,
    ):
        history = list(history or [])
        text = (message or "").strip()
        if not text:
            return history, "", session_id, None
        sid = session_id or _new_session(engine)
        if agent is not None and user_id:
            resp = _AgentReply(agent.chat(text, new_user_id(user_id), sid, _language(lang)))
        else:
            resp = engine.ask(text, sid, _language(lang))
        history += [
            {"role": "user", "content": text},
            {"role": "assistant", "content": resp.answer},
        ]
        symbol = resp.chart_symbol or (resp.predictions[0].symbol if resp.predictions else None)
        chart = None
        if symbol:
            pred = next((p for p in resp.predictions if p.symbol == symbol), None)
            chart = {
                "symbol": symbol,
                "weeks": resp.chart_weeks or 52,
                "prediction": pred.model_dump(mode="json") if pred else None,
                "language": resp.language,
            }
        return history, "", sid, chart

    def chart(request: dict | None):
        if not request:
            return gr.skip()
        pred = request.get("prediction")
        prediction = Prediction.model_validate(pred) if pred else None
        if prediction is None:  # chart/history questions: add the current forecast if there is one
            try:
                prediction = service.predict_one(request["symbol"], "chat")
            except Exception:
                prediction = None
        return build_chart(
            service, request["symbol"], int(request.get("weeks") or 52), prediction,
            request.get("language") or "vi",
        )  # fmt: skip

    def clear(session_id: str | None):
        if session_id and hasattr(engine, "sessions"):
            engine.sessions.reset(session_id)
        return [], None, empty_figure("📊")

    def upload(path: str | None, lang: str | None):

        language = _language(lang) or "vi"
        if not path:
            return gr.skip(), gr.skip()
        try:
            data, name = take_upload(path)
            preds, weekly = service.predict_upload(data, name)
        except StockVisionError as exc:
            vi = language == "vi"
            msg = escape_markdown(exc.message_vi if vi else exc.message)
            tip = FORMAT_HINT_VI if vi and exc.hint == FORMAT_HINT else exc.hint
            hint = f"\n\n{'Gợi ý' if vi else 'Hint'}: {escape_markdown(tip)}" if tip else ""
            title = "Không dự báo được từ file này" if vi else "Cannot predict from this file"
            return f"### ⚠ {title}\n\n{msg}{hint}", empty_figure("—")
        except Exception:  # a bug must not leave the user without an answer
            log.exception("upload prediction failed")
            vi = language == "vi"
            text = (
                "Lỗi hệ thống khi đọc file; đã ghi lại để kiểm tra. Vui lòng thử lại sau."
                if vi
                else "A system error occurred while reading the file; it was logged. Try again later."
            )
            return f"### ⚠ {text}", empty_figure("—")
        note = (
            "Dự báo từ file tải lên (file đã được xoá, không lưu vào kho dữ liệu)"
            if language == "vi"
            else "Forecast from the uploaded file (deleted after reading; nothing was stored)"
        )
        summary = upload_summary(weekly.attrs.get("summary") or {}, language)
        body = f"**{note}** — {summary}\n\n" + A.format_predictions(preds[:10], language)
        first = preds[0]
        bars = weekly.loc[weekly["symbol"] == first.symbol]
        fig = figure_for(
            first.symbol,
            bars,
            prediction=first,
            language=language,
            subtitle=note,
        )
        title = "Kết quả dự báo" if language == "vi" else "Forecast"
        answer = A.compose(body, language, False).replace("\n", "  \n")
        return f"### {title}\n*{note}*\n\n{answer}", fig

    def live(symbol: str | None, lang: str | None):
        return live_panel(latest, symbol or None, lang)

    def symbols():
        """The dropdown's choices: the symbols the store holds (read at each page load)."""
        return gr.update(choices=list(live_symbols()) if live_symbols is not None else [])

    def follow(request: dict | None, current: str | None):
        """The panel follows the symbol the user just asked about (if the store holds it)."""
        symbol = (request or {}).get("symbol")
        if not symbol or symbol == current:
            return gr.skip()
        held = set(live_symbols()) if live_symbols is not None else set()
        return gr.update(value=symbol) if symbol in held else gr.skip()

    return {"ask": ask, "chart": chart, "clear": clear, "upload": upload, "user": new_user_id,
            "live": live, "symbols": symbols, "follow": follow}  # fmt: skip


#: handlers of the live panel: cheap reads polled by the page, charged to the ``ui`` rate bucket
#: (the guard learns their Gradio function indices from :func:`ui_event_indices`)
LIVE_HANDLERS = ("live", "symbols", "follow")


def ui_event_indices(blocks: gr.Blocks) -> set[int]:
    """Gradio function indices (``fn_index`` of ``queue/join``) of the live panel's handlers."""
    wanted = getattr(blocks, "sv_ui_handlers", ())
    return {i for i, fn in blocks.fns.items() if fn.fn is not None and fn.fn in wanted}


LIVE_EVERY_S = 5.0


def build_blocks(
    engine: Any,
    service: Any,
    agent: Any = None,
    latest: Any = None,
    live_symbols: Any = None,
) -> gr.Blocks:
    """The Gradio app (not yet mounted); ``latest``: the live side's reader, or None when off;
    ``live_symbols()``: the symbols the live panel's dropdown offers (the store's)."""
    h = make_handlers(engine, service, agent, latest, live_symbols)
    with gr.Blocks(title="Stock Vision — Chat", fill_width=True) as blocks:
        session = gr.State(None)
        # a random id kept in the browser (localStorage): the agent's memory of this user
        user = gr.BrowserState(None, storage_key="stockvision_user_id")
        chart_request = gr.State(None)
        gr.Markdown(HEADER, elem_id="sv-header")
        with gr.Row():
            lang = gr.Radio(
                LANGUAGES,
                value="auto",
                label="Ngôn ngữ trả lời / Answer language",
                scale=0,
                min_width=560,
            )
        with gr.Tabs():
            with gr.Tab("Trò chuyện / Chat", id="chat"), gr.Row(equal_height=False):
                with gr.Column(scale=5, min_width=360):
                    chatbot = gr.Chatbot(
                        label="Stock Vision",
                        height=520,
                        elem_id="sv-chatbot",
                        buttons=["copy"],
                        feedback_options=None,
                        placeholder=(
                            "Hỏi về cổ phiếu, ví dụ “Dự đoán giá VNM tháng sau?”<br>"
                            "Ask about a stock, e.g. “Predict FPT next month”."
                        ),
                    )
                    with gr.Row():
                        box = gr.Textbox(
                            placeholder="Nhập câu hỏi… / Type a question…",
                            show_label=False,
                            scale=5,
                            elem_id="sv-input",
                            autofocus=True,
                        )
                        send = gr.Button("Gửi / Send", variant="primary", scale=1)
                    gr.Markdown("**Câu hỏi mẫu / Examples**")
                    with gr.Row(elem_classes="sv-examples"):
                        example_buttons = [
                            gr.Button(q, size="sm", variant="secondary") for q in EXAMPLES
                        ]
                    clear = gr.Button("Xoá hội thoại / Clear", size="sm")
                with gr.Column(scale=6, min_width=420):
                    with gr.Row():
                        live_symbol = gr.Dropdown(
                            choices=list(live_symbols()) if live_symbols is not None else [],
                            value=None,
                            label="Mã trực tiếp / Live symbol",
                            elem_id="sv-live-symbol",
                            interactive=latest is not None,
                            filterable=True,
                            scale=1,
                            min_width=160,
                        )
                        live_box = gr.Markdown(
                            LIVE_OFF["vi"] if latest is None else live_panel(latest, None, "vi"),
                            elem_id="sv-live",
                        )
                    plot = gr.Plot(label="Biểu đồ / Chart", elem_id="sv-chart")
            with gr.Tab("Tải CSV / Upload CSV", id="upload"):
                gr.Markdown(
                    "Tải lên file giá **ngày** (OHLCV) xuất từ công ty chứng khoán, investing.com, "
                    "vnstock hay Excel — ít nhất 26 tuần. File chỉ dùng để dự báo, không được lưu.  \n"
                    "*Upload a daily OHLCV export (broker, investing.com, vnstock, Excel), at least "
                    "26 weeks. It is used for this forecast only and not stored.*"
                )
                with gr.Row(equal_height=False):
                    with gr.Column(scale=4, min_width=320):
                        upload_file = gr.File(
                            label="File CSV", file_types=[".csv", ".txt"], elem_id="sv-upload"
                        )
                        upload_result = gr.Markdown(elem_id="sv-upload-result")
                    with gr.Column(scale=6, min_width=420):
                        upload_plot = gr.Plot(label="Biểu đồ / Chart", elem_id="sv-upload-chart")

        ask_io = {"outputs": [chatbot, box, session, chart_request]}
        for i, trigger in enumerate((box.submit, send.click)):
            trigger(
                h["ask"],
                [box, chatbot, session, lang, user],
                api_name="ask" if i == 0 else "ask_button",
                api_visibility="public" if i == 0 else "undocumented",
                **ask_io,
            ).then(h["chart"], [chart_request], [plot], api_name=f"chart_{i}",
                   api_visibility="undocumented")  # fmt: skip
        for i, (btn, question) in enumerate(zip(example_buttons, EXAMPLES, strict=True)):
            example = gr.State(question)
            btn.click(
                h["ask"],
                [example, chatbot, session, lang, user],
                api_name=f"example_{i}",
                api_visibility="undocumented",
                **ask_io,
            ).then(h["chart"], [chart_request], [plot], api_name=f"example_chart_{i}",
                   api_visibility="undocumented")  # fmt: skip
        clear.click(
            h["clear"],
            [session],
            [chatbot, chart_request, plot],
            api_name="clear",
            api_visibility="undocumented",
        )
        blocks.load(h["user"], [user], [user], api_visibility="undocumented")
        if latest is not None:  # polls the hub's newest message; a timer tick is a queue/join
            quiet = {"api_name": False, "api_visibility": "private", "show_progress": "hidden"}
            timer = gr.Timer(LIVE_EVERY_S)
            timer.tick(h["live"], [live_symbol, lang], [live_box], **quiet)
            live_symbol.change(h["live"], [live_symbol, lang], [live_box], **quiet)
            chart_request.change(h["follow"], [chart_request, live_symbol], [live_symbol], **quiet)
            blocks.load(h["symbols"], None, [live_symbol], **quiet)
        blocks.sv_ui_handlers = tuple(h[name] for name in LIVE_HANDLERS)
        upload_file.upload(
            h["upload"],
            [upload_file, lang],
            [upload_result, upload_plot],
            api_name="upload_csv",
        )
    return blocks


def upload_dir() -> Path:
    """Where Gradio keeps uploads while a request is handled (``GRADIO_TEMP_DIR``)."""
    import os

    return Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio")


def take_upload(path: str) -> tuple[bytes, str]:
    """The bytes of a file Gradio received for this request, then the file is deleted.

    Only a file inside the upload folder is read: a client-supplied path anywhere else is refused
    (Gradio checks this too; this is the second lock). Nothing of an upload outlives the request.
    """
    from stockvision.errors import BadUploadError

    folder = upload_dir().resolve()
    file = Path(path).resolve()
    if not file.is_relative_to(folder) or not file.is_file():
        raise BadUploadError(
            "The upload was not received as a file from your browser.",
            "Choose the CSV file again with the upload button.",
            message_vi="Không nhận được file tải lên từ trình duyệt.",
        )
    try:
        data = file.read_bytes()
    finally:
        file.unlink(missing_ok=True)
        if file.parent != folder:  # Gradio keeps each upload in a folder of its own
            shutil.rmtree(file.parent, ignore_errors=True)
    return data, file.name


def _private_paths(home: Path, keep: Path) -> list[str]:
    """Everything in the data directory but the upload area: never served, never read for a client."""
    names = {"stockvision.db", "mlflow.db", "mlartifacts", "models", "snapshots", "reports",
             "pipeline", "registry", "monitoring", "cache", "memory", "news", "stream"}  # fmt: skip
    present = {p.name for p in home.iterdir()} if home.is_dir() else set()
    return sorted(str(home / n) for n in names | present if home / n != keep)


def mount_chat_ui(
    app: FastAPI,
    engine: Any,
    service: Any,
    agent: Any = None,
    latest: Any = None,
    live_symbols: Any = None,
    ui_events: set[int] | None = None,
) -> FastAPI:
    """Mount the chat at ``/chat/`` on ``app`` (``engine``: a ``ChatService`` or ``ChatEngine``).

    Uploads land in a private folder under the data directory (mode 0700) and are deleted after use.
    Mounted apps skip Gradio's own path checks unless the blocks count as launched, so they are
    marked launched: then a client can only name files Gradio itself received from an upload.
    """
    import os

    private = Path(service.settings.subdir("tmp")) / "gradio"
    private.mkdir(parents=True, exist_ok=True)
    private.chmod(0o700)
    os.environ["GRADIO_TEMP_DIR"] = str(private)
    blocks = build_blocks(engine, service, agent, latest, live_symbols)
    if ui_events is not None:  # the guard charges these polls to the ui bucket
        ui_events.update(ui_event_indices(blocks))
    mounted = gr.mount_gradio_app(
        app,
        blocks,
        path=UI_PATH,
        theme=gr.themes.Soft(primary_hue="blue"),
        css=CSS,
        footer_links=["api"],
        max_file_size=MAX_UPLOAD,
        show_error=False,  # handlers answer every error themselves; Gradio's own echo the request
        allowed_paths=[],
        blocked_paths=_private_paths(Path(service.settings.home), keep=private.parent),
    )
    blocks.has_launched = True  # turns on Gradio's own checks of file paths named by clients
    return mounted
