"""Vietnamese market rules: exchanges, trading calendar, listings and corporate actions.

The bottom layer of Stock Vision: it depends on nothing else in the package.
"""

from stockvision.market.calendar import TradingCalendar, to_weekly
from stockvision.market.corporate_actions import (
    COMMON_PAYOUTS,
    EVENT_COLUMNS,
    adjust,
    compute_factors,
    detect_corporate_actions,
)
from stockvision.market.exchanges import (
    BOARD_LOT,
    Exchange,
    price_band,
    round_lot,
    round_to_tick,
    tick_size,
)
from stockvision.market.listings import (
    GROUPS,
    LISTINGS,
    Listing,
    UnknownSymbolError,
    closest_symbols,
    exchange_of,
    get_listing,
    is_known,
    symbols_in_group,
)
from stockvision.market.vn30 import VN30_SYMBOLS

__all__ = [
    "BOARD_LOT",
    "COMMON_PAYOUTS",
    "EVENT_COLUMNS",
    "GROUPS",
    "LISTINGS",
    "VN30_SYMBOLS",
    "Exchange",
    "Listing",
    "TradingCalendar",
    "UnknownSymbolError",
    "adjust",
    "closest_symbols",
    "compute_factors",
    "detect_corporate_actions",
    "exchange_of",
    "get_listing",
    "is_known",
    "price_band",
    "round_lot",
    "round_to_tick",
    "symbols_in_group",
    "tick_size",
    "to_weekly",
]
