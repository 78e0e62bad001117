"""Trading rules of the three Vietnamese exchanges: price bands, tick sizes and board lots.

Rules (HOSE/HNX/UPCoM trading regulations, equities):

* Daily price limit around the reference price: HOSE +/-7%, HNX +/-10%, UPCoM +/-15%; on a
  stock's first trading day (new listing or re-listing) +/-20%, +/-30% and +/-40%.
* The floor is rounded *up* and the ceiling *down* to the tick grid, so the band never exceeds the
  percentage limit; when rounding would leave no room at all (very low prices), the band is one
  tick either side of the reference, as the regulations prescribe.
* Tick size: HOSE 10 VND below 10,000, 50 VND from 10,000 to 49,950, 100 VND from 50,000; HNX and
  UPCoM 100 VND at every price.
* Board lot: 100 shares (odd lots of 1-99 shares trade in a separate session).

Functions accept scalars or numpy arrays; scalars come back as ``float`` (``int`` for lots).
"""

from __future__ import annotations

from enum import StrEnum
from typing import overload

import numpy as np
import numpy.typing as npt

BOARD_LOT = 100

FloatArray = npt.NDArray[np.float64]

# Rounding guard: ``100_000 * 0.93`` is ``93000.00000000001`` in floating point, which a bare
# ``ceil`` would push to the next tick.
_EPS = 1e-9


class Exchange(StrEnum):
    """A Vietnamese stock exchange, with its price limits."""

    HOSE = "HOSE"
    HNX = "HNX"
    UPCOM = "UPCOM"

    @property
    def daily_limit(self) -> float:
        """Maximum move from the reference price in a normal session, as a fraction."""
        return _DAILY_LIMIT[self]

    @property
    def first_day_limit(self) -> float:
        """Maximum move on a stock's first trading day (listing or re-listing), as a fraction."""
        return _FIRST_DAY_LIMIT[self]

    @property
    def display_name(self) -> str:
        """The usual spelling: HOSE, HNX, UPCoM."""
        return "UPCoM" if self is Exchange.UPCOM else self.value

    @classmethod
    def parse(cls, name: str | Exchange) -> Exchange:
        """Exchange from a name, case-insensitive, accepting aliases ("HSX", "HoSE", "UPCoM")."""
        if isinstance(name, Exchange):
            return name
        if not isinstance(name, str):
            raise TypeError(f"exchange must be a string or Exchange, got {type(name).__name__}")
        key = name.strip().upper().replace("-", "").replace(" ", "")
        try:
            return _ALIASES[key]
        except KeyError:
            raise ValueError(
                f"unknown exchange {name!r}; expected one of HOSE (alias HSX), HNX (alias HASTC) "
                "or UPCOM (any case)"
            ) from None

    def __str__(self) -> str:
        return self.value


_DAILY_LIMIT = {Exchange.HOSE: 0.07, Exchange.HNX: 0.10, Exchange.UPCOM: 0.15}
_FIRST_DAY_LIMIT = {Exchange.HOSE: 0.20, Exchange.HNX: 0.30, Exchange.UPCOM: 0.40}
_ALIASES = {
    "HOSE": Exchange.HOSE,
    "HSX": Exchange.HOSE,
    "HNX": Exchange.HNX,
    "HASTC": Exchange.HNX,
    "UPCOM": Exchange.UPCOM,
}


#: Daily limits that applied before today's, as (first day of the next regime, limit): HOSE +/-5 %
#: and HNX +/-7 % until 2013-01-14 (HOSE 7 %, HNX 10 % from 2013-01-15); UPCoM +/-10 % until
#: 2015-06-30 (15 % from 2015-07-01). Earlier, shorter regimes (2008: 1-3 % bands) are not listed:
#: taking the wider band there can only miss a corporate action, never invent one.
BAND_HISTORY: dict[Exchange, tuple[tuple[str, float], ...]] = {
    Exchange.HOSE: (("2013-01-15", 0.05),),
    Exchange.HNX: (("2008-08-01", 0.10), ("2013-01-15", 0.07)),
    Exchange.UPCOM: (("2015-07-01", 0.10),),
}


#: Until when an exchange set the reference price from the previous session's *average* price
#: rather than its close: HNX before 2013-01-15 (the same day its band widened to 10 %). A daily bar
#: does not carry the average; it lies within the previous [low, high], so band checks take that
#: range as the reference there (UPCoM always does). Measured on the whole-market HNX files: with
#: the close as reference, 2008-2012 gives about 90 "events" the publisher never adjusted.
RANGE_REFERENCE_UNTIL: dict[Exchange, str] = {Exchange.HNX: "2013-01-15"}


def daily_limit_on(exchange: Exchange | str, dates: npt.ArrayLike) -> FloatArray:
    """The daily limit of ``exchange`` on each of ``dates`` (datetime64 array), per BAND_HISTORY."""
    ex = Exchange.parse(exchange)
    days = np.asarray(dates, dtype="datetime64[ns]")
    out = np.full(days.shape, ex.daily_limit, dtype=np.float64)
    # regimes listed oldest-last per exchange: apply from the latest cut-off backwards
    for until, limit in sorted(BAND_HISTORY.get(ex, ()), key=lambda kv: kv[0], reverse=True):
        out = np.where(days < np.datetime64(until, "ns"), limit, out)
    return out


