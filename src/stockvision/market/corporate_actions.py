"""Corporate actions in unadjusted Vietnamese price feeds: detection and back-adjustment.

Vietnamese feeds often publish raw prices, so a stock dividend or bonus issue (very common in VN:
10-50% payouts, sometimes 100%) shows up as an overnight drop far beyond the exchange's daily
limit. Such a move cannot be a market move: the exchange would have rejected any trade outside
the band around the reference price. So a close outside the band around the previous close means
the exchange re-based the reference price, i.e. a corporate action.

Detection rule, per symbol and day (vectorised over all symbols):

* reference = previous close (HOSE, HNX). On UPCoM the reference is the previous session's
  volume-weighted average price, which a daily bar does not carry; it lies within the previous
  [low, high], so the band is taken around that whole range (never a false positive from it).
* allowed range = [ref * (1 - limit), ref * (1 + limit)], at least one tick either side (the
  regulations' minimum band), widened by a slack of half a tick plus ``tolerance`` * ref. The
  slack absorbs rounding: feeds that partially adjust prices (non-tick values like 36,068) or
  quote in thousands with two decimals round the ratio of two prices by up to a few basis points.
* a symbol's first row has no previous close, so it is never an event. A row after a long gap
  (more than ``relisting_gap`` sessions of the market calendar without a bar) is treated as a
  re-listing first day and checked against the wider first-day band: a gap of a month or more in
  a listed stock's bars means delisting and re-listing, an exchange transfer or a long suspension,
  and on re-listing the exchange applies the first-day band around a newly set reference price.
  A re-based price beyond even that band is still flagged, since the first-day band bounds any
  market move around a reference set near the last traded price.

Ratio: the back-adjustment ratio multiplies every price before the event. When the drop matches a
common payout ``k`` (1 / (1 + k) for ``payouts``) within ``clean_tolerance``, the exact ratio is
used: the ex-day then keeps its true market move (the residual, at most ``clean_tolerance``), and
older prices are scaled exactly as the share count changed. Otherwise (stock plus cash dividend
the same day, rights issues, unusual ratios, reverse splits) the raw ratio close / previous close
is used, which sets the ex-day's adjusted return to exactly 0: it loses that one day's market move
(at most the band) but never invents a move that did not happen.

Limits of the rule: a payout whose drop stays inside the band (e.g. a 10% stock dividend on HNX or
UPCoM, or cash dividends) is invisible to it, unless it falls on a stretch of no-trade bars, whose
flat price is the reference itself (``no_trade_rebase``). On the whole-market exports 16.8 % of the
publisher's >10 % steps (31.5 % on HNX) show neither a band break nor a re-based no-trade reference
within one session (``benchmarks/bench_data_fidelity.py --diagnose``), and an in-band HNX drop of
6-10.5 % is a publisher event only 4 % of the time. Sources that publish their own adjusted close are
therefore preferred: ``adjust`` derives factors from a source's ``adj_close`` whenever present.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TypeAlias

import numpy as np
import pandas as pd

from stockvision.market.action_types import (  # re-exported: the public names
    COMMON_PAYOUTS,
    EVENT_COLUMNS,
    KIND_STOCK_DIVIDEND,
    KIND_UNEXPLAINED_DROP,
    KIND_UNEXPLAINED_RISE,
)
from stockvision.market.calendar import TradingCalendar
from stockvision.market.exchanges import (
    RANGE_REFERENCE_UNTIL,
    Exchange,
    daily_limit_on,
    price_band,
    tick_size,
)
from stockvision.market.source_adjust import factors_from_adjusted

# Column names of the daily contract (``stockvision.data.schema``), restated here because
# ``market`` is the bottom layer and must not import from ``data``.
SYMBOL, DATE = "symbol", "date"
PRICE_COLS = ("open", "high", "low", "close")
ADJ_PRICE_COLS = ("adj_open", "adj_high", "adj_low", "adj_close")
REQUIRED_COLUMNS = (SYMBOL, DATE, *PRICE_COLS, "volume")

#: ``data.repair`` flags (open_filled 2, open_clamped 16) marking an open that is not a trade.
_UNTRUSTED_OPEN = 2 | 16
#: ``data.repair`` flag of a no-trade day (flat bar at the reference price, volume 0).
_NO_TRADE = 1

ExchangeSpec: TypeAlias = (
    Exchange | str | Mapping[str, Exchange | str] | Callable[[str], Exchange | str] | None
)


# --- inputs -------------------------------------------------------------------------------------
def _check_daily(daily: pd.DataFrame) -> None:
    if not isinstance(daily, pd.DataFrame):
        raise TypeError(f"daily must be a pandas DataFrame, got {type(daily).__name__}")
    missing = [c for c in REQUIRED_COLUMNS if c not in daily.columns]
    if missing:
        raise ValueError(
            f"daily frame lacks columns {missing}; expected the daily contract "
            f"{list(REQUIRED_COLUMNS)} (see stockvision.data.schema)"
        )
    if not pd.api.types.is_datetime64_any_dtype(daily[DATE]):
        raise ValueError(
            f"column 'date' must be datetime64, got {daily[DATE].dtype}; "
            "convert it with pd.to_datetime(daily['date'])"
        )
    if daily.duplicated([SYMBOL, DATE]).any():
        dup = daily.loc[daily.duplicated([SYMBOL, DATE], keep=False), [SYMBOL, DATE]].head(3)
        raise ValueError(
            f"daily frame has duplicate (symbol, date) rows, e.g. {dup.to_dict('records')}; "
            "deduplicate it first"
        )


def _resolve_exchanges(
    symbols: np.ndarray, daily: pd.DataFrame, exchange_of: ExchangeSpec
) -> dict[str, Exchange]:
    """Exchange of every symbol: explicit spec > ``exchange`` column > the static listings."""
    if isinstance(exchange_of, (Exchange, str)):
        ex = Exchange.parse(exchange_of)
        return dict.fromkeys(symbols.tolist(), ex)
    if isinstance(exchange_of, Mapping):
        lookup: Callable[[str], Exchange | str] = exchange_of.__getitem__
    elif callable(exchange_of):
        lookup = exchange_of
    elif "exchange" in daily.columns:
        per_symbol = daily.groupby(SYMBOL, sort=False)["exchange"].last()
        lookup = per_symbol.__getitem__
    else:
        from stockvision.market.listings import exchange_of as listed_exchange

        lookup = listed_exchange
    out: dict[str, Exchange] = {}
    unknown: list[str] = []
    for sym in symbols.tolist():
        try:
            out[sym] = Exchange.parse(lookup(sym))
        except (KeyError, ValueError, TypeError):
            unknown.append(sym)
    if unknown:
        raise ValueError(
            f"cannot tell the exchange of {sorted(unknown)[:10]}"
            f"{' and more' if len(unknown) > 10 else ''}; pass exchange_of= an Exchange, a "
            "{symbol: exchange} mapping or a function, or add an 'exchange' column"
        )
    return out


# --- detection ----------------------------------------------------------------------------------
def detect_corporate_actions(
    daily: pd.DataFrame,
    exchange_of: ExchangeSpec = None,
    *,
    tolerance: float = 0.001,
    clean_tolerance: float = 0.01,
    relisting_gap: int | None = 20,
    payouts: Sequence[float] = COMMON_PAYOUTS,
    calendar: TradingCalendar | None = None,
    band_history: bool | Collection[str] = False,
    infer_band: bool = False,
    require_payout: bool = False,
    max_payout: float | None = None,
    infer_window: int | None = None,
    range_reference: bool = False,
    open_breaks: bool | Collection[str] = False,
    no_trade_rebase: bool | Collection[str] = False,
    no_trade_min_drop: float = 0.05,
) -> pd.DataFrame:
    """Close-to-close moves outside the exchange's daily band: corporate actions.

    ``exchange_of`` is an exchange for all symbols, a mapping or function symbol -> exchange; by
    default an ``exchange`` column of ``daily``, else the static listings. ``calendar`` (default:
    from ``daily``) measures trading gaps for the re-listing rule. Returns one row per event with
    :data:`EVENT_COLUMNS`, sorted by (symbol, date); ``ratio`` is the back-adjustment ratio.

    Stricter rules for whole-market imports (all off by default, on in ``data.ingest``):

    * ``band_history``: the band in force on each date (``exchanges.BAND_HISTORY``: HOSE 5 % and
      HNX 7 % before 2013-01-15, UPCoM 10 % before 2015-07-01), not today's; ``True`` for every
      exchange, or a collection of exchange names (e.g. ``{"HNX"}``) for those only.
    * ``range_reference``: on the exchanges and dates of ``exchanges.RANGE_REFERENCE_UNTIL`` (HNX
      before 2013-01-15) the reference was the previous session's average price, so the band is
      taken around the previous [low, high] there, as on UPCoM.
    * ``infer_band``: a symbol-year with two or more *rises* beyond its band cannot have traded on
      that exchange (no corporate action raises a price), so the file's exchange is not the one
      it traded on then (a transfer, e.g. HNX to HOSE): that year gets the next wider band, and
      the widest (UPCoM's) when its rises break the next wider one too.
      ``infer_window=N`` counts the rises within N sessions either side of each row instead of
      the calendar year (a transfer in December no longer leaves January's band too narrow).
    * ``open_breaks`` (with ``require_payout``): an open below the band's floor is a candidate
      too, not only a close (the open is the first trade; opens a repair filled or clamped, per
      the ``flags`` column, are not trusted); ``True`` or a collection of exchange names.
    * ``no_trade_rebase`` (with ``require_payout``): a no-trade bar (``flags`` bit 1: flat at the
      reference price, volume 0) right after another no-trade bar whose price is more than
      ``no_trade_min_drop`` below it is a candidate, on the exchanges named (or all with
      ``True``): nothing traded in between, so the reference was re-based. A price exactly on
      the floor of the band in force (``BAND_HISTORY``) is a no-trade limit-down day instead.
      Its ratio is the re-base itself (the clean payout when within ``clean_tolerance``), so a
      cash dividend keeps its own size. It uses that bar and the one before only.
    * ``require_payout``: a candidate is an event only if it is a drop that some payout ``k``
      explains, i.e. ``close / prev_close * (1 + k)`` is a legal market move within the band.
      Rises, unexplainable drops and drops the next two closes undo (bad prints) are not events.
      With ``max_payout``, any ``k`` up to it counts (not only ``payouts``: bonus issues of 1:0.8
      or stock plus cash the same day are common), i.e. some ratio ``r >= 1/(1+max_payout)``
      leaves the day's whole bar inside the band around ``prev_close * r``; the event's ratio is
      then the listed payout in that feasible range nearest the raw move, else the raw move
      clipped into it.
    """
    _check_daily(daily)
    if not 0 <= tolerance < 0.05:
        raise ValueError(f"tolerance must be in [0, 0.05), got {tolerance}")
    if not 0 <= clean_tolerance < 0.05:
        raise ValueError(f"clean_tolerance must be in [0, 0.05), got {clean_tolerance}")
    if any(k <= 0 for k in payouts):
        raise ValueError(f"payouts must be positive rates, got {list(payouts)}")

    if not 0 <= no_trade_min_drop < 1:
        raise ValueError(f"no_trade_min_drop must be in [0, 1), got {no_trade_min_drop}")
    cols = [SYMBOL, DATE, "low", "high", "close"]
    frame = daily[cols].reset_index(drop=True)
    valid = np.isfinite(frame["close"].to_numpy(dtype=np.float64)) & (frame["close"] > 0)
    frame = frame[valid.to_numpy()].sort_values([SYMBOL, DATE], kind="stable")
    order = frame.index.to_numpy()  # positions in ``daily`` of the sorted valid rows
    if frame.empty:
        return _empty_events()

    sym = frame[SYMBOL].to_numpy()
    dates = frame[DATE].to_numpy().astype("datetime64[ns]")
    close = frame["close"].to_numpy(dtype=np.float64)
    same = np.r_[False, sym[1:] == sym[:-1]]  # row has a previous row of the same symbol
    prev_close = np.where(same, np.r_[np.nan, close[:-1]], np.nan)
    prev_low = np.where(same, np.r_[np.nan, frame["low"].to_numpy(dtype=np.float64)[:-1]], np.nan)
    prev_high = np.where(same, np.r_[np.nan, frame["high"].to_numpy(dtype=np.float64)[:-1]], np.nan)
    prev_date = np.where(same, np.r_[np.datetime64("NaT", "ns"), dates[:-1]], np.datetime64("NaT"))

    # per-row exchange rules
    uniq = pd.unique(sym)
    exchanges = _resolve_exchanges(np.asarray(uniq, dtype=object), daily, exchange_of)
    codes = pd.Series(sym).map({s: e.value for s, e in exchanges.items()}).to_numpy()
    limit = np.full(len(sym), np.nan)
    # the next wider exchanges' bands (HOSE < HNX < UPCoM), for infer_band: one step, then two
    wider = [np.full(len(sym), np.nan), np.full(len(sym), np.nan)]
    ladder = (Exchange.HOSE, Exchange.HNX, Exchange.UPCOM)
    historic = (
        {e.value for e in Exchange}
        if band_history is True
        else set()
        if band_history is False
        else {str(b) for b in band_history}
    )

    def band(ex: Exchange, rows: np.ndarray) -> np.ndarray | float:
        return daily_limit_on(ex, dates[rows]) if ex.value in historic else ex.daily_limit

    for level, ex in enumerate(ladder):
        rows = codes == ex.value
        limit[rows] = band(ex, rows)
        for step in (0, 1):
            wider[step][rows] = band(ladder[min(level + step + 1, 2)], rows)
    first_limit = np.select(
        [codes == e.value for e in Exchange], [e.first_day_limit for e in Exchange], np.nan
    )
    is_hose, is_upcom = codes == Exchange.HOSE.value, codes == Exchange.UPCOM.value

    # re-listing: a long gap in the market's sessions since the symbol's previous bar
    if relisting_gap is not None:
        cal = calendar if calendar is not None else TradingCalendar.from_daily(daily)
        days = cal.trading_days.values
        gap = np.searchsorted(days, dates, side="left") - np.searchsorted(
            days, prev_date, side="right"
        )
        relisted = same & (gap > relisting_gap)
        limit = np.where(relisted, first_limit, limit)
    else:
        relisted = np.zeros(len(sym), dtype=bool)

    by_range = is_upcom.copy()
    if range_reference:
        for ex, until in RANGE_REFERENCE_UNTIL.items():
            by_range |= (codes == ex.value) & (dates < np.datetime64(until, "ns"))
    ref_lo = np.where(by_range, np.fmin(prev_low, prev_close), prev_close)
    ref_hi = np.where(by_range, np.fmax(prev_high, prev_close), prev_close)
    with np.errstate(invalid="ignore"):
        ref_lo = np.where(ref_lo > 0, ref_lo, prev_close)
        tick_lo = np.where(is_hose, tick_size(np.nan_to_num(ref_lo), Exchange.HOSE), 100.0)
        tick_hi = np.where(is_hose, tick_size(np.nan_to_num(ref_hi), Exchange.HOSE), 100.0)

        def bounds(lim: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            lower = np.minimum(ref_lo * (1 - lim), ref_lo - tick_lo)
            upper = np.maximum(ref_hi * (1 + lim), ref_hi + tick_hi)
            return (
                lower - (0.5 * tick_lo + tolerance * ref_lo),
                upper + (0.5 * tick_hi + tolerance * ref_hi),
            )

        lower, upper = bounds(limit)
        if infer_band:  # rises beyond the wider band too: the next one (e.g. UPCoM before HOSE)
            for next_band in wider:
                rises = same & (close > upper) & ~relisted
                if infer_window is None:
                    year = dates.astype("datetime64[Y]").astype(np.int64)
                    nearby = pd.Series(rises).groupby([sym, year]).transform("sum").to_numpy()
                else:
                    nearby = _rises_nearby(rises, sym, infer_window)
                widen = (nearby >= 2) & ~relisted
                limit = np.where(widen, np.fmax(limit, next_band), limit)
                lower, upper = bounds(limit)
        rebased = np.zeros(len(sym), dtype=bool)
        if require_payout:
            is_event = same & (close < lower)
            if open_breaks and "open" in daily.columns:
                # the session's first trade, below the old floor: the reference was re-based
                opened = daily["open"].to_numpy(dtype=np.float64)[order]
                trusted = np.ones(len(sym), dtype=bool)
                if "flags" in daily.columns:  # an open filled from the close or clamped is not one
                    flags = daily["flags"].fillna(0).to_numpy().astype(np.int64)[order]
                    trusted = (flags & _UNTRUSTED_OPEN) == 0
                trusted &= _on_exchanges(codes, open_breaks)  # only on the exchanges named
                is_event |= same & trusted & (opened < lower)
            if no_trade_rebase and "flags" in daily.columns:
                # a no-trade bar shows the reference price; after another no-trade bar nothing
                # traded in between, so a lower reference is a re-based one ...
                flags = daily["flags"].fillna(0).to_numpy().astype(np.int64)[order]
                nt = (flags & _NO_TRADE) != 0
                rebased = nt & np.r_[False, nt[:-1]] & same
                rebased &= _on_exchanges(codes, no_trade_rebase)
                rebased &= close < prev_close * (1.0 - no_trade_min_drop)
                # ... unless it sits exactly on the old band's floor: a no-trade limit-down day
                # (sell orders at the floor, no buyer) moves the reference without a trade too
                rebased &= ~_at_limit_floor(close, prev_close, codes, dates)
                is_event |= rebased
        else:
            is_event = same & ((close < lower) | (close > upper))

    idx = np.flatnonzero(is_event)
    if len(idx) == 0:
        return _empty_events()
    raw = close[idx] / prev_close[idx]
    pay = np.asarray(payouts, dtype=np.float64)
    if require_payout and max_payout is not None:
        low = frame["low"].to_numpy(dtype=np.float64)
        high = frame["high"].to_numpy(dtype=np.float64)
        idx, raw, ratio, kind = _continuous_payouts(
            idx, raw, close, prev_close, low, high, sym, ref_lo, ref_hi, limit,
            pay, float(max_payout), tolerance,
        )  # fmt: skip
        if len(idx) == 0:
            return _empty_events()
        # a re-based no-trade reference is the new reference itself: its ratio is exact
        exact = rebased[idx]
        if exact.any():
            kind = kind.astype(object)
            ratio[exact], kind[exact] = _event_ratios(raw[exact], pay, clean_tolerance)
        return _events_frame(daily, sym, dates, prev_close, close, idx, raw, ratio, kind)
    if require_payout:  # some payout must leave a legal market move on the ex-date
        residual = raw[:, None] * (1.0 + pay[None, :]) - 1.0
        legal = np.abs(residual) <= limit[idx, None] + tolerance
        keep = legal.any(axis=1)
        # a re-based price is permanent: a drop the next two closes undo was a bad print
        nxt = [np.r_[close[k:], np.full(k, np.nan)] for k in (1, 2)]
        nxt_same = [np.r_[sym[k:] == sym[:-k], np.zeros(k, dtype=bool)] for k in (1, 2)]
        undone = np.ones(len(idx), dtype=bool)
        with np.errstate(invalid="ignore", divide="ignore"):
            for later, ok in zip(nxt, nxt_same, strict=True):
                back = np.abs(np.log(later[idx] / prev_close[idx])) < 0.25 * np.abs(np.log(raw))
                undone &= ok[idx] & back
        keep &= ~undone
        idx, raw = idx[keep], raw[keep]
        if len(idx) == 0:
            return _empty_events()
    ratio, kind = _event_ratios(raw, pay, clean_tolerance)
    return _events_frame(daily, sym, dates, prev_close, close, idx, raw, ratio, kind)


def _at_limit_floor(
    close: np.ndarray, prev_close: np.ndarray, codes: np.ndarray, dates: np.ndarray
) -> np.ndarray:
    """Closes exactly on the floor price of the band in force (``BAND_HISTORY``) that day."""
    out = np.zeros(len(close), dtype=bool)
    for ex in Exchange:
        rows = np.flatnonzero(codes == ex.value)
        if len(rows) == 0:
            continue
        ref = prev_close[rows]
        fine = np.isfinite(ref) & (ref > 0)
        floor, _ = price_band(np.where(fine, ref, 1.0), ex, limit=daily_limit_on(ex, dates[rows]))
        out[rows] = fine & (np.abs(close[rows] - floor) < 1e-6)
    return out


def _on_exchanges(codes: np.ndarray, which: bool | Collection[str]) -> np.ndarray:
    """Rows whose exchange a rule applies to: ``True`` for all, else the exchanges named."""
    if isinstance(which, bool):
        return np.full(len(codes), which)
    return np.isin(codes, [str(e) for e in which])


def _events_frame(
    daily: pd.DataFrame,
    sym: np.ndarray,
    dates: np.ndarray,
    prev_close: np.ndarray,
    close: np.ndarray,
    idx: np.ndarray,
    raw: np.ndarray,
    ratio: np.ndarray,
    kind: np.ndarray,
) -> pd.DataFrame:
    events = pd.DataFrame(
        {
            "symbol": pd.Series(sym[idx], dtype=daily[SYMBOL].dtype),
            "date": pd.DatetimeIndex(dates[idx]),
            "prev_close": prev_close[idx],
            "close": close[idx],
            "pct_change": raw - 1.0,
            "ratio": ratio,
            "kind": pd.Series(kind, dtype="str"),
        }
    )
    return events[EVENT_COLUMNS]


def _rises_nearby(rises: np.ndarray, sym: np.ndarray, window: int) -> np.ndarray:
    """Per row, the rises of the same symbol within ``window`` rows either side (itself once)."""
    csum = np.cumsum(rises.astype(np.int64))
    n = len(rises)
    starts = np.flatnonzero(np.r_[True, sym[1:] != sym[:-1]])
    ends = np.r_[starts[1:], n]
    first = np.repeat(starts, ends - starts)
    last = np.repeat(ends, ends - starts) - 1
    pos = np.arange(n)
    hi = np.minimum(pos + window, last)
    lo = np.maximum(pos - window, first)
    before = np.where(lo > 0, csum[np.maximum(lo - 1, 0)], 0)
    return csum[hi] - before


def _continuous_payouts(
    idx: np.ndarray,
    raw: np.ndarray,
    close: np.ndarray,
    prev_close: np.ndarray,
    low: np.ndarray,
    high: np.ndarray,
    sym: np.ndarray,
    ref_lo: np.ndarray,
    ref_hi: np.ndarray,
    limit: np.ndarray,
    payouts: np.ndarray,
    max_payout: float,
    tolerance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Candidates some payout ``k <= max_payout`` explains, their ratios and kinds.

    The new reference ``prev_close * r`` must hold the whole bar in its band: ``r`` lies in
    ``[high / (ref_hi (1+band)), low / (ref_lo (1-band))]`` (and below 1). A drop the next two
    closes undo (within a quarter of its size) was a bad print, not a re-based price.
    """
    lim = limit[idx]
    with np.errstate(invalid="ignore", divide="ignore"):
        r_hi = np.minimum(low[idx] / (ref_lo[idx] * (1.0 - lim)), 1.0)
        r_lo = high[idx] / (ref_hi[idx] * (1.0 + lim))
        keep = r_hi >= 1.0 / (1.0 + max_payout) - tolerance
        step = np.log(np.clip(np.where(np.isfinite(r_hi), np.minimum(raw, r_hi), raw), 1e-9, None))
        undone = np.ones(len(idx), dtype=bool)
        for k in (1, 2):
            later = np.r_[close[k:], np.full(k, np.nan)]
            ok = np.r_[sym[k:] == sym[:-k], np.zeros(k, dtype=bool)]
            back = np.abs(np.log(later[idx] / prev_close[idx])) < 0.25 * np.abs(step)
            undone &= ok[idx] & back
    keep &= ~undone
    idx, raw, r_lo, r_hi = idx[keep], raw[keep], r_lo[keep], r_hi[keep]
    clean = 1.0 / (1.0 + payouts)
    inside = (clean[None, :] >= r_lo[:, None] - 0.002) & (clean[None, :] <= r_hi[:, None] + 0.002)
    dist = np.where(inside, np.abs(np.log(raw[:, None] / clean[None, :])), np.inf)
    matched = np.isfinite(dist.min(axis=1)) if len(idx) else np.zeros(0, dtype=bool)
    best = dist.argmin(axis=1) if len(idx) else np.zeros(0, dtype=np.int64)
    with np.errstate(invalid="ignore"):
        ratio = np.where(matched, clean[best] if len(idx) else raw, np.clip(raw, r_lo, r_hi))
    kind = np.where(matched, KIND_STOCK_DIVIDEND, KIND_UNEXPLAINED_DROP)
    return idx, raw, ratio, kind


def _event_ratios(
    raw: np.ndarray, payouts: np.ndarray, clean_tolerance: float
) -> tuple[np.ndarray, np.ndarray]:
    """Clean 1/(1+k) ratio where a drop matches a payout within tolerance, else the raw ratio."""
    clean = 1.0 / (1.0 + payouts)
    dist = np.abs(np.log(raw)[:, None] - np.log(clean)[None, :])
    best = dist.argmin(axis=1)
    matched = (raw < 1.0) & (np.abs(raw / clean[best] - 1.0) <= clean_tolerance)
    ratio = np.where(matched, clean[best], raw)
    kind = np.where(
        matched,
        KIND_STOCK_DIVIDEND,
        np.where(raw < 1.0, KIND_UNEXPLAINED_DROP, KIND_UNEXPLAINED_RISE),
    )
    return ratio, kind


def _empty_events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": pd.Series(dtype="str"),
            "date": pd.Series(dtype="datetime64[ns]"),
            "prev_close": pd.Series(dtype="float64"),
            "close": pd.Series(dtype="float64"),
            "pct_change": pd.Series(dtype="float64"),
            "ratio": pd.Series(dtype="float64"),
            "kind": pd.Series(dtype="str"),
        }
    )


