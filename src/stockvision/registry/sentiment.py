"""Train, compare, register and serve the news headline sentiment model.

The comparison (stratified CV of majority, word list, TF-IDF char n-grams and e5 embeddings) picks
the model to serve (:func:`stockvision.news.sentiment.best_model`); it is refitted on every
labelled headline, logged to MLflow as ``news_sentiment_model`` with its CV metrics and the
comparison table, and becomes ``champion`` when there is none or when its CV log loss is lower
than the champion's.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stockvision.config import Settings
from stockvision.errors import RegistryError
from stockvision.news.sentiment import (
    SENTIMENT_MODELS,
    E5Model,
    SentimentModel,
    SentimentScorer,
    best_model,
    cross_validate,
    e5_embedder,
    make_sentiment_model,
    read_labelled,
)
from stockvision.registry.model_registry import DatasetInfo, ModelRegistry
from stockvision.registry.promotion import Decision

log = logging.getLogger(__name__)
KIND = "sentiment"


@dataclass
class SentimentTraining:
    """What ``train_sentiment`` did: the CV table, the chosen model, its version, promotion."""

    table: list[dict[str, Any]]
    chosen: str
    version: str | None
    promoted: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _factory(name: str, embed_cache: Path | None):
    if name == "e5":
        embedder = e5_embedder(embed_cache)
        return lambda: E5Model(embedder=embedder)
    return lambda: make_sentiment_model(name)


def train_sentiment(
    settings: Settings,
    labelled: Path | str,
    *,
    models: list[str] | None = None,
    folds: int = 5,
    register: bool = True,
) -> SentimentTraining:
    """Compare ``models`` by CV on ``labelled`` (``title,label`` CSV), register the best."""
    texts, labels = read_labelled(labelled)
    names = models or list(SENTIMENT_MODELS)
    for baseline in ("majority", "wordlist"):
        if baseline not in names:
            names.insert(0, baseline)  # the bars the served model must clear
    cache = settings.cache_dir / "embeddings"
    table = cross_validate(
        {n: _factory(n, cache) for n in names}, texts, labels, folds=folds, seed=settings.seed
    )
    chosen = best_model(table)
    if not register:
        return SentimentTraining(table, chosen, None, False, "not registered (--no-register)")
    model: SentimentModel = _factory(chosen, cache)().fit(texts, labels)
    row = next(r for r in table if r["model"] == chosen)
    raw = Path(labelled).read_bytes()
    registry = ModelRegistry(settings)
    tmp = settings.subdir("tmp") / "sentiment_cv.json"
    tmp.write_text(json.dumps(table, indent=2), encoding="utf-8")
    record = registry.log_model(
        KIND,
        model,
        metrics={k: row[k] for k in ("macro_f1", "macro_f1_std", "log_loss", "ece", "accuracy")},
        params={"model": chosen, **model.get_params(), "folds": folds},
        dataset=DatasetInfo(
            digest=hashlib.sha256(raw).hexdigest(),
            start="",
            end="",
            symbols=[],
            rows=len(texts),
        ),
        artifacts=[tmp],
        run_name=f"sentiment-{chosen}",
    )
    champion = registry.champion(KIND)
    if champion is None or row["log_loss"] < champion.metrics.get("log_loss", float("inf")):
        reason = (
            "first sentiment model"
            if champion is None
            else f"CV log loss {row['log_loss']:.4f} < champion's "
            f"{champion.metrics.get('log_loss', float('nan')):.4f}"
        )
        registry.promote(KIND, record.version, Decision(True, reason, {"cv": row}))
        return SentimentTraining(table, chosen, record.version, True, reason)
    reason = f"CV log loss {row['log_loss']:.4f} does not beat champion v{champion.version}"
    return SentimentTraining(table, chosen, record.version, False, reason)


def load_scorer(settings: Settings) -> SentimentScorer | None:
    """The champion sentiment model as a scorer, or None when none is registered or reachable."""
    try:
        registry = ModelRegistry(settings)
        model, record = registry.load(KIND)
    except RegistryError as exc:
        log.info("no sentiment model served: %s", exc)
        return None
    return SentimentScorer(model, f"{record.name}:v{record.version}")
