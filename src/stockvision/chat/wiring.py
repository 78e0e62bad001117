"""Wire the chat engine to the one prediction service (the same code path as the REST API).

``build_engine(service, settings)`` returns a :class:`ChatService`: the ``ChatEngine`` fed with
four plain functions that call ``stockvision.serving.service.PredictionService`` and a session
store shared by the web UI and ``POST /chat``. Errors reach the engine as raised (one hierarchy,
:mod:`stockvision.errors`): it words them for users from their ``code`` and ``details``. Model-quality answers quote the walk-forward
``metrics.json`` of the latest evaluation; the champions' registry metrics are the fallback.
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from stockvision.chat import answers as A
from stockvision.chat.context import SessionStore
from stockvision.chat.engine import ChatEngine, ChatResponse
from stockvision.chat.llm import LLMRephraser
from stockvision.chat.schemas import ChatResponseModel
from stockvision.config import Settings
from stockvision.predict.types import Prediction

log = logging.getLogger(__name__)

CHAT_SOURCE = "chat"  # ``source`` recorded with predictions served to the chat


@dataclass(frozen=True)
class StoreListing:
    """A symbol found only in the store (simulated or imported), in the resolver's listing shape."""

    symbol: str
    exchange: str
    name: str
    aliases: tuple[str, ...] = ()
    group: str | None = None


class WalkForwardMetrics:
    """The measured walk-forward metrics, re-read only when the evaluation output changes.

    Source order: the pipeline's last ``evaluate`` output (``report_dir/metrics.json``: every model
    evaluated, baselines included); else the metrics the served champions were promoted with
    (``service.models.price_metrics`` / ``pattern_metrics``).
    """

    def __init__(self, service: Any, settings: Settings) -> None:
        self.service = service
        self.settings = settings
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._value: dict[str, Any] | None = None

    def metrics_path(self) -> Path | None:
        """Where the latest evaluation's ``metrics.json`` is, if the pipeline recorded one."""
        from stockvision.pipeline.flow import last_output

        try:
            evaluated = last_output(self.settings, "evaluate")
        except Exception as exc:  # an unreadable record is not worth failing an answer
            log.warning("cannot read the last evaluation record: %s", exc)
            return None
        if evaluated is None or not evaluated.report_dir:
            return None
        report_dir = Path(evaluated.report_dir)
        if not report_dir.is_absolute():
            report_dir = Path(self.settings.home) / report_dir
        path = report_dir / "metrics.json"
        return path if path.is_file() else None

    def __call__(self) -> dict[str, Any]:
        path = self.metrics_path()
        if path is not None:
            try:
                key = (str(path), path.stat().st_mtime_ns)
                with self._lock:
                    if key != self._key:
                        self._value = json.loads(path.read_text(encoding="utf-8"))
                        self._key = key
                    value = self._value or {}
                if value.get("models"):
                    return self._mark_champions(value)
            except (OSError, json.JSONDecodeError) as exc:
                log.warning("cannot read walk-forward metrics %s: %s", path, exc)
        return self.from_registry()

    def _mark_champions(self, metrics: Mapping[str, Any]) -> dict[str, Any]:
        """Order the served champions first so the answer leads with the models in use."""
        models = dict(metrics.get("models") or {})
        loaded = self.service.models
        first = [c for c in (loaded.price_class, loaded.pattern_class) if c and c in models]
        ordered = {name: models[name] for name in first}
        ordered.update({k: v for k, v in models.items() if k not in ordered})
        return {**metrics, "models": ordered}

    def from_registry(self) -> dict[str, Any]:
        """Champions' promotion metrics in the ``metrics.json`` shape (flat dicts per kind)."""
        loaded = self.service.models
        models: dict[str, dict[str, Any]] = {}
        for kind, cls, values in (
            ("price", loaded.price_class, loaded.price_metrics),
            ("pattern", loaded.pattern_class, loaded.pattern_metrics),
        ):
            if values:
                name = cls or f"{kind} champion"
                models.setdefault(name, {"kind": kind})[kind] = dict(values)
        return {"models": models, "source": "registry"} if models else {}


