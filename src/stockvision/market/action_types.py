"""Names shared by the corporate-action modules (detection and source adjustment)."""

from __future__ import annotations

EVENT_COLUMNS = ["symbol", "date", "prev_close", "close", "pct_change", "ratio", "kind"]

#: Event kinds: a drop matching a common payout ratio (stock dividend / bonus issue / split; a cash
#: dividend of the same size would look identical), any other drop, any rise (reverse split).
KIND_STOCK_DIVIDEND = "stock_dividend"
KIND_UNEXPLAINED_DROP = "unexplained_drop"
KIND_UNEXPLAINED_RISE = "unexplained_rise"

#: Payout rates k (new shares per old share) common in VN stock dividends and bonus issues.
COMMON_PAYOUTS: tuple[float, ...] = (0.10, 0.15, 0.20, 0.25, 0.30, 1 / 3, 0.40, 0.50, 1.00)
