"""Helpers for the chat tests that run on the trained system (a CSV in another export style)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def write_index_style_csv(
    vn30_daily: Path, symbol: str, out: Path, weeks: int | None = None
) -> Path:
    """One symbol of the VN30 constituents file rewritten like an investing.com export:
    quoted cells, "Mar18,2019" dates newest first, "1,234.00" prices and "61.80K" volumes."""
    src = pd.read_csv(vn30_daily)
    rows = src.loc[src["ticket"] == symbol].copy()
    rows["date"] = pd.to_datetime(rows["date"])
    rows = rows.sort_values("date")
    if weeks is not None:
        rows = rows.loc[rows["date"] > rows["date"].max() - pd.Timedelta(weeks=weeks)]
    rows = rows.sort_values("date", ascending=False)
    frame = pd.DataFrame(
        {
            "Date": rows["date"].dt.strftime("%b%d,%Y"),
            "Price": rows["close"].map(lambda x: f"{x:,.2f}"),
            "Open": rows["open"].map(lambda x: f"{x:,.2f}"),
            "High": rows["high"].map(lambda x: f"{x:,.2f}"),
            "Low": rows["low"].map(lambda x: f"{x:,.2f}"),
            "Vol.": (rows["volume"] / 1000).map(lambda x: f"{x:.2f}K"),
            "Change%": rows["change_per"].map(lambda x: f"{x:.2f}%"),
        }
    )
    frame.to_csv(out, index=False, quoting=1)
    return out
