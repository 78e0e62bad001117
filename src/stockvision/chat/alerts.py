"""Alerts in the chat: "báo cho mình khi VNM trên 90k", "mình đang đặt cảnh báo gì?", "xoá cảnh báo VNM".

Why a separate reader and not the intent parser: an alert request is recognised by a cue ("báo
khi", "cảnh báo", "alert me") plus a side and a price, which the forecast intents never need. The
alert store itself is injected (``AlertStore`` of the data layer, wired by the composition), so the
chat never imports the stream package; the stream worker evaluates the stored rules.

Prices are in VND: "90k" and "90.000" are 90,000 VND; a bare number under 1,000 ("trên 90") is
read in thousands, as Vietnamese investors quote prices.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from stockvision.chat import answers as A
from stockvision.chat import grounding
from stockvision.chat.text import fold, strip_diacritics


class AlertBook(Protocol):
    """What the agent needs of the alert store (``stockvision.data.store.alerts.AlertStore``)."""

    def create(
        self, symbol: str, kind: str, threshold: float | None = None, owner: str = ..., note=None
    ) -> dict[str, Any]: ...

    def list(self, owner: str | None = None, active_only: bool = True) -> list[dict[str, Any]]: ...

    def delete(self, alert_id: str, owner: str | None = None) -> None: ...

    def adopt(self, from_owner: str, to_owner: str) -> int: ...


@dataclass(frozen=True)
class AlertAsk:
    action: str  # "create" | "list" | "delete"
    kind: str | None = None
    threshold: float | None = None
    symbol: str | None = None


_CUE = re.compile(
    r"\b(canh bao|bao (cho )?(minh|toi|em|tui|anh|chi)? ?khi|bao khi|nhac (minh |toi )?khi|"
    r"alerts?|notify me|tell me when|let me know when)\b"
)
_LIST = re.compile(
    r"\b(dang dat|da dat|nhung|danh sach|liste?|which|what|my alerts|cua minh|cua toi|gi)\b"
)
_DELETE = re.compile(r"\b(xoa|huy|bo|delete|remove|cancel)\b")
_ABOVE = re.compile(r"\b(tren|vuot|len|cao hon|qua|above|over|exceeds?|rises? to|hits?)\b")
_BELOW = re.compile(r"\b(duoi|xuong|thap hon|thung|below|under|drops? to|falls? to)\b")
_PATTERN = re.compile(r"\b(doi chieu|doi xu huong|dao chieu|pattern|direction|trend) ?(change)?")
_PRICE = re.compile(r"(\d+(?:[.,]\d{3})*(?:[.,]\d+)?)\s*(k|nghin|ngan|dong|vnd|d)?\b")


def _price(text: str) -> float | None:
    raw = strip_diacritics(text).lower()
    for m in _PRICE.finditer(raw):
        token, unit = m.group(1), m.group(2)
        if re.fullmatch(r"\d+(?:[.,]\d{3})+", token):
            value = float(re.sub(r"[.,]", "", token))
        else:
            value = float(token.replace(",", "."))
        if unit in ("k", "nghin", "ngan") or value < 1000:
            value *= 1000
        if value > 0:
            return value
    return None


#: Words about alerts in general, wider than the cues this reader acts on ("ping me", "nhắc").
_ALERT_WORD = re.compile(r"\b(canh bao|alerts?|bao|nhac|ping|notif\w*|remind\w*|let me know)\b")


def asks_for_alert(text: str) -> bool:
    """Whether the user's own words are about alerts ("báo khi", "cảnh báo", "ping me")."""
    f = fold(text)
    return bool(_CUE.search(f) or _ALERT_WORD.search(f))


def asks_to_delete(text: str) -> bool:
    """Whether the user's own words ask to delete or cancel something."""
    return bool(_DELETE.search(fold(text)))


def numbers_in(text: str) -> list[float]:
    """The numbers the user typed, in both locale styles ("1.000" and "1,000" are 1000; "90k"
    gives 90, which callers may read in thousands)."""
    out: list[float] = []
    for token in grounding.NUMBER.findall(text):
        out.extend(v for v, _ in grounding.parses(token))
    return out


def read_alert(text: str, symbols: list[str]) -> AlertAsk | None:
    """The alert request in ``text`` (folded: with or without diacritics), or None."""
    f = fold(text)
    if not _CUE.search(f):
        return None
    words = set(f.split())
    # list/delete name a ticker literally ("đặt" must not read as a company name); a new alert
    # may name the company ("báo khi Vinamilk trên 90k")
    literal = next((s for s in symbols if s.lower() in words), None)
    if _DELETE.search(f):
        return AlertAsk("delete", symbol=literal)
    sym = literal or (symbols[0] if symbols else None)
    if sym is not None:
        if _PATTERN.search(f):
            return AlertAsk("create", "pattern_change", None, sym)
        price = _price(text)
        side = "price_below" if _BELOW.search(f) else "price_above" if _ABOVE.search(f) else None
        if price is not None and side is not None:
            return AlertAsk("create", side, price, sym)
    if _LIST.search(f) or literal is None:
        return AlertAsk("list", symbol=literal)
    return None


def describe(row: dict[str, Any], lang: str) -> str:
    sym = row["symbol"]
    if row["kind"] == "pattern_change":
        return (
            f"{sym}: khi dự báo đổi chiều" if lang == "vi" else f"{sym}: when the forecast changes"
        )
    price = A.fmt_number(float(row["threshold"]), lang, 0)
    if lang == "vi":
        side = "vượt lên trên" if row["kind"] == "price_above" else "xuống dưới"
        return f"{sym}: khi giá {side} {price} đồng"
    side = "rises above" if row["kind"] == "price_above" else "falls below"
    return f"{sym}: when the price {side} {price} VND"


def format_created(row: dict[str, Any], lang: str) -> str:
    return (
        f"Đã đặt cảnh báo — {describe(row, lang)} (theo giá khớp từng phút khi có dữ liệu trực "
        "tuyến). Hỏi “mình đang đặt cảnh báo gì?” để xem lại."
        if lang == "vi"
        else f"Alert set — {describe(row, lang)} (checked on each live market minute). Ask "
        "“what alerts do I have?” to see them."
    )


def format_list(rows: list[dict[str, Any]], lang: str) -> str:
    vi = lang == "vi"
    if not rows:
        return (
            "Bạn chưa đặt cảnh báo nào. Ví dụ: “báo cho mình khi VNM trên 90k”."
            if vi
            else "You have no alerts. E.g. “alert me when VNM is above 90k”."
        )
    head = "Cảnh báo bạn đang đặt:" if vi else "Your alerts:"
    return "\n".join([head, *(f"• {describe(r, lang)}" for r in rows)])


def format_deleted(rows: list[dict[str, Any]], lang: str) -> str:
    vi = lang == "vi"
    if not rows:
        return "Không có cảnh báo nào để xoá." if vi else "There was no alert to delete."
    lines = [
        f"Đã xoá {len(rows)} cảnh báo:" if vi else f"Deleted {len(rows)} alert(s):",
        *(f"• {describe(r, lang)}" for r in rows),
    ]
    return "\n".join(lines)
