"""Vectorised indicator kernels: grouped rolling windows over a long frame and weekly panels.

Two layouts, chosen per indicator so no Python loop ever runs over symbols:

* **Long daily arrays** sorted by (symbol, date). A rolling window over the concatenated array is
  exact for a row once the row has at least ``window - 1`` earlier rows of its own symbol; rows
  closer to the symbol's start would borrow the previous symbol's data, so they are set to NaN
  (:func:`grouped_rolling`). Windows therefore count the symbol's own trading days.
* **Weekly panels**, a dense ``(n_market_weeks, n_symbols)`` array with NaN where a symbol had no
  trade that week. Shifts along axis 0 move by *market* weeks, so a suspended week never shifts a
  horizon, and pandas' column-wise rolling handles every symbol at once.

Rolling windows never carry state from one symbol to the next (:class:`GroupWindows`): pandas'
online rolling kernels add and remove values, so without a reset a symbol's last bits would depend
on the symbols before it. With it, a symbol's features are a function of its own rows and the
market calendar only, so the feature build can be split into symbol chunks (the distributed
engine, :func:`stockvision.features.weekly.compute_features` with ``engine=``) bit for bit.

Recursive indicators (EMA, Wilder's RSI) loop over weeks with numpy operations on whole rows
(all symbols at once): the recursion is sequential in time, never in symbols.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from pandas.api.indexers import BaseIndexer

# --------------------------------------------------------------------------------------------
# long (symbol, date) arrays
# --------------------------------------------------------------------------------------------


def group_positions(codes: np.ndarray) -> np.ndarray:
    """Position of each row inside its contiguous run of equal ``codes`` (0 for a run's first row)."""
    n = len(codes)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    idx = np.arange(n, dtype=np.int64)
    starts = np.empty(n, dtype=bool)
    starts[0] = True
    starts[1:] = codes[1:] != codes[:-1]
    return idx - np.maximum.accumulate(np.where(starts, idx, 0))


class GroupWindows(BaseIndexer):
    """Trailing windows of ``window`` rows that stop at each group's first row.

    A window that starts a group does not overlap the previous row's window, and pandas' rolling
    kernels restart their running sums there, so every group is computed from a clean state.
    """

    def __init__(self, group_start: np.ndarray, window: int) -> None:
        super().__init__(window_size=window)
        self.group_start = np.asarray(group_start, dtype=np.int64)

    def get_window_bounds(
        self, num_values=0, min_periods=None, center=None, closed=None, step=None
    ):
        end = np.arange(1, num_values + 1, dtype=np.int64)
        start = np.maximum(end - self.window_size, self.group_start[:num_values])
        return start, end


def _rolling(values: np.ndarray, group_start: np.ndarray, window: int, how: str, minp: int, ddof):
    roll = pd.Series(values, copy=False).rolling(
        GroupWindows(group_start, window), min_periods=minp
    )
    res = roll.std(ddof=ddof) if how == "std" else getattr(roll, how)()
    return res.to_numpy(dtype=np.float64, copy=True)


def grouped_shift(values: np.ndarray, pos: np.ndarray, periods: int = 1) -> np.ndarray:
    """``values`` shifted down by ``periods`` rows within each group (NaN at each group's start)."""
    out = np.full(len(values), np.nan)
    if periods < len(values):
        out[periods:] = values[: len(values) - periods]
    out[pos < periods] = np.nan
    return out


def grouped_rolling(
    values: np.ndarray,
    pos: np.ndarray,
    window: int,
    how: str,
    min_periods: int | None = None,
    ddof: int = 1,
) -> np.ndarray:
    """Rolling ``how`` ("mean", "sum", "std", "max") of the last ``window`` rows of each group.

    NaN for the first ``window - 1`` rows of every group (the window would cross into the previous
    group) and where fewer than ``min_periods`` (default ``window``) values in the window are finite.
    """
    group_start = np.arange(len(values), dtype=np.int64) - pos
    out = _rolling(values, group_start, window, how, min_periods or window, ddof)
    out[pos < window - 1] = np.nan
    return out


def grouped_nanmean(
    values: np.ndarray, pos: np.ndarray, window: int, min_periods: int
) -> np.ndarray:
    """Mean of the finite values among each row's last ``window`` rows of its own group.

    Unlike :func:`grouped_rolling`, the window is truncated at the group's start instead of
    voiding the row, so ``min_periods < window`` is honoured from a group's first rows. Summed
    lag by lag (``window`` shifted copies), which suits the short windows it is used for.
    """
    total = np.zeros(len(values))
    count = np.zeros(len(values), dtype=np.int64)
    for lag in range(window):
        lagged = grouped_shift(values, pos, lag) if lag else np.asarray(values, dtype=np.float64)
        ok = np.isfinite(lagged)
        total += np.where(ok, lagged, 0.0)
        count += ok
    out = np.full(len(values), np.nan)
    enough = count >= min_periods
    out[enough] = total[enough] / count[enough]
    return out


def safe_divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` with NaN (not inf, no warning) where ``den`` is 0 or not finite."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    ok = np.isfinite(den) & (den != 0)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=ok)
    return out


def safe_log(x: np.ndarray) -> np.ndarray:
    """Natural log with NaN (not -inf, no warning) for values <= 0."""
    x = np.asarray(x, dtype=np.float64)
    out = np.full(x.shape, np.nan)
    np.log(x, out=out, where=x > 0)
    return out


# --------------------------------------------------------------------------------------------
# weekly panels (n_weeks, n_symbols)
# --------------------------------------------------------------------------------------------


def to_panel(values: np.ndarray, week: np.ndarray, sym: np.ndarray, shape: tuple[int, int]):
    """Scatter long values into a dense (weeks, symbols) panel, NaN elsewhere."""
    panel = np.full(shape, np.nan)
    panel[week, sym] = values
    return panel


def panel_shift(panel: np.ndarray, periods: int) -> np.ndarray:
    """Shift a panel down by ``periods`` market weeks (NaN in the first rows)."""
    out = np.full(panel.shape, np.nan)
    if 0 < periods < panel.shape[0]:
        out[periods:] = panel[:-periods]
    elif periods == 0:
        out[:] = panel
    return out


def min_obs(window: int, share: float = 0.8) -> int:
    """Minimum weeks with data required in a weekly window (tolerates the odd suspended week)."""
    return max(1, math.ceil(share * window))


def panel_rolling(
    panel: np.ndarray, window: int, how: str, min_periods: int | None = None, ddof: int = 1
) -> np.ndarray:
    """Column-wise rolling ``how`` over the last ``window`` market weeks (NaN weeks skipped).

    Same values as ``DataFrame(panel).rolling(...)``, but as one 1-D rolling pass: the columns are
    laid end to end and the windows stop at each column's first week (:class:`GroupWindows`), so no
    window or running sum reaches the previous column (pandas' column-by-column loop costs ~0.3 ms
    per symbol).
    """
    n_weeks, n_cols = panel.shape
    if n_weeks == 0 or n_cols == 0:
        return np.full(panel.shape, np.nan)
    stacked = np.ascontiguousarray(panel.T, dtype=np.float64).ravel()
    group_start = np.repeat(np.arange(n_cols, dtype=np.int64) * n_weeks, n_weeks)
    res = _rolling(stacked, group_start, window, how, min_periods or window, ddof)
    return res.reshape(n_cols, n_weeks).T.copy()


def ema_panel(x: np.ndarray, span: int, present: np.ndarray | None = None) -> np.ndarray:
    """EMA (alpha = 2 / (span + 1)) per column, seeded with the mean of the first ``span`` values.

    Only weeks where ``present`` (default: ``x`` finite) update the state; other weeks carry the
    last value, so the output is the EMA *as of* each week. NaN until the seed is complete.
    """
    if present is None:
        present = np.isfinite(x)
    alpha = 2.0 / (span + 1.0)
    n_weeks, n_sym = x.shape
    out = np.full(x.shape, np.nan)
    count = np.zeros(n_sym, dtype=np.int64)
    acc = np.zeros(n_sym)
    ema = np.full(n_sym, np.nan)
    for k in range(n_weeks):
        p = present[k]
        xk = np.where(p, x[k], 0.0)
        seeded = count >= span
        upd = p & seeded
        ema = np.where(upd, ema + alpha * (xk - ema), ema)
        seeding = p & ~seeded
        acc += np.where(seeding, xk, 0.0)
        count += seeding
        just = seeding & (count == span)
        ema = np.where(just, acc / span, ema)
        out[k] = ema
    return out


def rsi_panel(close: np.ndarray, period: int = 14) -> np.ndarray:
    """Wilder's RSI per column (TA-Lib's definition): SMA seed over the first ``period`` changes.

    Changes are taken between consecutive weeks *with data* (a suspended week is skipped, not a
    zero change). Output is the RSI as of each week (carried through missing weeks); NaN before
    the seed and where average gain and loss are both 0 (flat price: RSI undefined).
    """
    n_weeks, n_sym = close.shape
    out = np.full(close.shape, np.nan)
    prev = np.full(n_sym, np.nan)
    count = np.zeros(n_sym, dtype=np.int64)
    sum_g = np.zeros(n_sym)
    sum_l = np.zeros(n_sym)
    ag = np.full(n_sym, np.nan)
    al = np.full(n_sym, np.nan)
    rsi = np.full(n_sym, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        for k in range(n_weeks):
            x = close[k]
            have = np.isfinite(x)
            valid = have & np.isfinite(prev)
            change = np.where(valid, x - prev, 0.0)
            gain = np.maximum(change, 0.0)
            loss = np.maximum(-change, 0.0)
            upd = valid & (count >= period)
            ag = np.where(upd, (ag * (period - 1) + gain) / period, ag)
            al = np.where(upd, (al * (period - 1) + loss) / period, al)
            seeding = valid & (count < period)
            sum_g += np.where(seeding, gain, 0.0)
            sum_l += np.where(seeding, loss, 0.0)
            count += seeding
            just = seeding & (count == period)
            ag = np.where(just, sum_g / period, ag)
            al = np.where(just, sum_l / period, al)
            total = ag + al
            now = np.where(total > 0, 100.0 * ag / total, np.nan)
            rsi = np.where(upd | just, now, rsi)
            out[k] = rsi
            prev = np.where(have, x, prev)
    return out


def macd_hist_panel(
    close: np.ndarray, fast: int = 12, slow: int = 26, signal: int = 9
) -> np.ndarray:
    """MACD histogram (MACD line - signal line) per column, in price units, as of each week."""
    present = np.isfinite(close)
    line = ema_panel(close, fast, present) - ema_panel(close, slow, present)
    sig = ema_panel(line, signal, present & np.isfinite(line))
    return line - sig


def cross_section_rank(values: np.ndarray, week: np.ndarray) -> np.ndarray:
    """Percentile rank (0, 1] of ``values`` among rows of the same ``week`` (NaN stays NaN)."""
    ranked = (
        pd.Series(values, copy=False).groupby(week, sort=False).rank(pct=True, method="average")
    )
    return ranked.to_numpy(dtype=np.float64)
