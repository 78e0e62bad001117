"""Live features: the current (partial) week's feature row of every symbol, updated as ticks arrive.

The weekly feature row of week W is a function of each symbol's daily rows up to its last trading day
of W (see :mod:`stockvision.features.weekly`). During a session, today's daily row is the live bar
(open, high, low, last price, volume so far), so the live feature row is that function applied to the
stored history plus today's live bars, and the engine is built so that it *equals* the batch
``compute_features(history + live rows)`` for week W at any moment (parity test), while costing a few
milliseconds per market minute for 1,600 symbols instead of a full recompute:

* the daily-window features read each live symbol's last 22 stored days plus the live bar, through
  the batch kernel ``_daily_indicators`` on that short frame;
* the weekly-window features run the batch ``weekly_panel_features`` on the last ``TAIL_WEEKS``
  finished market weeks plus the live week (columns of the symbols that changed only);
* RSI and MACD carry their state from the finished weeks (:mod:`stockvision.stream.recursive`) and
  take one step on the live week's close;
* ``illiq_rank`` is re-ranked across every symbol of week W, as the batch does.

Ticks update the live bars vectorised (``ufunc.at``) by *event time*: a late tick extends the high,
low and volume but never moves the last price back; a tick already applied (same ``seq``, a
redelivery) is ignored, so an at-least-once feed cannot double-count volume. Prices are raw VND;
today's adjustment factor is the symbol's last stored factor (corporate actions on today itself
reach the features with the next batch run).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from stockvision.data.schema import DATE, SYMBOL, WEEK_END
from stockvision.features import indicators as ind
from stockvision.features.feature_docs import FEATURES
from stockvision.features.weekly import (
    LONGEST_DAILY_ROWS,
    TAIL_WEEKS,
    DailyLayout,
    _daily_indicators,
    check_adjusted_frame,
    compute_features,
    weekly_panel_features,
)
from stockvision.stream.recursive import RecursiveState

#: Stored daily rows kept per symbol for the daily windows (21 needed, one spare).
DAILY_TAIL = LONGEST_DAILY_ROWS + 1
_DAILY_COLS = ("close", "volume", "adj_open", "adj_high", "adj_low", "adj_close", "adj_volume")


@dataclass
class _ShortFrame:
    """The duck-typed layout ``_daily_indicators`` reads: row positions and columns."""

    pos: np.ndarray
    cols: dict[str, np.ndarray]

    def col(self, name: str) -> np.ndarray:
        return self.cols[name]


class LiveFeatures:
    """Live bars of session ``day`` on top of the stored adjusted ``history`` (rows before ``day``)."""

    def __init__(self, history: pd.DataFrame, day: date | str | pd.Timestamp) -> None:
        self.day = pd.Timestamp(day).normalize().as_unit("ns")
        self.monday = self.day - pd.Timedelta(days=self.day.weekday())
        hist = check_adjusted_frame(history)
        hist = hist.loc[hist[DATE] < self.day].reset_index(drop=True)
        if "adj_open" not in hist:
            hist["adj_open"] = np.nan
        lay = DailyLayout.from_frame(hist)
        self.symbols: list[str] = [str(s) for s in lay.symbols]
        self.code = {s: i for i, s in enumerate(self.symbols)}
        n = self.n = len(self.symbols)
        self._history = hist

        # per-symbol adjustment of today's raw prices: the last stored factor
        last_rows = np.searchsorted(lay.codes, np.arange(n), side="right") - 1
        if "factor" in hist:
            factor = hist["factor"].to_numpy(dtype=np.float64)[last_rows]
        else:
            factor = ind.safe_divide(lay.col("adj_close")[last_rows], lay.col("close")[last_rows])
        self.factor = np.where(np.isfinite(factor) & (factor > 0), factor, 1.0)
        self.prev_close = lay.col("close")[last_rows] if n else np.zeros(0)

        # weekly panels: finished market weeks (week_end before this Monday) and the partial week
        shape = (len(lay.week_ends), n)
        s, e = lay.block_start, lay.block_end
        wk, code = lay.block_week, lay.block_code
        close = ind.to_panel(lay.col("adj_close")[e], wk, code, shape)
        high = ind.to_panel(np.fmax.reduceat(lay.col("adj_high"), s), wk, code, shape)
        vol_sum = np.add.reduceat(np.nan_to_num(lay.col("adj_volume")), s) if len(s) else s
        days = (e - s + 1).astype(np.float64)
        finished = int(np.searchsorted(lay.week_ends.to_numpy(), self.monday.to_datetime64()))
        self.recursive = RecursiveState.from_closes(close[:finished])
        self.tail_close = close[:finished][-TAIL_WEEKS:]
        self.tail_high = high[:finished][-TAIL_WEEKS:]
        self.tail_volume = ind.to_panel(vol_sum / np.maximum(days, 1), wk, code, shape)[:finished][
            -TAIL_WEEKS:
        ]
        in_w = wk >= finished  # the partial week's blocks (at most one per symbol)
        self.w_has = np.zeros(n, dtype=bool)
        self.w_has[code[in_w]] = True
        self.w_days = np.zeros(n)
        self.w_days[code[in_w]] = days[in_w]
        self.w_high = np.full(n, np.nan)
        self.w_high[code[in_w]] = high[wk[in_w], code[in_w]]
        self.w_vol = np.zeros(n)
        self.w_vol[code[in_w]] = vol_sum[in_w]
        self.w_last_day = (
            pd.Timestamp(lay.frame[DATE].to_numpy()[e[in_w]].max()) if in_w.any() else None
        )

        # the stored week-so-far rows (symbols that do not trade today keep them)
        self.static = pd.DataFrame(index=pd.Index([], name=SYMBOL), columns=FEATURES, dtype=float)
        if in_w.any():
            self.static = compute_features(hist, since=self.monday).droplevel(WEEK_END)
        self.amihud = np.full(n, np.nan)
        if len(self.static):
            idx = [self.code[s] for s in self.static.index]
            self.amihud[idx] = self.static["amihud_w"].to_numpy()

        # the last DAILY_TAIL stored rows of every symbol, (symbol, date) ordered
        pos_from_end = pd.Series(lay.pos).groupby(lay.codes).transform("max").to_numpy() - lay.pos
        keep = pos_from_end < DAILY_TAIL
        self.t_code = lay.codes[keep]
        self.t_date = lay.frame[DATE].to_numpy()[keep]
        self.t_cols = {c: lay.col(c)[keep] for c in _DAILY_COLS}
        self.t_start = np.searchsorted(self.t_code, np.arange(n))
        self.t_end = np.searchsorted(self.t_code, np.arange(n), side="right")

        # live bars (raw VND, shares) and the event times that order them
        self.open = np.full(n, np.nan)
        self.high = np.full(n, np.nan)
        self.low = np.full(n, np.nan)
        self.close = np.full(n, np.nan)
        self.volume = np.zeros(n)
        self.first_t = np.full(n, np.iinfo(np.int64).max)
        self.last_t = np.full(n, np.iinfo(np.int64).min)
        self.live = np.zeros(n, dtype=bool)
        self.applied_seq = 0
        self.late_ticks = 0
        self.skipped_ticks = 0
        self.unknown_ticks = 0

    # --- ticks -----------------------------------------------------------------------------
    def codes_of(self, symbols: list[str] | np.ndarray) -> np.ndarray:
        """Symbol codes (-1 for a symbol without stored history)."""
        get = self.code.get
        return np.fromiter((get(s, -1) for s in symbols), dtype=np.int64, count=len(symbols))

    def apply(
        self,
        codes: np.ndarray,
        price: np.ndarray,
        volume: np.ndarray,
        t_ns: np.ndarray,
        seq: np.ndarray | None = None,
    ) -> np.ndarray:
        """Apply a batch of ticks (vectorised); returns the codes whose bar changed.

        ``seq`` (the bus sequence of each tick, increasing) makes the update idempotent: ticks at
        or below the last applied sequence are skipped (a redelivery after a restart).
        """
        codes = np.asarray(codes, dtype=np.int64)
        price = np.asarray(price, dtype=np.float64)
        volume = np.asarray(volume, dtype=np.float64)
        t_ns = np.asarray(t_ns, dtype=np.int64)
        ok = (codes >= 0) & np.isfinite(price) & (price > 0) & np.isfinite(volume) & (volume >= 0)
        self.unknown_ticks += int(np.sum(codes < 0))
        if seq is not None:
            seq = np.asarray(seq, dtype=np.int64)
            fresh = seq > self.applied_seq
            self.skipped_ticks += int(np.sum(~fresh))
            ok &= fresh
            if len(seq):
                self.applied_seq = max(self.applied_seq, int(seq.max()))
        if not ok.any():
            return np.zeros(0, dtype=np.int64)
        c, p, v, t = codes[ok], price[ok], volume[ok], t_ns[ok]
        np.fmax.at(self.high, c, p)
        np.fmin.at(self.low, c, p)
        np.add.at(self.volume, c, v)
        # late: older than a tick of the same symbol seen before it (earlier batch or this one)
        seen_before = pd.Series(t).groupby(c).cummax().groupby(c).shift().to_numpy()
        before = np.fmax(self.last_t[c].astype(np.float64), seen_before.astype(np.float64))
        self.late_ticks += int(np.sum(t < before))
        # the last price is the tick with the latest event time (the later one on a tie)
        order = np.lexsort((np.arange(len(c)), t, c))
        last = order[np.r_[c[order][1:] != c[order][:-1], True]]
        newer = t[last] >= self.last_t[c[last]]
        self.close[c[last][newer]] = p[last][newer]
        self.last_t[c[last]] = np.maximum(self.last_t[c[last]], t[last])
        # the open is the tick with the earliest event time
        first = order[np.r_[True, c[order][1:] != c[order][:-1]]]
        earlier = t[first] < self.first_t[c[first]]
        self.open[c[first][earlier]] = p[first][earlier]
        self.first_t[c[first]] = np.minimum(self.first_t[c[first]], t[first])
        self.live[c] = True
        return np.unique(c)

    def live_rows(self) -> pd.DataFrame:
        """Today's live bars as adjusted daily rows (what the batch sees for ``day``)."""
        c = np.flatnonzero(self.live)
        f = self.factor[c]
        return pd.DataFrame(
            {
                SYMBOL: pd.Series([self.symbols[i] for i in c], dtype="str"),
                DATE: np.full(len(c), self.day.to_datetime64()),
                "open": self.open[c],
                "high": self.high[c],
                "low": self.low[c],
                "close": self.close[c],
                "volume": self.volume[c],
                "factor": f,
                "adj_open": self.open[c] * f,
                "adj_high": self.high[c] * f,
                "adj_low": self.low[c] * f,
                "adj_close": self.close[c] * f,
                "adj_volume": self.volume[c] / f,
            }
        )

    # --- features --------------------------------------------------------------------------
    @property
    def week_end(self) -> pd.Timestamp | None:
        if self.live.any():
            return self.day
        return self.w_last_day

    def _daily(self, live: np.ndarray) -> dict[str, np.ndarray]:
        starts, ends = self.t_start[live], self.t_end[live]
        lengths = ends - starts
        rows = np.repeat(starts - np.cumsum(np.r_[0, lengths[:-1]]), lengths) + np.arange(
            lengths.sum()
        )
        f = self.factor[live]
        today = {
            "close": self.close[live],
            "volume": self.volume[live],
            "adj_open": self.open[live] * f,
            "adj_high": self.high[live] * f,
            "adj_low": self.low[live] * f,
            "adj_close": self.close[live] * f,
            "adj_volume": self.volume[live] / f,
        }
        # each symbol's stored tail then its live row: place the live rows after each block
        block = np.repeat(np.arange(len(live)), lengths)
        order = np.lexsort((np.r_[np.zeros(len(rows)), np.ones(len(live))],
                            np.r_[block, np.arange(len(live))]))  # fmt: skip
        cols = {c: np.r_[self.t_cols[c][rows], today[c]][order] for c in _DAILY_COLS}
        group = np.r_[block, np.arange(len(live))][order]
        pos = ind.group_positions(group)
        out = _daily_indicators(_ShortFrame(pos, cols))  # type: ignore[arg-type]
        last = np.r_[group[1:] != group[:-1], True]
        return {k: v[last] for k, v in out.items()}

    def _weekly(self, live: np.ndarray) -> dict[str, np.ndarray]:
        f = self.factor[live]
        close_now = self.close[live] * f
        high_now = np.fmax(self.w_high[live], self.high[live] * f)
        vol_now = (self.w_vol[live] + self.volume[live] / f) / (self.w_days[live] + 1)
        panel = {
            "close": np.vstack([self.tail_close[:, live], close_now]),
            "high": np.vstack([self.tail_high[:, live], high_now]),
            "volume": np.vstack([self.tail_volume[:, live], vol_now]),
        }
        out = weekly_panel_features(panel["close"], panel["high"], panel["volume"])
        weekly = {k: v[-1] for k, v in out.items()}
        weekly.update(self.recursive.take(live).current(close_now))
        return weekly

    def compute(self, codes: np.ndarray | None = None) -> pd.DataFrame:
        """Feature rows of week W for ``codes`` (default: every symbol with a row in W), index
        (symbol, week_end), columns ``FEATURES``; identical to the batch on the same data."""
        present = self.live | self.w_has
        want = np.flatnonzero(present) if codes is None else np.asarray(codes, dtype=np.int64)
        want = want[present[want]]
        live = want[self.live[want]]
        values = np.full((len(want), len(FEATURES)), np.nan)
        col = {name: j for j, name in enumerate(FEATURES)}
        if len(live):
            feats = {**self._daily(live), **self._weekly(live)}
            self.amihud[live] = feats["amihud_w"]
            at = _positions(want, live)
            for name, v in feats.items():
                if name in col:
                    values[at, col[name]] = v
        static = want[~self.live[want]]
        if len(static):
            at = _positions(want, static)
            rows = self.static.loc[[self.symbols[i] for i in static], FEATURES].to_numpy()
            values[at] = rows
        # the cross-sectional rank over every symbol of the week, as the batch ranks it
        everyone = np.flatnonzero(present)
        ranks = pd.Series(self.amihud[everyone]).rank(pct=True, method="average").to_numpy()
        rank_of = np.full(self.n, np.nan)
        rank_of[everyone] = ranks
        values[:, col["illiq_rank"]] = rank_of[want]
        week_end = self.week_end
        index = pd.MultiIndex.from_arrays(
            [
                pd.Index([self.symbols[i] for i in want], dtype="str"),
                pd.DatetimeIndex([week_end] * len(want)).as_unit("ns"),
            ],
            names=[SYMBOL, WEEK_END],
        )
        return pd.DataFrame(values, index=index, columns=FEATURES)


def _positions(want: np.ndarray, sub: np.ndarray) -> np.ndarray:
    where = {int(c): i for i, c in enumerate(want)}
    return np.fromiter((where[int(c)] for c in sub), dtype=np.int64, count=len(sub))
