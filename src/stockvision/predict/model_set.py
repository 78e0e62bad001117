"""The models a prediction is made with: one immutable snapshot, swapped as a whole.

A request takes one ``ModelSet`` and finishes with it, so a hot swap of the champions never mixes
versions inside one answer. How the set is loaded (a registry, files, a test) is not this module's
concern: the registry layer builds it from its champions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class ModelSet:
    """The served price and pattern models with their versions, classes and promotion metrics."""

    price: Any = None
    pattern: Any = None
    price_version: str | None = None
    pattern_version: str | None = None
    price_class: str | None = None
    pattern_class: str | None = None
    price_metrics: dict = field(default_factory=dict)
    pattern_metrics: dict = field(default_factory=dict)
    loaded_at: datetime | None = None
    #: per kind, why the served version is not the registry's champion (a fallback), if it is not
    notes: dict = field(default_factory=dict)
    #: the price baseline (the EWMA-volatility random walk) for symbols whose history is shorter
    #: than the champion's features read (new listings); None when the champion is a baseline
    baseline: Any = None
    baseline_version: str | None = None
    baseline_metrics: dict = field(default_factory=dict)

    @property
    def ready(self) -> bool:
        return self.price is not None and self.pattern is not None
