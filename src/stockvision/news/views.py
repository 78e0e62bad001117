"""What the surfaces (API, chat, CLI) show of a symbol's news: dated headlines with tone and link.

One function builds the view so the three surfaces agree; text from publishers is untrusted, so
each surface escapes it for its own medium (HTML entities for the API, Markdown for the chat).
"""

from __future__ import annotations

import html
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from stockvision.data.store import Store
from stockvision.news.repository import NewsRepository

TONE_VI = {"negative": "tiêu cực", "neutral": "trung tính", "positive": "tích cực"}
_SAFE_LINK = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)


@dataclass
class Headline:
    """One headline as shown: plain text fields, tone probabilities when scored."""

    title: str
    source: str
    published_at: datetime
    link: str | None
    tone: str | None
    p_negative: float | None
    p_neutral: float | None
    p_positive: float | None
    symbols: list[str]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["published_at"] = self.published_at.isoformat() + "Z"
        return data


def safe_link(link: str | None) -> str | None:
    """An http(s) URL without spaces or quotes, or None (never a ``javascript:`` link)."""
    return link if link and _SAFE_LINK.match(link) else None


def html_text(text: str) -> str:
    """HTML-escaped text (API clients may put it into a page as is)."""
    return html.escape(text, quote=True)


def headlines(
    store: Store,
    symbol: str,
    *,
    limit: int = 10,
    until: datetime | None = None,
    days: int | None = None,
) -> list[Headline]:
    """The latest headlines about ``symbol``, newest first (``days``: only the last N days
    before ``until``)."""
    now = until or datetime.now(UTC).replace(tzinfo=None)
    since = now - timedelta(days=days) if days else None
    rows = NewsRepository(store).for_symbol(symbol, limit=limit, since=since, until=until)
    return [
        Headline(
            title=r["title"],
            source=r["source"],
            published_at=r["published_at"],
            link=safe_link(r["link"]),
            tone=r["tone"],
            p_negative=r["p_negative"],
            p_neutral=r["p_neutral"],
            p_positive=r["p_positive"],
            symbols=r["symbols"],
        )
        for r in rows
    ]
