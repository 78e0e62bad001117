"""Chat engine: parse a message, call the injected prediction services, format the answer.

The engine knows nothing about models or storage; it receives four plain functions:

* ``predict_fn(symbol) -> Prediction``
* ``rank_fn(symbols, direction, top_n) -> list[Prediction]`` — best first; ``symbols`` restricts the
  universe (a sector group) or is ``None`` for all; ``direction`` is "up" or "down".
* ``history_fn(symbol, weeks) -> pandas.DataFrame`` with ``date`` and ``close`` (raw VND) columns;
  ``frame.attrs["simulated"] = True`` marks synthetic data.
* ``metrics_fn() -> dict`` in the walk-forward ``metrics.json`` shape.

Failures raised by them (errors of :mod:`stockvision.errors`) are turned into a friendly message
from their ``code`` and ``details``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import date, datetime
from datetime import time as dt_time
from typing import Any

from pydantic import BaseModel, Field

from stockvision.chat import answers as A
from stockvision.chat.context import SessionStore
from stockvision.chat.intents import IntentParser, ParsedQuery
from stockvision.chat.llm import LLMRephraser
from stockvision.chat.news import NewsFn, format_news, is_news_request
from stockvision.chat.symbols import SymbolResolver
from stockvision.chat.text import escape_markdown, fold
from stockvision.errors import StockVisionError, scrub_paths
from stockvision.predict.types import Prediction

log = logging.getLogger(__name__)

PredictFn = Callable[[str], Prediction]
RankFn = Callable[[Sequence[str] | None, str, int], Sequence[Prediction]]
HistoryFn = Callable[[str, int], Any]
MetricsFn = Callable[[], Mapping[str, Any]]
TrackFn = Callable[[str], Sequence[Any]]  # stored past predictions (``PastPrediction`` items)
MarketFn = Callable[[], Sequence[Prediction]]  # every tracked stock's forecast


class ChatResponse(BaseModel):
    """What the UI / HTTP endpoint shows: the text plus structured data to draw or link."""

    answer: str
    intent: str
    symbols: list[str] = Field(default_factory=list)
    predictions: list[Prediction] = Field(default_factory=list)
    chart_symbol: str | None = None
    chart_weeks: int | None = None
    language: str = "vi"
    suggestions: list[str] = Field(default_factory=list)
    did_you_mean: list[str] = Field(default_factory=list)
    confidence: float = 0.0


class _Reply:
    """Mutable answer under construction."""

    def __init__(self, q: ParsedQuery) -> None:
        self.q = q
        self.body: list[str] = []
        self.preds: list[Prediction] = []
        self.simulated = False
        self.chart_symbol: str | None = None
        self.chart_weeks: int | None = None

    def add(self, text: str) -> None:
        if text:
            self.body.append(text)


class ChatEngine:
    """Stateless per call except for the session store; safe to share between threads."""

    def __init__(
        self,
        predict_fn: PredictFn,
        rank_fn: RankFn,
        history_fn: HistoryFn,
        metrics_fn: MetricsFn,
        listings: Mapping[str, Any],
        sessions: SessionStore | None = None,
        rephraser: LLMRephraser | None = None,
        max_symbols: int = 5,
        default_top_n: int = 5,
        default_chart_weeks: int = 52,
        news_fn: NewsFn | None = None,
        news_limit: int = 5,
        track_fn: TrackFn | None = None,
        market_fn: MarketFn | None = None,
    ) -> None:
        self.track_fn = track_fn
        self.market_fn = market_fn
        self.predict_fn = predict_fn
        self.rank_fn = rank_fn
        self.history_fn = history_fn
        self.metrics_fn = metrics_fn
        self.resolver = SymbolResolver(listings)
        self.parser = IntentParser(self.resolver)
        self.sessions = sessions or SessionStore()
        self.rephraser = rephraser  # optional LLM phrasing, built by the caller from its settings
        self.max_symbols = max_symbols
        self.default_top_n = default_top_n
        self.default_chart_weeks = default_chart_weeks
        self.news_fn = news_fn  # optional: headlines from the store (news layer)
        self.news_limit = news_limit

    # ------------------------------------------------------------------ entry point
    def ask(
        self, text: str, session_id: str = "default", language: str | None = None
    ) -> ChatResponse:
        """Answer one message in the context of ``session_id``."""
        conv = self.sessions.get(session_id)
        q = self.parser.parse(text, conv)
        if language in ("vi", "en"):
            q.language = language
        if self.news_fn is not None and q.symbols and is_news_request(text):
            q.intent = "news"
        reply = _Reply(q)
        handler = getattr(self, f"_on_{q.intent}")
        handler(reply)
        body = "\n\n".join(reply.body)
        if self.rephraser is not None and q.intent not in {"help", "greeting", "out_of_scope"}:
            body = self.rephraser.rephrase(body, q.language)
        answer = A.compose(body, q.language, reply.simulated)
        if q.intent == "memory_forget":
            self.sessions.reset(session_id)
        else:
            self.sessions.record(session_id, q, answer)
        return ChatResponse(
            answer=answer,
            intent=q.intent,
            symbols=list(q.symbols),
            predictions=reply.preds,
            chart_symbol=reply.chart_symbol,
            chart_weeks=reply.chart_weeks,
            language=q.language,
            suggestions=self._suggestions(q, reply),
            did_you_mean=list(q.did_you_mean),
            confidence=q.confidence,
        )

    # ------------------------------------------------------------------ service calls
    def _predict_many(self, reply: _Reply, symbols: Sequence[str]) -> list[Prediction]:
        lang = reply.q.language
        chosen = list(symbols)[: self.max_symbols]
        if len(symbols) > self.max_symbols:
            reply.add(
                f"Mình trả lời {self.max_symbols} mã đầu tiên: {', '.join(chosen)}."
                if lang == "vi"
                else f"Answering the first {self.max_symbols} symbols: {', '.join(chosen)}."
            )
        preds = []
        not_in_demo: list[str] = []
        demo_error: StockVisionError | None = None
        for sym in chosen:
            try:
                preds.append(self.predict_fn(sym))
            except StockVisionError as exc:
                if exc.code == "not_in_demo":  # one sentence for all of them, below
                    not_in_demo.append(sym)
                    demo_error = exc
                else:
                    reply.add(self._error_text(exc, sym, lang))
            except Exception as exc:  # every service failure becomes a message
                reply.add(self._error_text(exc, sym, lang))
        if demo_error is not None:
            reply.add(self._not_in_demo_text(not_in_demo, demo_error, lang, bool(preds)))
        reply.preds.extend(preds)
        reply.simulated |= any(p.simulated for p in preds)
        return preds

    def _rank(self, reply: _Reply, direction: str) -> list[Prediction]:
        q = reply.q
        universe = self.resolver.symbols_in(q.group) if q.group else None
        top_n = q.top_n or self.default_top_n
        try:
            preds = list(self.rank_fn(universe, direction, top_n))[:top_n]
        except Exception as exc:
            reply.add(self._error_text(exc, None, q.language))
            return []
        reply.preds.extend(preds)
        reply.simulated |= any(p.simulated for p in preds)
        return preds

    def _error_text(self, exc: Exception, symbol: str | None, lang: str) -> str:
        """A user's sentence for a failed service call, from the error's ``code`` and ``details``.

        Errors of the hierarchy carry the facts (the weeks needed, the suggestions...), so nothing is
        rebuilt from settings here; an unexpected exception is logged with its traceback and answered
        without its class name.
        """
        if not isinstance(exc, StockVisionError):
            log.error("chat service call failed", exc_info=exc)
            if lang == "vi":
                return "Xin lỗi, hệ thống dự báo đang gặp sự cố. Vui lòng thử lại sau."
            return "Sorry, the forecasting service failed. Please try again later."
        details = exc.details
        symbol = details.get("symbol") or symbol or ""
        code = exc.code
        if code == "unknown_symbol":
            hints = list(details.get("suggestions") or self.resolver.did_you_mean(symbol))
            hint_vi = f" Ý bạn là {', '.join(hints)}?" if hints else ""
            hint_en = f" Did you mean {', '.join(hints)}?" if hints else ""
            if lang == "vi":
                return (
                    f"Mã {symbol} không có trong danh sách được theo dõi. Hãy kiểm tra lại mã "
                    f"(ba chữ cái, ví dụ VNM, FPT).{hint_vi}"
                )
            return f"{symbol} is not a tracked symbol. Check the ticker (three letters, e.g. VNM).{hint_en}"
        if code == "insufficient_history":
            need, have = details.get("need_weeks"), details.get("have_weeks")
            if lang == "vi":
                return (
                    f"Mã {symbol} chưa đủ lịch sử giá để dự báo: mới có {have} tuần, cần ít nhất "
                    f"{need} tuần giao dịch. Hãy thử một mã đã niêm yết lâu hơn."
                )
            return (
                f"{symbol} does not have enough price history to forecast: {have} weeks, at least "
                f"{need} trading weeks are needed. Try a stock listed for longer."
            )
        if code == "not_in_demo":
            return self._not_in_demo_text([symbol], exc, lang, False)
        if code == "data_pending":
            state = details.get("state", "pending")
            state_vi = {"pending": "đang chờ", "running": "đang tải"}.get(state, state)
            if lang == "vi":
                return (
                    f"Mã {symbol or 'này'} chưa có trong kho; hệ thống đang tải dữ liệu của mã này "
                    f"({state_vi}). Hãy hỏi lại sau ít phút."
                )
            return (
                f"{symbol or 'This symbol'} is not in the store yet; its data is being fetched "
                f"({state}). Please ask again in a few minutes."
            )
        if code == "data_unavailable":
            cause = details.get("cause")
            if cause == "source_unavailable":
                if lang == "vi":
                    return (
                        f"Không tải được dữ liệu của {symbol}: bản cài đặt này không kết nối được "
                        "nguồn dữ liệu (đang ngoại tuyến). Khi có mạng hãy hỏi lại, hoặc nhập file "
                        "giá: `stockvision ingest --source csv FILE`."
                    )
                return (
                    f"Could not fetch {symbol}: this installation cannot reach a data source "
                    "(it is offline). Ask again when it is online, or import a price file: "
                    "`stockvision ingest --source csv FILE`."
                )
            if lang == "vi":
                return (
                    f"Không tải được dữ liệu của {symbol}: nguồn dữ liệu báo lỗi. Hãy thử lại sau "
                    "vài phút, hoặc nhập file giá: `stockvision ingest --source csv FILE`."
                )
            return (
                f"Could not fetch {symbol}: the data source returned an error. Try again in a "
                "few minutes, or import a price file: `stockvision ingest --source csv FILE`."
            )
        if code == "no_data":
            if lang == "vi":
                return (
                    f"Mã {symbol} có niêm yết nhưng nguồn dữ liệu không có giá của mã này. Hãy nhập "
                    f"file giá có {symbol}: `stockvision ingest --source csv FILE`."
                )
            return (
                f"{symbol} is listed but the data source has no prices for it. Import a price file "
                f"with {symbol}: `stockvision ingest --source csv FILE`."
            )
        if code == "model_unavailable":
            if lang == "vi":
                return (
                    "Chưa có mô hình đã huấn luyện để dự báo. Quản trị viên cần chạy huấn luyện và "
                    "đăng ký mô hình trước."
                )
            return "No trained model is available yet. An operator needs to train and register one."
        if not exc.user_error:
            log.error("chat service call failed: %s", exc, exc_info=exc)
        return scrub_paths(exc.localized(lang)) or ""

    @staticmethod
    def _not_in_demo_text(
        symbols: Sequence[str], exc: StockVisionError, lang: str, others: bool
    ) -> str:
        """One sentence: the installation is a simulated demo, what it holds, how to get real data."""
        held = list(exc.details.get("held") or [])
        sample = ", ".join(held[:8])
        missing = ", ".join(symbols)
        if lang == "vi":
            return (
                f"{missing} không có ở đây: bản cài đặt này chạy ngoại tuyến trên thị trường mô "
                f"phỏng gồm {len(held)} mã ({sample}...){'; các mã còn lại ở trên' if others else ''}"
                ". Để có giá thật, nhập file CSV bằng `stockvision ingest --source csv FILE "
                "--replace-simulated` hoặc đặt SV_SOURCE=vnstock và chạy lại pipeline khi có mạng."
            )
        return (
            f"{missing} {'is' if len(symbols) == 1 else 'are'} not here: this installation runs "
            f"offline on a simulated demo market of {len(held)} symbols ({sample}...)"
            f"{'; the others are answered above' if others else ''}. For real prices import a "
            "CSV with `stockvision ingest --source csv FILE --replace-simulated`, or set "
            "SV_SOURCE=vnstock and rerun the pipeline when online."
        )

    def _names(self, symbols: Sequence[str], lang: str) -> dict[str, str]:
        """English company names for English answers (the listings' ``english_name``)."""
        if lang != "en":
            return {}
        out = {}
        for sym in symbols:
            try:
                listing = self.resolver.listing(sym)
            except KeyError:
                continue
            name = getattr(listing, "english_name", None)
            if name:
                out[sym] = name
        return out

    def _notes(self, reply: _Reply) -> None:
        """What the parser noticed and the user should hear: typos read as names, foreign
        tickers, unknown tokens next to known symbols, months beyond the horizon."""
        q, vi = reply.q, reply.q.language == "vi"
        for typed, sym in q.fuzzy:
            reply.add(
                f"(Mình hiểu “{escape_markdown(typed)}” là {sym}.)"
                if vi
                else f"(I read “{escape_markdown(typed)}” as {sym}.)"
            )
        from stockvision.chat.symbols import FOREIGN_STOCKS

        for tick in q.foreign:
            company, exchange = FOREIGN_STOCKS.get(tick, (tick, "?"))
            reply.add(
                f"{tick} ({company}) niêm yết trên sàn {exchange} ở nước ngoài, không niêm yết tại "
                "Việt Nam; Stock Vision chỉ dự báo cổ phiếu HoSE, HNX và UPCoM."
                if vi
                else f"{tick} ({company}) trades on {exchange} abroad and is not listed in Vietnam; "
                "Stock Vision only forecasts HoSE, HNX and UPCoM stocks."
            )
        if q.symbols and q.unknown:
            names = ", ".join(escape_markdown(u) for u in q.unknown)
            hint = ", ".join(q.did_you_mean)
            reply.add(
                f"Không tìm thấy mã {names}{f' (ý bạn là {hint}?)' if hint else ''}; "
                "mình trả lời các mã còn lại."
                if vi
                else f"{names} is not a known symbol{f' (did you mean {hint}?)' if hint else ''}; "
                "the other symbols are answered."
            )

    def _horizon_note(self, reply: _Reply, preds: Sequence[Prediction]) -> None:
        """A named month or a far horizon the 4-week forecast does not reach: say so plainly."""
        q, vi = reply.q, reply.q.language == "vi"
        if not preds:
            return
        p = preds[0]
        target = A.fmt_date(p.target_date, q.language)
        if q.month:
            as_of = p.data_as_of
            year = as_of.year if q.month >= as_of.month else as_of.year + 1
            first = date(year, q.month, 1)
            if first > p.target_date:
                reply.body.insert(
                    0,
                    f"Mô hình chỉ dự báo 4 tuần, tới khoảng {target}; tháng {q.month}/{year} nằm "
                    "ngoài tầm đó nên mình không đưa ra con số cho tháng ấy. Dự báo 4 tuần:"
                    if vi
                    else f"The model forecasts 4 weeks ahead, to about {target}; "
                    f"{first.strftime('%B %Y')} is beyond that, so there is no figure for it. "
                    "The 4-week forecast:",
                )
        elif q.far or (q.weeks and q.weeks > 5 and q.intent == "predict"):
            reply.body.insert(
                0,
                f"Mô hình chỉ dự báo 4 tuần (tới khoảng {target}); xa hơn thì không có dự báo "
                "đáng tin. Dự báo 4 tuần:"
                if vi
                else f"The model only forecasts 4 weeks ahead (to about {target}); there is no "
                "trustworthy forecast further out. The 4-week forecast:",
            )

    def _premise(self, reply: _Reply, preds: Sequence[Prediction]) -> None:
        """Correct a question whose premise contradicts the model ("why will X fall?" when it
        forecasts a rise) before answering it."""
        q, vi = reply.q, reply.q.language == "vi"
        if q.direction not in ("up", "down"):
            return
        asked = "UP" if q.direction == "up" else "DOWN"
        for p in preds:
            if p.pattern == asked:
                continue
            said = A.pattern_label(p.pattern, q.language)
            pr = p.probabilities
            reply.body.insert(
                0,
                f"Lưu ý: mô hình không dự báo {p.symbol} {'tăng' if asked == 'UP' else 'giảm'}; "
                f"dự báo là {said} (xác suất tăng {A.fmt_prob(pr.up)}, giảm {A.fmt_prob(pr.down)})."
                if vi
                else f"Note: the model does not forecast {p.symbol} to "
                f"{'rise' if asked == 'UP' else 'fall'}; it forecasts {said} "
                f"(probability up {A.fmt_prob(pr.up)}, down {A.fmt_prob(pr.down)}).",
            )

    # ------------------------------------------------------------------ intents
    def _ask_for_symbol(self, reply: _Reply, example: str) -> None:
        q = reply.q
        if q.did_you_mean:
            s = ", ".join(q.did_you_mean)
            reply.add(
                f"Mình không tìm thấy mã bạn nhắc tới. Ý bạn là {s}?"
                if q.language == "vi"
                else f"I could not find that symbol. Did you mean {s}?"
            )
            return
        if q.unknown:
            names = ", ".join(escape_markdown(u) for u in q.unknown)
            reply.add(
                f"Mình không tìm thấy mã {names} trong danh sách niêm yết. Ví dụ: “{example}”."
                if q.language == "vi"
                else f"I could not find {names} among listed symbols. For example: “{example}”."
            )
            return
        reply.add(
            f"Bạn muốn hỏi mã nào? Ví dụ: “{example}”."
            if q.language == "vi"
            else f"Which stock do you mean? For example: “{example}”."
        )

    def _on_predict(self, reply: _Reply) -> None:
        q = reply.q
        if not q.symbols:
            if q.foreign:
                self._notes(reply)
                return
            ex = "Dự đoán giá VNM tháng sau?" if q.language == "vi" else "Predict VNM next month"
            self._ask_for_symbol(reply, ex)
            return
        preds = self._predict_many(reply, q.symbols)
        if preds:
            names = self._names(q.symbols, q.language)
            reply.body.insert(0, A.format_predictions(preds, q.language, q.show_versions, names))
            self._horizon_note(reply, preds)
            self._premise(reply, preds)
        self._notes(reply)
        self._slang_notes(reply)

    def _on_explain(self, reply: _Reply) -> None:
        q = reply.q
        if not q.symbols:
            ex = "Tại sao FPT tăng?" if q.language == "vi" else "Why is FPT forecast to rise?"
            self._ask_for_symbol(reply, ex)
            return
        preds = self._predict_many(reply, q.symbols[:3])
        names = self._names(q.symbols, q.language)
        for p in preds:
            reply.add(A.format_explanation(p, q.language, name=names.get(p.symbol)))
        self._premise(reply, preds)
        # point in time: a reason behind a forecast is never a headline from after its data
        cutoff = {p.symbol: datetime.combine(p.data_as_of, dt_time.max) for p in preds}
        self._add_news(reply, q.symbols[:3], why=True, until=cutoff)
        self._notes(reply)

    def _on_news(self, reply: _Reply) -> None:
        self._add_news(reply, reply.q.symbols[:3], why=False)

    def _add_news(
        self,
        reply: _Reply,
        symbols: Sequence[str],
        *,
        why: bool,
        until: Mapping[str, datetime] | None = None,
    ) -> None:
        """The stored headlines of each symbol (none invented; a failure is said, not hidden);
        with ``until``, only those published by the symbol's data date (naive UTC)."""
        if self.news_fn is None:
            return
        for sym in symbols:
            cutoff = (until or {}).get(sym)
            try:
                if cutoff is None:
                    items = self.news_fn(sym, self.news_limit)
                else:
                    items = self.news_fn(sym, self.news_limit, cutoff)
                    items = [i for i in items if i.published_at <= cutoff]
            except Exception as exc:  # the store is down: the rest of the answer still stands
                log.warning("news for %s unavailable: %s", sym, exc)
                reply.add(
                    "Không đọc được tin tức lúc này."
                    if reply.q.language == "vi"
                    else "News are unavailable right now."
                )
                continue
            reply.add(
                format_news(
                    sym, items, reply.q.language, why=why, until=cutoff.date() if cutoff else None
                )
            )

    def _on_compare(self, reply: _Reply) -> None:
        q = reply.q
        if len(q.symbols) < 2 and q.foreign and q.symbols:
            self._on_predict(reply)
            return
        if len(q.symbols) < 2:
            ex = "So sánh HPG và HSG" if q.language == "vi" else "Compare HPG and HSG"
            reply.add(
                f"Cần ít nhất hai mã để so sánh. Ví dụ: “{ex}”."
                if q.language == "vi"
                else f"Comparing needs at least two symbols. For example: “{ex}”."
            )
            return
        preds = self._predict_many(reply, q.symbols)
        if len(preds) >= 2:
            reply.body.insert(0, A.format_comparison(preds, q.language))
        elif preds:
            names = self._names(q.symbols, q.language)
            reply.body.insert(0, A.format_predictions(preds, q.language, names=names))
        self._notes(reply)

    def _on_chart(self, reply: _Reply) -> None:
        q = reply.q
        if not q.symbols:
            ex = "Biểu đồ FPT 1 năm" if q.language == "vi" else "FPT chart 1 year"
            self._ask_for_symbol(reply, ex)
            return
        sym = q.symbols[0]
        weeks = q.weeks or self.default_chart_weeks
        try:
            frame = self.history_fn(sym, weeks)
        except Exception as exc:
            reply.add(self._error_text(exc, sym, q.language))
            return
        reply.chart_symbol, reply.chart_weeks = sym, weeks
        reply.simulated |= bool(getattr(frame, "attrs", {}).get("simulated", False))
        dates = [d.date() if hasattr(d, "date") else d for d in list(frame["date"])]
        closes = [float(c) for c in list(frame["close"])]
        reply.add(A.format_history(sym, dates, closes, q.language))

    def _on_ranking(self, reply: _Reply) -> None:
        q = reply.q
        direction = q.direction or "up"
        preds = self._rank(reply, direction)
        if preds:
            label = self.resolver.group_label(q.group, q.language) if q.group else None
            reply.body.insert(0, A.format_ranking(preds, q.language, direction, label))

    def _on_model_quality(self, reply: _Reply) -> None:
        q = reply.q
        try:
            metrics = self.metrics_fn()
        except Exception as exc:
            reply.add(self._error_text(exc, None, q.language))
            return
        reply.add(A.format_model_quality(metrics or {}, q.language))

    def _on_advice(self, reply: _Reply) -> None:
        q = reply.q
        reply.add(A.advice_preamble(q.language))
        if q.symbols:
            preds = self._predict_many(reply, q.symbols)
            if preds:
                reply.add(A.format_predictions(preds, q.language))
        else:
            preds = self._rank(reply, q.direction or "up")
            if preds:
                label = self.resolver.group_label(q.group, q.language) if q.group else None
                reply.add(A.format_ranking(preds, q.language, q.direction or "up", label))
        self._slang_notes(reply)
        reply.add(A.advice_closing(q.language))

    def _on_market(self, reply: _Reply) -> None:
        q = reply.q
        try:
            if self.market_fn is not None:
                preds = list(self.market_fn())
            else:
                preds = list(self.rank_fn(None, "up", 1_000_000))
        except Exception as exc:
            reply.add(self._error_text(exc, None, q.language))
            return
        reply.preds.extend(preds)
        reply.simulated |= any(p.simulated for p in preds)
        reply.add(A.format_market(preds, q.language, q.index))

    def _on_track_record(self, reply: _Reply) -> None:
        q = reply.q
        if not q.symbols:
            ex = (
                "Dự báo tháng trước của VNM có đúng không?"
                if q.language == "vi"
                else ("How did the VNM forecast do last month?")
            )
            self._ask_for_symbol(reply, ex)
            return
        sym = q.symbols[0]
        if self.track_fn is None:
            reply.add(
                "Chưa có lịch sử dự báo để so sánh."
                if q.language == "vi"
                else "No forecast history is available to compare with."
            )
            return
        try:
            items = list(self.track_fn(sym))
        except Exception as exc:
            reply.add(self._error_text(exc, sym, q.language))
            return
        reply.add(A.format_track_record(sym, items, q.language))
        preds = self._predict_many(reply, [sym])
        if preds:
            reply.add("Dự báo hiện tại:" if q.language == "vi" else "The current forecast:")
            reply.add(A.format_predictions(preds, q.language, names=self._names([sym], q.language)))

    def _on_portfolio(self, reply: _Reply) -> None:
        reply.add(
            "Mình chưa biết danh mục của bạn. Hãy cho mình biết, ví dụ “mình đang cầm 1.000 HPG "
            "giá vốn 28k” (trợ lý có bộ nhớ: POST /agent/chat)."
            if reply.q.language == "vi"
            else "I do not know your holdings yet. Tell me, e.g. “I hold 1,000 HPG at 28k” (the "
            "assistant with memory: POST /agent/chat)."
        )

    def _on_holding(self, reply: _Reply) -> None:
        self._on_predict(reply)

    def _on_memory_show(self, reply: _Reply) -> None:
        reply.add(
            "Phiên trò chuyện này không lưu gì về bạn ngoài các câu hỏi gần đây (trợ lý có bộ nhớ "
            "dài hạn: POST /agent/chat)."
            if reply.q.language == "vi"
            else "This chat session keeps nothing about you beyond the recent questions (the "
            "assistant with long-term memory: POST /agent/chat)."
        )

    def _on_memory_forget(self, reply: _Reply) -> None:
        reply.add(
            "Đã xoá ngữ cảnh của phiên này."
            if reply.q.language == "vi"
            else "This session's context is cleared."
        )

    def _on_help(self, reply: _Reply) -> None:
        reply.add(A.help_text(reply.q.language))

    def _on_greeting(self, reply: _Reply) -> None:
        words = f" {fold(reply.q.text)} "
        if any(f" {w} " in words for w in ("cam on", "thank", "thanks", "bye", "tam biet")):
            reply.add(A.thanks_text(reply.q.language))
        else:
            reply.add(A.greeting_text(reply.q.language))

    def _on_out_of_scope(self, reply: _Reply) -> None:
        reply.add(A.out_of_scope_text(reply.q.language))

    def _slang_notes(self, reply: _Reply) -> None:
        for tag in reply.q.slang:
            note = A.SLANG_NOTES.get(tag)
            if note:
                reply.add(note[reply.q.language])

    # ------------------------------------------------------------------ suggestions
    def _suggestions(self, q: ParsedQuery, reply: _Reply) -> list[str]:
        vi = q.language == "vi"
        if q.did_you_mean and not q.symbols:
            return [
                (f"Dự đoán {s} tháng sau" if vi else f"Predict {s} next month")
                for s in q.did_you_mean
            ]
        if reply.preds:
            p = reply.preds[0]
            if p.direction_supported:
                word = {"UP": "tăng", "DOWN": "giảm"}.get(p.pattern, "đi ngang")
                word_en = {"UP": "rise", "DOWN": "fall"}.get(p.pattern, "move sideways")
                why = f"Tại sao {p.symbol} {word}?" if vi else f"Why will {p.symbol} {word_en}?"
            else:  # no supported direction: do not suggest one
                why = (
                    f"Vì sao khoảng giá {p.symbol} như vậy?"
                    if vi
                    else f"Why this range for {p.symbol}?"
                )
            out = [
                why,
                f"Biểu đồ {p.symbol} 1 năm" if vi else f"{p.symbol} chart 1 year",
            ]
            if q.intent != "model_quality":
                out.append("Mô hình chính xác không?" if vi else "How accurate is the model?")
            return out
        return list(A.EXAMPLES["vi" if vi else "en"][:3])
