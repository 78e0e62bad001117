"""The agent: typed tools over the prediction core, per-user memory, grounded answers.

``Agent.chat(message, user_id, session_id)`` plans the turn deterministically from the parser's
reading (an optional LLM may plan and phrase instead, through OpenAI-compatible function calling),
runs the tools, and returns the answer with every tool call and its result, the sources (tool,
model versions, data date) and what was written to memory. Every answer goes through the grounding
checker (:mod:`stockvision.chat.grounding`): an LLM answer that fails it is replaced by the
deterministic one, and the deterministic answers are checked too (a failure is logged and reported
in the response, never hidden).

Tools (typed, each a thin call into the prediction service the REST API uses): ``predict``,
``rank``, ``history``, ``model_quality``, ``track_record``, ``market``, ``portfolio``, ``news``
(stored headlines with tone, through the news package's view), the alert tools ``alerts_list``,
``alert_create``, ``alert_delete`` (the alert store is injected by the composition: chat does not
import the stream package), and the memory tools ``remember_holding``, ``memory_list``,
``memory_forget``, ``recall``, ``documents`` (shared evaluation docs and news in memory).
"""

from __future__ import annotations

import logging
import math
import re
import statistics
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dt_time
from typing import Any

import numpy as np
from pydantic import BaseModel, Field, ValidationError

from stockvision.chat import alerts as AL
from stockvision.chat import answers as A
from stockvision.chat import grounding
from stockvision.chat import news as NEWS
from stockvision.chat import tool_schemas as TS
from stockvision.chat.engine import ChatEngine
from stockvision.chat.memory import Memory
from stockvision.chat.text import escape_markdown, fold
from stockvision.chat.tool_schemas import SIDE_EFFECTS, tool_schemas
from stockvision.data.store.alerts import user_owner
from stockvision.errors import InvalidRequestError
from stockvision.predict.types import Prediction

log = logging.getLogger(__name__)


#: Questions about why the models can be trusted: answered from the evaluation docs in memory.
_DOC_CUE = re.compile(
    r"\b(trust|tin tuong|tin duoc|kiem dinh|kiem chung|validated|validation|backtest\w*|"
    r"walk forward|model cards?|how (was|were|is|are) (it|they|the models?) (tested|evaluated))\b"
)
_EXAMPLES = tuple(sorted({*A.EXAMPLES["vi"], *A.EXAMPLES["en"]}, key=len, reverse=True))


class ToolCall(BaseModel):
    name: str
    args: dict[str, Any] = Field(default_factory=dict)
    result: Any = None
    error: str | None = None
    ms: float = 0.0


class Source(BaseModel):
    tool: str
    symbol: str | None = None
    model_versions: dict[str, str | None] | None = None
    data_as_of: str | None = None
    detail: str | None = None


class AgentResponse(BaseModel):
    answer: str
    intent: str
    language: str
    user_id: str
    session_id: str
    tool_calls: list[ToolCall] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    memory_writes: list[dict[str, Any]] = Field(default_factory=list)
    grounded: bool = True
    unsupported_numbers: list[str] = Field(default_factory=list)
    planner: str = "deterministic"


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if hasattr(value, "published_at") and hasattr(value, "to_dict"):  # a news Headline
        data = value.to_dict()
        data["time"] = value.published_at.strftime("%H:%M")  # as the answer shows it
        now = datetime.now(UTC).replace(tzinfo=None)
        data["age_days"] = (now - value.published_at).days  # the answer's "N days old"
        return data
    if hasattr(value, "columns") and hasattr(value, "to_dict"):  # a DataFrame (history)
        frame = value
        closes = [float(c) for c in frame["close"]] if len(frame) else []
        dates = [str(d)[:10] for d in frame["date"]] if len(frame) else []
        out: dict[str, Any] = {"weeks": len(closes), "dates": dates, "closes": closes}
        if closes:
            out.update(first=closes[0], last=closes[-1], high=max(closes), low=min(closes))
            out["change"] = closes[-1] / closes[0] - 1 if closes[0] else None
        return out
    return value


class _Recorder:
    """Thread-local list of the current turn's tool calls."""

    def __init__(self) -> None:
        self._local = threading.local()

    def start(self) -> list[ToolCall]:
        self._local.calls = []
        return self._local.calls

    def stop(self) -> None:
        self._local.calls = None

    @property
    def calls(self) -> list[ToolCall]:
        return getattr(self._local, "calls", None) or []

    def wrap(self, name: str, fn: Callable[..., Any], arg_names: Sequence[str]) -> Callable:
        def call(*args: Any) -> Any:
            rec = ToolCall(name=name, args=dict(zip(arg_names, args, strict=False)))
            t0 = time.perf_counter()
            try:
                value = fn(*args)
            except Exception as exc:
                rec.error = getattr(exc, "code", "error")
                rec.ms = (time.perf_counter() - t0) * 1000
                self._append(rec)
                raise
            rec.ms = (time.perf_counter() - t0) * 1000
            rec.result = _jsonable(value)
            if name == "track_record":
                rec.result = [_with_error(r) for r in rec.result]
            if name == "market":
                rec.result = {
                    "summary": A.market_summary(value) if value else {},
                    "items": rec.result,
                }
            self._append(rec)
            return value

        return call

    def _append(self, rec: ToolCall) -> None:
        calls = getattr(self._local, "calls", None)
        if calls is not None:
            calls.append(rec)


