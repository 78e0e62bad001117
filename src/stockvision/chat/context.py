"""Per-session conversation memory so follow-ups ("còn FPT thì sao?", "tại sao?") make sense.

A ``SessionStore`` keeps one ``Conversation`` per session id, bounded in turns and sessions,
expiring idle sessions after a TTL; every method takes a lock so the Gradio UI and the HTTP
endpoint can share one store across threads.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Turn:
    """One exchange: what the user said and how it was understood."""

    text: str
    intent: str
    symbols: tuple[str, ...]
    answer: str
    at: float


@dataclass
class Conversation:
    """The memory of one chat session; the parser reads the ``last_*`` fields."""

    session_id: str
    max_turns: int = 20
    last_symbols: list[str] = field(default_factory=list)
    last_intent: str | None = None
    last_group: str | None = None
    last_direction: str | None = None
    last_top_n: int | None = None
    language: str | None = None
    updated_at: float = field(default_factory=time.monotonic)
    turns: deque[Turn] = field(init=False)

    def __post_init__(self) -> None:
        if self.max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {self.max_turns}")
        self.turns = deque(maxlen=self.max_turns)

    def remember(self, query: Any, answer: str, now: float | None = None) -> None:
        """Record a parsed query (``ParsedQuery``) and its answer; keep the topic for follow-ups."""
        now = time.monotonic() if now is None else now
        symbols = list(getattr(query, "symbols", []) or [])
        intent = getattr(query, "intent", None)
        self.turns.append(
            Turn(getattr(query, "text", ""), intent or "", tuple(symbols), answer, now)
        )
        if intent in {"greeting", "help", "out_of_scope", "model_quality"}:
            self.updated_at = now
            return  # small talk does not change the topic
        if symbols:
            self.last_symbols = symbols
        self.last_intent = intent
        if intent == "ranking":
            self.last_group = getattr(query, "group", None)
            self.last_direction = getattr(query, "direction", None)
            self.last_top_n = getattr(query, "top_n", None)
        self.language = getattr(query, "language", None) or self.language
        self.updated_at = now


class SessionStore:
    """Thread-safe map session id -> ``Conversation`` with TTL and a cap on live sessions."""

    def __init__(
        self,
        ttl_seconds: float = 1800.0,
        max_sessions: int = 10_000,
        max_turns: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl_seconds <= 0 or max_sessions < 1:
            raise ValueError("ttl_seconds must be > 0 and max_sessions >= 1")
        self.ttl_seconds = ttl_seconds
        self.max_sessions = max_sessions
        self.max_turns = max_turns
        self._clock = clock
        self._sessions: OrderedDict[str, Conversation] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, session_id: str) -> Conversation:
        """The session's conversation, a fresh one if it is new or expired."""
        if not session_id:
            raise ValueError("session_id must be a non-empty string")
        now = self._clock()
        with self._lock:
            self._expire(now)
            conv = self._sessions.get(session_id)
            if conv is None:
                conv = Conversation(session_id, max_turns=self.max_turns, updated_at=now)
                self._sessions[session_id] = conv
                while len(self._sessions) > self.max_sessions:
                    self._sessions.popitem(last=False)
            self._sessions.move_to_end(session_id)
            return conv

    def record(self, session_id: str, query: Any, answer: str) -> Conversation:
        """Remember one exchange under the lock."""
        conv = self.get(session_id)
        with self._lock:
            conv.remember(query, answer, now=self._clock())
        return conv

    def reset(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        with self._lock:
            self._expire(self._clock())
            return len(self._sessions)

    def _expire(self, now: float) -> None:
        stale = [k for k, c in self._sessions.items() if now - c.updated_at > self.ttl_seconds]
        for key in stale:
            del self._sessions[key]
