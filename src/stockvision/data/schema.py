"""Canonical column names shared by every layer (the contract between sources, store and features).

Daily frame (long format, one row per symbol and trading day), as produced by every source:
    symbol: str (upper-case ticker), date: datetime64[ns] (midnight, no tz),
    open, high, low, close: float (VND, as traded, i.e. raw/unadjusted), volume: float (shares),
    adj_close: float, optional (a source's own adjusted close, used to derive adjustment factors),
    flags: int64, optional (bits of ``data.repair.FLAGS``: how the bar was repaired; 0 = as read).
Sorted by (symbol, date), unique on (symbol, date).

Adjusted frame (``market.corporate_actions.adjust``): the daily frame plus
    factor: float (back-adjustment factor, 1.0 on and after the last corporate action),
    adj_open, adj_high, adj_low, adj_close: raw price * factor,
    adj_volume: volume / factor (so traded value is unchanged by adjustment).

Weekly feature matrix: index (symbol, week_end) where week_end is the market's last trading day of
the ISO week; columns ``features.FEATURES`` (20 floats, NaN where undefined).
"""

from __future__ import annotations

SYMBOL = "symbol"
DATE = "date"
OHLCV = ["open", "high", "low", "close", "volume"]
DAILY_COLUMNS = [SYMBOL, DATE, *OHLCV]
OPTIONAL_DAILY_COLUMNS = ["adj_close"]
FLAGS_COLUMN = "flags"
ADJUSTED_COLUMNS = ["factor", "adj_open", "adj_high", "adj_low", "adj_close", "adj_volume"]
WEEK_END = "week_end"
