"""A small live system for the stream tests: generated market, fitted baseline models, a store."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from stockvision.data.sources.synthetic import generate_market
from stockvision.features.dataset import DatasetBuilder
from stockvision.features.labels import compute_labels
from stockvision.features.weekly import compute_features
from stockvision.market.corporate_actions import adjust
from stockvision.models.baselines import DriftModel, MomentumSignModel
from stockvision.predict import ModelSet
from stockvision.stream.live_features import LiveFeatures
from stockvision.stream.predictions import LivePredictor


@dataclass
class LiveSystem:
    raw: pd.DataFrame
    adjusted: pd.DataFrame
    features: pd.DataFrame
    labels: pd.DataFrame
    models: ModelSet
    days: list[pd.Timestamp]

    def engine_for(self, day):
        return LiveFeatures(self.adjusted, day)

    def predictor_for(self, day):
        return LivePredictor(self.models, self.features, self.labels, seq_len=4, horizon=4)


def build_system(
    n_symbols: int = 8, replay_days: int = 2, seed: int = 11, days_before_end: int = 0
) -> LiveSystem:
    """``days_before_end``: replay days that many trading days before the last stored one (so
    their 4-week outcomes are in the store, for shadow scoring)."""
    market = generate_market(n_symbols=n_symbols, years=2, seed=seed, return_events=True)
    raw = market.daily
    ev = market.events.rename(columns={"ex_date": "date"})
    adjusted = adjust(raw, events=ev.assign(ratio=ev["price_factor"])[["symbol", "date", "ratio"]])
    stored = pd.DatetimeIndex(sorted(raw["date"].unique()))
    days = list(stored[len(stored) - days_before_end - replay_days : len(stored) - days_before_end])
    features = compute_features(adjusted)
    labels = compute_labels(adjusted)
    train_end = days[0] - pd.Timedelta(days=60)  # fitted well before the replayed days
    builder = DatasetBuilder(features, labels, seq_len=4, horizon=4)
    train = builder.window(end=train_end)
    price = DriftModel().fit(train)
    pattern = MomentumSignModel().fit(train)
    models = ModelSet(price=price, pattern=pattern, price_version="1", pattern_version="1")
    return LiveSystem(raw, adjusted, features, labels, models, days)
