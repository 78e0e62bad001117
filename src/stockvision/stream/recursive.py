"""Step-by-step versions of the recursive weekly indicators (Wilder RSI, EMA, MACD histogram).

:mod:`stockvision.features.indicators` runs them over whole panels; the live stream needs the state
after the last finished week and one more step for the current (partial) week, many times a day.
Each class here keeps exactly the state the panel kernels carry from row to row, so running
``step`` over the rows of a panel gives the kernel's output (tested), and the live week's value is
one step on top of the finished weeks' state.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np


@dataclass(frozen=True)
class EmaState:
    """``ema_panel``'s carried state: seed count, seed sum, current EMA (per symbol)."""

    span: int
    count: np.ndarray
    acc: np.ndarray
    ema: np.ndarray

    @classmethod
    def empty(cls, span: int, n: int) -> EmaState:
        return cls(span, np.zeros(n, dtype=np.int64), np.zeros(n), np.full(n, np.nan))

    def step(self, x: np.ndarray, present: np.ndarray) -> EmaState:
        alpha = 2.0 / (self.span + 1.0)
        xk = np.where(present, x, 0.0)
        seeded = self.count >= self.span
        upd = present & seeded
        ema = np.where(upd, self.ema + alpha * (xk - self.ema), self.ema)
        seeding = present & ~seeded
        acc = self.acc + np.where(seeding, xk, 0.0)
        count = self.count + seeding
        just = seeding & (count == self.span)
        ema = np.where(just, acc / self.span, ema)
        return replace(self, count=count, acc=acc, ema=ema)


@dataclass(frozen=True)
class RsiState:
    """``rsi_panel``'s carried state (previous close with data, seed sums, averages, last RSI)."""

    period: int
    prev: np.ndarray
    count: np.ndarray
    sum_g: np.ndarray
    sum_l: np.ndarray
    ag: np.ndarray
    al: np.ndarray
    rsi: np.ndarray

    @classmethod
    def empty(cls, period: int, n: int) -> RsiState:
        nan = np.full(n, np.nan)
        zeros = np.zeros(n)
        return cls(period, nan, np.zeros(n, dtype=np.int64), zeros, zeros, nan, nan, nan)

    def step(self, x: np.ndarray) -> RsiState:
        p = self.period
        with np.errstate(invalid="ignore", divide="ignore"):
            have = np.isfinite(x)
            valid = have & np.isfinite(self.prev)
            change = np.where(valid, x - self.prev, 0.0)
            gain = np.maximum(change, 0.0)
            loss = np.maximum(-change, 0.0)
            upd = valid & (self.count >= p)
            ag = np.where(upd, (self.ag * (p - 1) + gain) / p, self.ag)
            al = np.where(upd, (self.al * (p - 1) + loss) / p, self.al)
            seeding = valid & (self.count < p)
            sum_g = self.sum_g + np.where(seeding, gain, 0.0)
            sum_l = self.sum_l + np.where(seeding, loss, 0.0)
            count = self.count + seeding
            just = seeding & (count == p)
            ag = np.where(just, sum_g / p, ag)
            al = np.where(just, sum_l / p, al)
            total = ag + al
            now = np.where(total > 0, 100.0 * ag / total, np.nan)
            rsi = np.where(upd | just, now, self.rsi)
        prev = np.where(have, x, self.prev)
        return replace(
            self, prev=prev, count=count, sum_g=sum_g, sum_l=sum_l, ag=ag, al=al, rsi=rsi
        )


@dataclass(frozen=True)
class MacdState:
    """Fast and slow EMAs of the close and the signal EMA of their difference."""

    fast: EmaState
    slow: EmaState
    signal: EmaState

    @classmethod
    def empty(cls, n: int, fast: int = 12, slow: int = 26, signal: int = 9) -> MacdState:
        return cls(EmaState.empty(fast, n), EmaState.empty(slow, n), EmaState.empty(signal, n))

    def step(self, close: np.ndarray) -> tuple[MacdState, np.ndarray]:
        present = np.isfinite(close)
        fast, slow = self.fast.step(close, present), self.slow.step(close, present)
        line = fast.ema - slow.ema
        signal = self.signal.step(line, present & np.isfinite(line))
        return MacdState(fast, slow, signal), line - signal.ema


@dataclass(frozen=True)
class RecursiveState:
    """RSI(14) and MACD(12, 26, 9) after the finished weeks, plus the RSI of the last 4 of them
    (``rsi_speed`` reads the RSI 4 market weeks back)."""

    rsi: RsiState
    macd: MacdState
    rsi_history: np.ndarray  # (4, n): RSI as of weeks W-4 .. W-1

    @classmethod
    def from_closes(cls, close_panel: np.ndarray) -> RecursiveState:
        """Run over a (weeks, symbols) panel of weekly closes, oldest first."""
        n = close_panel.shape[1]
        rsi, macd = RsiState.empty(14, n), MacdState.empty(n)
        hist = np.full((4, n), np.nan)
        for row in close_panel:
            rsi = rsi.step(row)
            macd, _ = macd.step(row)
            hist = np.vstack([hist[1:], rsi.rsi])
        return cls(rsi, macd, hist)

    def current(self, close: np.ndarray) -> dict[str, np.ndarray]:
        """``rsi_14w``, ``rsi_speed`` and ``macd_hist_w`` of a week closing at ``close``."""
        from stockvision.features.indicators import safe_divide

        rsi = self.rsi.step(close).rsi
        _, hist = self.macd.step(close)
        return {
            "rsi_14w": rsi,
            "rsi_speed": rsi - self.rsi_history[0],
            "macd_hist_w": safe_divide(hist, close),
        }

    def take(self, cols: np.ndarray) -> RecursiveState:
        """The state of a subset of symbols (columns)."""

        def sub(obj):
            return replace(
                obj,
                **{
                    k: getattr(obj, k)[cols]
                    for k in obj.__dataclass_fields__
                    if isinstance(getattr(obj, k), np.ndarray)
                },
            )

        return RecursiveState(
            sub(self.rsi),
            MacdState(sub(self.macd.fast), sub(self.macd.slow), sub(self.macd.signal)),
            self.rsi_history[:, cols],
        )