def limit_of(exchange: Exchange | str, first_day: bool = False) -> float:
    """The price limit (fraction) of ``exchange``, normal or first-day."""
    ex = Exchange.parse(exchange)
    return ex.first_day_limit if first_day else ex.daily_limit


@overload
def tick_size(price: float, exchange: Exchange | str) -> float: ...
@overload
def tick_size(price: npt.ArrayLike, exchange: Exchange | str) -> FloatArray: ...
def tick_size(price: float | npt.ArrayLike, exchange: Exchange | str) -> float | FloatArray:
    """Tick size in VND at ``price`` on ``exchange`` (vectorised over numpy arrays)."""
    ex = Exchange.parse(exchange)
    p = np.asarray(price, dtype=np.float64)
    if ex is Exchange.HOSE:
        ticks = np.where(p < 10_000, 10.0, np.where(p < 50_000, 50.0, 100.0))
    else:
        ticks = np.full_like(p, 100.0)
    return float(ticks) if ticks.ndim == 0 else ticks


def _to_grid(price: FloatArray, exchange: Exchange, how: str) -> FloatArray:
    """Snap prices to the tick grid: ``how`` is "nearest", "up" or "down"."""
    tick = np.asarray(tick_size(price, exchange), dtype=np.float64)
    units = price / tick
    if how == "up":
        snapped = np.ceil(units - _EPS) * tick
    elif how == "down":
        snapped = np.floor(units + _EPS) * tick
    else:
        snapped = np.floor(units + 0.5) * tick
    # Snapping can cross into a coarser tier (e.g. HOSE 49,980 -> 50,000); tier boundaries are
    # multiples of the coarser tick, so the result is on the grid of the price it lands on.
    return snapped


@overload
def round_to_tick(price: float, exchange: Exchange | str) -> float: ...
@overload
def round_to_tick(price: npt.ArrayLike, exchange: Exchange | str) -> FloatArray: ...
def round_to_tick(price: float | npt.ArrayLike, exchange: Exchange | str) -> float | FloatArray:
    """Round ``price`` to the nearest valid price on ``exchange``'s tick grid (halves go up)."""
    ex = Exchange.parse(exchange)
    p = np.asarray(price, dtype=np.float64)
    out = _to_grid(p, ex, "nearest")
    return float(out) if out.ndim == 0 else out


@overload
def price_band(
    reference_price: float,
    exchange: Exchange | str,
    first_day: bool = False,
    limit: npt.ArrayLike | None = None,
) -> tuple[float, float]: ...
@overload
def price_band(
    reference_price: npt.ArrayLike,
    exchange: Exchange | str,
    first_day: bool = False,
    limit: npt.ArrayLike | None = None,
) -> tuple[FloatArray, FloatArray]: ...
def price_band(
    reference_price: float | npt.ArrayLike,
    exchange: Exchange | str,
    first_day: bool = False,
    limit: npt.ArrayLike | None = None,
) -> tuple[float, float] | tuple[FloatArray, FloatArray]:
    """(floor, ceiling) prices a stock may trade at given its reference price.

    ``limit`` overrides the exchange's limit (e.g. ``daily_limit_on`` for a past band). The floor is rounded up and the ceiling down to the tick grid; if that leaves the reference
    price itself as floor or ceiling, the band is widened to one tick, as the regulations do.
    """
    ex = Exchange.parse(exchange)
    ref = np.asarray(reference_price, dtype=np.float64)
    if np.any(~np.isfinite(ref)) or np.any(ref <= 0):
        raise ValueError("reference_price must be finite and > 0")
    limit = limit_of(ex, first_day) if limit is None else np.asarray(limit, dtype=np.float64)
    floor = _to_grid(ref * (1.0 - limit), ex, "up")
    ceiling = _to_grid(ref * (1.0 + limit), ex, "down")
    ceiling = np.where(ceiling <= ref, ref + tick_size(ref, ex), ceiling)
    floor = np.where(floor >= ref, ref - tick_size(ref, ex), floor)
    floor = np.maximum(floor, tick_size(0.0, ex))
    if floor.ndim == 0:
        return float(floor), float(ceiling)
    return floor, ceiling


@overload
def round_lot(shares: float) -> int: ...
@overload
def round_lot(shares: npt.ArrayLike) -> npt.NDArray[np.int64]: ...
def round_lot(shares: float | npt.ArrayLike) -> int | npt.NDArray[np.int64]:
    """Round a share count *down* to whole board lots of 100 (what an order can actually fill)."""
    s = np.asarray(shares, dtype=np.float64)
    if np.any(np.isnan(s)) or np.any(s < 0):
        raise ValueError("shares must be non-negative numbers")
    out = (np.floor(s / BOARD_LOT + _EPS) * BOARD_LOT).astype(np.int64)
    return int(out) if out.ndim == 0 else out
