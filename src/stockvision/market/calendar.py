"""The market's trading calendar, derived from the data, and daily -> weekly bars.

Why derived rather than tabulated: Vietnamese holidays (Tet above all) move every year and ad-hoc
closures happen, so the dates on which trades actually printed are the authoritative calendar.
A week is the ISO week (Monday-Sunday); its ``week_end`` is the last trading day in it, so short
Tet weeks with one or two sessions are still weeks of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

# Column names of the daily contract (``stockvision.data.schema``), restated here because
# ``market`` is the bottom layer and must not import from ``data``.
SYMBOL, DATE, WEEK_END = "symbol", "date", "week_end"

_DAY = np.timedelta64(1, "D")


def _as_days(dates: Any) -> pd.DatetimeIndex:
    """Dates as a tz-naive DatetimeIndex normalised to midnight."""
    if isinstance(dates, (str, date, np.datetime64)) or np.isscalar(dates):
        dates = [dates]
    idx = pd.DatetimeIndex(pd.to_datetime(dates))
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    return idx.normalize()


def _week_start(idx: pd.DatetimeIndex) -> np.ndarray:
    """Monday of each date's ISO week, as datetime64[D] (NaT stays NaT)."""
    days = idx.values.astype("datetime64[D]")
    # 1970-01-01 was a Thursday: (days + 3) % 7 is 0 on Mondays.
    offset = (days.astype(np.int64) + 3) % 7
    return days - offset * _DAY


class TradingCalendar:
    """Sorted unique trading days, with ISO-week helpers."""

    def __init__(self, dates: Iterable[Any]) -> None:
        idx = _as_days(
            dates if isinstance(dates, (pd.Index, np.ndarray, pd.Series)) else list(dates)
        )
        idx = idx[~idx.isna()]
        if len(idx) == 0:
            raise ValueError("a TradingCalendar needs at least one trading day")
        self._days = pd.DatetimeIndex(np.unique(idx.values)).astype("datetime64[ns]")
        mondays = _week_start(self._days)
        # last trading day per ISO week: days are sorted, so take the last of each Monday run
        last_of_run = np.r_[mondays[1:] != mondays[:-1], True]
        self._week_keys = mondays[last_of_run]
        self._week_ends = self._days[last_of_run]

    @classmethod
    def from_daily(
        cls, daily: pd.DataFrame, date_col: str = DATE, volume_col: str | None = "volume"
    ) -> TradingCalendar:
        """Calendar of a daily frame: dates where any symbol traded (volume > 0).

        Without a volume column (or ``volume_col=None``) every date with a row counts. Rows with
        zero or missing volume alone do not make a trading day: some feeds emit flat, zero-volume
        rows on holidays.
        """
        if date_col not in daily.columns:
            raise ValueError(f"daily frame has no {date_col!r} column; columns: {list(daily)}")
        dates = daily[date_col]
        if volume_col is not None and volume_col in daily.columns:
            traded = pd.to_numeric(daily[volume_col], errors="coerce").fillna(0.0) > 0
            if traded.any():
                dates = dates[traded]
        return cls(dates)

    # --- basic views ---------------------------------------------------------------------------
    @property
    def trading_days(self) -> pd.DatetimeIndex:
        """Every trading day, sorted."""
        return self._days

    @property
    def week_ends(self) -> pd.DatetimeIndex:
        """Last trading day of every ISO week that has trading, sorted unique."""
        return self._week_ends

    @property
    def start(self) -> pd.Timestamp:
        return self._days[0]

    @property
    def end(self) -> pd.Timestamp:
        return self._days[-1]

    def __len__(self) -> int:
        return len(self._days)

    def __contains__(self, date: object) -> bool:
        return self.is_trading_day(date)

    def __repr__(self) -> str:
        return (
            f"TradingCalendar({len(self)} days, {self.start.date()}..{self.end.date()}, "
            f"{len(self._week_ends)} weeks)"
        )

    # --- queries -------------------------------------------------------------------------------
    def is_trading_day(self, date: Any) -> bool:
        """Whether ``date`` (any time of day) is a trading day of this calendar."""
        day = pd.Timestamp(date)
        if day is pd.NaT:
            return False
        day = day.tz_localize(None) if day.tz is not None else day
        pos = self._days.searchsorted(day.normalize())
        return bool(pos < len(self._days) and self._days[pos] == day.normalize())

    def week_end_of(self, dates: Any) -> pd.DatetimeIndex:
        """Map each date to the last trading day of its ISO week (NaT if that week never traded)."""
        idx = _as_days(dates)
        keys = _week_start(idx)
        pos = np.searchsorted(self._week_keys, keys)
        pos_c = np.minimum(pos, len(self._week_keys) - 1)
        found = (self._week_keys[pos_c] == keys) & ~np.isnat(keys)
        out = np.where(found, self._week_ends.values[pos_c], np.datetime64("NaT", "ns"))
        return pd.DatetimeIndex(out.astype("datetime64[ns]"), name=WEEK_END)

    def next_trading_day(self, date: Any) -> pd.Timestamp:
        """First trading day strictly after ``date``.

        Beyond the last known day the calendar cannot know future holidays, so it returns the next
        weekday (Monday-Friday): good for a target date, not a promise that the market opens.
        """
        day = pd.Timestamp(date).normalize()
        pos = self._days.searchsorted(day, side="right")
        if pos < len(self._days):
            return self._days[pos]
        return day + pd.offsets.BDay(1)

    def previous_trading_day(self, date: Any) -> pd.Timestamp:
        """Last trading day strictly before ``date``; raises before the calendar's start."""
        day = pd.Timestamp(date).normalize()
        pos = self._days.searchsorted(day, side="left")
        if pos == 0:
            raise ValueError(
                f"no trading day before {day.date()} (calendar starts {self.start.date()})"
            )
        return self._days[pos - 1]

    def sessions_between(self, start: Any, end: Any) -> int:
        """Number of trading days strictly between ``start`` and ``end``."""
        lo = self._days.searchsorted(pd.Timestamp(start).normalize(), side="right")
        hi = self._days.searchsorted(pd.Timestamp(end).normalize(), side="left")
        return max(int(hi - lo), 0)