# --- factors ------------------------------------------------------------------------------------
def compute_factors(daily: pd.DataFrame, events: pd.DataFrame) -> pd.Series:
    """Back-adjustment factor of every row of ``daily`` (aligned to its index, named ``factor``).

    factor(t) = product of the ratios of the symbol's events dated strictly after t, so it is 1.0
    on and after the last event. Events need ``symbol``, ``date``, ``ratio``; their dates need not
    be trading days, and several events on one date multiply.
    """
    for name, frame, needed in (
        ("daily", daily, (SYMBOL, DATE)),
        ("events", events, (SYMBOL, DATE, "ratio")),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(f"{name} lacks columns {missing}")
    ratios = events["ratio"].to_numpy(dtype=np.float64)
    if not np.all(np.isfinite(ratios) & (ratios > 0)):
        raise ValueError("every event ratio must be finite and > 0")
    factor = pd.Series(1.0, index=daily.index, name="factor")
    if events.empty or daily.empty:
        return factor

    ev = (
        pd.DataFrame(
            {
                SYMBOL: events[SYMBOL].astype("str").to_numpy(),
                DATE: pd.to_datetime(events[DATE]).to_numpy().astype("datetime64[ns]"),
                "ratio": ratios,
            }
        )
        .groupby([SYMBOL, DATE], sort=True, as_index=False)["ratio"]
        .prod()
    )
    # suffix product per symbol: cumprod over each symbol's events in reverse date order
    rev = ev.iloc[::-1]
    ev["suffix"] = rev.groupby(SYMBOL, sort=False)["ratio"].cumprod().iloc[::-1]
    left = pd.DataFrame(
        {
            SYMBOL: daily[SYMBOL].astype("str").to_numpy(),
            DATE: pd.to_datetime(daily[DATE]).to_numpy().astype("datetime64[ns]"),
            "_pos": np.arange(len(daily)),
        }
    ).sort_values(DATE, kind="stable")
    merged = pd.merge_asof(
        left,
        ev[[SYMBOL, DATE, "suffix"]].sort_values(DATE, kind="stable"),
        on=DATE,
        by=SYMBOL,
        direction="forward",
        allow_exact_matches=False,
    )
    values = np.empty(len(daily))
    values[merged["_pos"].to_numpy()] = merged["suffix"].fillna(1.0).to_numpy()
    factor[:] = values
    return factor


def _factors_from_source(daily: pd.DataFrame) -> tuple[pd.Series, np.ndarray]:
    """Factors from the source's ``adj_close`` (``market.source_adjust``), aligned to ``daily``.

    Returns the factors (NaN for symbols without any ``adj_close``) and the row mask of the
    symbols covered.
    """
    sorted_daily, order = _sorted(daily)
    factor, covered, _ = factors_from_adjusted(sorted_daily)
    out = np.empty(len(daily))
    out[order] = factor
    cov = np.empty(len(daily), dtype=bool)
    cov[order] = covered
    return pd.Series(out, index=daily.index, name="factor"), cov


def _sorted(daily: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    order = np.lexsort((daily[DATE].to_numpy(), daily[SYMBOL].astype("str").to_numpy()))
    return daily.iloc[order].reset_index(drop=True), order


def corporate_events(
    daily: pd.DataFrame,
    exchange_of: ExchangeSpec = None,
    **detect_kwargs: object,
) -> pd.DataFrame:
    """The corporate actions behind ``daily``'s adjustment, with a ``method`` column.

    Per symbol: from the source's ``adj_close`` when it has one (``method='source'``, stock and
    cash dividends, see ``market.source_adjust``); else detected from band breaks
    (``method='detected'``, ``detect_kwargs`` passed on). ``compute_factors`` of these events gives
    the factors; ``adj_close = close * factor``.
    """
    _check_daily(daily)
    frames = []
    covered = np.zeros(len(daily), dtype=bool)
    if "adj_close" in daily.columns:
        sorted_daily, order = _sorted(daily)
        _, cov, src_events = factors_from_adjusted(sorted_daily)
        covered[order] = cov
        frames.append(src_events)
    rest = daily.loc[~covered]
    if len(rest):
        detect_kwargs.setdefault("calendar", TradingCalendar.from_daily(daily))
        found = detect_corporate_actions(rest, exchange_of, **detect_kwargs)  # type: ignore[arg-type]
        frames.append(found.assign(method="detected"))
    frames = [f for f in frames if len(f)]
    if not frames:
        return _empty_events().assign(method=pd.Series(dtype=str))
    events = pd.concat(frames, ignore_index=True)
    return events.sort_values([SYMBOL, DATE], kind="stable").reset_index(drop=True)


# --- adjustment ---------------------------------------------------------------------------------
def adjust(
    daily: pd.DataFrame,
    events: pd.DataFrame | None = None,
    exchange_of: ExchangeSpec = None,
    **detect_kwargs: object,
) -> pd.DataFrame:
    """The adjusted frame: ``daily`` plus factor, adj_open/high/low/close and adj_volume.

    Factors come from, in order: explicit ``events`` (applied to every symbol); else per symbol,
    the source's own ``adj_close`` when the symbol has any (factor = adj_close / close); else
    :func:`detect_corporate_actions` (``exchange_of`` and ``detect_kwargs`` are passed to it).
    Raw columns are left untouched, row order and index are kept. adj_volume = volume / factor so
    the traded value is unchanged. Adjusting an adjusted frame again gives the same frame.
    """
    _check_daily(daily)
    out = daily.copy()
    if events is not None:
        factor = compute_factors(out, events).to_numpy()
    else:
        factor = np.full(len(out), np.nan)
        covered = np.zeros(len(out), dtype=bool)
        if "adj_close" in out.columns:
            src, covered = _factors_from_source(out)
            factor[covered] = src.to_numpy()[covered]
        rest = out.loc[~covered]
        if len(rest):
            # gaps are measured on the whole market's calendar, not only the symbols detected
            detect_kwargs.setdefault("calendar", TradingCalendar.from_daily(out))
            found = detect_corporate_actions(rest, exchange_of, **detect_kwargs)  # type: ignore[arg-type]
            factor[~covered] = compute_factors(rest, found).to_numpy()
    out["factor"] = factor
    for raw_col, adj_col in zip(PRICE_COLS, ADJ_PRICE_COLS, strict=True):
        out[adj_col] = out[raw_col].to_numpy(dtype=np.float64) * factor
    out["adj_volume"] = out["volume"].to_numpy(dtype=np.float64) / factor
    return out
