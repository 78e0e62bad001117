"""One call from an adjusted daily frame to a written evaluation report (what the CLI runs)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from stockvision.config import Settings
from stockvision.engine import Engine, engine_from_settings
from stockvision.evaluation.backtest import BacktestConfig
from stockvision.evaluation.report import write_report
from stockvision.evaluation.scoring import Scorecard, score
from stockvision.evaluation.splits import WalkForwardSplitter
from stockvision.evaluation.walkforward import (
    EvaluationResult,
    ProgressEvent,
    cross_section_start,
    labelled_weeks,
    rich_progress,
    run_walk_forward,
)
from stockvision.features.labels import LabelSpec

if TYPE_CHECKING:
    from stockvision.features import DatasetBuilder

__all__ = ["default_models", "evaluate", "evaluate_dataset"]


def default_models() -> list[str]:
    """Every registered model: the candidates and the baselines they must beat."""
    from stockvision.models.registry_names import MODEL_FACTORIES

    return list(MODEL_FACTORIES)


def evaluate(
    adjusted_daily: pd.DataFrame,
    out_dir: Path | str,
    model_names: Sequence[str] | None = None,
    splitter: WalkForwardSplitter | None = None,
    *,
    settings: Settings,
    show_progress: bool = True,
    on_error: Literal["raise", "drop"] = "drop",
    engine: Engine | None = None,
) -> tuple[Path, Scorecard, EvaluationResult]:
    """Build features, run the walk-forward evaluation, score, backtest and write the report.

    ``adjusted_daily`` is ``market.corporate_actions.adjust(daily)`` for the universe to evaluate.
    A model that fails on some fold is left out and listed in the report (``on_error="drop"``)
    so one broken model does not cost a long run. Returns (report.html path, scorecard, result).
    """
    from stockvision.features import DatasetBuilder, build_features_and_labels

    features, labels = build_features_and_labels(adjusted_daily, LabelSpec.from_settings(settings))
    builder = DatasetBuilder(
        features, labels, seq_len=settings.seq_len, horizon=settings.horizon_weeks
    )
    return evaluate_dataset(
        builder,
        adjusted_daily,
        out_dir,
        model_names,
        splitter,
        settings=settings,
        show_progress=show_progress,
        on_error=on_error,
        model_params=None,
        engine=engine,
    )


def evaluate_dataset(
    builder: DatasetBuilder,
    adjusted_daily: pd.DataFrame | None,
    out_dir: Path | str,
    model_names: Sequence[str] | None = None,
    splitter: WalkForwardSplitter | None = None,
    *,
    settings: Settings,
    show_progress: bool = True,
    progress: Callable[[ProgressEvent], None] | None = None,
    on_error: Literal["raise", "drop"] = "drop",
    model_params: dict[str, dict[str, Any]] | None = None,
    engine: Engine | None = None,
) -> tuple[Path, Scorecard, EvaluationResult]:
    """Walk-forward evaluation of a built dataset (the pipeline's snapshot or fresh features):
    run, score, backtest and write report.html + metrics.json into ``out_dir``.

    ``progress`` (a ``ProgressEvent`` callback) replaces the built-in Rich display. Unless the
    splitter sets ``first_test_week``, test blocks start at the first week with at least half of
    the largest cross-section labelled (:func:`cross_section_start`); earlier weeks (e.g. the
    VN30 index's history before its constituents') remain training data.
    ``engine`` runs the fits (default: the one ``SV_ENGINE`` names, closed afterwards); every
    engine writes the same ``metrics.json``.
    """
    names = list(model_names) if model_names else default_models()
    splitter = splitter or WalkForwardSplitter(horizon=settings.horizon_weeks)
    if splitter.first_test_week is None:
        splitter = dataclasses.replace(splitter, first_test_week=cross_section_start(builder))
    kwargs: dict[str, Any] = {
        "daily": adjusted_daily,
        "seed": settings.seed,
        "on_error": on_error,
        "model_params": model_params,
        "bands": (settings.pattern_up, settings.pattern_down),
    }
    own_engine = engine is None
    kwargs["engine"] = engine or engine_from_settings(settings)
    try:
        if progress is None and show_progress:
            n_folds = splitter.n_splits(labelled_weeks(builder))
            with rich_progress(n_folds, names) as bar:
                result = run_walk_forward(builder, names, splitter, bar, **kwargs)
        else:
            result = run_walk_forward(builder, names, splitter, progress, **kwargs)
    finally:
        if own_engine:
            kwargs["engine"].close()
    card = score(result, BacktestConfig.from_settings(settings), seed=settings.seed)
    path = write_report(result, out_dir, card=card)
    return path, card, result
