"""Point-in-time weekly news features per (symbol, week_end).

A week's features use only news published BEFORE that week's close: the HOSE/HNX close is 15:00
Vietnam time (08:00 UTC) on ``week_end``, the last trading day of the week. An item published
after it counts for the next week, never this one (no look-ahead).

Features (``NEWS_FEATURES``):

* ``news_count_1w``: items in the week (after the previous close, up to this close);
* ``news_count_4w``: items in the last four weeks;
* ``news_tone_1w``: mean tone of the week's items, tone = p_positive - p_negative in [-1, 1]
  (0 with no news: no evidence either way);
* ``news_tone_decay``: tone summed over all past weeks with a half-life of ``half_life_weeks``.

They join the feature set only when ``SV_NEWS_FEATURES=true`` (:func:`add_news_features`), and are
adopted only if the walk-forward ablation (``evaluation.news_ablation``) shows better proper scores.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

NEWS_FEATURES = ["news_count_1w", "news_count_4w", "news_tone_1w", "news_tone_decay"]
#: Market close as an offset from midnight UTC of the trading day (15:00 UTC+7).
CLOSE_UTC = pd.Timedelta(hours=8)


def weekly_news_features(
    news: pd.DataFrame, index: pd.MultiIndex, *, half_life_weeks: float = 2.0
) -> pd.DataFrame:
    """News features on ``index`` (levels ``symbol``, ``week_end``) from ``news`` rows
    (``symbol, published_at`` naive UTC, and ``p_positive, p_negative``, NaN when unscored)."""
    if half_life_weeks <= 0:
        raise ValueError("half_life_weeks must be > 0")
    out = pd.DataFrame(0.0, index=index, columns=NEWS_FEATURES)
    if len(index) == 0:
        return out
    frames = []
    for symbol, weeks in pd.Series(
        index.get_level_values(1), index=index.get_level_values(0)
    ).groupby(level=0):
        closes = pd.DatetimeIndex(np.sort(weeks.to_numpy())) + CLOSE_UTC
        rows = news[news["symbol"] == symbol]
        counts = np.zeros(len(closes))
        tone_sum = np.zeros(len(closes))
        scored = np.zeros(len(closes))
        if len(rows):
            published = pd.DatetimeIndex(rows["published_at"]).to_numpy()
            # first close at or after publication; strictly before the close to count for it
            pos = np.searchsorted(closes.to_numpy(), published, side="right")
            keep = pos < len(closes)
            tone = (rows["p_positive"] - rows["p_negative"]).to_numpy(dtype=float)
            np.add.at(counts, pos[keep], 1.0)
            has = keep & np.isfinite(tone)
            np.add.at(tone_sum, pos[has], tone[has])
            np.add.at(scored, pos[has], 1.0)
        lam = 0.5 ** (1.0 / half_life_weeks)
        decay = np.zeros(len(closes))
        acc = 0.0
        for i, x in enumerate(tone_sum):
            acc = lam * acc + x
            decay[i] = acc
        frame = pd.DataFrame(
            {
                "news_count_1w": counts,
                "news_count_4w": pd.Series(counts).rolling(4, min_periods=1).sum().to_numpy(),
                "news_tone_1w": np.divide(
                    tone_sum, scored, out=np.zeros_like(tone_sum), where=scored > 0
                ),
                "news_tone_decay": decay,
            },
            index=pd.MultiIndex.from_arrays(
                [np.repeat(symbol, len(closes)), closes - CLOSE_UTC], names=index.names
            ),
        )
        frames.append(frame)
    result = pd.concat(frames)
    return result.reindex(index).fillna(0.0)


def add_news_features(
    features: pd.DataFrame,
    news: pd.DataFrame,
    *,
    enabled: bool,
    half_life_weeks: float = 2.0,
) -> pd.DataFrame:
    """``features`` with the news columns appended when ``enabled`` (``SV_NEWS_FEATURES``);
    unchanged otherwise."""
    if not enabled:
        return features
    extra = weekly_news_features(news, features.index, half_life_weeks=half_life_weeks)
    return features.join(extra)


def store_news_features(store: Any, features: pd.DataFrame, *, half_life_weeks: float = 2.0):
    """``features`` (a store's weekly features) with the news columns of that store's news joined.

    The pipeline (training snapshot) and the serving panel both call this, so a model trained with
    ``SV_NEWS_FEATURES=true`` sees the same columns, computed the same way, when it serves. Weeks
    without news get 0 counts and a neutral (0) tone.
    """
    from stockvision.news.repository import NewsRepository

    news = NewsRepository(store).symbol_frame()
    return add_news_features(features, news, enabled=True, half_life_weeks=half_life_weeks)