def _user_key(user_id: str) -> str:
    """What memory stores for a user: a hash, so the id (a bearer secret) is never on disk."""
    import hashlib

    return hashlib.sha256(f"stockvision-memory:{user_id}".encode()).hexdigest()


def _with_error(item: dict[str, Any]) -> dict[str, Any]:
    actual, target = item.get("actual_price"), item.get("price_target")
    if actual and target:
        item = {**item, "error": actual / target - 1}
    return item


class Agent:
    """Deterministic planner + memory + grounding around the chat engine (optional LLM)."""

    def __init__(
        self,
        engine: ChatEngine,
        memory: Memory | None = None,
        llm: Any = None,
        history_weeks: int = 52,
        alerts: AL.AlertBook | None = None,
    ) -> None:
        self.engine = engine
        self.memory = memory
        self.alerts = alerts
        self.llm = llm
        self.history_weeks = history_weeks
        self.recorder = _Recorder()
        self._adopted: set[str] = set()  # users whose legacy alert owner was already moved
        self.news_indexer: Any = None  # set by build_agent: stored news -> shared documents
        self.index_thread: Any = None  # set by build_agent: the docs-then-news indexing thread
        r = self.recorder
        engine.predict_fn = r.wrap("predict", engine.predict_fn, ["symbol"])
        engine.rank_fn = r.wrap("rank", engine.rank_fn, ["universe", "direction", "top_n"])
        engine.history_fn = r.wrap("history", engine.history_fn, ["symbol", "weeks"])
        engine.metrics_fn = r.wrap("model_quality", engine.metrics_fn, [])
        if engine.track_fn is not None:
            engine.track_fn = r.wrap("track_record", engine.track_fn, ["symbol"])
        if engine.market_fn is not None:
            engine.market_fn = r.wrap("market", engine.market_fn, [])
        if engine.news_fn is not None:
            engine.news_fn = r.wrap("news", engine.news_fn, ["symbol", "limit", "until"])

    def start_indexing(self) -> None:
        """Start the docs-then-news indexing thread (once; a no-op without memory)."""
        thread = self.index_thread
        if thread is not None and thread.ident is None:
            thread.start()

    def stop_indexing(self, timeout: float = 5.0) -> None:
        """Stop the indexing (the news poller, then the docs thread after its current batch)."""
        if self.news_indexer is not None:
            self.news_indexer.stop()
        if self.memory is not None and hasattr(self.memory, "stop_indexing"):
            self.memory.stop_indexing()
        thread = self.index_thread
        if thread is not None and thread.ident is not None:
            thread.join(timeout)

    # ------------------------------------------------------------------ entry point
    def chat(
        self,
        message: str,
        user_id: str,
        session_id: str,
        language: str | None = None,
    ) -> AgentResponse:
        calls = self.recorder.start()
        try:
            return self._chat(message, _user_key(user_id), user_id, session_id, language, calls)
        finally:
            self.recorder.stop()

    def _chat(
        self,
        message: str,
        user_id: str,
        shown_user: str,
        session_id: str,
        language: str | None,
        calls: list[ToolCall],
    ) -> AgentResponse:
        writes: list[dict[str, Any]] = []
        conv = self.engine.sessions.get(session_id)
        q = self.engine.parser.parse(message, conv)
        lang = language if language in ("vi", "en") else q.language
        handler = {
            "holding": self._holding,
            "portfolio": self._portfolio,
            "memory_show": self._memory_show,
            "memory_forget": self._memory_forget,
        }.get(q.intent)
        planner = "deterministic"
        answer: str | None = None
        if self.llm is not None:  # the LLM plans with every tool; the deterministic path backs it
            turn = _Turn(message, q, user_id, shown_user, lang, writes)
            answer, done = self._llm_answer(turn, calls)
            planner = "llm" if answer else "deterministic (llm fallback)"
            if not answer and done:  # changes the LLM made stand; say them, never redo them
                answer = A.compose(done, lang, False)
            elif not answer:
                calls.clear()
                writes.clear()
            if answer:
                if q.intent == "memory_forget":
                    self.engine.sessions.reset(session_id)
                else:
                    self.engine.sessions.record(session_id, q, answer)
        ask = (
            AL.read_alert(message, list(q.symbols))
            if self.alerts is not None and answer is None
            else None
        )
        if answer is not None:
            pass
        elif ask is not None:
            q.intent = f"alert_{ask.action}"
            answer = A.compose(self._alert(ask, user_id, shown_user, lang), lang, False)
            self.engine.sessions.record(session_id, q, answer)
        elif handler is not None and self.memory is not None:
            body, simulated = handler(q, user_id, lang, writes)
            answer = A.compose(body, lang, simulated)
            if q.intent == "memory_forget":
                self.engine.sessions.reset(session_id)
            else:
                self.engine.sessions.record(session_id, q, answer)
        else:
            if q.intent == "track_record" and self.memory is not None:
                self._recall(user_id, message)
            doc_q = self.memory is not None and (
                q.intent == "model_quality" or bool(_DOC_CUE.search(fold(message)))
            )
            if doc_q and q.intent != "model_quality":
                q.intent = "model_documents"  # the docs answer alone (no forecast asked)
                docs = self._documents(message, lang) or (
                    "Chưa có tài liệu kiểm định nào trong bộ nhớ."
                    if lang == "vi"
                    else "No evaluation document is indexed in memory."
                )
                answer = A.compose(docs, lang, False)
                self.engine.sessions.record(session_id, q, answer)
            else:
                resp = self.engine.ask(message, session_id, language)
                answer = resp.answer
                if doc_q:
                    answer = _before_disclaimer(answer, self._documents(message, lang))
                if self.memory is not None and resp.intent in ("explain", "news"):
                    answer = _before_disclaimer(
                        answer, self._related_news(message, resp.intent, resp.symbols, lang, calls)
                    )
        report = grounding.check(answer, [c.result for c in calls], message, examples=_EXAMPLES)
        if not report.ok:
            log.warning("answer numbers not grounded: %s", report.unsupported)
        if self.memory is not None and q.intent != "memory_forget":
            self.memory.remember_turn(user_id, session_id, message, answer)
            writes.append({"kind": "turn", "text": message})
        return AgentResponse(
            answer=answer,
            intent=q.intent,
            language=lang,
            user_id=shown_user,
            session_id=session_id,
            tool_calls=list(calls),
            sources=_sources(calls),
            memory_writes=writes,
            grounded=report.ok,
            unsupported_numbers=report.unsupported,
            planner=planner,
        )

    # ------------------------------------------------------------------ shared documents
    def _documents(self, message: str, lang: str) -> str | None:
        """The evaluation-docs section closest to the question, quoted with its source."""
        assert self.memory is not None
        hits = self._tool(
            "documents",
            {"query": message},
            lambda: [
                {"source": d.source, "title": d.title, "text": d.text, "score": d.score}
                for d in self.memory.search_documents(message, k=1, kind="doc")
            ],
        )
        if not hits:
            return None
        top = hits[0]
        excerpt = _excerpt(top["text"])
        return (
            f"Theo tài liệu kiểm định ({top['source']}, mục “{top['title']}”):\n{excerpt}"
            if lang == "vi"
            else f"From the evaluation docs ({top['source']}, section “{top['title']}”):\n{excerpt}"
        )

    def _related_news(
        self,
        message: str,
        intent: str,
        symbols: Sequence[str],
        lang: str,
        calls: Sequence[ToolCall],
    ) -> str | None:
        """News items in memory closest in meaning to the question, beyond the latest ones shown.

        For a "why" question only items published by the forecast's data date are searched (point
        in time: a later headline cannot be a reason); without a forecast, none (no data date).
        """
        assert self.memory is not None
        cut: dict[str, datetime] = {}
        for c in calls:
            r = c.result
            if c.name == "predict" and isinstance(r, dict) and r.get("data_as_of"):
                day = date.fromisoformat(str(r["data_as_of"])[:10])
                cut[str(r.get("symbol"))] = datetime.combine(day, dt_time.max)
        shown = {
            (str(h.get("title")), str(h.get("published_at"))[:16])
            for c in calls
            if c.name == "news" and isinstance(c.result, list)
            for h in c.result
            if isinstance(h, dict)
        }
        blocks = []
        for sym in list(symbols)[:2]:
            until = cut.get(sym)
            if intent == "explain" and until is None:
                continue
            hits = self._tool(
                "news_search",
                {"query": message, "symbol": sym, "until": until.isoformat() if until else None},
                lambda sym=sym, until=until: [
                    _news_hit(d)
                    for d in self.memory.search_documents(
                        message, k=3, kind="news", symbol=sym, until=until
                    )
                ],
            )
            fresh = [
                h
                for h in hits
                if (h["title"], h["published_at"][:16]) not in shown
                and (until is None or h["published_at"] <= until.isoformat())
            ]
            if fresh:
                blocks.append(
                    NEWS.format_related(sym, fresh, lang, until.date() if until else None)
                )
        return "\n\n".join(blocks) or None

    # ------------------------------------------------------------------ alerts
    def alert_owner(self, user_key: str, user_id: str) -> str:
        """The alert owner of this user: the same as a REST client's with ``X-User-Id`` (see
        :func:`stockvision.data.store.alerts.user_owner`). Alerts made under the older chat-only owner
        (``agent:`` + the memory hash) are moved to it once per process."""
        owner = user_owner(user_id)
        if self.alerts is not None and user_key not in self._adopted:
            self.alerts.adopt(f"agent:{user_key[:48]}", owner)
            self._adopted.add(user_key)
        return owner

    def _alert(self, ask: AL.AlertAsk, user_key: str, user_id: str, lang: str) -> str:
        """Create, list or delete the user's alerts (owner: the hashed user id, never the id)."""
        assert self.alerts is not None
        book, owner = self.alerts, self.alert_owner(user_key, user_id)
        if ask.action == "create":
            row = self._tool(
                "alert_create",
                {"symbol": ask.symbol, "kind": ask.kind, "threshold": ask.threshold},
                lambda: book.create(ask.symbol, ask.kind, ask.threshold, owner),
            )
            return AL.format_created(row, lang)
        rows = self._tool(
            "alerts_list", {"symbol": ask.symbol}, lambda: _alert_rows(book.list(owner))
        )
        if ask.symbol is not None:
            rows = [r for r in rows if r["symbol"] == ask.symbol]
        if ask.action == "list":
            return AL.format_list(rows, lang)

        def drop() -> list[dict[str, Any]]:
            for r in rows:
                book.delete(r["id"], owner)
            return rows

        return AL.format_deleted(self._tool("alert_delete", {"symbol": ask.symbol}, drop), lang)

    # ------------------------------------------------------------------ memory intents
    def _tool(self, name: str, args: dict[str, Any], fn: Callable[[], Any]) -> Any:
        return self.recorder.wrap(name, lambda *_: fn(), list(args))(*args.values())

    def _holding(self, q: Any, user_id: str, lang: str, writes: list) -> tuple[str, bool]:
        sym = q.symbols[0]
        data = {"symbol": sym, "quantity": q.quantity, "cost": q.cost}
        text = f"holding {sym} {q.quantity} shares" + (f" cost {q.cost:.0f}" if q.cost else "")
        assert self.memory is not None
        self._tool(
            "remember_holding",
            data,
            lambda: self.memory.remember_fact(user_id, f"holding:{sym}", text, data).data,
        )
        writes.append({"kind": "fact", "key": f"holding:{sym}", **data})
        qty = A.fmt_number(float(q.quantity), lang, 0)
        cost = f" giá vốn {A.fmt_number(q.cost, lang, 0)} đồng" if q.cost and lang == "vi" else ""
        cost_en = f" at a cost of {A.fmt_number(q.cost, lang, 0)} VND" if q.cost else ""
        lines = [
            f"Đã ghi nhớ: bạn đang nắm {qty} cổ phiếu {sym}{cost}."
            if lang == "vi"
            else f"Noted: you hold {qty} {sym} shares{cost_en}."
        ]
        simulated = False
        try:
            pred = self.engine.predict_fn(sym)
            names = self.engine._names([sym], lang)
            lines.append(A.format_prediction(pred, lang, name=names.get(sym)))
            simulated = pred.simulated
        except Exception as exc:
            lines.append(self.engine._error_text(exc, sym, lang))
        return "\n\n".join(lines), simulated

    def holdings(self, user_id: str) -> list[dict[str, Any]]:
        if self.memory is None:
            return []
        facts = [f for f in self.memory.facts(user_id) if (f.key or "").startswith("holding:")]
        return [f.data for f in facts]

    def _portfolio(self, q: Any, user_id: str, lang: str, writes: list) -> tuple[str, bool]:
        held = self._tool("memory_holdings", {"user_id": user_id}, lambda: self.holdings(user_id))
        if not held:
            return self.engine_text_no_holdings(lang), False
        result = self._tool("portfolio", {"holdings": held}, lambda: self.portfolio(held))
        return format_portfolio(result, lang), bool(result.get("simulated"))

    @staticmethod
    def engine_text_no_holdings(lang: str) -> str:
        return (
            "Mình chưa biết danh mục của bạn. Hãy cho mình biết, ví dụ “mình đang cầm 1.000 HPG "
            "giá vốn 28k”."
            if lang == "vi"
            else "I do not know your holdings yet. Tell me, e.g. “I hold 1,000 HPG at 28k”."
        )

    def portfolio(self, holdings: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Each holding's 4-week distribution and the portfolio's, using measured correlations.

        Each stock's 4-week spread is read off its interval (a normal approximation of the log
        price: sigma = ln(high/low) / (2 z) for the interval's coverage); the portfolio's spread
        combines them with the correlation of the stocks' weekly log returns over the last
        ``history_weeks`` weeks (from the store). Values in VND.
        """
        rows, preds = [], []
        for h in holdings:
            pred: Prediction = self.engine.predict_fn(h["symbol"])
            preds.append(pred)
            qty = float(h["quantity"])
            z = statistics.NormalDist().inv_cdf(0.5 + pred.interval.coverage / 2)
            sigma = math.log(pred.interval.high / pred.interval.low) / (2 * z)
            row = {
                "symbol": pred.symbol,
                "quantity": qty,
                "cost": h.get("cost"),
                "value_now": qty * pred.last_close,
                "value_target": qty * pred.price_target,
                "value_low": qty * pred.interval.low,
                "value_high": qty * pred.interval.high,
                "sigma": sigma,
                "pattern": pred.pattern,
                "data_as_of": pred.data_as_of.isoformat(),
            }
            if h.get("cost"):
                row["pnl_now"] = qty * (pred.last_close - float(h["cost"]))
            rows.append(row)
        n = len(rows)
        corr = np.eye(n)
        if n > 1:
            rets = []
            for r in rows:
                frame = self.engine.history_fn(r["symbol"], self.history_weeks)
                closes = np.asarray([float(c) for c in frame["close"]])
                rets.append(np.diff(np.log(closes)))
            k = min(len(x) for x in rets)
            if k >= 8:
                corr = np.corrcoef(np.stack([x[-k:] for x in rets]))
        spread = np.array([r["value_now"] * r["sigma"] for r in rows])
        sd = float(np.sqrt(max(spread @ corr @ spread, 0.0)))
        coverage = preds[0].interval.coverage
        z = statistics.NormalDist().inv_cdf(0.5 + coverage / 2)
        total_now = sum(r["value_now"] for r in rows)
        total_target = sum(r["value_target"] for r in rows)
        return {
            "holdings": rows,
            "value_now": total_now,
            "value_target": total_target,
            "expected_change": total_target / total_now - 1 if total_now else 0.0,
            "value_low": total_target - z * sd,
            "value_high": total_target + z * sd,
            "coverage": coverage,
            "correlation": corr.round(3).tolist(),
            "pnl_now": sum(r.get("pnl_now", 0.0) for r in rows),
            "simulated": any(p.simulated for p in preds),
            "data_as_of": max(p.data_as_of for p in preds).isoformat(),
        }

    def _memory_show(self, q: Any, user_id: str, lang: str, writes: list) -> tuple[str, bool]:
        assert self.memory is not None
        facts = self._tool(
            "memory_list",
            {"user_id": user_id},
            lambda: [f.data | {"text": f.text} for f in self.memory.facts(user_id)],
        )
        turns = self._tool(
            "memory_turns",
            {"user_id": user_id},
            lambda: [t.text for t in self.memory.turns(user_id)],
        )
        vi = lang == "vi"
        if not facts and not turns:
            return (
                "Mình chưa nhớ gì về bạn." if vi else "I do not remember anything about you."
            ), False
        lines = ["Những gì mình nhớ về bạn:" if vi else "What I remember about you:"]
        for f in facts:
            if "symbol" in f:
                qty = A.fmt_number(float(f["quantity"]), lang, 0)
                cost = (
                    f", giá vốn {A.fmt_number(float(f['cost']), lang, 0)} đồng"
                    if f.get("cost") and vi
                    else ""
                )
                cost_en = (
                    f", cost {A.fmt_number(float(f['cost']), lang, 0)} VND"
                    if f.get("cost") and not vi
                    else ""
                )
                lines.append(
                    f"• {f['symbol']}: {qty} cổ phiếu{cost}"
                    if vi
                    else f"• {f['symbol']}: {qty} shares{cost_en}"
                )
        lines.append(
            f"• {len(turns)} câu hỏi trước đây. Nói “quên hết đi” để xoá tất cả."
            if vi
            else f"• {len(turns)} earlier questions. Say “forget everything” to delete it all."
        )
        return "\n".join(lines), False

    def _memory_forget(self, q: Any, user_id: str, lang: str, writes: list) -> tuple[str, bool]:
        assert self.memory is not None
        n = self._tool("memory_forget", {"user_id": user_id}, lambda: self.memory.forget(user_id))
        writes.append({"kind": "delete", "count": n})
        return (
            f"Đã xoá {n} mục mình nhớ về bạn." if lang == "vi" else f"Deleted {n} remembered items."
        ), False

    def _recall(self, user_id: str, message: str) -> None:
        assert self.memory is not None
        self._tool(
            "recall",
            {"query": message},
            lambda: [
                {"question": t.text, "answer": t.data.get("answer", "")}
                for t in self.memory.recall(user_id, message, k=1)
            ],
        )

    # ------------------------------------------------------------------ LLM planning
    def _llm_answer(self, turn: _Turn, calls: list[ToolCall]) -> tuple[str | None, str | None]:
        """``(answer, done)``: the LLM's grounded answer, or None (error, no tool used, numbers
        not grounded); ``done`` words the changes its tools made (alerts, holdings, forgetting)
        when the answer is dropped, so the fallback reports them instead of making them again."""
        tools = self.llm_tools(turn)
        try:
            text = self.llm.run(turn.message, turn.lang, tools, tool_schemas(tools))
        except Exception as exc:
            log.warning("LLM planner failed, answering deterministically: %s", exc)
            text = None
        answer = None
        if text and any(c.error is None for c in calls):  # an answer from at least one result
            simulated = any(
                isinstance(c.result, dict) and c.result.get("simulated") for c in calls
            ) or any(
                isinstance(c.result, list)
                and any(isinstance(x, dict) and x.get("simulated") for x in c.result)
                for c in calls
            )
            # the LLM may phrase, never drop a measured limit of a forecast it talks about
            kept = missing_caveats(text, calls, turn.lang)
            body = _inert(text) + "".join(f"\n\n{line}" for line in kept)
            answer = A.compose(body, turn.lang, simulated)
            report = grounding.check(
                answer, [c.result for c in calls], turn.message, examples=_EXAMPLES
            )
            if not report.ok:
                log.warning("LLM answer had ungrounded numbers %s; replaced", report.unsupported)
                answer = None
        done = [
            _describe_change(c, turn.lang)
            for c in calls
            if c.name in SIDE_EFFECTS and c.error is None
        ]
        return answer, "\n\n".join(d for d in done if d) or None

    def llm_tools(self, turn: _Turn | None = None) -> dict[str, Callable[..., Any]]:
        """Functions the LLM may call this turn, by name, each taking the JSON arguments of its
        schema (:mod:`stockvision.chat.tool_schemas`, validated before it runs). Every call is
        recorded like a deterministic one, so grounding checks the LLM's answer against it.

        Tools that change something run only when the user's own message asks for that change
        (an alert cue for alerts, the held quantity typed by the user, "quên hết đi" for
        forgetting): tool results carry untrusted text (news headlines), and an instruction
        hidden there must not delete a user's memory or alerts.
        """
        e = self.engine
        turn = turn or _Turn("", None, "anonymous", "anonymous", "en", [])
        user = turn.user_key
        said = set(AL.numbers_in(turn.message))
        mentioned = set(getattr(turn.q, "symbols", None) or [])

        def refuse(what: str) -> None:
            raise InvalidRequestError(
                f"the user's message does not ask to {what}",
                "only call this tool when the user asks for it in this message",
                code="not_requested",
            )

        def predict(a: TS.SymbolArgs) -> Any:
            return _jsonable(e.predict_fn(a.symbol.upper()))

        def compare(a: TS.CompareArgs) -> Any:
            syms = [s.upper() for s in a.symbols]
            return self._tool(
                "compare", {"symbols": syms}, lambda: [_jsonable(e.predict_fn(s)) for s in syms]
            )

        def rank(a: TS.RankArgs) -> Any:
            universe = e.resolver.symbols_in(a.group) if a.group else None
            return _jsonable(list(e.rank_fn(universe, a.direction, a.top_n)))

        def history(a: TS.HistoryArgs) -> Any:
            return _jsonable(e.history_fn(a.symbol.upper(), a.weeks))

        def model_quality(a: TS.NoArgs) -> Any:
            return _jsonable(e.metrics_fn())

        def track_record(a: TS.SymbolArgs) -> Any:
            return [_with_error(r) for r in _jsonable(e.track_fn(a.symbol.upper()))]

        def market(a: TS.NoArgs) -> Any:
            return _jsonable(e.market_fn())

        def news(a: TS.NewsArgs) -> Any:
            return [_inert_news(h) for h in _jsonable(e.news_fn(a.symbol.upper(), a.limit))]

        def news_search(a: TS.NewsSearchArgs) -> Any:
            until = datetime.combine(a.until, dt_time.max) if a.until else None
            sym = a.symbol.upper() if a.symbol else None
            args = {"query": a.query, "symbol": sym, "until": until.isoformat() if until else None}
            hits = self._tool(
                "news_search",
                args,
                lambda: [
                    _news_hit(d)
                    for d in self.memory.search_documents(
                        a.query, k=3, kind="news", symbol=sym, until=until
                    )
                ],
            )
            return [_inert_news(h) for h in hits]

        def documents(a: TS.DocumentsArgs) -> Any:
            return self._tool(
                "documents",
                {"query": a.query},
                lambda: [
                    {"source": d.source, "title": d.title, "text": _excerpt(d.text)}
                    for d in self.memory.search_documents(a.query, k=2, kind="doc")
                ],
            )

        def owner() -> str:
            return self.alert_owner(user, turn.user_id)

        def alerts_list(a: TS.AlertsListArgs) -> Any:
            sym = a.symbol.upper() if a.symbol else None
            rows = self._tool(
                "alerts_list", {"symbol": sym}, lambda: _alert_rows(self.alerts.list(owner()))
            )
            return [r for r in rows if sym is None or r["symbol"] == sym]

        def alert_create(a: TS.AlertCreateArgs) -> Any:
            sym = a.symbol.upper()
            if sym not in mentioned or (
                a.kind == "pattern_change" and not AL.asks_for_alert(turn.message)
            ):
                refuse(f"set an alert on {sym}")
            if a.kind != "pattern_change" and not _said(a.threshold, said):
                refuse(f"set an alert at {a.threshold}")
            threshold = None if a.kind == "pattern_change" else a.threshold
            args = {"symbol": sym, "kind": a.kind, "threshold": threshold}
            return _alert_rows(
                [
                    self._tool(
                        "alert_create",
                        args,
                        lambda: self.alerts.create(sym, a.kind, threshold, owner()),
                    )
                ]
            )[0]

        def alert_delete(a: TS.AlertDeleteArgs) -> Any:
            if not (AL.asks_for_alert(turn.message) and AL.asks_to_delete(turn.message)):
                refuse("delete alerts")
            sym = a.symbol.upper() if a.symbol else None
            rows = [r for r in _alert_rows(self.alerts.list(owner())) if sym in (None, r["symbol"])]

            def drop() -> list[dict[str, Any]]:
                for r in rows:
                    self.alerts.delete(r["id"], owner())
                return rows

            return self._tool("alert_delete", {"symbol": sym}, drop)

        def portfolio(a: TS.NoArgs) -> Any:
            held = self._tool("memory_holdings", {"user_id": user}, lambda: self.holdings(user))
            if not held:
                return {"holdings": [], "note": "no holdings remembered for this user"}
            return self._tool("portfolio", {"holdings": held}, lambda: self.portfolio(held))

        def remember_holding(a: TS.HoldingArgs) -> Any:
            sym = a.symbol.upper()
            if sym not in mentioned or not _said(a.quantity, said):
                refuse(f"remember {a.quantity} {sym} shares")
            if a.cost is not None and not _said(a.cost, said):
                refuse(f"remember a cost of {a.cost}")
            data = {"symbol": sym, "quantity": a.quantity, "cost": a.cost}
            text = f"holding {sym} {a.quantity} shares" + (f" cost {a.cost:.0f}" if a.cost else "")
            kept = self._tool(
                "remember_holding",
                data,
                lambda: self.memory.remember_fact(user, f"holding:{sym}", text, data).data,
            )
            turn.writes.append({"kind": "fact", "key": f"holding:{sym}", **data})
            return kept

        def memory_list(a: TS.NoArgs) -> Any:
            return self._tool(
                "memory_list",
                {"user_id": user},
                lambda: [f.data | {"text": f.text} for f in self.memory.facts(user)],
            )

        def memory_forget(a: TS.NoArgs) -> Any:
            if getattr(turn.q, "intent", None) != "memory_forget":
                refuse("forget everything")
            n = self._tool("memory_forget", {"user_id": user}, lambda: self.memory.forget(user))
            turn.writes.append({"kind": "delete", "count": n})
            return {"deleted": n}

        fns: dict[str, Callable[[Any], Any]] = {
            "predict": predict,
            "compare": compare,
            "rank": rank,
            "history": history,
            "model_quality": model_quality,
            "market": market,
        }
        if e.track_fn is not None:
            fns["track_record"] = track_record
        if e.market_fn is None:
            fns.pop("market")
        if e.news_fn is not None:
            fns["news"] = news
        if self.memory is not None:
            fns.update(news_search=news_search, documents=documents, portfolio=portfolio)
            fns.update(remember_holding=remember_holding, memory_list=memory_list)
            fns["memory_forget"] = memory_forget
        if self.alerts is not None:
            fns.update(alerts_list=alerts_list, alert_create=alert_create)
            fns["alert_delete"] = alert_delete
        return {name: _validated(name, fn) for name, fn in fns.items() if name in TS.TOOLS}


#: The schemas of every tool (the LLM is offered those its agent can run: see ``llm_tools``).
TOOL_SCHEMAS: list[dict[str, Any]] = tool_schemas()


@dataclass
class _Turn:
    """What the LLM's tools of one turn are bound to: the user's words, reading and identity."""

    message: str
    q: Any
    user_key: str
    user_id: str
    lang: str
    writes: list[dict[str, Any]]


def _validated(name: str, fn: Callable[[Any], Any]) -> Callable[..., Any]:
    """``fn`` taking the JSON arguments of tool ``name``, validated by its argument model."""
    model = TS.TOOLS[name][1]

    def call(**kwargs: Any) -> Any:
        try:
            args = model.model_validate(kwargs)
        except ValidationError as exc:
            raise InvalidRequestError(
                f"invalid arguments for {name}: {exc.errors()[0].get('msg', '')}"[:200],
                "call the tool with the arguments of its schema",
                code="invalid_arguments",
            ) from None
        return fn(args)

    return call


def _said(value: float | None, said: set[float]) -> bool:
    """Whether the user typed ``value`` (as is, or in thousands: "28k", "28" for 28,000 VND)."""
    if value is None:
        return False
    return any(abs(value - v) < 1e-6 or abs(value - v * 1000) < 1e-6 for v in said)


_UNSAFE_LINK = re.compile(r"\]\((?!https?://)[^)]*\)", re.IGNORECASE)


def missing_caveats(text: str, calls: Sequence[ToolCall], lang: str) -> list[str]:
    """The caveats (``Prediction.caveats``) of the forecasts ``text`` names by ticker that it does
    not carry word for word, as "⚠ SYM: message" lines in ``lang``, each once."""
    lines: list[str] = []
    for c in calls:
        if c.error is not None:
            continue
        items = c.result if isinstance(c.result, list) else [c.result]
        for r in items:
            if not isinstance(r, dict) or not r.get("caveats") or not r.get("symbol"):
                continue
            sym = str(r["symbol"])
            if not re.search(rf"(?<![A-Z0-9]){re.escape(sym)}(?![A-Z0-9])", text):
                continue
            for cav in r["caveats"]:
                msg = (
                    cav.get("message_vi" if lang == "vi" else "message_en")
                    if isinstance(cav, dict)
                    else None
                )
                line = f"⚠ {sym}: {msg}"
                if msg and msg not in text and line not in lines:
                    lines.append(line)
    return lines


def _inert(text: str) -> str:
    """An LLM's text made safe to render as Markdown: no raw HTML, links only to http(s)."""
    text = text.replace("<", "&lt;").replace(">", "&gt;")
    return _UNSAFE_LINK.sub("]", text)


