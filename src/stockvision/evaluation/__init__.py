"""Evaluation layer: purged walk-forward runs, metrics, VN-cost backtest and the HTML report.

Typical use (what ``stockvision evaluate --out DIR`` does)::

    from stockvision.evaluation import evaluate
    report_path, card, result = evaluate(adjusted_daily, "reports/eval")
"""

from __future__ import annotations

from stockvision.evaluation.backtest import (
    BacktestConfig,
    BacktestResult,
    backtest_with_benchmark,
    buy_and_hold,
    run_backtest,
)
from stockvision.evaluation.evaluate import default_models, evaluate
from stockvision.evaluation.report import write_metrics, write_report
from stockvision.evaluation.scoring import Goal, Scorecard, score
from stockvision.evaluation.splits import Fold, WalkForwardSplitter
from stockvision.evaluation.walkforward import (
    EvaluationResult,
    ProgressEvent,
    labelled_weeks,
    rich_progress,
    run_walk_forward,
)

__all__ = [
    "BacktestConfig",
    "BacktestResult",
    "EvaluationResult",
    "Fold",
    "Goal",
    "ProgressEvent",
    "Scorecard",
    "WalkForwardSplitter",
    "backtest_with_benchmark",
    "buy_and_hold",
    "default_models",
    "evaluate",
    "labelled_weeks",
    "rich_progress",
    "run_backtest",
    "run_walk_forward",
    "score",
    "write_metrics",
    "write_report",
]
