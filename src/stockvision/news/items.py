"""One news item, and the normalisation behind deduplication.

Why a content key instead of the publisher's id: the same article reaches us through several files
and feeds (a JSON export, an RSS feed, vnstock), each with its own id or none. Two records are the
same item when their normalised title and normalised link agree, so the key is a hash of those two;
tracking parameters, ``www.``, the scheme and a trailing slash never make a duplicate look new.
"""

from __future__ import annotations

import hashlib
import html
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import pandas as pd

TITLE_MAX = 500
SUMMARY_MAX = 2000
LINK_MAX = 1000
SOURCE_MAX = 64
_TRACKING = re.compile(r"^(utm_\w+|fbclid|gclid|zarsrc|ref|source)$", re.IGNORECASE)
_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")
#: control, zero-width and bidirectional-override characters (never meant to be shown)
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]"
)


@dataclass
class NewsItem:
    """A news item as stored: published time is naive UTC; ``symbols`` is filled by the tagger."""

    title: str
    link: str
    published: datetime
    source: str
    summary: str = ""
    origin_id: str = ""
    symbols: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        return dedup_key(self.title, self.link)


def clean_text(value: Any, limit: int) -> str:
    """Plain text: HTML tags dropped, entities decoded, NFC, whitespace collapsed, length capped."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    text = html.unescape(_TAGS.sub(" ", str(value)))
    text = unicodedata.normalize("NFC", text)
    text = _CONTROL.sub("", text)
    return _SPACE.sub(" ", text).strip()[:limit]


def normalise_title(title: str) -> str:
    """Lower case, NFC, punctuation and spacing removed (keeps Vietnamese letters)."""
    text = unicodedata.normalize("NFC", title).lower()
    return " ".join(re.sub(r"[^\w]+", " ", text).split())


def normalise_link(link: str) -> str:
    """Scheme, ``www.``, fragment, tracking parameters and trailing slash removed."""
    parts = urlsplit(link.strip())
    host = parts.netloc.lower().removeprefix("www.")
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING.match(k)
    ]
    path = parts.path.rstrip("/")
    q = urlencode(sorted(query))
    return f"{host}{path}" + (f"?{q}" if q else "")


def dedup_key(title: str, link: str) -> str:
    """The item's identity: SHA-1 of normalised title and link (40 hex characters)."""
    raw = f"{normalise_title(title)}\n{normalise_link(link)}"
    return hashlib.sha1(raw.encode("utf-8")).hexdigest()


def parse_published(value: Any) -> datetime:
    """Naive UTC datetime from ISO 8601, RFC 822, epoch seconds or milliseconds.

    A time without a zone is taken as Vietnam time (UTC+7): that is what Vietnamese publishers print.
    Raises ``ValueError`` when the value is not a time.
    """
    if value is None or value == "":
        raise ValueError("no publication time")
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value) / (1000.0 if value > 1e11 else 1.0)
        return datetime.fromtimestamp(seconds, tz=UTC).replace(tzinfo=None)
    if isinstance(value, datetime):
        ts = pd.Timestamp(value)
    else:
        text = str(value).strip()
        if text.isdigit():
            return parse_published(int(text))
        try:  # the common case (ISO 8601 with a zone) without pandas' slower parser
            fast = datetime.fromisoformat(text.replace("Z", "+00:00"))
            if fast.tzinfo is not None:
                return fast.astimezone(UTC).replace(tzinfo=None)
        except ValueError:
            pass
        try:
            ts = pd.Timestamp(text)
        except (ValueError, TypeError):
            from email.utils import parsedate_to_datetime

            try:
                ts = pd.Timestamp(parsedate_to_datetime(text))
            except (TypeError, ValueError, IndexError) as exc:
                raise ValueError(f"unreadable publication time {text!r}") from exc
    if pd.isna(ts):
        raise ValueError(f"unreadable publication time {value!r}")
    if ts.tzinfo is None:
        ts = ts.tz_localize("Asia/Ho_Chi_Minh")
    return ts.tz_convert("UTC").tz_localize(None).to_pydatetime()


def make_item(
    *,
    title: Any,
    link: Any,
    published: Any,
    source: Any,
    summary: Any = "",
    origin_id: Any = "",
) -> NewsItem:
    """A validated item; raises ``ValueError`` naming the missing or bad field."""
    clean_title = clean_text(title, TITLE_MAX)
    if not clean_title:
        raise ValueError("empty title")
    clean_link = clean_text(link, LINK_MAX)
    if clean_link and not re.match(r"^https?://", clean_link, re.IGNORECASE):
        raise ValueError(f"link is not an http(s) URL: {clean_link[:80]!r}")
    return NewsItem(
        title=clean_title,
        link=clean_link,
        published=parse_published(published),
        source=clean_text(source, SOURCE_MAX) or "unknown",
        summary=clean_text(summary, SUMMARY_MAX),
        origin_id=clean_text(origin_id, 128),
    )
