"""News in the store: idempotent, transactional import and the reads the surfaces need.

An import is one transaction: a killed process leaves either all of a batch or none of it. Items
already stored (same dedup key) are counted, never duplicated; a re-import of the same file writes
nothing. Symbol links are a separate table, so a later source (vnstock's per-symbol news) can add a
symbol to an item that is already stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, and_, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from stockvision.data.store import Store
from stockvision.data.store import tables as t
from stockvision.news.items import NewsItem
from stockvision.news.sources import ItemError

_CHUNK = 500
#: (titles) -> (labels, probabilities n x 3 in TONES order, model id)
Scorer = Callable[[list[str]], tuple[list[str], Any, str]]
TONES = ("negative", "neutral", "positive")


@dataclass
class NewsImportReport:
    """Counts of one import, and the first rejected records with their reasons."""

    source: str
    read: int = 0
    rejected: int = 0
    duplicates_in_input: int = 0
    inserted: int = 0
    already_stored: int = 0
    symbol_links_added: int = 0
    tagged_items: int = 0
    scored: int = 0
    seconds: float = 0.0
    errors: list[str] = field(default_factory=list)
    #: keys of the items this import inserted (for publishing them; left out of the report)
    new_keys: list[str] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("new_keys")
        return data

    def summary(self) -> str:
        text = (
            f"{self.source}: {self.read} read, {self.inserted} new, {self.already_stored} already "
            f"stored, {self.duplicates_in_input} duplicates in input, {self.rejected} rejected, "
            f"{self.tagged_items} new items with symbols, {self.symbol_links_added} symbol links "
            f"added, {self.scored} scored ({self.seconds:.1f} s)"
        )
        if self.errors:
            text += "\n  " + "\n  ".join(self.errors[:10])
        return text


def _insert(conn: Connection, table: Any) -> Any:
    return (sqlite.insert if conn.dialect.name == "sqlite" else postgresql.insert)(table)


class NewsRepository:
    """Read and write news items of a :class:`~stockvision.data.store.Store`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine

    # --- writes -------------------------------------------------------------------------------
    def add(
        self,
        items: Sequence[NewsItem],
        *,
        source: str,
        errors: Iterable[ItemError] = (),
        tagger: Callable[[NewsItem], list[str]] | None = None,
        scorer: Scorer | None = None,
    ) -> NewsImportReport:
        """Store ``items`` (deduplicated), tag the new ones and score their headlines."""
        started = datetime.now(UTC).replace(tzinfo=None)
        clock = pd.Timestamp.now()
        errors = list(errors)
        report = NewsImportReport(source=source, read=len(items) + len(errors))
        report.rejected = len(errors)
        report.errors = [str(e) for e in errors[:50]]
        unique: dict[str, NewsItem] = {}
        for item in items:
            key = item.key
            if key in unique:
                report.duplicates_in_input += 1
                unique[key].symbols = sorted({*unique[key].symbols, *item.symbols})
            else:
                unique[key] = item
        with self.engine.connect() as conn:
            conn.execution_options(sv_write=True)
            with conn.begin():
                existing = self._existing(conn, list(unique))
                new = [it for k, it in unique.items() if k not in existing]
                report.already_stored = len(unique) - len(new)
                if tagger is not None:
                    for it in new:
                        it.symbols = sorted({*it.symbols, *tagger(it)})
                now = datetime.now(UTC).replace(tzinfo=None)
                rows = [_row(it, now, None) for it in new]
                for i in range(0, len(rows), _CHUNK):
                    conn.execute(t.news_items.insert(), rows[i : i + _CHUNK])
                report.inserted = len(rows)
                report.new_keys = [it.key for it in new]
                report.tagged_items = sum(1 for it in new if it.symbols)
                links = [
                    {"key": k, "symbol": s}
                    for k, it in unique.items()
                    for s in sorted(set(it.symbols))
                ]
                for i in range(0, len(links), _CHUNK):
                    stmt = (
                        _insert(conn, t.news_symbols)
                        .on_conflict_do_nothing()
                        .returning(t.news_symbols.c.key)
                    )
                    added = conn.execute(stmt, links[i : i + _CHUNK]).all()
                    report.symbol_links_added += len(added)
        if scorer is not None and new:
            # after the import's transaction, in short batches: a slow model (e5 scores about a
            # dozen headlines a second on 2 busy cores) never holds the write lock for minutes,
            # and a killed run leaves stored items unscored ('news sentiment score' finishes)
            report.scored = self._score(scorer, [(it.key, it.title) for it in new])
        report.seconds = (pd.Timestamp.now() - clock).total_seconds()
        self.store.log_ingest_run(
            f"news:{source}"[:32],
            started_at=started,
            rows_in=report.read,
            rows_written=report.inserted,
            rows_rejected=report.rejected,
            status="ok",
            message=report.summary()[:2000],
        )
        return report

    @staticmethod
    def _existing(conn: Connection, keys: list[str]) -> set[str]:
        found: set[str] = set()
        col = t.news_items.c.key
        for i in range(0, len(keys), _CHUNK):
            found.update(conn.execute(select(col).where(col.in_(keys[i : i + _CHUNK]))).scalars())
        return found

    def set_tones(
        self,
        scorer: Scorer,
        *,
        rescore: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Score stored headlines without a tone (all of them with ``rescore``); returns the count."""
        c = t.news_items.c
        stmt = select(c.key, c.title).order_by(c.published_at.desc())
        if not rescore:
            stmt = stmt.where(c.tone.is_(None))
        with self.engine.connect() as conn:
            rows = [(r.key, r.title) for r in conn.execute(stmt)]
        return self._score(scorer, rows, progress=progress)

    def _score(
        self,
        scorer: Scorer,
        rows: list[tuple[str, str]],
        *,
        batch: int = 256,
        progress: Callable[[int, int], None] | None = None,
    ) -> int:
        """Score ``(key, title)`` rows in batches, one short write transaction per batch."""
        c = t.news_items.c
        done = 0
        for i in range(0, len(rows), batch):
            part = rows[i : i + batch]
            labels, probs, model_id = scorer([title for _, title in part])
            with self.engine.connect() as conn:
                conn.execution_options(sv_write=True)
                with conn.begin():
                    for (key, _), label, p in zip(part, labels, probs, strict=True):
                        conn.execute(
                            update(t.news_items)
                            .where(c.key == key)
                            .values(**_tone_values((label, [float(x) for x in p], model_id)))
                        )
            done += len(part)
            if progress is not None:
                progress(done, len(rows))
        return done

    # --- reads --------------------------------------------------------------------------------
    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(t.news_items)).scalar() or 0)

    def for_symbol(
        self,
        symbol: str,
        *,
        limit: int = 10,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Latest items about ``symbol`` (newest first), each with its symbols and tone."""
        c = t.news_items.c
        s = t.news_symbols.c
        stmt = (
            select(t.news_items)
            .join(t.news_symbols, s.key == c.key)
            .where(s.symbol == symbol.strip().upper())
        )
        if since is not None:
            stmt = stmt.where(c.published_at >= since)
        if until is not None:
            stmt = stmt.where(c.published_at <= until)
        stmt = stmt.order_by(c.published_at.desc(), c.key).limit(max(1, min(int(limit), 200)))
        return self._with_symbols(stmt)

    def by_keys(self, keys: Sequence[str]) -> list[dict[str, Any]]:
        """Stored items with these keys (newest first), with symbols and tone."""
        c = t.news_items.c
        out: list[dict[str, Any]] = []
        for i in range(0, len(keys), _CHUNK):
            stmt = select(t.news_items).where(c.key.in_(list(keys[i : i + _CHUNK])))
            out.extend(self._with_symbols(stmt))
        return sorted(out, key=lambda r: r["published_at"], reverse=True)

    def marker(self) -> tuple[int, datetime | None]:
        """``(items stored, latest ingestion time)``: changes whenever an import adds items, so a
        reader can tell cheaply that there is nothing new."""
        c = t.news_items.c
        with self.engine.connect() as conn:
            n, last = conn.execute(select(func.count(), func.max(c.ingested_at))).one()
        return int(n or 0), last

    def latest(self, *, limit: int = 10) -> list[dict[str, Any]]:
        c = t.news_items.c
        return self._with_symbols(
            select(t.news_items).order_by(c.published_at.desc(), c.key).limit(limit)
        )

    def _with_symbols(self, stmt: Any) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(stmt)]
            keys = [r["key"] for r in rows]
            links: dict[str, list[str]] = {k: [] for k in keys}
            if keys:
                s = t.news_symbols.c
                for key, sym in conn.execute(
                    select(s.key, s.symbol).where(s.key.in_(keys)).order_by(s.symbol)
                ):
                    links[key].append(sym)
        for r in rows:
            r["symbols"] = links[r["key"]]
        return rows

    def symbol_frame(
        self,
        symbols: Iterable[str] | None = None,
        *,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> pd.DataFrame:
        """One row per (item, symbol): ``symbol, published_at, tone, p_negative, p_neutral,
        p_positive`` (for weekly features)."""
        c = t.news_items.c
        s = t.news_symbols.c
        stmt = select(
            s.symbol, c.published_at, c.tone, c.p_negative, c.p_neutral, c.p_positive
        ).join(t.news_items, s.key == c.key)
        conds = []
        if symbols is not None:
            conds.append(s.symbol.in_(sorted({x.strip().upper() for x in symbols})))
        if start is not None:
            conds.append(c.published_at >= start)
        if end is not None:
            conds.append(c.published_at <= end)
        if conds:
            stmt = stmt.where(and_(*conds))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        frame = pd.DataFrame(
            rows,
            columns=["symbol", "published_at", "tone", "p_negative", "p_neutral", "p_positive"],
        )
        frame["published_at"] = pd.to_datetime(frame["published_at"]).astype("datetime64[ns]")
        return frame


def _tone_values(tone: tuple[str, list[float], str] | None) -> dict[str, Any]:
    if tone is None:
        return {}
    label, p, model_id = tone
    return {
        "tone": label,
        "p_negative": p[0],
        "p_neutral": p[1],
        "p_positive": p[2],
        "tone_model": model_id[:64],
    }


def _row(
    item: NewsItem, now: datetime, tone: tuple[str, list[float], str] | None
) -> dict[str, Any]:
    return {
        "key": item.key,
        "published_at": item.published,
        "source": item.source,
        "title": item.title,
        "summary": item.summary or None,
        "link": item.link or None,
        "origin_id": item.origin_id or None,
        "ingested_at": now,
        "tone": None,
        "p_negative": None,
        "p_neutral": None,
        "p_positive": None,
        "tone_model": None,
        **_tone_values(tone),
    }
