"""Repair daily bars instead of dropping them, flag every repair, and say which rows are beyond repair.

Real whole-market exports carry rows a strict validator would throw away although they hold a good
close: no-trade days (``-`` for Open and Volume, High = Low = Close = the reference price), a
missing Open/High/Low, an Open outside [Low, High] (often the reference price written into Open),
a Close outside [Low, High] (exports that adjusted High/Low but not Close), or High and Low
swapped. Dropping such a row loses the bar, opens a calendar gap and moves the corporate action it
carries to the next bar. So every fixable row is repaired here, vectorised over the whole frame,
and marked with bits of the ``flags`` column (stored per bar):

=================  =====  ==================================================================
flag               bit    repair
=================  =====  ==================================================================
no_trade           1      no (or zero) volume and no open, or a flat bar without volume:
                          O=H=L=C=close, volume 0
open_filled        2      missing Open on a traded day: Open = Close
high_filled        4      missing High: max(Open, Close)
low_filled         8      missing Low: min(Open, Close)
open_clamped       16     Open outside [Low, High]: clamped into the range
range_extended     32     Close outside [Low, High]: the range is extended to the Close
high_low_swapped   64     High < Low and the swapped range holds Open and Close: swapped
volume_missing     128    traded day (prices move) without a volume: kept as NaN
unit_converted     256    prices converted from thousand VND to VND (set by the source)
aggregated         512    the daily bar was aggregated from sub-daily bars (set by the source)
=================  =====  ==================================================================

Only rows without a usable Close (missing, non-positive) or whose High < Low cannot be explained
by a swap are left for :mod:`stockvision.data.validation` to reject. Repairs never move the Close:
it is what every later layer uses (``adj_close = close * factor``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

FLAGS: dict[str, int] = {
    "no_trade": 1,
    "open_filled": 2,
    "high_filled": 4,
    "low_filled": 8,
    "open_clamped": 16,
    "range_extended": 32,
    "high_low_swapped": 64,
    "volume_missing": 128,
    "unit_converted": 256,
    "aggregated": 512,
}
#: Flags a repair of OHLCV sets (the others are set by sources when they convert a file).
REPAIR_FLAGS = [name for name in FLAGS if name not in ("unit_converted", "aggregated")]
_TOL = 1e-6


def index_rows(symbols: pd.Series) -> np.ndarray:
    """Row mask of market indices (``market.universe``), looked up once per distinct symbol."""
    from stockvision.market.universe import is_index_symbol

    codes, uniques = pd.factorize(symbols.astype("string").fillna(""))
    if len(uniques) == 0:
        return np.zeros(len(symbols), dtype=bool)
    known = np.array([is_index_symbol(str(u)) for u in uniques], dtype=bool)
    return np.where(codes >= 0, known[np.maximum(codes, 0)], False)


def flag_names(value: int) -> list[str]:
    """``5`` -> ``['no_trade', 'high_filled']``."""
    return [name for name, bit in FLAGS.items() if int(value) & bit]


def flags_text(values: pd.Series | np.ndarray) -> pd.Series:
    """Flag bitmasks as ``'no_trade|open_filled'`` text ('' for none), vectorised per distinct value."""
    series = pd.Series(np.asarray(values, dtype="int64"))
    codes, uniques = pd.factorize(series)
    labels = np.array(["|".join(flag_names(int(u))) for u in uniques], dtype=object)
    return pd.Series(labels[codes] if len(codes) else [], index=series.index, dtype=object)


@dataclass
class RepairResult:
    """The repaired frame (with ``flags``), and one row per repair: position, category, old values."""

    frame: pd.DataFrame
    repairs: pd.DataFrame = field(default_factory=lambda: pd.DataFrame())

    def counts(self) -> dict[str, int]:
        if self.repairs.empty:
            return {}
        return {str(k): int(v) for k, v in self.repairs["category"].value_counts().items()}


def repair_bars(frame: pd.DataFrame, keep_volume_nan: np.ndarray | None = None) -> RepairResult:
    """Repair ``frame`` (daily contract columns, numeric) and OR the repair bits into ``flags``.

    ``keep_volume_nan`` (row mask): rows that never become no-trade bars (index series, whose
    exports have no volume at all). Returns a copy; the input is not modified. Idempotent: a
    repaired frame needs no further repair.
    """
    out = frame.copy()
    n = len(out)
    o = out["open"].to_numpy(dtype="float64", copy=True)
    h = out["high"].to_numpy(dtype="float64", copy=True)
    lo = out["low"].to_numpy(dtype="float64", copy=True)
    c = out["close"].to_numpy(dtype="float64")
    v = out["volume"].to_numpy(dtype="float64", copy=True)
    flags = (
        out["flags"].fillna(0).to_numpy(dtype="int64", copy=True)
        if "flags" in out.columns
        else np.zeros(n, dtype="int64")
    )
    usable = np.isfinite(c) & (c > 0)
    masks: dict[str, np.ndarray] = {}
    before = {"open": o.copy(), "high": h.copy(), "low": lo.copy(), "volume": v.copy()}
    with np.errstate(invalid="ignore"):
        no_vol = np.isnan(v)
        flat = (h == lo) & (lo == c) & (np.isnan(o) | (o == c))
        # volume 0 with a range and an open is left alone: prices are never invented away
        no_trade = usable & (no_vol | (v == 0)) & (np.isnan(o) | flat)
        if keep_volume_nan is not None:
            no_trade &= ~keep_volume_nan
        for arr in (o, h, lo):
            arr[no_trade] = c[no_trade]
        v[no_trade] = 0.0
        masks["no_trade"] = no_trade

        traded = usable & ~no_trade
        masks["open_filled"] = traded & np.isnan(o)
        o[masks["open_filled"]] = c[masks["open_filled"]]
        masks["high_filled"] = traded & np.isnan(h)
        h[masks["high_filled"]] = np.fmax(o, c)[masks["high_filled"]]
        masks["low_filled"] = traded & np.isnan(lo)
        lo[masks["low_filled"]] = np.fmin(o, c)[masks["low_filled"]]

        tol = 1 + _TOL
        swapped = traded & (lo > h * tol)
        fits = (np.fmin(o, c) >= h / tol) & (np.fmax(o, c) <= lo * tol)
        masks["high_low_swapped"] = swapped & fits
        sw = masks["high_low_swapped"]
        h[sw], lo[sw] = lo[sw], h[sw].copy()
        ok = traded & ~(swapped & ~fits)  # an unexplained High < Low stays for validation

        masks["range_extended"] = ok & ((c > h * tol) | (c < lo / tol))
        ext = masks["range_extended"]
        h[ext] = np.fmax(h, c)[ext]
        lo[ext] = np.fmin(lo, c)[ext]
        masks["open_clamped"] = ok & ((o > h * tol) | (o < lo / tol))
        cl = masks["open_clamped"]
        o[cl] = np.clip(o[cl], lo[cl], h[cl])
        # a bar without volume that the repairs above made flat is a no-trade day too
        late = ok & (np.isnan(v) | (v == 0)) & (h == lo) & (lo == c) & (o == c)
        if keep_volume_nan is not None:
            late &= ~keep_volume_nan
        masks["no_trade"] |= late
        v[late] = 0.0
        masks["volume_missing"] = traded & np.isnan(v)

    for name, mask in masks.items():
        flags[mask] |= FLAGS[name]
    out["open"], out["high"], out["low"], out["volume"] = o, h, lo, v
    out["flags"] = flags

    parts = []
    for name, mask in masks.items():
        idx = np.flatnonzero(mask & ((flags_before(frame, n) & FLAGS[name]) == 0))
        if len(idx) == 0:
            continue
        parts.append(
            pd.DataFrame(
                {
                    "pos": idx,
                    "category": name,
                    "open": before["open"][idx],
                    "high": before["high"][idx],
                    "low": before["low"][idx],
                    "close": c[idx],
                    "volume": before["volume"][idx],
                }
            )
        )
    repairs = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame(columns=["pos", "category", "open", "high", "low", "close", "volume"])
    )
    return RepairResult(out, repairs)


def flags_before(frame: pd.DataFrame, n: int) -> np.ndarray:
    """The ``flags`` a frame carried in (0 when it had none): repairs already counted upstream."""
    if "flags" not in frame.columns:
        return np.zeros(n, dtype="int64")
    return frame["flags"].fillna(0).to_numpy(dtype="int64")


def describe_values(repairs: pd.DataFrame) -> pd.Series:
    """``'O=- H=53000 L=52000 C=52500 V=-'`` per repair row (the values as read, before repair)."""

    def fmt(col: str, key: str) -> pd.Series:
        vals = repairs[col].to_numpy(dtype="float64")
        text = pd.Series(vals).map(lambda x: "-" if np.isnan(x) else f"{x:g}")
        return key + "=" + text

    if repairs.empty:
        return pd.Series([], dtype=object)
    return (
        fmt("open", "O")
        + " "
        + fmt("high", "H")
        + " "
        + fmt("low", "L")
        + " "
        + fmt("close", "C")
        + " "
        + fmt("volume", "V")
    )
