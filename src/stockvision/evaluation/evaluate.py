"""One call from an adjusted daily frame to a written evaluation report (what the CLI runs)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import pandas as pd

from stockvision.config import Settings, get_settings
from stockvision.evaluation.backtest import BacktestConfig
from stockvision.evaluation.report import write_report
from stockvision.evaluation.scoring import Scorecard, score
from stockvision.evaluation.splits import WalkForwardSplitter
from stockvision.evaluation.walkforward import (
    EvaluationResult,
    labelled_weeks,
    rich_progress,
    run_walk_forward,
)

__all__ = ["default_models", "evaluate"]


def default_models() -> list[str]:
    """Every registered model: the candidates and the baselines they must beat."""
    from stockvision.models.registry_names import MODEL_FACTORIES

    return list(MODEL_FACTORIES)


def evaluate(
    adjusted_daily: pd.DataFrame,
    out_dir: Path | str,
    model_names: Sequence[str] | None = None,
    splitter: WalkForwardSplitter | None = None,
    settings: Settings | None = None,
    show_progress: bool = True,
    on_error: Literal["raise", "drop"] = "drop",
) -> tuple[Path, Scorecard, EvaluationResult]:
    """Build features, run the walk-forward evaluation, score, backtest and write the report.

    ``adjusted_daily`` is ``market.corporate_actions.adjust(daily)`` for the universe to evaluate.
    A model that fails on some fold is left out and listed in the report (``on_error="drop"``)
    so one broken model does not cost a long run. Returns (report.html path, scorecard, result).
    """
    from stockvision.features import DatasetBuilder, build_features_and_labels

    settings = settings or get_settings()
    names = list(model_names) if model_names else default_models()
    features, labels = build_features_and_labels(adjusted_daily, settings)
    builder = DatasetBuilder(
        features, labels, seq_len=settings.seq_len, horizon=settings.horizon_weeks
    )
    splitter = splitter or WalkForwardSplitter(horizon=settings.horizon_weeks)
    if show_progress:
        n_folds = splitter.n_splits(labelled_weeks(builder))
        with rich_progress(n_folds, names) as progress:
            result = run_walk_forward(
                builder,
                names,
                splitter,
                progress,
                daily=adjusted_daily,
                seed=settings.seed,
                on_error=on_error,
            )
    else:
        result = run_walk_forward(
            builder, names, splitter, daily=adjusted_daily, seed=settings.seed, on_error=on_error
        )
    card = score(result, BacktestConfig.from_settings(settings), seed=settings.seed)
    path = write_report(result, out_dir, card=card)
    return path, card, result
