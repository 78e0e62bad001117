"""Expanding-window walk-forward folds over weekly dates, purged for the label horizon.

A row at week ``t`` has a label that ends at ``t + horizon`` weeks, so a training row too close to
the first test week would see test-period prices through its label. Between the last row of one
part and the first row of the next part we therefore skip ``horizon + embargo`` weeks: the label of
the last earlier row ends ``embargo + 1`` weeks before the later part starts. The same gap separates
the fit part from the validation part (used for early stopping, calibration, conformal intervals
and alpha tuning), and the validation part from the test block.

Layout of fold ``k`` (week indices into the sorted unique week ends ``W``)::

    [train_start .. train_end] gap [val_start .. val_end] gap [test_start .. test_end]
    |<------------- training span: min_train_weeks + k * step_weeks ------------->|

The training span always starts at the first week (expanding window); the test blocks of
consecutive folds follow each other without overlap when ``test_weeks == step_weeks``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from stockvision.jsonutil import JsonRecord

__all__ = ["Fold", "ShortHistory", "WalkForwardSplitter"]


@dataclass(frozen=True)
class Fold:
    """One walk-forward fold; every bound is an inclusive ``week_end`` timestamp.

    ``val_start``/``val_end`` are ``None`` when the splitter has ``val_weeks=0``; ``index`` numbers
    the folds of one run from 0.
    """

    train_start: pd.Timestamp
    train_end: pd.Timestamp
    val_start: pd.Timestamp | None
    val_end: pd.Timestamp | None
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    index: int = 0

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form (ISO dates)."""
        return {
            k: (v.date().isoformat() if isinstance(v, pd.Timestamp) else v)
            for k, v in asdict(self).items()
        }


