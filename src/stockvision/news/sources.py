"""Where news comes from: JSON Lines files, RSS 2.0 / Atom feeds and vnstock's company news.

Every reader returns ``(items, errors)``: a bad line or entry is reported with its position and
reason and never stops the others (bad input: lose nothing, count it). Feeds are untrusted XML, so
they are parsed with ``defusedxml`` (no entity expansion bombs, no external entities).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from stockvision.errors import DataValidationError, SourceError, SourceUnavailableError
from stockvision.news.items import NewsItem, make_item

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ItemError:
    """One rejected record: where it was and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


Parsed = tuple[list[NewsItem], list[ItemError]]


# --- JSON Lines -------------------------------------------------------------------------------
def read_jsonl(path: Path | str, *, default_source: str = "") -> Parsed:
    """Items of a JSON Lines file (``id, published, source, title, summary, link`` per line)."""
    path = Path(path)
    items: list[NewsItem] = []
    errors: list[ItemError] = []
    with path.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            where = f"{path.name}:{lineno}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(ItemError(where, f"not JSON ({exc.msg})"))
                continue
            if not isinstance(record, dict):
                errors.append(ItemError(where, "not a JSON object"))
                continue
            try:
                items.append(
                    make_item(
                        title=record.get("title"),
                        link=record.get("link") or record.get("url"),
                        published=record.get("published") or record.get("published_at"),
                        source=record.get("source") or default_source or path.stem,
                        summary=record.get("summary") or record.get("description") or "",
                        origin_id=record.get("id") or "",
                    )
                )
            except ValueError as exc:
                errors.append(ItemError(where, str(exc)))
    return items, errors


# --- RSS / Atom -------------------------------------------------------------------------------
_ATOM = "{http://www.w3.org/2005/Atom}"
_DC = "{http://purl.org/dc/elements/1.1/}"


def _text(node: Element | None) -> str:
    return "".join(node.itertext()).strip() if node is not None else ""


def parse_feed(data: bytes | str, *, source: str = "") -> Parsed:
    """Items of an RSS 2.0 or Atom document. Malformed or dangerous XML raises ``DataValidationError``."""
    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import ParseError, fromstring

    try:
        root = fromstring(data.encode("utf-8") if isinstance(data, str) else data)
    except (ParseError, DefusedXmlException) as exc:
        raise DataValidationError(
            f"the feed is not well-formed or safe XML ({exc})",
            "Check the feed URL or file; entity declarations are refused on purpose.",
            message_vi="Nguồn tin RSS/Atom không phải XML hợp lệ.",
        ) from exc
    items: list[NewsItem] = []
    errors: list[ItemError] = []
    if root.tag == f"{_ATOM}feed":
        feed_title = _text(root.find(f"{_ATOM}title"))
        for n, entry in enumerate(root.iter(f"{_ATOM}entry"), start=1):
            link = ""
            for ln in entry.findall(f"{_ATOM}link"):
                if ln.get("rel", "alternate") == "alternate":
                    link = ln.get("href", "")
                    break
            published = _text(entry.find(f"{_ATOM}published")) or _text(
                entry.find(f"{_ATOM}updated")
            )
            _append(
                items,
                errors,
                f"entry {n}",
                title=_text(entry.find(f"{_ATOM}title")),
                link=link,
                published=published,
                source=source or feed_title,
                summary=_text(entry.find(f"{_ATOM}summary"))
                or _text(entry.find(f"{_ATOM}content")),
                origin_id=_text(entry.find(f"{_ATOM}id")),
            )
    elif root.tag == "rss" or root.find("channel") is not None:
        channel = root.find("channel")
        feed_title = _text(channel.find("title")) if channel is not None else ""
        for n, item in enumerate(root.iter("item"), start=1):
            _append(
                items,
                errors,
                f"item {n}",
                title=_text(item.find("title")),
                link=_text(item.find("link")),
                published=_text(item.find("pubDate")) or _text(item.find(f"{_DC}date")),
                source=source or feed_title,
                summary=_text(item.find("description")),
                origin_id=_text(item.find("guid")),
            )
    else:
        raise DataValidationError(
            f"unknown feed format (root element {root.tag!r})",
            "Give an RSS 2.0 or Atom feed.",
            message_vi="Định dạng nguồn tin không được hỗ trợ (cần RSS 2.0 hoặc Atom).",
        )
    return items, errors


