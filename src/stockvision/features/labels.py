"""Monthly (4-week) labels: future return, the price target it implies, and the pattern class.

The horizon is counted in *market* weeks (weeks in which the market traded, so a full-week Tet
closure is not a week), not in the symbol's rows: a symbol suspended for a week does not see its
horizon stretched. If the symbol has no bar in the target week (suspended then, or its history
ends), the label is NaN rather than a stale or filled price. Consequently the last ``horizon``
weeks of every symbol always have NaN labels.

``future_return`` is computed on back-adjusted closes, so a stock dividend or bonus issue inside
the month is not a loss; ``price_target_true = raw_close * (1 + future_return)`` expresses the
outcome in today's (unadjusted) price terms, which is what a price target quoted today means.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from stockvision.data.schema import DATE, SYMBOL, WEEK_END
from stockvision.features import indicators as ind
from stockvision.features.weekly import (
    DailyLayout,
    FeatureInputError,
    _daily_indicators,
    weekly_bars,
)

PATTERN_CLASSES: list[str] = ["DOWN", "SIDEWAYS", "UP"]
LABEL_COLUMNS: list[str] = [
    "close",
    "raw_close",
    "future_return",
    "future_log_return",
    "price_target_true",
    "pattern",
]
#: Trading days in the 4-week horizon, to turn daily volatility into a horizon volatility.
HORIZON_TRADING_DAYS = 20


@dataclass(frozen=True)
class LabelSpec:
    """What a label means: the horizon in market weeks and the pattern thresholds.

    Passed explicitly to everything that builds labels, so what is learnt never depends on the
    environment of the process that happens to build it.
    """

    horizon: int = 4
    up: float = 0.01
    down: float = -0.01
    vol_scaled: bool = False
    vol_k: float = 0.5

    def to_dict(self) -> dict[str, float | int | bool]:
        return asdict(self)

    @classmethod
    def from_settings(cls, settings: Any) -> LabelSpec:
        """The spec a ``Settings`` object describes (``SV_HORIZON_WEEKS``, ``SV_PATTERN_*``)."""
        return cls(
            horizon=settings.horizon_weeks,
            up=settings.pattern_up,
            down=settings.pattern_down,
            vol_scaled=settings.pattern_vol_scaled,
            vol_k=settings.pattern_vol_k,
        )


def _weekly_input(data: pd.DataFrame, need_vol: bool) -> pd.DataFrame:
    """Weekly frame (index symbol, week_end) with close, raw_close and, if needed, vol_4w."""
    if DATE in data.columns:
        lay = DailyLayout.from_frame(data)
        bars = weekly_bars(lay)[["close", "raw_close"]].copy()
        if need_vol:
            bars["vol_4w"] = _daily_indicators(lay)["vol_4w"][lay.block_end]
        return bars
    frame = data
    if WEEK_END in frame.columns:
        frame = frame.set_index([SYMBOL, WEEK_END])
    if list(frame.index.names) != [SYMBOL, WEEK_END]:
        raise FeatureInputError(
            "labels need an adjusted daily frame (with a 'date' column) or weekly bars indexed "
            f"by (symbol, week_end); got columns {list(data.columns)[:8]}",
            "pass stockvision.market.corporate_actions.adjust(daily) or weekly_bars(...)",
        )
    needed = ["close", "raw_close"] + (["vol_4w"] if need_vol else [])
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise FeatureInputError(
            f"weekly input lacks columns {missing}",
            "vol_scaled labels need vol_4w (join the feature matrix) or pass the daily frame",
        )
    return frame[needed].sort_index()


def compute_labels(
    data: pd.DataFrame,
    horizon: int = 4,
    up: float = 0.01,
    down: float = -0.01,
    vol_scaled: bool = False,
    vol_k: float = 0.5,
) -> pd.DataFrame:
    """Labels per (symbol, week_end): ``LABEL_COLUMNS``.

    ``data`` is the adjusted daily frame, or weekly bars indexed by (symbol, week_end) with
    ``close`` (adjusted) and ``raw_close`` (all symbols of the market, since the market calendar
    is read from their week ends). ``pattern`` is UP when ``future_return > up``, DOWN when
    ``< down``, else SIDEWAYS; with ``vol_scaled`` the thresholds become ``+/- vol_k * vol_4w *
    sqrt(20)`` (the 4-week volatility implied by recent daily volatility) and rows without
    ``vol_4w`` get no pattern.
    """
    if horizon < 1:
        raise ValueError(f"horizon must be >= 1 week, got {horizon}")
    if not vol_scaled and not down <= up:
        raise ValueError(f"pattern thresholds need down <= up, got down={down}, up={up}")
    if vol_scaled and vol_k <= 0:
        raise ValueError(f"vol_k must be > 0 for volatility-scaled thresholds, got {vol_k}")
    bars = _weekly_input(data, vol_scaled)
    symbols = bars.index.get_level_values(SYMBOL)
    week_ends = bars.index.get_level_values(WEEK_END)
    code, _ = pd.factorize(symbols)
    week, calendar = pd.factorize(week_ends, sort=True)
    close = bars["close"].to_numpy(dtype=np.float64, na_value=np.nan)
    panel = ind.to_panel(close, week, code, (len(calendar), int(code.max(initial=-1)) + 1))
    target = np.full(len(close), np.nan)
    ahead = week + horizon
    inside = ahead < len(calendar)
    target[inside] = panel[ahead[inside], code[inside]]
    future = ind.safe_divide(target, close) - 1.0

    if vol_scaled:
        width = vol_k * bars["vol_4w"].to_numpy(dtype=np.float64) * np.sqrt(HORIZON_TRADING_DAYS)
        hi, lo = width, -width
    else:
        hi = np.full(len(close), float(up))
        lo = np.full(len(close), float(down))
    known = np.isfinite(future) & np.isfinite(hi) & np.isfinite(lo)
    codes = np.where(future > hi, 2, np.where(future < lo, 0, 1))
    pattern = pd.Series(
        pd.array(np.asarray(PATTERN_CLASSES, dtype=object)[codes], dtype="str"), index=bars.index
    )
    pattern[~known] = pd.NA
    raw_close = bars["raw_close"].to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        log_ret = np.log1p(future)
    return pd.DataFrame(
        {
            "close": close,
            "raw_close": raw_close,
            "future_return": future,
            "future_log_return": log_ret,
            "price_target_true": raw_close * (1.0 + future),
            "pattern": pattern,
        },
        index=bars.index,
    )


def pattern_to_codes(pattern: pd.Series | np.ndarray) -> np.ndarray:
    """Int codes in ``PATTERN_CLASSES`` order; -1 where the pattern is missing."""
    values = pd.Series(pattern, copy=False).astype(object)
    mapping = {name: i for i, name in enumerate(PATTERN_CLASSES)}
    codes = values.map(mapping)
    unknown = codes.isna() & values.notna()
    if unknown.any():
        raise ValueError(
            f"unknown pattern labels {sorted(set(values[unknown].astype(str)))[:5]}; "
            f"expected one of {PATTERN_CLASSES}"
        )
    return codes.fillna(-1).to_numpy(dtype=np.int64)