@dataclass(frozen=True)
class WalkForwardSplitter:
    """Expanding-window, purged and embargoed walk-forward splitter over weekly dates.

    Parameters mirror the evaluation protocol: refit every ``step_weeks``, test on the next
    ``test_weeks`` (defaults to ``step_weeks``), first training span of ``min_train_weeks``.
    ``max_folds`` keeps only the LAST folds (the most recent, most relevant ones).
    ``first_test_week`` drops folds whose test block starts earlier (the fold grid and the
    expanding training span are unchanged): weeks before it remain training history only, e.g.
    the years in which only an index series exists and there is no cross-section to rank or trade.
    """

    min_train_weeks: int = 104
    step_weeks: int = 4
    test_weeks: int | None = None
    horizon: int = 4
    embargo: int = 1
    val_weeks: int = 13
    max_folds: int | None = None
    first_test_week: pd.Timestamp | None = None

    def __post_init__(self) -> None:
        for name in ("min_train_weeks", "step_weeks", "horizon"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.embargo < 0 or self.val_weeks < 0:
            raise ValueError("embargo and val_weeks must be >= 0")
        if self.test_weeks is not None and self.test_weeks < 1:
            raise ValueError(f"test_weeks must be >= 1, got {self.test_weeks}")
        if self.max_folds is not None and self.max_folds < 1:
            raise ValueError(f"max_folds must be >= 1, got {self.max_folds}")
        fit_weeks = self.min_train_weeks - (self.val_weeks + self.gap if self.val_weeks else 0)
        if fit_weeks < 1:
            raise ValueError(
                f"min_train_weeks={self.min_train_weeks} leaves no fit weeks after a validation "
                f"part of {self.val_weeks} weeks and a purge gap of {self.gap}; raise "
                "min_train_weeks or lower val_weeks"
            )

    @property
    def gap(self) -> int:
        """Weeks skipped between consecutive parts: the label horizon plus the embargo."""
        return self.horizon + self.embargo

    @property
    def block(self) -> int:
        return self.test_weeks if self.test_weeks is not None else self.step_weeks

    def split(self, week_ends: Sequence[object] | pd.Index | np.ndarray) -> Iterator[Fold]:
        """Yield folds over the sorted unique ``week_ends`` (the last test block may be short)."""
        weeks = pd.DatetimeIndex(pd.unique(pd.to_datetime(pd.Index(week_ends)))).sort_values()
        if weeks.hasnans:
            raise ValueError("week_ends contains missing dates")
        folds = self._index_folds(len(weeks))
        if folds and self.first_test_week is not None:
            first = pd.Timestamp(self.first_test_week)
            folds = [f for f in folds if weeks[f[4]] >= first]
            if not folds:
                raise ValueError(
                    f"no test block starts on or after first_test_week={first.date()} "
                    f"(data ends {weeks[-1].date()}); choose an earlier first_test_week"
                )
        if not folds:
            need = self.min_train_weeks + self.gap + 1
            raise ValueError(
                f"only {len(weeks)} weeks of data; walk-forward needs at least {need} "
                f"(min_train_weeks={self.min_train_weeks} + purge/embargo {self.gap} + 1 test "
                "week). Load more history or lower min_train_weeks."
            )
        if self.max_folds is not None:
            folds = folds[-self.max_folds :]
        for i, (ts, te, vs, ve, ss, se) in enumerate(folds):
            yield Fold(
                index=i,
                train_start=weeks[ts],
                train_end=weeks[te],
                val_start=weeks[vs] if vs is not None else None,
                val_end=weeks[ve] if ve is not None else None,
                test_start=weeks[ss],
                test_end=weeks[se],
            )

    def n_splits(self, week_ends: Sequence[object] | pd.Index | np.ndarray) -> int:
        try:
            return sum(1 for _ in self.split(week_ends))
        except ValueError:
            return 0

    def _index_folds(self, n_weeks: int) -> list[tuple]:
        out = []
        k = 0
        while True:
            span_end = self.min_train_weeks - 1 + k * self.step_weeks
            test_start = span_end + self.gap + 1
            if test_start >= n_weeks:
                return out
            test_end = min(test_start + self.block - 1, n_weeks - 1)
            if self.val_weeks:
                val_start, val_end = span_end - self.val_weeks + 1, span_end
                train_end = val_start - self.gap - 1
            else:
                val_start = val_end = None
                train_end = span_end
            out.append((0, train_end, val_start, val_end, test_start, test_end))
            k += 1


@dataclass(frozen=True)
class ShortHistory(JsonRecord):
    """Why the walk-forward evaluation cannot run on this data, and what was done instead.

    With fewer labelled weeks than one walk-forward fold needs (``need_weeks``), only the naive
    baselines are trained (they read at most the last ``seq_len`` weeks of a stock), and their
    limits are measured on the last ``holdout_weeks`` weeks held out after a purge gap when enough
    weeks remain for that (``holdout_weeks`` 0: nothing could be measured out of sample).
    ``history_weeks`` counts the market weeks of data, ``horizon`` the weeks of the outcome (the
    last ``horizon`` weeks of data have no known outcome yet, so they are not labelled).
    """

    labelled_weeks: int
    need_weeks: int
    holdout_weeks: int = 0
    history_weeks: int = 0
    horizon: int = 4

    @property
    def weeks(self) -> int:
        """Weeks of data as a user counts them."""
        return self.history_weeks or self.labelled_weeks + self.horizon

    @property
    def need_history_weeks(self) -> int:
        return self.need_weeks + self.horizon

    @property
    def reason_en(self) -> str:
        return (
            f"the model has not been validated walk-forward because there are only {self.weeks} "
            f"weeks of data (it needs about {self.need_history_weeks}: {self.need_weeks} weeks "
            f"whose {self.horizon}-week outcome is known)"
        )

    @property
    def reason_vi(self) -> str:
        return (
            f"mô hình chưa được kiểm định walk-forward vì chỉ có {self.weeks} tuần dữ liệu (cần "
            f"khoảng {self.need_history_weeks} tuần: {self.need_weeks} tuần đã biết kết quả "
            f"{self.horizon} tuần sau)"
        )

    def metrics(self) -> dict[str, float]:
        """The figures as flat metrics (logged with the model, read back by the predictor)."""
        return {
            "walk_forward_skipped": 1.0,
            "labelled_weeks": float(self.labelled_weeks),
            "need_weeks": float(self.need_weeks),
            "holdout_weeks": float(self.holdout_weeks),
            "history_weeks": float(self.weeks),
            "horizon_weeks": float(self.horizon),
        }

    @classmethod
    def from_metrics(cls, metrics: dict) -> ShortHistory | None:
        """The record flat ``metrics`` describe (None unless walk-forward was skipped)."""
        if not metrics.get("walk_forward_skipped"):
            return None
        return cls(
            labelled_weeks=int(metrics.get("labelled_weeks", 0)),
            need_weeks=int(metrics.get("need_weeks", 0)),
            holdout_weeks=int(metrics.get("holdout_weeks", 0)),
            history_weeks=int(metrics.get("history_weeks", 0)),
            horizon=int(metrics.get("horizon_weeks", 4)),
        )