def _append(items: list[NewsItem], errors: list[ItemError], where: str, **fields: Any) -> None:
    try:
        items.append(make_item(**fields))
    except ValueError as exc:
        errors.append(ItemError(where, str(exc)))


def read_file(path: Path | str) -> Parsed:
    """A news file by its content: JSON Lines, or an RSS/Atom XML document."""
    path = Path(path)
    if not path.is_file():
        raise DataValidationError(
            f"news file {path.name!r} not found",
            "Give the path of a .jsonl, .rss, .atom or .xml file.",
            message_vi=f"Không tìm thấy tệp tin tức {path.name!r}.",
        )
    with path.open("rb") as fh:
        head = fh.read(512).lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return parse_feed(path.read_bytes(), source="")
    return read_jsonl(path)


# --- vnstock company news ---------------------------------------------------------------------
#: Column names of vnstock's company news frames, per provider, mapped to item fields.
_VNSTOCK_COLUMNS: dict[str, tuple[str, ...]] = {
    "title": ("news_title", "title"),
    "link": ("news_source_link", "url", "link"),
    "published": ("public_date", "publish_date", "published", "created_at"),
    "summary": ("news_short_content", "news_sub_title", "summary"),
    "origin_id": ("news_id", "id"),
    "source": ("source",),
}


def _pick(row: dict[str, Any], names: Iterable[str]) -> Any:
    for name in names:
        value = row.get(name)
        if value is not None and value == value and value != "":
            return value
    return None


class VnstockNewsClient:
    """Company news through ``vnstock`` (``client.stock(symbol, source).company.news()``).

    The client is injected like the price source's, so tests run offline on recorded frames. Calls
    are paced (``min_interval`` seconds: the guest limit is about 20 calls a minute) and transient
    failures retried; the symbol asked for is always among the item's symbols.
    """

    def __init__(
        self,
        client_factory: Callable[[], Any] | None = None,
        *,
        source: str = "VCI",
        retries: int = 2,
        min_interval: float = 3.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client_factory = client_factory
        self.source = source
        self.retries = retries
        self.min_interval = min_interval
        self._sleep = sleep
        self._clock = clock
        self._last: float | None = None
        self._client: Any = None
        self.calls = 0

    def _get_client(self) -> Any:
        if self._client is None:
            if self.client_factory is None:
                from stockvision.data.sources.vnstock_source import default_client_factory

                self.client_factory = default_client_factory
            self._client = self.client_factory()
        return self._client

    def _pace(self) -> None:
        now = self._clock()
        if self._last is not None and now - self._last < self.min_interval:
            self._sleep(self.min_interval - (now - self._last))
        self._last = self._clock()

    def fetch(self, symbol: str) -> Parsed:
        """News items of one symbol, tagged with it."""
        symbol = symbol.strip().upper()
        frame = None
        last_exc: Exception | None = None
        for attempt in range(self.retries + 1):
            self._pace()
            try:
                self.calls += 1
                frame = self._get_client().stock(symbol=symbol, source=self.source).company.news()
                break
            except SourceUnavailableError:
                raise
            except (ValueError, KeyError, TypeError) as exc:  # an answer we cannot read: no retry
                raise SourceError(f"vnstock returned unreadable news for {symbol}: {exc}") from exc
            except Exception as exc:  # network-ish: retry with backoff
                last_exc = exc
                log.warning("vnstock news %s attempt %d failed: %s", symbol, attempt + 1, exc)
                self._sleep(2.0**attempt)
        if frame is None:
            raise SourceUnavailableError(
                f"vnstock news for {symbol} failed after {self.retries + 1} attempts: {last_exc}",
                "Check the network connection, or import a news file instead.",
            )
        items: list[NewsItem] = []
        errors: list[ItemError] = []
        records = frame.to_dict("records") if hasattr(frame, "to_dict") else list(frame or [])
        for n, row in enumerate(records, start=1):
            fields = {k: _pick(row, names) for k, names in _VNSTOCK_COLUMNS.items()}
            fields["source"] = fields["source"] or f"vnstock-{self.source}"
            fields["summary"] = fields["summary"] or ""
            fields["origin_id"] = fields["origin_id"] or ""
            before = len(items)
            _append(items, errors, f"vnstock {symbol} row {n}", **fields)
            if len(items) > before:
                items[-1].symbols = [symbol]
        return items, errors
