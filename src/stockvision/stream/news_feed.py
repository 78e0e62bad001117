"""News on the stream: each stored headline (with its tone) as a message of the ``news`` stream.

One message per (item, symbol), keyed by the symbol so a subscriber of one stock gets its news; the
``msg_id`` is ``<item key>:<symbol>``, so publishing the same headlines again is recognised by the
bus's duplicate detection and by idempotent sinks (delivery is at least once).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

NEWS_STREAM = "news"


def news_messages(rows: Iterable[dict[str, Any]]) -> list[tuple[dict[str, Any], str, str]]:
    """``(data, key, msg_id)`` of stored rows (``NewsRepository.for_symbol``/``latest`` shape)."""
    out = []
    for r in rows:
        published = r["published_at"]
        when = published.isoformat() + "Z" if isinstance(published, datetime) else str(published)
        for sym in r.get("symbols") or []:
            data = {
                "symbol": sym,
                "title": r["title"],
                "source": r["source"],
                "link": r.get("link"),
                "published_at": when,
                "tone": r.get("tone"),
                "p_negative": r.get("p_negative"),
                "p_neutral": r.get("p_neutral"),
                "p_positive": r.get("p_positive"),
            }
            out.append((data, sym, f"{r['key']}:{sym}"))
    return out


async def publish_news(bus: Any, rows: Iterable[dict[str, Any]]) -> list[int]:
    """Publish the rows' headlines on the ``news`` stream; returns their sequence numbers."""
    messages = news_messages(rows)
    if not messages:
        return []
    await bus.ensure_stream(NEWS_STREAM)
    return await bus.publish_many(NEWS_STREAM, messages)
