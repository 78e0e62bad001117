"""Whole-file conversions a source applies before repairs: price unit and bar frequency.

* **Unit.** vnstock and several brokers quote prices in *thousand* VND (``70.6`` for VNM), most
  exports in VND (``70,600``). Mixing them puts one symbol on two scales and makes the VND tick and
  band rules find "corporate actions" in the jump between them. No Vietnamese share trades below
  1,000 VND for long (the exchanges' par value is 10,000 VND), so a listed stock, fund or ETF
  whose every close in a file is below 1,000 is in thousand VND and is multiplied by 1,000 (flag
  ``unit_converted``, one report line). ``price_unit="vnd"`` or ``"thousand"`` overrides the
  guess. Indices (points) and symbols the listings do not know (foreign series) are never
  converted.
* **Frequency.** A file with several bars per symbol and day (15-minute, hourly exports) is
  aggregated to daily bars -- open of the first bar, high max, low min, close of the last bar,
  volume sum, in time order -- with one report line and the ``aggregated`` flag. Taking the first
  bar of each day as the daily bar, and calling the rest duplicates, would be silently wrong.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from stockvision.data.repair import FLAGS
from stockvision.data.schema import DATE, SYMBOL

PriceUnit = Literal["vnd", "thousand"]
PRICE_UNITS = ("vnd", "thousand")
#: Below this, a VN share price in VND is implausible (par value 10,000 VND).
THOUSAND_VND_BELOW = 1_000.0
_PRICES = ("open", "high", "low", "close", "adj_close")


def _flags(frame: pd.DataFrame) -> np.ndarray:
    if "flags" in frame.columns:
        return frame["flags"].fillna(0).to_numpy(dtype="int64", copy=True)
    return np.zeros(len(frame), dtype="int64")


def convert_units(
    frame: pd.DataFrame, price_unit: PriceUnit | None = None
) -> tuple[pd.DataFrame, list[str]]:
    """Prices to VND per symbol (see the module doc); returns the frame and report lines.

    The lines name each symbol's file (``_file`` column) when the frame has one.
    """
    if frame.empty:
        return frame, []
    if price_unit is not None and price_unit not in PRICE_UNITS:
        raise ValueError(f"price_unit must be one of {PRICE_UNITS}, got {price_unit!r}")
    from stockvision.market.universe import market_listing

    # per file and symbol: one symbol may come in a VND file and a thousand-VND file
    keys = [frame["_file"], frame[SYMBOL]] if "_file" in frame.columns else [frame[SYMBOL]]
    max_close = frame.groupby(keys, sort=False)["close"].max()
    notes: list[str] = []
    convert: list[tuple[str, ...]] = []
    for key, top in max_close.items():
        key = key if isinstance(key, tuple) else (key,)
        sym, label = str(key[-1]), str(key[0])
        listing = market_listing(str(sym))
        if price_unit == "thousand":
            if listing is None or listing.kind != "index":
                convert.append(key)
            continue
        if price_unit == "vnd" or not np.isfinite(top) or top >= THOUSAND_VND_BELOW:
            continue
        if listing is None:
            notes.append(
                f"{label}: {sym} closes below {THOUSAND_VND_BELOW:,.0f} (max {top:g}) but is not a "
                "listed VN symbol: prices kept as they are; pass --price-unit thousand if they "
                "are thousand VND"
            )
        elif listing.kind != "index":
            convert.append(key)
            notes.append(
                f"{label}: {sym} prices read as thousand VND (max close {top:g}) and converted "
                "to VND (x1,000); pass --price-unit vnd if they were VND"
            )
    if price_unit == "thousand" and convert:
        notes.append(
            f"prices of {len(convert)} symbol(s) converted from thousand VND (--price-unit)"
        )
    if not convert:
        return frame, notes
    out = frame.copy()
    index = pd.MultiIndex.from_arrays(keys) if len(keys) > 1 else pd.Index(keys[0])
    wanted = pd.MultiIndex.from_tuples(convert) if len(keys) > 1 else [k[0] for k in convert]
    rows = index.isin(wanted)
    for col in _PRICES:
        if col in out.columns:
            values = out[col].to_numpy(dtype="float64", copy=True)
            values[rows] *= 1_000.0
            out[col] = values
    flags = _flags(out)
    flags[rows] |= FLAGS["unit_converted"]
    out["flags"] = flags
    return out, notes


def aggregate_intraday(
    frame: pd.DataFrame, stamps: pd.Series, label: str
) -> tuple[pd.DataFrame, list[str]]:
    """Daily OHLCV from sub-daily bars when a symbol has several bars on a day.

    ``stamps``: each row's full timestamp (date and time of day), aligned with ``frame``; rows are
    ordered by it within each day. Columns other than the contract's keep the last bar's value.
    """
    if frame.empty:
        return frame, []
    per_day = frame.groupby([SYMBOL, DATE], sort=False).size()
    if not (per_day > 1).any():
        return frame, []
    data = frame.assign(_stamp=stamps.to_numpy()).sort_values(
        [SYMBOL, "_stamp"], kind="stable", na_position="first"
    )
    agg: dict[str, str] = {"open": "first", "high": "max", "low": "min", "close": "last"}
    agg["volume"] = "sum"
    for col in data.columns:
        if col not in agg and col not in (SYMBOL, DATE, "_stamp"):
            agg[col] = "last"
    grouped = data.groupby([SYMBOL, DATE], sort=False)
    daily = grouped.agg(agg)
    # a day whose bars all lack a volume stays without one (sum would say 0 = no trade)
    has_volume = grouped["volume"].count() > 0
    daily["volume"] = daily["volume"].where(has_volume)
    several = (grouped.size() > 1).to_numpy()
    daily = daily.reset_index()
    flags = _flags(daily)
    flags[several] |= FLAGS["aggregated"]
    daily["flags"] = flags
    bars = int(per_day.max())
    note = (
        f"{label}: sub-daily file ({len(frame):,} bars, up to {bars} a day) aggregated to "
        f"{len(daily):,} daily bars (open first, high max, low min, close last, volume sum)"
    )
    return daily, [note]