class ChatService:
    """The chat as the app uses it: the engine plus session ids and the HTTP response model.

    ``ask`` has the engine's signature so the web UI can take either; ``respond_model`` is what
    ``POST /chat`` returns. Sessions (history and follow-up context) live in the engine's
    ``SessionStore``, shared by the UI and the endpoint.
    """

    def __init__(self, engine: ChatEngine, service: Any, rank_state: threading.local) -> None:
        self.engine = engine
        self.service = service
        self._rank_state = rank_state

    @property
    def sessions(self) -> SessionStore:
        return self.engine.sessions

    @staticmethod
    def new_session_id() -> str:
        return uuid.uuid4().hex

    def ask(
        self, message: str, session_id: str | None = None, language: str | None = None
    ) -> ChatResponse:
        """Answer ``message`` in the context of ``session_id`` (a fresh session when ``None``)."""
        sid = session_id or self.new_session_id()
        self._rank_state.empty_group = None
        resp = self.engine.ask(message, sid, language)
        group = getattr(self._rank_state, "empty_group", None)
        if group is not None and not resp.predictions:
            resp = self._explain_empty_group(resp, group)
        return resp

    def respond(
        self, message: str, session_id: str | None = None, language: str | None = None
    ) -> tuple[ChatResponse, str]:
        sid = session_id or self.new_session_id()
        return self.ask(message, sid, language), sid

    def respond_model(
        self, message: str, session_id: str | None = None, language: str | None = None
    ) -> ChatResponseModel:
        """The ``POST /chat`` body: answer, intent, symbols and the predictions it used."""
        resp, sid = self.respond(message, session_id, language)
        return ChatResponseModel(
            answer=resp.answer,
            intent=resp.intent,
            symbols=resp.symbols,
            language=resp.language,
            session_id=sid,
            predictions=resp.predictions,
            suggestions=resp.suggestions,
        )

    def _explain_empty_group(self, resp: ChatResponse, universe: Sequence[str]) -> ChatResponse:
        tracked = ", ".join(self.service.panel.symbols) if self.service.panel else ""
        listed = ", ".join(list(universe)[:8])
        if resp.language == "vi":
            body = (
                f"Chưa có mã nào trong nhóm này ({listed}) thuộc dữ liệu đang được theo dõi, nên "
                f"chưa xếp hạng được. Các mã đang theo dõi: {tracked or 'chưa có'}."
            )
        else:
            body = (
                f"None of this group's stocks ({listed}) are in the tracked data yet, so there is "
                f"nothing to rank. Tracked symbols: {tracked or 'none'}."
            )
        return resp.model_copy(update={"answer": A.compose(body, resp.language, False)})


def _listings(service: Any) -> dict[str, Any]:
    """Static listings plus symbols only the store knows (simulated or imported ones)."""
    from stockvision.market.listings import LISTINGS

    table: dict[str, Any] = dict(LISTINGS)
    try:
        summary = service.store.symbols_summary()
        symbols = [str(s).upper() for s in summary["symbol"]] if len(summary) else []
    except Exception as exc:  # the store may not exist yet; listings alone still work
        log.info("chat: store symbols unavailable (%s); using the static listings", exc)
        symbols = []
    for sym in symbols:
        if sym not in table:
            info = service.describe(sym)
            table[sym] = StoreListing(sym, info.exchange, info.name)
    return table


def _history_frame(service: Any, symbol: str, weeks: int) -> pd.DataFrame:
    hist = service.history(symbol, weeks)
    frame = pd.DataFrame(
        {
            "date": pd.to_datetime([b.week_end for b in hist.bars]),
            "open": [b.open for b in hist.bars],
            "high": [b.high for b in hist.bars],
            "low": [b.low for b in hist.bars],
            "close": [b.close for b in hist.bars],
            "volume": [b.volume for b in hist.bars],
        }
    )
    frame.attrs["simulated"] = bool(hist.simulated)
    frame.attrs["adjusted"] = bool(hist.adjusted)
    return frame


