"""Alert rules evaluated on market-minute closes: price crosses and forecast direction changes.

An alert fires once per *crossing*: "VNM above 90,000" fires when a minute closes at or above 90,000
after one that closed below (the first observation only sets the side; an alert created while the
price is already above waits for the next crossing). "HPG pattern change" fires when the live
forecast's pattern differs from the previous live forecast. The crossing key is the market minute,
so replaying the same ticks yields the same events, which the store keeps once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from stockvision.data.store.alerts import AlertEvent


def _moment(minute_ns: int) -> datetime:
    return datetime.fromtimestamp(minute_ns / 1e9, UTC)


class AlertBook:
    """The active alert rules by symbol and the side/pattern state each one last saw."""

    def __init__(self, rules: Iterable[dict[str, Any]] = ()) -> None:
        self.rules: dict[str, list[dict[str, Any]]] = {}
        self.side: dict[str, bool] = {}  # alert id -> price was at/above (above) or at/below
        self.pattern: dict[str, str] = {}  # symbol -> last live pattern
        self.refresh(rules)

    def refresh(self, rules: Iterable[dict[str, Any]]) -> None:
        by_symbol: dict[str, list[dict[str, Any]]] = {}
        for r in rules:
            by_symbol.setdefault(str(r["symbol"]).upper(), []).append(dict(r))
        self.rules = by_symbol
        live = {r["id"] for rs in by_symbol.values() for r in rs}
        self.side = {k: v for k, v in self.side.items() if k in live}

    def on_prices(self, minute_ns: int, prices: dict[str, float]) -> list[AlertEvent]:
        out = []
        for symbol, price in prices.items():
            for r in self.rules.get(symbol, ()):
                if r["kind"] not in ("price_above", "price_below"):
                    continue
                thr = float(r["threshold"])
                hit = price >= thr if r["kind"] == "price_above" else price <= thr
                before = self.side.get(r["id"])
                self.side[r["id"]] = hit
                if hit and before is False:
                    out.append(
                        AlertEvent(r["id"], symbol, f"m{minute_ns}", _moment(minute_ns),
                                   {"kind": r["kind"], "threshold": thr, "price": price,
                                    "message": _price_message(symbol, r["kind"], thr, price)})
                    )  # fmt: skip
        return out

    def on_patterns(self, minute_ns: int, patterns: dict[str, str]) -> list[AlertEvent]:
        out = []
        for symbol, pattern in patterns.items():
            before = self.pattern.get(symbol)
            self.pattern[symbol] = pattern
            if before is None or before == pattern:
                continue
            for r in self.rules.get(symbol, ()):
                if r["kind"] == "pattern_change":
                    out.append(
                        AlertEvent(r["id"], symbol, f"m{minute_ns}", _moment(minute_ns),
                                   {"kind": "pattern_change", "from": before, "to": pattern,
                                    "message": f"{symbol}: dự báo đổi chiều {before} → {pattern} "
                                               f"(forecast changed {before} → {pattern})"})
                    )  # fmt: skip
        return out


def _price_message(symbol: str, kind: str, thr: float, price: float) -> str:
    k = f"{thr / 1000:g}k"
    if kind == "price_above":
        return f"{symbol} vượt {k}: {price:,.0f} VND ({symbol} crossed above {k})"
    return f"{symbol} xuống dưới {k}: {price:,.0f} VND ({symbol} fell below {k})"
