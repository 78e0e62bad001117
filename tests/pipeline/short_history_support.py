"""Generated markets with short histories, written as the CSV exports users import.

One year of prices is what vnstock's guest users get; a new listing has a few months. The market is
the synthetic one (listed demo tickers, ending the last completed week, so nothing is stale), but it
goes through the ``csv`` source like a user's file.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from stockvision.data.sources.synthetic import generate_market, last_completed_week


def market_csv(
    path: Path,
    n_symbols: int,
    years: int,
    seed: int = 11,
    listing_weeks: dict[str, int] | None = None,
) -> Path:
    """Write ``years`` of daily bars of ``n_symbols`` listed tickers to ``path``.

    ``listing_weeks`` makes symbols new listings: only their last N weeks of bars are kept.
    """
    frame = generate_market(n_symbols, years, seed, end=last_completed_week(), listed=True)
    for symbol, weeks in (listing_weeks or {}).items():
        first = frame["date"].max() - pd.Timedelta(weeks=weeks) + pd.Timedelta(days=1)
        frame = frame[(frame["symbol"] != symbol) | (frame["date"] >= first)]
    out = frame.assign(date=frame["date"].dt.strftime("%Y-%m-%d"))
    out.to_csv(path, index=False)
    return path