def build_engine(
    service: Any,
    settings: Settings,
    sessions: SessionStore | None = None,
    rephraser: Any = None,
) -> ChatService:
    """A ``ChatService`` answering from ``service`` (a started or starting ``PredictionService``)."""
    rank_state = threading.local()

    def predict(symbol: str) -> Prediction:
        return service.predict_one(symbol, CHAT_SOURCE)

    def rank(universe: Sequence[str] | None, direction: str, top_n: int) -> list[Prediction]:
        if universe is None:
            return list(service.rankings(top_n, direction))
        wanted = set(universe)
        # one vectorised (cached) call over the tracked panel, then the group's members
        everything = service.rankings(1_000_000, direction)
        chosen = [p for p in everything if p.symbol in wanted][:top_n]
        if not chosen:
            rank_state.empty_group = sorted(wanted)
        return chosen

    def history(symbol: str, weeks: int) -> pd.DataFrame:
        return _history_frame(service, symbol, weeks)

    def news(symbol: str, limit: int, until: datetime | None = None) -> list[Any]:
        from stockvision.news.views import headlines

        return headlines(service.store, symbol, limit=limit, until=until)

    def track(symbol: str) -> list[Any]:
        return list(service.past_predictions(symbol).items)

    def market() -> list[Prediction]:
        return list(service.rankings(1_000_000, "up"))

    engine = ChatEngine(
        news_fn=news if getattr(service, "store", None) is not None else None,
        track_fn=track,
        market_fn=market,
        predict_fn=predict,
        rank_fn=rank,
        history_fn=history,
        metrics_fn=WalkForwardMetrics(service, settings),
        listings=_listings(service),
        sessions=sessions or SessionStore(),
        rephraser=rephraser if rephraser is not None else LLMRephraser.from_settings(settings),
    )
    return ChatService(engine, service, rank_state)


#: The evaluation docs (protocol, model cards, measured quality) of this checkout: a fixed path,
#: never one from a client. Absent in a wheel install, then nothing is indexed.
EVALUATION_DOC = Path(__file__).resolve().parents[3] / "docs" / "evaluation.md"


def index_evaluation_docs(memory: Any, path: Path = EVALUATION_DOC) -> int:
    """Index the sections of ``docs/evaluation.md`` into the shared documents of memory (only
    changed sections are embedded again); the number embedded, 0 when the file is absent."""
    from stockvision.chat.memory import markdown_sections

    try:
        if not path.is_file():
            return 0
        docs = markdown_sections(path.read_text(encoding="utf-8"), f"docs/{path.name}")
        return memory.index_documents(docs)
    except Exception as exc:  # optional part: answers still work without the docs
        if getattr(memory, "closed", False):  # the app shut down mid-way: nothing is wrong
            log.debug("indexing %s stopped: memory closed", path)
        else:
            log.warning("could not index %s into memory: %s", path, exc)
        return 0


def build_agent(
    chat: ChatService,
    settings: Settings,
    memory: Any = None,
    llm: Any = None,
    start_indexing: bool = True,
) -> Any:
    """The agent (``POST /agent/chat``) over the same engine, with per-user memory in Qdrant.

    Memory is local Qdrant under the data directory unless ``SV_MEMORY_URL`` names a server; if it
    cannot open (another process holds the local store, qdrant-client missing) the agent answers
    without memory and says so in the log, rather than failing every request. The docs-then-news
    indexing thread starts now, or with ``start_indexing=False`` at :meth:`Agent.start_indexing`
    (the app's start-up: an app that is built but never started embeds nothing).
    """
    from stockvision.chat.agent import Agent
    from stockvision.chat.llm import LLMAgentPlanner

    if memory is None and settings.agent_memory:
        try:
            from stockvision.chat.memory import Memory

            memory = Memory.from_settings(settings)
        except Exception as exc:  # optional part: the agent still answers
            log.warning("agent memory unavailable (%s); answering without memory", exc)
            memory = None
    if llm is None:
        llm = LLMAgentPlanner.from_settings(settings)
    store = getattr(chat.service, "store", None)
    indexer = None
    if memory is not None and store is not None and settings.agent_news_index_max > 0:
        from stockvision.chat.news_index import NewsIndexer

        indexer = NewsIndexer(
            memory,
            store,
            max_items=settings.agent_news_index_max,
            poll_seconds=settings.agent_news_poll_seconds,
            progress_path=Path(settings.home) / "memory" / "news_index.json",
        )
    if memory is not None:

        def index_shared() -> None:  # docs first (small), then news (capped, polled)
            index_evaluation_docs(memory)
            if indexer is not None and not getattr(memory, "closed", False):
                indexer.start()

        shared_thread = threading.Thread(target=index_shared, name="sv-doc-index", daemon=True)
    else:
        shared_thread = None
    alerts = None
    if store is not None:  # the alert rows the stream worker evaluates (data layer, not stream)
        from stockvision.data.store.alerts import AlertStore

        alerts = AlertStore(store)
    agent = Agent(chat.engine, memory=memory, llm=llm, alerts=alerts)
    agent.news_indexer = indexer
    agent.index_thread = shared_thread  # stopped and joined at shutdown before memory closes
    if start_indexing:
        agent.start_indexing()
    return agent
