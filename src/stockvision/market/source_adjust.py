"""Adjustment factors from a source's own adjusted close, robust to how publishers round it.

A publisher's ``Adj Close`` divided by the raw close is the back-adjustment factor it applied
(stock and cash dividends both). Taking that ratio day by day would copy the publisher's noise
into every adjusted price: ``Adj Close`` is rounded (to 100 VND in the whole-market exports, which
is 15 % of a 600 VND adjusted price) and some rows carry values from another series, so the
day-to-day ratio jumps back and forth where no corporate action happened, and each jump becomes a
fake daily return in the adjusted close.

The factor is piecewise constant (it only changes on ex-dates), so it is estimated as such,
vectorised over all symbols at once:

1. ``x = log(adj_close / close)`` on rows with both;
2. a *step* at row t when the median of ``x`` over the ``window`` rows from t on differs from the
   median over the ``window`` rows before t by more than the rounding can explain
   (``max(min_step, 1.5 * grain / adj_close)``; medians ignore isolated bad rows), placed on the
   row of that neighbourhood whose own day-to-day change is largest in the step's direction (the
   ex-date);
3. between steps the factor is the median of ``x`` (exponentiated), normalised so the symbol's
   last factor is 1.0 (the file's level embeds dividends after its last date, and a unit mismatch
   of ``adj_close`` cancels out too).

Each step is also returned as an event whose ``ratio`` multiplies every earlier price, like the
events of :func:`stockvision.market.corporate_actions.detect_corporate_actions`.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from stockvision.market.action_types import COMMON_PAYOUTS, EVENT_COLUMNS

KIND_SOURCE_STOCK = "stock_dividend"
KIND_SOURCE_CASH = "cash_dividend"
KIND_SOURCE_OTHER = "other"


def _shift(values: np.ndarray, groups: np.ndarray, k: int, fill: float = np.nan) -> np.ndarray:
    """``values`` shifted by ``k`` rows within each group (``fill`` across group boundaries)."""
    n = len(values)
    out = np.full(n, fill, dtype=np.float64)
    if k == 0 or abs(k) >= n:
        return values.astype(np.float64, copy=True) if k == 0 else out
    if k > 0:
        out[k:] = values[:-k]
        out[:k] = fill
        out[k:][groups[k:] != groups[:-k]] = fill
    else:
        out[:k] = values[-k:]
        out[k:] = fill
        out[:k][groups[:k] != groups[-k:]] = fill
    return out


def _grain(adj: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Per row, the rounding grain of the symbol's ``adj_close`` (100, 10 or 1 VND, or 0.01)."""
    out = np.full(len(adj), 0.01)
    for grain in (1.0, 10.0, 100.0):
        on_grid = np.abs(adj / grain - np.round(adj / grain)) < 1e-6
        every = pd.Series(on_grid).groupby(groups).transform("all").to_numpy()
        out = np.where(every, grain, out)
    return out


def factors_from_adjusted(
    daily: pd.DataFrame,
    *,
    window: int = 5,
    min_step: float = 0.004,
    clean_tolerance: float = 0.01,
) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    """Factors from ``daily['adj_close']`` (sorted by symbol, date).

    Returns ``(factor, covered, events)``: ``factor`` per row of ``daily`` (NaN where the symbol
    has no usable ``adj_close`` at all), ``covered`` the mask of those symbols' rows, and the
    events (:data:`EVENT_COLUMNS` plus ``method='source'``).
    """
    sym = daily["symbol"].to_numpy()
    codes, _ = pd.factorize(sym)
    close = daily["close"].to_numpy(dtype=np.float64)
    adj = pd.to_numeric(daily["adj_close"], errors="coerce").to_numpy(dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        valid = np.isfinite(adj) & (adj > 0) & np.isfinite(close) & (close > 0)
    factor = np.full(len(daily), np.nan)
    covered_sym = pd.Series(valid).groupby(codes).transform("any").to_numpy()
    idx = np.flatnonzero(valid)
    if len(idx) == 0:
        return factor, covered_sym, _empty_source_events()
    g = codes[idx]
    x = np.log(adj[idx] / close[idx])
    av = adj[idx]

    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows at a symbol's edges
        before = np.nanmedian(np.vstack([_shift(x, g, k) for k in range(1, window + 1)]), axis=0)
        after = np.nanmedian(np.vstack([_shift(x, g, -k) for k in range(window)]), axis=0)
    step = after - before
    noise = 1.5 * _grain(av, g) / av
    cand = np.isfinite(step) & (np.abs(step) > np.maximum(min_step, noise))
    d1 = x - _shift(x, g, 1)
    score = np.where(cand & (np.sign(d1) == np.sign(step)), np.abs(d1), 0.0)
    best = score > 0
    for k in range(1, window):
        for sign in (1, -1):
            other = _shift(score, g, sign * k, fill=0.0)
            best &= (score > other) | ((score == other) & (sign == 1))
    # several steps within one window: the median windows straddle both; one step per window
    is_step = best

    seg = pd.Series(is_step.astype(np.int64)).groupby(g).cumsum().to_numpy()
    key = g.astype(np.int64) * (len(idx) + 1) + seg
    level = pd.Series(x).groupby(key).transform("median").to_numpy(copy=True)
    level -= pd.Series(level).groupby(g).transform("last").to_numpy()
    factor[idx] = np.exp(level)
    # rows without a usable adj_close take the factor of the next row that has one
    filled = pd.Series(factor).groupby(codes).bfill()
    filled = filled.groupby(codes).ffill().to_numpy()
    factor = np.where(covered_sym, filled, np.nan)

    pos = idx[is_step]
    ratio = np.exp(_shift(level, g, 1) - level)[is_step]
    prev_close = _shift(close[idx], g, 1)[is_step]  # the previous row with an adj_close
    raw = close[pos] / prev_close
    payouts = 1.0 / (1.0 + np.asarray(COMMON_PAYOUTS))
    near = np.min(np.abs(ratio[:, None] / payouts[None, :] - 1.0), axis=1) if len(pos) else ratio
    kind = np.where(
        near <= clean_tolerance,
        KIND_SOURCE_STOCK,
        np.where((ratio < 1) & (ratio > 0.85), KIND_SOURCE_CASH, KIND_SOURCE_OTHER),
    )
    events = pd.DataFrame(
        {
            "symbol": pd.Series(sym[pos], dtype=str),
            "date": pd.DatetimeIndex(daily["date"].to_numpy()[pos]),
            "prev_close": prev_close,
            "close": close[pos],
            "pct_change": raw - 1.0,
            "ratio": ratio,
            "kind": pd.Series(kind, dtype=str),
        }
    )
    events = events[np.isfinite(events["ratio"]) & (events["ratio"] > 0)]
    events = events[EVENT_COLUMNS].assign(method="source").reset_index(drop=True)
    return factor, covered_sym, events


def _empty_source_events() -> pd.DataFrame:
    frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in EVENT_COLUMNS})
    frame["symbol"] = frame["symbol"].astype(str)
    frame["kind"] = frame["kind"].astype(str)
    frame["date"] = pd.Series(dtype="datetime64[ns]")
    return frame.assign(method=pd.Series(dtype=str))
