"""The inference panel: the last weeks of features of every symbol, ready for one vectorised call.

Built once from the store (and again when new data arrives), so a prediction is a slice of rows and
one model call instead of a database read. Pure data: no threads, no I/O after it is built.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from stockvision.errors import DataUnavailableError


@dataclass(frozen=True)
class InferencePanel:
    """The tail of the feature matrix (enough weeks for sequences) plus per-symbol metadata.

    ``builder`` is built once per panel, so a cache miss only slices rows and calls the models.
    """

    features: pd.DataFrame
    labels: pd.DataFrame
    weeks: pd.Series  # weeks of history per symbol
    last_week: pd.Series  # newest feature week per symbol
    data_as_of: date | None
    simulated: set[str]
    token: str
    builder: Any = None
    #: symbol -> (weeks of history, newest week) as plain Python values (the hot path's lookups)
    info: dict[str, tuple[int, date]] = field(default_factory=dict)

    @property
    def symbols(self) -> list[str]:
        return sorted(self.info)

    @property
    def history_weeks(self) -> dict[str, int]:
        """Weeks of data per symbol (the predictor gives short ones to the baseline)."""
        return {sym: item[0] for sym, item in self.info.items()}

    def stale(self, symbol: str, after_days: int) -> bool:
        """The symbol's newest week lags the market's newest week by more than ``after_days``."""
        item = self.info.get(symbol)
        if self.data_as_of is None or item is None:
            return False
        return (self.data_as_of - item[1]).days > after_days

    def window(self, symbols: list[str]) -> Any:
        """The inference window (last row per symbol, with its sequence) of ``symbols``."""
        return self.builder.latest(symbols)


def load_panel(
    store: Any, seq_len: int, horizon: int, news: float | None = None
) -> InferencePanel | None:
    """The panel of everything the store holds (None when it has no features yet).

    ``news`` is the news half-life in weeks when ``SV_NEWS_FEATURES=true`` (None otherwise): the
    panel then carries the same news columns the training snapshot joined, computed by the same
    function, so a model trained on them finds them when it serves.
    """
    from stockvision.features.dataset import DatasetBuilder

    weeks_needed = max(seq_len, 8) + 2
    feats = store.read_features()
    if feats is None or len(feats) == 0:
        return None
    extra: list[str] = []
    if news is not None:
        from stockvision.news.features import NEWS_FEATURES, store_news_features

        feats = store_news_features(store, feats, half_life_weeks=news)
        extra = list(NEWS_FEATURES)
    labels = store.read_labels()
    if labels is None or len(labels) == 0:
        raise DataUnavailableError("*", "labels are missing: run 'stockvision features build'")
    grouped = feats.groupby(level=0)
    counts = grouped.size()
    last_week = (
        pd.Series(feats.index.get_level_values(1), index=feats.index.get_level_values(0))
        .groupby(level=0)
        .max()
    )
    tail = grouped.tail(weeks_needed).sort_index()
    lab = labels.reindex(tail.index)
    newest = pd.Timestamp(last_week.max())
    summary = store.symbols_summary()
    simulated = set(summary.loc[summary["simulated"], "symbol"]) if len(summary) else set()
    token = f"{newest.date()}:{len(feats)}:{int(last_week.astype('int64').sum()) % 10**9}"
    return InferencePanel(
        features=tail,
        labels=lab,
        weeks=counts,
        last_week=last_week,
        data_as_of=newest.date(),
        simulated=simulated,
        token=token,
        builder=DatasetBuilder(tail, lab, seq_len=seq_len, horizon=horizon, extra_features=extra),
        info={
            str(sym): (int(counts[sym]), pd.Timestamp(week).date())
            for sym, week in last_week.items()
        },
    )
