"""Helpers shared by the CLI commands: console, JSON output, progress bars."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from stockvision.jsonutil import jsonable

console = Console(stderr=True)
out = Console()


def print_json(payload: Any) -> None:
    """One JSON document on stdout (machine readable; NaN becomes null)."""
    print(json.dumps(jsonable(payload), ensure_ascii=False, indent=2))


class ProgressReporter:
    """Adapts Rich progress to the library's ``progress(done, total, label)`` callbacks (one bar per label)."""

    def __init__(self, progress: Progress) -> None:
        self._progress = progress
        self._tasks: dict[str, Any] = {}

    def __call__(self, done: float, total: float | None, label: str = "working") -> None:
        task = self._tasks.get(label)
        if task is None:
            task = self._progress.add_task(label, total=total)
            self._tasks[label] = task
        self._progress.update(task, completed=done, total=total)

    def stage(self, label: str):
        """A callback bound to one bar: ``cb(done, total)``."""
        return lambda done, total, _label=None: self(done, total, label)


@contextmanager
def progress_bar(enabled: bool = True) -> Iterator[ProgressReporter | None]:
    """A Rich progress display on stderr (disabled for --json so stdout stays one document)."""
    if not enabled:
        yield None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    ) as progress:
        yield ProgressReporter(progress)


def fmt_number(value: float | None, digits: int = 4) -> str:
    """A metric as fixed decimals (``-`` when missing): ``7.3e-17`` must not read as ``7.342``."""
    if value is None or value != value:
        return "-"
    text = f"{value:.{digits}f}"
    return "0" if float(text) == 0 else text


def fmt_pct(value: float | None, signed: bool = False) -> str:
    """A share as a percentage with one decimal (``+1.7 %`` for skills)."""
    if value is None or value != value:
        return "-"
    return f"{value * 100:{'+' if signed else ''}.1f} %"


#: The scores a model is promoted on, in the CLI tables: a distribution on CRPS, a pattern model on
#: log loss (proper scores), each with its skill over the naive reference and its calibration.
SCORE_COLUMNS: tuple[str, ...] = ("score", "skill", "calibration")


def score_cells(metrics: dict[str, float]) -> list[str]:
    """The ``SCORE_COLUMNS`` cells of one model's flat metrics, by what kind of model they describe.

    Price models: CRPS, its skill over the constant-width random walk, the share of outcomes inside
    the 80 % range.
    Pattern models: log loss, its skill over the training class frequencies, ECE. The news tone
    model: cross-validated macro-F1.
    """
    if "distribution_crps" in metrics:
        cover = metrics.get("distribution_coverage_80")
        return [
            f"CRPS {fmt_number(metrics['distribution_crps'], 5)}",
            fmt_pct(metrics.get("distribution_crps_skill"), signed=True),
            "-" if cover is None else f"80 % range: {fmt_pct(cover)}",
        ]
    if "log_loss" in metrics:
        ece = metrics.get("ece")
        return [
            f"log loss {fmt_number(metrics['log_loss'])}",
            fmt_pct(metrics.get("log_loss_skill"), signed=True),
            "-" if ece is None else f"ECE {fmt_number(ece, 3)}",
        ]
    if "macro_f1" in metrics:
        return [f"macro-F1 {fmt_number(metrics['macro_f1'], 3)}", "-", "-"]
    return ["-", "-", "-"]
