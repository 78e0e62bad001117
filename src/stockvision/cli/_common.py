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
