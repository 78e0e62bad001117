"""The whole Vietnamese market: exchange, name, sector and kind of every listed symbol.

``LISTINGS`` (``market.listings``) is a hand-curated table of ~150 well-known companies for the
chat; this module answers for the whole market (~1,800 symbols of HOSE, HNX and UPCoM) from the
package data ``market/data/vn_listings.csv``, a table *derived* from public facts by
``scripts/build_listings.py`` (the exchange of each ticker as of 2025, short company names, the
curated sectors, sectors read from company names, and the kind of each symbol):

* ``kind``: ``stock``, ``fund`` (closed-end funds and REITs, ``FUC...``), ``etf`` (``FUE...``,
  ``E1V...``) or ``index`` (VNINDEX, VN30, HNXINDEX, ...: quoted in points, never adjusted, no
  price bands, no no-trade bars).
* ``exchange``: HOSE, HNX, UPCOM, or empty when the fact is not known. A symbol whose exchange is not
  known gets no band-based corporate-action detection (and a warning): it is *never* assumed HOSE,
  because HOSE's +/-7 % band turns ordinary HNX/UPCoM moves into invented dividends.

Exchanges change (transfers, delistings); an ingest's ``--exchange`` or a ``hose/``, ``hnx/`` or
``upcom/`` folder says where the imported files' symbols traded, and takes precedence.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from stockvision.market.exchanges import Exchange

KINDS = ("stock", "fund", "etf", "index")
LISTINGS_FILE = "vn_listings.csv"
LISTING_COLUMNS = ["symbol", "exchange", "name", "sector", "kind"]

#: Market indices (points, not prices) and the exchange that computes them.
INDICES: dict[str, tuple[str, str]] = {
    "VNINDEX": ("HOSE", "VN-Index"),
    "VN30": ("HOSE", "VN30 Index"),
    "VN100": ("HOSE", "VN100 Index"),
    "VNMID": ("HOSE", "VNMidcap Index"),
    "VNSML": ("HOSE", "VNSmallcap Index"),
    "VNALL": ("HOSE", "VNAllshare Index"),
    "VNX50": ("HOSE", "VNX50 Index"),
    "VNXALL": ("HOSE", "VNXAllshare Index"),
    "HNXINDEX": ("HNX", "HNX-Index"),
    "HNX30": ("HNX", "HNX30 Index"),
    "HNXUPCOMINDEX": ("UPCOM", "UPCoM-Index"),
    "UPCOMINDEX": ("UPCOM", "UPCoM-Index"),
}
_INDEX_ALIASES = {"VN30INDEX": "VN30", "VNI30": "VN30", "HNX": "HNXINDEX",
                  "UPCOM": "UPCOMINDEX"}  # fmt: skip


def kind_from_symbol(symbol: str) -> str:
    """The kind a ticker's shape tells: indices by name, ETFs (FUE*, E1V*), funds (FUC*), else stock."""
    sym = symbol.strip().upper()
    if sym in INDICES or sym in _INDEX_ALIASES:
        return "index"
    if re.fullmatch(r"FUE[A-Z0-9]{3,}|E1V[A-Z0-9]{3,}", sym):
        return "etf"
    if re.fullmatch(r"FUC[A-Z0-9]{3,}", sym):
        return "fund"
    return "stock"


@dataclass(frozen=True)
class MarketListing:
    """One row of the whole-market table."""

    symbol: str
    exchange: Exchange | None
    name: str
    sector: str
    kind: str

    @property
    def is_index(self) -> bool:
        return self.kind == "index"


@lru_cache(maxsize=1)
def market_listings() -> dict[str, MarketListing]:
    """Every symbol of the package table, plus the indices, keyed by symbol."""
    out: dict[str, MarketListing] = {}
    text = resources.files("stockvision.market").joinpath("data", LISTINGS_FILE)
    with text.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            ex = row.get("exchange") or ""
            out[row["symbol"]] = MarketListing(
                row["symbol"],
                Exchange.parse(ex) if ex else None,
                row.get("name") or "",
                row.get("sector") or "",
                row.get("kind") or kind_from_symbol(row["symbol"]),
            )
    for sym, (ex, name) in INDICES.items():
        out.setdefault(sym, MarketListing(sym, Exchange.parse(ex), name, "", "index"))
    return out


def market_listing(symbol: str) -> MarketListing | None:
    """The listing of ``symbol`` (any case), or None when the table does not know it."""
    if not isinstance(symbol, str):
        return None
    sym = symbol.strip().upper()
    return market_listings().get(_INDEX_ALIASES.get(sym, sym))


def listed_exchange(symbol: str) -> Exchange | None:
    """Exchange of ``symbol`` per the table (None when unknown: never a default exchange)."""
    listing = market_listing(symbol)
    return None if listing is None else listing.exchange


def kind_of(symbol: str) -> str:
    """``stock``, ``fund``, ``etf`` or ``index``: the table's kind, else what the ticker's shape says."""
    listing = market_listing(symbol)
    return listing.kind if listing is not None else kind_from_symbol(symbol)


def is_index_symbol(symbol: str) -> bool:
    """True for market indices (quoted in points)."""
    return kind_of(str(symbol)) == "index"
