"""The pure predictor: models + a feature window -> predictions, with the features that drove them.

API, batch step, chat, CLI, CSV upload and the stream workers all come here, so a number means the same
thing wherever it is shown. Nothing in it knows about HTTP, threads, caches or MLflow: it gets the
models (a :class:`~stockvision.predict.model_set.ModelSet`), the window and a way to describe a symbol.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd

from stockvision.data.directory import SymbolDescription
from stockvision.features import FEATURES
from stockvision.features.feature_docs import FEATURE_DOCS
from stockvision.features.labels import PATTERN_CLASSES
from stockvision.predict.model_set import ModelSet
from stockvision.predict.types import (
    DISCLAIMER_EN,
    DISCLAIMER_VI,
    Driver,
    ModelVersions,
    PatternProbabilities,
    Prediction,
    PriceInterval,
)

log = logging.getLogger(__name__)

Describe = Callable[[str], SymbolDescription]


def _anonymous(symbol: str) -> SymbolDescription:
    return SymbolDescription(symbol, "HOSE", symbol)


class Predictor:
    """Turns model outputs for a window into :class:`Prediction` objects.

    ``horizon_weeks`` dates the target; ``interval_coverage`` is the nominal coverage reported when
    a model does not carry its own; ``describe`` names the symbol (exchange, company).
    """

    def __init__(
        self,
        horizon_weeks: int = 4,
        interval_coverage: float = 0.8,
        describe: Describe | None = None,
        top_drivers: int = 3,
    ) -> None:
        self.horizon_weeks = horizon_weeks
        self.interval_coverage = interval_coverage
        self.describe = describe or _anonymous
        self.top_drivers = top_drivers

    def predict(
        self,
        window: Any,
        models: ModelSet,
        simulated: set[str] | bool = False,
        now: datetime | None = None,
    ) -> list[Prediction]:
        """One prediction per row of ``window`` (vectorised model calls, then one object per row)."""
        price, pattern = models.price, models.pattern
        log_ret = np.asarray(price.predict(window), dtype=float)
        low, high = (np.asarray(a, dtype=float) for a in price.predict_interval(window))
        probs = np.asarray(pattern.predict_proba(window), dtype=float)
        contrib = contributions(price, window)
        raw_close = window.labels["raw_close"].to_numpy(dtype=float)
        x_values = window.X[FEATURES].to_numpy(dtype=float)
        coverage = float(getattr(price, "coverage", self.interval_coverage))
        measured = models.price_metrics.get("interval_coverage")
        versions = ModelVersions(price=models.price_version, pattern=models.pattern_version)
        horizon = timedelta(weeks=self.horizon_weeks)
        now = now or datetime.now(UTC)
        out = []
        for i, (sym, week_end) in enumerate(window.X.index):
            day = pd.Timestamp(week_end).date()
            info = self.describe(sym)
            p = probs[i]
            k = int(np.argmax(p))
            close = float(raw_close[i])
            target = close * float(np.exp(log_ret[i]))
            lo, hi = close * float(np.exp(low[i])), close * float(np.exp(high[i]))
            is_sim = simulated if isinstance(simulated, bool) else sym in simulated
            out.append(
                Prediction(
                    symbol=sym,
                    exchange=info.exchange,
                    company_name=info.name,
                    prediction_date=day,
                    target_date=day + horizon,
                    data_as_of=day,
                    last_close=round(close, 2),
                    last_close_k=round(close / 1000, 2),
                    price_target=round(target, 2),
                    price_target_k=round(target / 1000, 2),
                    interval=PriceInterval(
                        low=round(min(lo, hi), 2),
                        high=round(max(lo, hi), 2),
                        coverage=coverage,
                        measured_coverage=measured,
                    ),
                    expected_return=float(np.expm1(log_ret[i])),
                    pattern=PATTERN_CLASSES[k],
                    probabilities=PatternProbabilities(
                        down=_prob(p[0]), sideways=_prob(p[1]), up=_prob(p[2])
                    ),
                    confidence=_prob(p[k]),
                    drivers=drivers(
                        x_values[i], contrib[i] if contrib is not None else None, self.top_drivers
                    ),
                    model_versions=versions,
                    simulated=bool(is_sim),
                    disclaimer=DISCLAIMER_EN,
                    disclaimer_vi=DISCLAIMER_VI,
                    generated_at=now,
                )
            )
        return out


def contributions(price: Any, window: Any) -> np.ndarray | None:
    """Per-feature contributions in ``FEATURES`` order (None when the model has none)."""
    if not hasattr(price, "contributions"):
        return None
    try:
        frame = price.contributions(window)
    except Exception as exc:  # explanations are optional, the prediction is not
        log.warning("contributions failed: %s", exc)
        return None
    if isinstance(frame, pd.DataFrame):
        return frame.reindex(columns=FEATURES).to_numpy(dtype=float)
    arr = np.asarray(frame, dtype=float)
    return arr if arr.ndim == 2 and arr.shape[1] == len(FEATURES) else None


def drivers(x: np.ndarray, contrib: np.ndarray | None, top: int = 3) -> list[Driver]:
    """The ``top`` features with the largest absolute contribution, described in vi and en."""
    if contrib is None:
        return []
    order = np.argsort(-np.abs(np.nan_to_num(contrib)))[:top]
    out = []
    for j in order:
        if not np.isfinite(contrib[j]) or contrib[j] == 0:
            continue
        name = FEATURES[j]
        doc = FEATURE_DOCS.get(name, {})
        value = x[j]
        out.append(
            Driver(
                feature=name,
                value=None if not np.isfinite(value) else float(value),
                contribution=float(contrib[j]),
                description_vi=str(doc.get("description_vi", doc.get("vi", name))),
                description_en=str(doc.get("description_en", doc.get("en", name))),
            )
        )
    return out


def _prob(value: float) -> float:
    return float(min(1.0, max(0.0, value)))
