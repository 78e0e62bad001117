"""News in the chat: "tin tức VNM", "VNM có tin gì mới?", and the news behind "tại sao HPG giảm?".

Self-contained on purpose (the engine only asks :func:`is_news_request` and calls
:func:`format_news`): headlines come from an injected ``news_fn(symbol, limit)``, which reads the
store, so an answer cites only stored, dated headlines and never invents one. Publisher text is
untrusted and Markdown-escaped; links are shown only when they are plain http(s) URLs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Any

from stockvision.chat.text import escape_markdown, fold

#: ``news_fn(symbol, limit[, until]) -> headlines`` (objects with ``title, source,
#: published_at, link, tone, p_negative, p_neutral, p_positive``), newest first; ``until``
#: (naive UTC) keeps those published by then, for the reasons behind a forecast (point in time).
NewsFn = Callable[..., Sequence[Any]]

_NEWS_CUE = re.compile(
    r"\b(tin tuc|tin gi|tin moi|ban tin|co tin|tin nao|news|headline|headlines|bao chi)\b"
)
_TONE = {
    "vi": {"negative": "tiêu cực", "neutral": "trung tính", "positive": "tích cực"},
    "en": {"negative": "negative", "neutral": "neutral", "positive": "positive"},
}
_SAFE_LINK = re.compile(r"^https?://[^\s<>\"'()\[\]]+$", re.IGNORECASE)


def is_news_request(text: str) -> bool:
    """Whether a message asks for news (folded: works with or without diacritics)."""
    return bool(_NEWS_CUE.search(fold(text)))


def _tone(item: Any, lang: str) -> str:
    if not item.tone:
        return "chưa chấm giọng điệu" if lang == "vi" else "tone not scored"
    p = {"negative": item.p_negative, "neutral": item.p_neutral, "positive": item.p_positive}
    prob = p.get(item.tone)
    label = _TONE[lang][item.tone]
    return f"{label} {prob:.0%}" if prob is not None else label


def format_news(
    symbol: str,
    items: Sequence[Any],
    lang: str,
    *,
    now: datetime | None = None,
    why: bool = False,
    until: date | None = None,
) -> str:
    """The headlines as a dated Markdown list; an honest sentence when there are none.

    ``until``: the data date the headlines were cut at (a "why" answer cites only news published
    by then), said in the heading so a reader knows later news was left out on purpose."""
    vi = lang == "vi"
    sym = escape_markdown(symbol)
    if until is not None and why:
        day = until.strftime("%d/%m/%Y" if vi else "%Y-%m-%d")
        if not items:
            return (
                f"Kho dữ liệu chưa có tin tức nào về {sym} đăng trước ngày dữ liệu {day}, nên tôi "
                "không nêu được tin nào đằng sau dự báo."
                if vi
                else f"No stored news about {sym} was published by the data date {day}, so I "
                "cannot point to any behind the forecast."
            )
        head = (
            f"Tin tức về {sym} đăng đến ngày dữ liệu {day} (có thể liên quan đến biến động; tin "
            "không phải là dự báo):"
            if vi
            else f"News about {sym} published by the data date {day} (may relate to the move; "
            "news is not a forecast):"
        )
        return _lines(head, items, lang, now)
    if not items:
        return (
            f"Kho dữ liệu chưa có tin tức nào về {sym}, nên tôi không nêu được tin nào đằng sau biến động."
            if vi and why
            else f"Kho dữ liệu chưa có tin tức nào về {sym}."
            if vi
            else f"No news about {sym} is stored, so I cannot point to any behind the move."
            if why
            else f"No news about {sym} is stored."
        )
    head = (
        f"Tin tức gần nhất về {sym} (có thể liên quan đến biến động; tin không phải là dự báo):"
        if vi and why
        else f"Tin tức mới nhất về {sym}:"
        if vi
        else f"Latest news about {sym} (may relate to the move; news is not a forecast):"
        if why
        else f"Latest news about {sym}:"
    )
    return _lines(head, items, lang, now)


def _lines(head: str, items: Sequence[Any], lang: str, now: datetime | None) -> str:
    vi = lang == "vi"
    lines = [head]
    for item in items:
        when = item.published_at.strftime("%d/%m/%Y %H:%M" if vi else "%Y-%m-%d %H:%M")
        link = item.link if item.link and _SAFE_LINK.match(item.link) else None
        title = escape_markdown(item.title)
        title = f"[{title}]({link})" if link else title
        lines.append(
            f"- {when} UTC · {title} ({escape_markdown(item.source)}) · {_tone(item, lang)}"
        )
    now = now or datetime.now(UTC).replace(tzinfo=None)
    age = (now - items[0].published_at).days
    if age > 30:
        lines.append(
            f"Lưu ý: tin mới nhất đã cách đây {age} ngày."
            if vi
            else f"Note: the newest headline is {age} days old."
        )
    return "\n".join(lines)


def format_related(
    symbol: str, hits: Sequence[dict[str, Any]], lang: str, until: date | None = None
) -> str:
    """News items found by meaning in the agent's memory (``news_search``), dated, escaped."""
    vi = lang == "vi"
    sym = escape_markdown(symbol)
    if until is not None:
        day = until.strftime("%d/%m/%Y" if vi else "%Y-%m-%d")
        head = (
            f"Tin về {sym} gần nghĩa nhất với câu hỏi (tìm trong bộ nhớ tin tức, đăng đến ngày "
            f"dữ liệu {day}):"
            if vi
            else f"News about {sym} closest to your question (searched in the news memory, "
            f"published by the data date {day}):"
        )
    else:
        head = (
            f"Tin về {sym} gần nghĩa nhất với câu hỏi (tìm trong bộ nhớ tin tức):"
            if vi
            else f"News about {sym} closest to your question (searched in the news memory):"
        )
    lines = [head]
    for h in hits:
        when = datetime.fromisoformat(str(h["published_at"])[:19])
        link = h.get("link")
        link = link if link and _SAFE_LINK.match(link) else None
        title = escape_markdown(str(h["title"]))
        title = f"[{title}]({link})" if link else title
        day = when.strftime("%d/%m/%Y" if vi else "%Y-%m-%d")
        lines.append(f"- {day} · {title} ({escape_markdown(str(h.get('source') or ''))})")
    return "\n".join(lines)