def to_weekly(
    daily: pd.DataFrame,
    calendar: TradingCalendar | None = None,
    price_cols: Sequence[str] = ("adj_open", "adj_high", "adj_low", "adj_close"),
    volume_col: str = "adj_volume",
    last_cols: Sequence[str] | Mapping[str, str] = (),
    sum_cols: Sequence[str] | Mapping[str, str] = (),
) -> pd.DataFrame:
    """Weekly OHLCV bars per symbol, indexed (symbol, week_end).

    ``price_cols`` are (open, high, low, close) inputs; the output columns are always ``open,
    high, low, close, volume`` (first, max, min, last, sum), plus ``n_days`` (rows of the symbol in
    the week) and ``last_date`` (its actual last trading date in the week, earlier than
    ``week_end`` when it did not trade on the market's last day). ``last_cols`` / ``sum_cols`` are
    extra columns carried as last value / sum, under their own names or renamed with a mapping
    (e.g. ``last_cols={"close": "raw_close"}`` for the raw close at the week's end). The calendar
    defaults to the one of ``daily`` itself.
    """
    last_map = _as_mapping(last_cols)
    sum_map = _as_mapping(sum_cols)
    if len(price_cols) != 4:
        raise ValueError(f"price_cols must name (open, high, low, close), got {list(price_cols)}")
    needed = [SYMBOL, DATE, *price_cols, volume_col, *last_map, *sum_map]
    missing = [c for c in dict.fromkeys(needed) if c not in daily.columns]
    if missing:
        hint = (
            " (adjusted columns come from stockvision.market.corporate_actions.adjust, or pass "
            "price_cols=('open', 'high', 'low', 'close'), volume_col='volume' for raw bars)"
            if any(c.startswith("adj_") for c in missing)
            else ""
        )
        raise ValueError(f"daily frame lacks columns {missing}{hint}")
    bar_cols = {"open", "high", "low", "close", "volume", "n_days", "last_date"}
    extra_out = [*last_map.values(), *sum_map.values()]
    clash = sorted(bar_cols.intersection(extra_out))
    if clash or len(set(extra_out)) != len(extra_out):
        raise ValueError(
            f"extra columns {extra_out} clash with each other or with the bar columns {clash}; "
            "rename them with a mapping, e.g. last_cols={'close': 'raw_close'}"
        )
    cal = calendar if calendar is not None else TradingCalendar.from_daily(daily)

    frame = daily[list(dict.fromkeys(needed))].sort_values([SYMBOL, DATE], kind="stable")
    week_end = cal.week_end_of(frame[DATE])
    if week_end.isna().any():
        bad = frame.loc[np.asarray(week_end.isna()), DATE].drop_duplicates().head(5)
        raise ValueError(
            "rows fall in weeks without any trading day of the calendar, e.g. "
            f"{[str(d.date()) for d in bad]}; build the calendar from data covering these dates"
        )
    frame = frame.assign(**{WEEK_END: np.asarray(week_end)})
    g = frame.groupby([SYMBOL, WEEK_END], sort=True, observed=True)
    o, h, lo, c = price_cols
    parts: dict[str, pd.Series] = {
        "open": g[o].first(),
        "high": g[h].max(),
        "low": g[lo].min(),
        "close": g[c].last(),
        "volume": g[volume_col].sum(min_count=1),
        "n_days": g[DATE].size().astype(np.int64),
        "last_date": g[DATE].max(),
    }
    for src, dst in last_map.items():
        parts[dst] = g[src].last()
    for src, dst in sum_map.items():
        parts[dst] = g[src].sum(min_count=1)
    weekly = pd.DataFrame(parts)
    weekly.index = weekly.index.set_names([SYMBOL, WEEK_END])
    return weekly


def _as_mapping(cols: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(cols, Mapping):
        return dict(cols)
    if isinstance(cols, str):
        return {cols: cols}
    return {c: c for c in cols}
