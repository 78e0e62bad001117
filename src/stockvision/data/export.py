"""Export the adjusted daily bars: the contract every later layer uses, as a file.

One row per symbol and trading day: ``symbol, date, open, high, low, close, volume`` (raw, as
traded), ``factor`` (back-adjustment factor, 1.0 after the symbol's last corporate action),
``adj_close = close * factor`` and ``flags`` (the repairs of the bar, ``data.repair.FLAGS``
names joined by ``|``, empty when the bar is as read). Written atomically (a temporary file
renamed into place), so a killed export never leaves half a file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stockvision.errors import ConfigError

EXPORT_COLUMNS = [
    "symbol", "date", "open", "high", "low", "close", "volume", "factor", "adj_close", "flags",
]  # fmt: skip
FORMATS = (".parquet", ".csv")


def export_frame(store: Any, symbols: list[str] | None = None) -> pd.DataFrame:
    """The export's rows (see the module doc), sorted by symbol and date."""
    from stockvision.data.ingest import adjusted_daily
    from stockvision.data.repair import flags_text

    adjusted = adjusted_daily(store, symbols=symbols)
    out = adjusted[["symbol", "date", "open", "high", "low", "close", "volume", "factor"]].copy()
    out["adj_close"] = out["close"].to_numpy() * out["factor"].to_numpy()
    flags = adjusted["flags"] if "flags" in adjusted.columns else np.zeros(len(out), dtype="int64")
    out["flags"] = flags_text(np.asarray(flags)).to_numpy()
    return out[EXPORT_COLUMNS].reset_index(drop=True)


def export_daily(store: Any, out: Path, symbols: list[str] | None = None) -> int:
    """Write the export to ``out`` (``.parquet`` or ``.csv``); returns the number of rows."""
    suffix = out.suffix.lower()
    if suffix not in FORMATS:
        raise ConfigError(
            f"cannot export to {out.name!r}: unknown format {suffix or '(none)'}",
            "Name the file .parquet or .csv, e.g. --out prices.parquet",
            message_vi=f"Không xuất được ra {out.name!r}: chỉ hỗ trợ .parquet hoặc .csv.",
        )
    frame = export_frame(store, symbols)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        if suffix == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d")).to_csv(tmp, index=False)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return len(frame)
