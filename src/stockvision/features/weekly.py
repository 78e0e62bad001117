"""Weekly bars and the weekly feature matrix from an adjusted daily frame.

Input is the adjusted daily frame of the data contract (``symbol, date, open..volume`` raw,
``factor, adj_open, adj_high, adj_low, adj_close, adj_volume``). A *market week* is an ISO week
(Mon-Sun) in which any symbol of the frame traded; its ``week_end`` is the latest trading day of
that week over all symbols. A symbol has a weekly bar in every market week in which it traded;
the bar's daily indicators are sampled on the symbol's last trading day of that week.

Everything is computed for all symbols at once (see :mod:`stockvision.features.indicators`).
Missing inputs give NaN, never a filled value.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from stockvision.data.schema import DATE, SYMBOL, WEEK_END
from stockvision.errors import FeatureInputError
from stockvision.features import indicators as ind
from stockvision.features.feature_docs import FEATURES

if TYPE_CHECKING:
    from stockvision.engine import Engine

#: Longest weekly lookback of a non-recursive feature (ret_52w reads the bar 52 weeks back).
LONGEST_WEEKLY_LOOKBACK = 52
#: Longest daily window (20 trading days of returns need 21 rows).
LONGEST_DAILY_ROWS = 21
#: Market weeks recomputed before the first requested week by ``compute_features(since=...)``:
#: the 52-week lookback, one bar for the return base and a margin. EMA-type features (RSI, MACD)
#: never forget, so they are always run over the symbol's whole weekly close history instead.
TAIL_WEEKS = LONGEST_WEEKLY_LOOKBACK + 8
#: Symbol chunks of a feature build on an engine (a few per worker of a small cluster).
DEFAULT_CHUNKS = 8

REQUIRED_COLUMNS = [
    SYMBOL,
    DATE,
    "close",
    "volume",
    "adj_high",
    "adj_low",
    "adj_close",
    "adj_volume",
]
_EPOCH_MONDAY_OFFSET = 3  # 1970-01-01 was a Thursday: (days + 3) % 7 == 0 on Mondays


def check_adjusted_frame(daily: pd.DataFrame) -> pd.DataFrame:
    """Validate an adjusted daily frame; return it with each symbol's rows contiguous and in date
    order (sorted by (symbol, date) only if that is not already the case), with a clean index."""
    if not isinstance(daily, pd.DataFrame):
        raise FeatureInputError(
            f"expected a pandas DataFrame, got {type(daily).__name__}",
            "pass the output of stockvision.market.corporate_actions.adjust(daily)",
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in daily.columns]
    if missing:
        raise FeatureInputError(
            f"the daily frame lacks columns {missing}",
            "features need the ADJUSTED daily frame: run stockvision.market.corporate_actions."
            "adjust(daily) first",
        )
    if not pd.api.types.is_datetime64_dtype(daily[DATE]):
        raise FeatureInputError(
            f"column 'date' has dtype {daily[DATE].dtype}, expected datetime64 without tz",
            "convert it with pd.to_datetime(frame['date']) (and .dt.tz_localize(None))",
        )
    if daily[DATE].isna().any() or daily[SYMBOL].isna().any():
        raise FeatureInputError(
            "the daily frame has rows without a symbol or a date", "drop them before features"
        )
    out = daily.reset_index(drop=True)
    codes, _ = pd.factorize(out[SYMBOL], sort=False)
    days = out[DATE].to_numpy()
    if len(out) > 1:
        same = codes[1:] == codes[:-1]
        # codes number symbols by first appearance: non-decreasing <=> each symbol contiguous
        ordered = bool(np.all(codes[1:] >= codes[:-1]) and np.all(days[1:][same] > days[:-1][same]))
        if not ordered:
            out = out.sort_values([SYMBOL, DATE], kind="stable", ignore_index=True)
            codes, _ = pd.factorize(out[SYMBOL], sort=False)
            days = out[DATE].to_numpy()
            same = codes[1:] == codes[:-1]
        dup = same & (days[1:] == days[:-1])
        if dup.any():
            i = int(np.flatnonzero(dup)[0])
            raise FeatureInputError(
                f"duplicate rows for symbol {out[SYMBOL].iloc[i]} on {pd.Timestamp(days[i]).date()}",
                "the daily frame must be unique on (symbol, date); deduplicate the source",
            )
    return out


@dataclass(frozen=True)
class DailyLayout:
    """Row bookkeeping of a sorted adjusted daily frame: symbol codes, market weeks, weekly blocks."""

    frame: pd.DataFrame
    symbols: np.ndarray  # symbol names, index = code
    codes: np.ndarray  # per row
    week: np.ndarray  # per row: market-week index
    week_ends: pd.DatetimeIndex  # per market week

    @classmethod
    def from_frame(cls, daily: pd.DataFrame) -> DailyLayout:
        frame = check_adjusted_frame(daily)
        codes, symbols = pd.factorize(frame[SYMBOL], sort=False)
        days = frame[DATE].to_numpy().astype("datetime64[D]").astype(np.int64)
        week_start = days - (days + _EPOCH_MONDAY_OFFSET) % 7
        if len(days):
            slot = (week_start - week_start.min()) // 7
            n_slots = int(slot.max()) + 1
            last_day = np.full(n_slots, np.iinfo(np.int64).min)
            np.maximum.at(last_day, slot, days)
            used = last_day > np.iinfo(np.int64).min
            week = (np.cumsum(used) - 1)[slot]
            week_ends = pd.DatetimeIndex(last_day[used].astype("datetime64[D]")).as_unit("ns")
        else:
            week = np.zeros(0, dtype=np.int64)
            week_ends = pd.DatetimeIndex([], dtype="datetime64[ns]")
        return cls(
            frame, np.asarray(symbols, dtype=object), codes.astype(np.int64), week, week_ends
        )

    @cached_property
    def pos(self) -> np.ndarray:
        """Row position within the symbol."""
        return ind.group_positions(self.codes)

    @cached_property
    def block_start(self) -> np.ndarray:
        """First row of every (symbol, market week) block."""
        n = len(self.codes)
        if n == 0:
            return np.zeros(0, dtype=np.int64)
        new = np.empty(n, dtype=bool)
        new[0] = True
        new[1:] = (self.codes[1:] != self.codes[:-1]) | (self.week[1:] != self.week[:-1])
        return np.flatnonzero(new)

    @cached_property
    def block_end(self) -> np.ndarray:
        """Last row (the symbol's last trading day) of every block."""
        return np.r_[self.block_start[1:] - 1, len(self.codes) - 1].astype(np.int64)

    @property
    def block_code(self) -> np.ndarray:
        return self.codes[self.block_start]

    @property
    def block_week(self) -> np.ndarray:
        return self.week[self.block_start]

    def col(self, name: str) -> np.ndarray:
        return self.frame[name].to_numpy(dtype=np.float64, na_value=np.nan)

    def block_index(self, blocks: np.ndarray | slice = slice(None)) -> pd.MultiIndex:
        """(symbol, week_end) index of the given blocks."""
        return pd.MultiIndex.from_arrays(
            [
                pd.Index(self.symbols[self.block_code[blocks]], dtype="str"),
                self.week_ends[self.block_week[blocks]],
            ],
            names=[SYMBOL, WEEK_END],
        )


def weekly_bars(adjusted_daily: pd.DataFrame | DailyLayout) -> pd.DataFrame:
    """Weekly OHLCV bars per (symbol, week_end): adjusted prices and volume, raw close, traded value.

    Columns: ``open, high, low, close, volume`` (adjusted), ``raw_close``, ``value`` (sum of raw
    close * raw volume, VND), ``last_date`` (the symbol's last trading day of the week), ``days``.
    """
    lay = (
        adjusted_daily
        if isinstance(adjusted_daily, DailyLayout)
        else DailyLayout.from_frame(adjusted_daily)
    )
    s, e = lay.block_start, lay.block_end
    if len(s) == 0:
        cols = ["open", "high", "low", "close", "volume", "raw_close", "value", "last_date", "days"]
        return pd.DataFrame(columns=cols, index=lay.block_index())
    frame = lay.frame
    adj_open = lay.col("adj_open") if "adj_open" in frame else np.full(len(frame), np.nan)
    value = lay.col("close") * lay.col("volume")
    out = pd.DataFrame(
        {
            "open": adj_open[s],
            "high": np.fmax.reduceat(lay.col("adj_high"), s),
            "low": np.fmin.reduceat(lay.col("adj_low"), s),
            "close": lay.col("adj_close")[e],
            "volume": np.add.reduceat(np.nan_to_num(lay.col("adj_volume")), s),
            "raw_close": lay.col("close")[e],
            "value": np.add.reduceat(np.nan_to_num(value), s),
            "last_date": frame[DATE].to_numpy()[e],
            "days": (e - s + 1).astype(np.int64),
        },
        index=lay.block_index(),
    )
    return out


def _daily_indicators(lay: DailyLayout) -> dict[str, np.ndarray]:
    """Daily-based features on every row (symbol's own trading days)."""
    pos = lay.pos
    close = lay.col("adj_close")
    prev = ind.grouped_shift(close, pos)
    ret = ind.safe_divide(close, prev) - 1.0
    logret = ind.safe_log(ind.safe_divide(close, prev))
    abs_ret = np.abs(ret)
    high, low = lay.col("adj_high"), lay.col("adj_low")
    true_range = np.fmax(high, prev) - np.fmin(low, prev)
    true_range[np.isnan(prev)] = np.nan
    value = lay.col("close") * lay.col("volume")  # raw traded value: invariant to adjustment
    adj_vol = lay.col("adj_volume")
    illiq = ind.safe_divide(abs_ret, np.where(value > 0, value, np.nan)) * 1e9
    signed = np.sign(ret) * adj_vol
    return {
        "vol_4w": ind.grouped_rolling(logret, pos, 20, "std"),
        "atr_4w_pct": ind.safe_divide(ind.grouped_rolling(true_range, pos, 20, "mean"), close),
        "max_1w": ind.grouped_rolling(abs_ret, pos, 5, "max"),
        "max_4w": ind.grouped_rolling(abs_ret, pos, 20, "max"),
        "turnover_w": ind.safe_log(ind.grouped_rolling(value, pos, 5, "mean")),
        "obv_mom_4w": ind.safe_divide(
            ind.grouped_rolling(signed, pos, 20, "sum"),
            ind.grouped_rolling(adj_vol, pos, 20, "sum"),
        ),
        "amihud_w": ind.grouped_nanmean(illiq, pos, 5, min_periods=3),
    }


def _weekly_indicators(
    lay: DailyLayout, week0: int, n_weeks: int
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Non-recursive weekly features on panels covering market weeks ``week0 .. week0+n_weeks-1``."""
    s, e = lay.block_start, lay.block_end
    wk = lay.block_week - week0
    code = lay.block_code
    shape = (n_weeks, len(lay.symbols))

    def panel(values: np.ndarray) -> np.ndarray:
        return ind.to_panel(values, wk, code, shape)

    close = panel(lay.col("adj_close")[e])
    high = panel(np.fmax.reduceat(lay.col("adj_high"), s))
    # average daily volume of the week, so a holiday-shortened week is not a volume drop
    volume = panel(np.add.reduceat(np.nan_to_num(lay.col("adj_volume")), s) / (e - s + 1))
    return weekly_panel_features(close, high, volume), wk, code


def weekly_panel_features(
    close: np.ndarray, high: np.ndarray, volume: np.ndarray
) -> dict[str, np.ndarray]:
    """The non-recursive weekly features from (weeks, symbols) panels of the week's adjusted close,
    high and average daily volume. Shared with the live stream, which runs it on the last
    ``TAIL_WEEKS`` market weeks plus the current partial week."""
    out: dict[str, np.ndarray] = {}
    for k in (1, 4, 12, 26, 52):
        out[f"ret_{k}w"] = ind.safe_divide(close, ind.panel_shift(close, k)) - 1.0
    ma10 = ind.panel_rolling(close, 10, "mean", ind.min_obs(10))
    ma20 = ind.panel_rolling(close, 20, "mean", ind.min_obs(20))
    ma40 = ind.panel_rolling(close, 40, "mean", ind.min_obs(40))
    out["ma_cross_10_40_w"] = ind.safe_divide(ma10, ma40) - 1.0
    out["price_vs_ma20_w"] = ind.safe_divide(close, ma20) - 1.0
    prior_high = ind.panel_shift(ind.panel_rolling(high, 20, "max", ind.min_obs(20)), 1)
    out["breakout_20w"] = ind.safe_divide(close, prior_high)
    sd20 = ind.panel_rolling(close, 20, "std", ind.min_obs(20), ddof=0)
    out["bb_width_w"] = ind.safe_divide(4.0 * sd20, ma20)
    log_vol = ind.safe_log(volume)
    mu = ind.panel_shift(ind.panel_rolling(log_vol, 12, "mean", 10), 1)
    sd = ind.panel_shift(ind.panel_rolling(log_vol, 12, "std", 10), 1)
    out["vol_zscore_12w"] = ind.safe_divide(log_vol - mu, sd)
    return out


def _recursive_indicators(lay: DailyLayout) -> dict[str, np.ndarray]:
    """RSI and MACD over the whole weekly close history (full panel), as (weeks, symbols) panels."""
    shape = (len(lay.week_ends), len(lay.symbols))
    close = ind.to_panel(lay.col("adj_close")[lay.block_end], lay.block_week, lay.block_code, shape)
    rsi = ind.rsi_panel(close, 14)
    return {
        "rsi_14w": rsi,
        "rsi_speed": rsi - ind.panel_shift(rsi, 4),
        "macd_hist_w": ind.safe_divide(ind.macd_hist_panel(close, 12, 26, 9), close),
    }


def compute_features(
    adjusted_daily: pd.DataFrame,
    since: str | pd.Timestamp | None = None,
    engine: Engine | None = None,
    chunks: int = DEFAULT_CHUNKS,
) -> pd.DataFrame:
    """The weekly feature matrix, index (symbol, week_end), columns ``FEATURES`` (float64).

    ``since`` limits the output to weeks whose ``week_end >= since``. The non-recursive features
    are then computed from a tail of ``TAIL_WEEKS`` market weeks before ``since`` (plus the last
    ``LONGEST_DAILY_ROWS`` trading days of each symbol before the tail), which is every row they
    can read; RSI and MACD always run over each symbol's whole weekly close history. Hence
    ``compute_features(d, since)`` equals the matching rows of ``compute_features(d)``.

    ``engine`` (a :class:`stockvision.engine.Engine`) splits the per-symbol work into ``chunks``
    runs of consecutive symbols and runs them on it; the market calendar (which weeks exist and
    their ``week_end``) is decided here on the whole frame first, and the cross-sectional
    ``illiq_rank`` is computed here afterwards over all symbols, so the frame is bit-identical to
    the one-pass build (every per-symbol kernel restarts its state at each symbol; see
    :mod:`stockvision.features.indicators`). Without an engine: the one vectorised pass.
    """
    full = DailyLayout.from_frame(adjusted_daily)
    if len(full.codes) == 0:
        return pd.DataFrame(columns=FEATURES, index=full.block_index(), dtype=np.float64)
    first_week = 0
    if since is not None:
        cut = pd.Timestamp(since).as_unit("ns").to_datetime64()
        first_week = int(np.searchsorted(full.week_ends.to_numpy(), cut))
    if first_week >= len(full.week_ends):
        return pd.DataFrame(
            columns=FEATURES, index=full.block_index(np.zeros(0, dtype=np.int64)), dtype=np.float64
        )
    lay = full
    if first_week > TAIL_WEEKS:
        lay = _tail(full, first_week - TAIL_WEEKS)
    week0 = int(lay.week.min())
    window = (first_week, week0, int(lay.week.max()) - week0 + 1)
    if engine is None:
        parts = [_symbol_features(window, (full, lay))]
        offsets = [0]
    else:
        bounds = _chunk_bounds(len(full.symbols), chunks)
        items = [(_slice(full, a, b), _slice(lay, a, b)) for a, b in bounds]
        parts = [o.get() for o in engine.map(_symbol_features, items, shared=window)]
        offsets = [a for a, _ in bounds]

    cols = {
        name: np.concatenate([p[0][name] for p in parts])
        for name in FEATURES
        if name in parts[0][0]
    }
    abs_wk = np.concatenate([p[1] for p in parts])
    code = np.concatenate([p[2] + off for p, off in zip(parts, offsets, strict=True)])
    cols["illiq_rank"] = ind.cross_section_rank(cols["amihud_w"], abs_wk)
    index = pd.MultiIndex.from_arrays(
        [pd.Index(full.symbols[code], dtype="str"), full.week_ends[abs_wk]],
        names=[SYMBOL, WEEK_END],
    )
    out = pd.DataFrame({name: cols[name] for name in FEATURES}, index=index)
    return out if out.index.is_monotonic_increasing else out.sort_index()


def _symbol_features(
    window: tuple[int, int, int], layouts: tuple[DailyLayout, DailyLayout]
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Every feature but the cross-sectional ``illiq_rank`` for the symbols of ``layouts`` (the
    whole history, and the tail the non-recursive features read), on the market calendar the
    caller decided: ``window = (first output week, first panel week, panel weeks)``. Returns the
    columns of the output blocks, their market week and their symbol code. An engine task."""
    first_week, week0, n_weeks = window
    full, lay = layouts
    recursive = _recursive_indicators(full)
    keep = lay.block_week >= first_week
    if len(lay.codes) == 0 or not keep.any():
        empty = np.zeros(0, dtype=np.float64)
        none = np.zeros(0, dtype=np.int64)
        return {name: empty for name in FEATURES if name != "illiq_rank"}, none, none
    daily = _daily_indicators(lay)
    weekly, wk, code = _weekly_indicators(lay, week0, n_weeks)
    e = lay.block_end[keep]
    wk, code, abs_wk = wk[keep], code[keep], lay.block_week[keep]
    cols: dict[str, np.ndarray] = {}
    for name in FEATURES:
        if name in daily:
            cols[name] = daily[name][e]
        elif name in weekly:
            cols[name] = weekly[name][wk, code]
        elif name in recursive:
            cols[name] = recursive[name][abs_wk, code]
    return cols, abs_wk, code


def _chunk_bounds(n_symbols: int, chunks: int) -> list[tuple[int, int]]:
    """``chunks`` (at most ``n_symbols``) runs of consecutive symbol codes, as even as possible."""
    edges = np.linspace(0, n_symbols, max(1, min(chunks, n_symbols)) + 1).round().astype(int)
    return [(int(a), int(b)) for a, b in pairwise(edges) if b > a]


def _slice(lay: DailyLayout, a: int, b: int) -> DailyLayout:
    """The rows of symbol codes ``a .. b-1`` (contiguous: rows are grouped by code in code order),
    with codes renumbered from 0 and the whole market calendar kept."""
    r0, r1 = np.searchsorted(lay.codes, [a, b])
    return DailyLayout(
        lay.frame.iloc[r0:r1].reset_index(drop=True),
        lay.symbols[a:b],
        lay.codes[r0:r1] - a,
        lay.week[r0:r1],
        lay.week_ends,
    )


def _tail(full: DailyLayout, start_week: int) -> DailyLayout:
    """Rows of market weeks ``>= start_week`` plus each symbol's ``LONGEST_DAILY_ROWS`` rows before."""
    in_tail = full.week >= start_week
    big = np.iinfo(np.int64).max
    first_pos = (
        pd.Series(np.where(in_tail, full.pos, big)).groupby(full.codes).transform("min").to_numpy()
    )
    rows = np.flatnonzero((full.pos >= first_pos - LONGEST_DAILY_ROWS) & (first_pos < big))
    # symbol codes and market weeks stay those of the full layout: the calendar is a property of
    # the whole market and the recursive panels are indexed by the full codes
    return DailyLayout(
        full.frame.iloc[rows].reset_index(drop=True),
        full.symbols,
        full.codes[rows],
        full.week[rows],
        full.week_ends,
    )
