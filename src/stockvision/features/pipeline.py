"""Pure functions that build features and labels, fully or incrementally (no I/O).

Incremental updates recompute from the ISO week of the last stored ``week_end`` on: that week may
have been stored before it was complete (its ``week_end`` then moves to a later day). Rolling
features only read the last 52 weeks (+1 bar) and 21 trading days, so
:func:`~stockvision.features.weekly.compute_features` with ``since`` recomputes just a tail of
``TAIL_WEEKS`` (60) market weeks for them. RSI and MACD are recursive (Wilder/EMA filters never
forget their start), so they are run over each symbol's whole weekly close history, which costs one
pass over the closes; this is what makes ``incremental == full recompute`` exact rather than
approximately equal after a warm-up. Stored features stay valid across corporate actions because
every feature is invariant to the rescaling of past adjusted prices.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from stockvision.data.schema import SYMBOL, WEEK_END
from stockvision.features.feature_docs import FEATURES
from stockvision.features.labels import LabelSpec, compute_labels
from stockvision.features.weekly import DailyLayout, FeatureInputError, compute_features

if TYPE_CHECKING:
    from stockvision.engine import Engine


def build_features_and_labels(
    adjusted_daily: pd.DataFrame, spec: LabelSpec | None = None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Full build: (features, labels), both indexed by (symbol, week_end), labels as ``spec`` says."""
    features = compute_features(adjusted_daily)
    return features, make_labels(adjusted_daily, spec or LabelSpec()).reindex(features.index)


def make_labels(adjusted_daily: pd.DataFrame, spec: LabelSpec) -> pd.DataFrame:
    """:func:`compute_labels` with the horizon and thresholds of ``spec``."""
    return compute_labels(
        adjusted_daily,
        horizon=spec.horizon,
        up=spec.up,
        down=spec.down,
        vol_scaled=spec.vol_scaled,
        vol_k=spec.vol_k,
    )


def incremental_update(
    existing_features: pd.DataFrame, adjusted_daily: pd.DataFrame, engine: Engine | None = None
) -> pd.DataFrame:
    """Existing features extended with the weeks ``adjusted_daily`` adds (the full updated frame).

    ``adjusted_daily`` is the whole adjusted history (as the store holds it). Rows from the ISO
    week of the last stored ``week_end`` on are recomputed; earlier rows are kept as stored. If
    the frame holds symbols with history the stored features do not cover (a universe change),
    the cross-sectional ``illiq_rank`` of past weeks would change too, so everything is
    recomputed. ``engine`` fans the per-symbol work out (:func:`compute_features`; same frame).
    Labels are not incremental: recompute them with ``compute_labels`` (one pass over
    weekly closes), since the labels of the last ``horizon`` weeks change every week anyway.
    """
    if list(existing_features.index.names) != [SYMBOL, WEEK_END]:
        raise FeatureInputError(
            "existing features must be indexed by (symbol, week_end)",
            "pass the frame returned by compute_features or the store",
        )
    if len(existing_features) == 0:
        return compute_features(adjusted_daily, engine=engine)
    last = pd.Timestamp(existing_features.index.get_level_values(WEEK_END).max())
    since = last.normalize() - pd.Timedelta(days=last.weekday())  # Monday of that ISO week
    layout = DailyLayout.from_frame(adjusted_daily)
    old_symbols = set(existing_features.index.get_level_values(SYMBOL))
    frame = layout.frame
    before = frame.loc[frame["date"] < since, SYMBOL]
    if not set(before.unique()) <= old_symbols:
        return compute_features(layout.frame, engine=engine)
    new = compute_features(layout.frame, since=since, engine=engine)
    kept = existing_features.loc[existing_features.index.get_level_values(WEEK_END) < since]
    return pd.concat([kept[FEATURES], new]).sort_index()