def _inert_news(item: Any) -> Any:
    """A news item for the LLM with its publisher text escaped (if echoed, it stays text)."""
    if not isinstance(item, dict):
        return item
    out = dict(item)
    for key in ("title", "source"):
        if isinstance(out.get(key), str):
            out[key] = escape_markdown(out[key])
    return out


def _describe_change(call: ToolCall, lang: str) -> str | None:
    """The deterministic wording of a change an LLM's tool made (see ``Agent._llm_answer``)."""
    r, vi = call.result, lang == "vi"
    if call.name == "alert_create" and isinstance(r, dict):
        return AL.format_created(r, lang)
    if call.name == "alert_delete" and isinstance(r, list):
        return AL.format_deleted(r, lang)
    if call.name == "memory_forget":
        return f"Đã xoá {r} mục mình nhớ về bạn." if vi else f"Deleted {r} remembered items."
    if call.name == "remember_holding" and isinstance(r, dict):
        qty = A.fmt_number(float(r["quantity"]), lang, 0)
        return (
            f"Đã ghi nhớ: bạn đang nắm {qty} cổ phiếu {r['symbol']}."
            if vi
            else f"Noted: you hold {qty} {r['symbol']} shares."
        )
    return None


def _excerpt(text: str, limit: int = 700) -> str:
    """The start of a docs section, cut at a paragraph or line end."""
    if len(text) <= limit:
        return text.strip()
    cut = text.rfind("\n", 0, limit)
    out = text[: cut if cut > limit // 2 else limit].strip()
    if out.count("```") % 2:  # close a code block the cut left open
        out += "\n```"
    return out + "\n…"


def _before_disclaimer(answer: str, block: str | None) -> str:
    """``answer`` with ``block`` added before its closing disclaimer (if it has one)."""
    if not block:
        return answer
    head, sep, tail = answer.rpartition("\n\nℹ")
    return f"{head}\n\n{block}{sep}{tail}" if sep else f"{answer}\n\n{block}"


def _news_hit(d: Any) -> dict[str, Any]:
    """A news document from memory as the ``news_search`` tool records it."""
    data = d.data or {}
    return {
        "title": d.title,
        "source": str(data.get("source") or ""),
        "published_at": str(data.get("published_at") or ""),
        "link": data.get("link"),
        "symbols": list(data.get("symbols") or []),
        "score": d.score,
    }


def _alert_rows(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**r, "created_at": str(r.get("created_at"))} for r in rows]


