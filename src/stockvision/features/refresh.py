"""Bring the store's weekly features and labels up to date, and the shared ingest-and-featurize.

The pipeline's ``features`` and ``labels`` steps and the serving layer's auto-healer both call these, so a
symbol fetched on demand gets exactly the features a weekly run would have given it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd

from stockvision.data.ingest import IngestResult, adjusted_daily, frame_digest, ingest
from stockvision.data.sources.base import DataSource, DateLike
from stockvision.errors import NoSourceDataError
from stockvision.features.labels import LabelSpec
from stockvision.features.pipeline import incremental_update, make_labels
from stockvision.jsonutil import JsonRecord

Progress = Callable[[float, float | None, str], None] | None


@dataclass(frozen=True)
class FeaturesBuild(JsonRecord):
    rows: int
    written: int
    symbols: int
    weeks: int
    first_week: str
    last_week: str
    digest: str


@dataclass(frozen=True)
class LabelsBuild(JsonRecord):
    rows: int
    labelled: int
    balance: dict[str, float]
    digest: str


def build_features(store: Any, progress: Progress = None, engine: Any = None) -> FeaturesBuild:
    """Compute the weekly features of every symbol (only the new weeks) and write them.

    ``engine`` (``stockvision.engine``) runs the per-symbol work in symbol chunks; same features.
    """
    adj = adjusted_daily(store)
    if progress:
        progress(0, 1, "features")
    # only weeks from the last stored one on are computed (identical to a full recompute, tested)
    feats = incremental_update(store.read_features(), adj, engine=engine)
    written = store.upsert_features(feats)
    if progress:
        progress(1, 1, "features")
    weeks = feats.index.get_level_values(1)
    return FeaturesBuild(
        rows=len(feats),
        written=int(written.inserted + written.updated),
        symbols=int(feats.index.get_level_values(0).nunique()),
        weeks=int(weeks.nunique()),
        first_week=str(pd.Timestamp(weeks.min()).date()),
        last_week=str(pd.Timestamp(weeks.max()).date()),
        digest=frame_digest(feats),
    )


def build_labels(store: Any, spec: LabelSpec) -> LabelsBuild:
    """Recompute every label (the last ``horizon`` weeks change each week) and write them."""
    labels = make_labels(adjusted_daily(store), spec)
    store.upsert_labels(labels)
    balance = labels["pattern"].value_counts(normalize=True).round(4).to_dict()
    return LabelsBuild(
        rows=len(labels),
        labelled=int(labels["pattern"].notna().sum()),
        balance={str(k): float(v) for k, v in balance.items()},
        digest=frame_digest(labels),
    )


def ingest_and_featurize(
    store: Any,
    source: DataSource,
    symbols: list[str],
    spec: LabelSpec,
    start: DateLike | None = None,
) -> IngestResult:
    """Fetch ``symbols`` from ``source``, then bring features and labels up to date (auto-healing)."""
    fetched = ingest(store, source, symbols, start)
    if not set(symbols) & set(fetched.fetched_symbols):
        raise NoSourceDataError(
            ", ".join(symbols), f"the {fetched.source} source returned no data for it"
        )
    build_features(store)
    build_labels(store, spec)
    return fetched
