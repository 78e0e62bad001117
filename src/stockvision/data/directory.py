"""Who a symbol is: exchange, company name and sector group, for every answer that names a stock.

The static listings come first; symbols only the store knows (imported or simulated ones) get the
store's record. One object answers for the API, the batch step, the chat and the stream.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SymbolDescription:
    symbol: str
    exchange: str
    name: str
    group: str | None = None
    simulated: bool = False
    #: stock, fund, etf or index; an index is quoted in points, not VND
    kind: str = "stock"

    @property
    def unit(self) -> str:
        """``points`` for an index, else ``VND``."""
        return "points" if self.kind == "index" else "VND"


class SymbolDirectory:
    """Descriptions of symbols from the listings and the store's ``symbols`` table (cached)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self._meta: dict[str, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        """Forget the store's records (after an ingest)."""
        with self._lock:
            self._meta = None

    def _store_meta(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._meta is None:
                try:
                    table = self.store.read_symbols()
                    self._meta = {r["symbol"]: r for r in table.to_dict("records")}
                except Exception as exc:  # the store may not exist yet; listings alone still work
                    log.debug("symbol records unavailable: %s", exc)
                    self._meta = {}
            return self._meta

    def describe(self, symbol: str) -> SymbolDescription:
        from stockvision.market.listings import LISTINGS
        from stockvision.market.universe import kind_of, market_listing

        listing = LISTINGS.get(symbol)
        if listing is not None:
            return SymbolDescription(symbol, str(listing.exchange), listing.name, listing.group)
        meta = self._store_meta().get(symbol, {})
        simulated = bool(meta.get("simulated"))
        market = None if simulated else market_listing(symbol)
        name = (
            meta.get("name")
            or (market.name if market is not None else "")
            or (f"Simulated company {symbol}" if simulated else symbol)
        )
        # an unknown exchange is said as such, never guessed (HOSE's rules are not everyone's)
        exchange = meta.get("exchange") or (
            str(market.exchange) if market is not None and market.exchange else "?"
        )
        kind = meta.get("kind") or kind_of(symbol)
        group = market.sector or None if market is not None else None
        return SymbolDescription(symbol, str(exchange), name, group, simulated, str(kind))
