"""Live predictions through the one prediction core: stored weeks before the live one + the live row.

The window a model sees is built exactly as for the weekly batch (``DatasetBuilder.latest``): the
symbol's stored feature rows of *finished* weeks (never a stored row of the live week or later, so a
replay of a past day has no look-ahead) followed by the live week's row, with the live price as the
row's ``raw_close``. ``Predictor.predict`` then does what it does for the API, chat and batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from stockvision.data.schema import SYMBOL, WEEK_END
from stockvision.features.dataset import DatasetBuilder
from stockvision.features.feature_docs import FEATURES
from stockvision.features.labels import LABEL_COLUMNS
from stockvision.predict import ModelSet, Prediction, Predictor


class LivePredictor:
    """Predictions for live feature rows with ``models``: a ``ModelSet`` or a callable returning the
    current one (the champion holder's), so a promoted champion serves the next minute (hot reload)
    and each answer carries the versions it was made with."""

    def __init__(
        self,
        models: ModelSet | Callable[[], ModelSet],
        features: pd.DataFrame,
        labels: pd.DataFrame,
        predictor: Predictor | None = None,
        seq_len: int = 8,
        horizon: int = 4,
        simulated: set[str] | bool = False,
        live_width: Callable[[Any], tuple[str, Any]] | None = None,
    ) -> None:
        self.models = models
        #: ``LiveWidthReader.read``: the champion's width bins monitoring found departed (the
        #: answers then say so, as the API's do)
        self.live_width = live_width
        self.features = features[FEATURES].sort_index()
        self.labels = labels.reindex(columns=LABEL_COLUMNS).reindex(self.features.index)
        self.predictor = predictor or Predictor(horizon_weeks=horizon)
        self.seq_len = seq_len
        self.horizon = horizon
        self.simulated = simulated
        self._tail: dict[pd.Timestamp, tuple[pd.DataFrame, pd.DataFrame]] = {}
        # weeks of stored history per symbol: a new listing is forecast by the baseline, as in
        # the batch and the API (the live week adds one)
        self._weeks = {
            str(k): int(v) + 1 for k, v in self.features.groupby(level=SYMBOL).size().items()
        }

    def _history(self, monday: pd.Timestamp) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The last ``seq_len`` stored rows per symbol of weeks ending before ``monday``."""
        if monday not in self._tail:
            weeks = self.features.index.get_level_values(WEEK_END)
            past = self.features[weeks < monday]
            tail = past.groupby(level=SYMBOL, sort=False).tail(self.seq_len)
            self._tail = {monday: (tail, self.labels.reindex(tail.index))}
        return self._tail[monday]

    def predict(self, live: pd.DataFrame, raw_close: np.ndarray) -> list[Prediction]:
        """One prediction per row of ``live`` (index (symbol, week_end), the live week)."""
        models = self.models() if callable(self.models) else self.models
        if len(live) == 0 or models is None or not models.ready:
            return []
        week_end = pd.Timestamp(live.index.get_level_values(WEEK_END)[0])
        monday = week_end.normalize() - pd.Timedelta(days=week_end.weekday())
        feats, labels = self._history(monday)
        symbols = list(live.index.get_level_values(SYMBOL))
        keep = feats.index.get_level_values(SYMBOL).isin(symbols)
        live_labels = pd.DataFrame(np.nan, index=live.index, columns=LABEL_COLUMNS).astype(
            labels.dtypes.to_dict()
        )
        live_labels["raw_close"] = np.asarray(raw_close, dtype=float)
        builder = DatasetBuilder(
            pd.concat([feats[keep], live[FEATURES]]),
            pd.concat([labels[keep], live_labels]),
            seq_len=self.seq_len,
            horizon=self.horizon,
        )
        window = builder.latest(symbols)
        live = self.live_width(models.price_version)[1] if self.live_width else None
        return self.predictor.predict(
            window, models, simulated=self.simulated, history_weeks=self._weeks, live_by_width=live
        )


def prediction_message(p: Prediction) -> dict[str, Any]:
    """The JSON a prediction travels as on the bus and the WebSocket."""
    return p.model_dump(mode="json", exclude={"drivers"}) | {
        "drivers": [d.model_dump(mode="json") for d in p.drivers[:3]]
    }
