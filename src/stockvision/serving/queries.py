"""The data endpoints: listings, weekly history for charts, past predictions with their outcomes.

Read-only views over the store, cached by the data token so a chart costs one read per data update.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from stockvision.data.directory import SymbolDirectory
from stockvision.errors import DataUnavailableError, UnknownSymbolError
from stockvision.serving.api_schemas import (
    Bar,
    HistoryResponse,
    PastPrediction,
    PastPredictionsResponse,
    SymbolInfo,
)
from stockvision.serving.cache import cache_key


class DataQueries:
    """History, listings and past predictions.

    ``check_symbol(symbol)`` raises the right error for a symbol the store lacks (unknown, or being
    fetched); ``panel()`` gives the current inference panel (for the data token and simulated flags);
    ``closest(symbol)`` the suggestions for an unknown symbol.
    """

    def __init__(
        self,
        store: Any,
        directory: SymbolDirectory,
        cache: Any,
        panel: Callable[[], Any],
        check_symbol: Callable[[str], str],
        closest: Callable[[str], list[str]],
    ) -> None:
        self.store = store
        self.directory = directory
        self.cache = cache
        self._panel = panel
        self._check_symbol = check_symbol
        self._closest = closest

    def symbols(self) -> list[SymbolInfo]:
        from stockvision.market.listings import LISTINGS

        summary = self.store.symbols_summary()
        by_symbol = {r["symbol"]: r for r in summary.to_dict("records")} if len(summary) else {}
        out = []
        for sym in sorted(set(LISTINGS) | set(by_symbol)):
            info = self.directory.describe(sym)
            row = by_symbol.get(sym, {})
            out.append(
                SymbolInfo(
                    symbol=sym,
                    exchange=info.exchange,
                    name=info.name,
                    group=info.group,
                    in_store=sym in by_symbol,
                    first_date=_as_date(row.get("first_date")),
                    last_date=_as_date(row.get("last_date")),
                    rows=int(row.get("rows", 0) or 0),
                )
            )
        return out

    def history(self, symbol: str, weeks: int = 52) -> HistoryResponse:
        from stockvision.market.calendar import TradingCalendar, to_weekly
        from stockvision.market.corporate_actions import adjust

        sym = symbol.strip().upper()
        panel = self._panel()
        token = panel.token if panel else "-"
        key = cache_key(f"hist{weeks}", sym, None, None, token)
        raw = self.cache.get(key)
        if raw is not None:
            return HistoryResponse.model_validate_json(raw)
        daily = self.store.read_daily(symbols=[sym])
        if daily is None or daily.empty:
            self._check_symbol(sym)  # raises the right 404 (unknown) or 202 (being fetched)
            raise DataUnavailableError(sym, "no prices in the store", "kho chưa có giá của mã này")
        adjusted = adjust(daily, events=self.store.read_corporate_actions(symbols=[sym]))
        # the market's calendar, not the symbol's own: a suspended week (rows without trades)
        # is a week of the market that the symbol sat out, not a week that does not exist
        calendar = TradingCalendar(self.store.trading_days())
        bars = to_weekly(adjusted, calendar=calendar).tail(weeks).reset_index()
        resp = HistoryResponse(
            symbol=sym,
            weeks=len(bars),
            simulated=bool(panel and sym in panel.simulated),
            bars=[
                Bar(
                    week_end=pd.Timestamp(r["week_end"]).date(),
                    open=float(r["open"]),
                    high=float(r["high"]),
                    low=float(r["low"]),
                    close=float(r["close"]),
                    volume=float(r["volume"]),
                )
                for r in bars.to_dict("records")
            ],
        )
        self.cache.set(key, resp.model_dump_json().encode())
        return resp

    def past_predictions(self, symbol: str) -> PastPredictionsResponse:
        from stockvision.monitoring.outcomes import join_outcomes

        sym = symbol.strip().upper()
        preds = self.store.read_predictions(symbol=sym)
        if preds is None or preds.empty:
            from stockvision.market.listings import is_known

            panel = self._panel()
            in_panel = panel is not None and sym in panel.info
            if not in_panel and not is_known(sym):
                raise UnknownSymbolError(sym, self._closest(sym))
            return PastPredictionsResponse(symbol=sym, items=[])
        labels = self.store.read_labels(symbols=[sym])
        joined = join_outcomes(preds, labels).sort_values("prediction_date")
        joined = joined.drop_duplicates(
            ["prediction_date", "price_model_version", "pattern_model_version"], keep="last"
        )
        items = []
        for r in joined.to_dict("records"):
            resolved = bool(r["resolved"])
            items.append(
                PastPrediction(
                    prediction_date=pd.Timestamp(r["prediction_date"]).date(),
                    target_date=_as_date(r.get("target_date")),
                    last_close=float(r["last_close"]),
                    price_target=float(r["price_target"]),
                    interval_low=_f(r.get("interval_low")),
                    interval_high=_f(r.get("interval_high")),
                    pattern=str(r["pattern"]),
                    confidence=_f(r.get("confidence")),
                    price_model_version=_s(r.get("price_model_version")),
                    pattern_model_version=_s(r.get("pattern_model_version")),
                    resolved=resolved,
                    actual_price=_f(r.get("price_target_true")) if resolved else None,
                    actual_pattern=_s(r.get("actual_pattern")) if resolved else None,
                    abs_error_pct=_f(r.get("abs_error_pct")) if resolved else None,
                    in_interval=bool(r["in_interval"]) if resolved else None,
                )
            )
        return PastPredictionsResponse(symbol=sym, items=items)


def _as_date(value: Any) -> date | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    try:
        return pd.Timestamp(value).date()
    except (ValueError, TypeError):
        return None


def _f(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return None if np.isnan(f) else f


def _s(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return str(value)
