"""Small adjusted daily frames built directly (raw prices + known factors), for feature tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def adjust_with_factors(raw: pd.DataFrame, events: Sequence[tuple[str, str, float]] = ()):
    """Adjusted frame of the contract from raw bars and (symbol, ex_date, ratio) events.

    factor(t) = product of the ratios of the symbol's events dated after t (1.0 after the last).
    """
    out = raw.copy()
    factor = np.ones(len(out))
    for sym, ex_date, ratio in events:
        before = (out["symbol"] == sym).to_numpy() & (
            out["date"] < pd.Timestamp(ex_date)
        ).to_numpy()
        factor[before] *= ratio
    out["factor"] = factor
    for col in ("open", "high", "low", "close"):
        out[f"adj_{col}"] = out[col].to_numpy() * factor
    out["adj_volume"] = out["volume"].to_numpy() / factor
    return out


def make_raw(
    n_symbols: int = 3,
    n_days: int = 400,
    seed: int = 0,
    start: str = "2018-01-01",
    dividends: Sequence[tuple[int, int, float]] = (),
    gaps: Sequence[tuple[int, int, int]] = (),
    zero_volume_share: float = 0.0,
) -> pd.DataFrame:
    """Raw daily bars on business days: geometric random walks with intraday ranges.

    ``dividends``: (symbol index, day index, payout k); the raw price drops by 1 / (1 + k) from
    that day on (and volume rises by 1 + k), as a stock dividend does in an unadjusted feed.
    ``gaps``: (symbol index, first day, n days) of suspension (rows removed).
    """
    rng = np.random.default_rng(seed)
    days = pd.bdate_range(start, periods=n_days)
    frames = []
    for i in range(n_symbols):
        r = rng.normal(0.0005, 0.02, n_days)
        close = 20_000.0 * (1 + i) * np.exp(np.cumsum(r))
        open_ = close * np.exp(rng.normal(0, 0.005, n_days))
        high = np.maximum(open_, close) * (1 + rng.uniform(0, 0.02, n_days))
        low = np.minimum(open_, close) * (1 - rng.uniform(0, 0.02, n_days))
        volume = np.round(rng.lognormal(11 - i, 0.5, n_days), -2)
        if zero_volume_share:
            volume[rng.random(n_days) < zero_volume_share] = 0.0
        scale = np.ones(n_days)
        vol_scale = np.ones(n_days)
        for sym_i, day, k in dividends:
            if sym_i == i:
                scale[day:] /= 1 + k
                vol_scale[day:] *= 1 + k
        keep = np.ones(n_days, dtype=bool)
        for sym_i, first, n in gaps:
            if sym_i == i:
                keep[first : first + n] = False
        frames.append(
            pd.DataFrame(
                {
                    "symbol": f"S{i:02d}",
                    "date": days,
                    "open": open_ * scale,
                    "high": high * scale,
                    "low": low * scale,
                    "close": close * scale,
                    "volume": volume * vol_scale,
                }
            )[keep]
        )
    return pd.concat(frames, ignore_index=True)


def make_adjusted(**kwargs) -> pd.DataFrame:
    """Raw bars from :func:`make_raw` adjusted with the true dividend factors."""
    raw = make_raw(**kwargs)
    days = pd.bdate_range(kwargs.get("start", "2018-01-01"), periods=kwargs.get("n_days", 400))
    events = [(f"S{i:02d}", days[day], 1 / (1 + k)) for i, day, k in kwargs.get("dividends", ())]
    return adjust_with_factors(raw, events)