def _sources(calls: Sequence[ToolCall]) -> list[Source]:
    out: list[Source] = []
    for c in calls:
        results = c.result if isinstance(c.result, list) else [c.result]
        if c.name == "market" and isinstance(c.result, dict):
            results = c.result.get("items", [])
        preds = [r for r in results if isinstance(r, dict) and "model_versions" in r]
        if preds:
            for p in preds[:10]:
                out.append(
                    Source(
                        tool=c.name,
                        symbol=p.get("symbol"),
                        model_versions=p.get("model_versions"),
                        data_as_of=p.get("data_as_of"),
                    )
                )
        elif c.error is None:
            detail = None
            if c.name == "model_quality" and isinstance(c.result, dict):
                detail = str(c.result.get("source", "walk-forward metrics.json"))
            out.append(Source(tool=c.name, symbol=c.args.get("symbol"), detail=detail))
    return out


def format_portfolio(result: dict[str, Any], lang: str) -> str:
    """The portfolio answer from :meth:`Agent.portfolio` (values in VND)."""
    vi = lang == "vi"
    f = lambda v: A.fmt_number(v, lang, 0)  # noqa: E731
    cov = round(result["coverage"] * 100)
    lines = [
        f"Danh mục của bạn, 4 tuần tới (giá trị theo đồng; dữ liệu đến {A.fmt_date(__import__('datetime').date.fromisoformat(result['data_as_of']), lang)}):"
        if vi
        else f"Your portfolio over the next 4 weeks (values in VND; data as of {result['data_as_of']}):"
    ]
    for r in result["holdings"]:
        lines.append(
            f"• {r['symbol']} × {f(r['quantity'])}: hiện {f(r['value_now'])} → mục tiêu "
            f"{f(r['value_target'])}, khoảng {cov}%: {f(r['value_low'])} – {f(r['value_high'])}"
            f" ({A.pattern_label(r['pattern'], lang)})"
            if vi
            else f"• {r['symbol']} × {f(r['quantity'])}: now {f(r['value_now'])} → target "
            f"{f(r['value_target'])}, {cov}% range {f(r['value_low'])} – {f(r['value_high'])}"
            f" ({A.pattern_label(r['pattern'], lang)})"
        )
    lines.append(
        f"Tổng: hiện {f(result['value_now'])} → mục tiêu {f(result['value_target'])} "
        f"({A.fmt_pct(result['expected_change'], lang)}); khoảng {cov}% của cả danh mục: "
        f"{f(result['value_low'])} – {f(result['value_high'])} (tính theo tương quan đo được giữa "
        "các mã, xấp xỉ phân phối chuẩn)."
        if vi
        else f"Total: now {f(result['value_now'])} → target {f(result['value_target'])} "
        f"({A.fmt_pct(result['expected_change'], lang)}); the portfolio's {cov}% range: "
        f"{f(result['value_low'])} – {f(result['value_high'])} (using the measured correlations "
        "between the stocks, normal approximation)."
    )
    if any(r.get("pnl_now") is not None for r in result["holdings"]):
        lines.append(
            f"Lãi/lỗ tạm tính so với giá vốn: {f(result['pnl_now'])} đồng."
            if vi
            else f"Unrealised profit/loss against cost: {f(result['pnl_now'])} VND."
        )
    return "\n".join(lines)
