"""Date-based training windows over the weekly feature matrix and labels.

Rows are never shuffled across time: a window is every labelled (symbol, week) row between two
week ends. Consecutive windows are separated by a *purge gap* of ``horizon`` market weeks so that
the label of a window's last row (which reads the close ``horizon`` weeks later) ends before the
next window starts; otherwise the training target of week ``t`` would reappear as the 4-week
return feature of week ``t + 4`` in the validation window.

Sequences (``Window.seq``) hold the raw features of each row's symbol over its last ``seq_len``
weekly rows, oldest first, the row's own week last; positions before the symbol's first week are
NaN. They are gathered by index arithmetic on the (symbol, week_end)-sorted matrix, for all rows
at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from stockvision.data.schema import SYMBOL, WEEK_END
from stockvision.features import indicators as ind
from stockvision.features.feature_docs import FEATURES
from stockvision.features.labels import LABEL_COLUMNS, pattern_to_codes
from stockvision.features.weekly import FeatureInputError

DateLike = str | pd.Timestamp


@dataclass
class Window:
    """A slice of the dataset: raw features, labels and per-row feature sequences."""

    X: pd.DataFrame  # index (symbol, week_end); columns FEATURES (+ extras); raw, NaN allowed
    labels: pd.DataFrame  # same index; LABEL_COLUMNS
    seq: np.ndarray  # float32 (n, seq_len, number of X columns)

    @property
    def y_return(self) -> np.ndarray:
        """The 4-week future log return (float64; NaN where unknown)."""
        return self.labels["future_log_return"].to_numpy(dtype=np.float64, na_value=np.nan)

    @property
    def y_pattern(self) -> np.ndarray:
        """Pattern codes in ``PATTERN_CLASSES`` order (DOWN=0, SIDEWAYS=1, UP=2; -1 unknown)."""
        return pattern_to_codes(self.labels["pattern"])

    def __len__(self) -> int:
        return len(self.X)

    @property
    def week_ends(self) -> pd.DatetimeIndex:
        return pd.DatetimeIndex(self.X.index.get_level_values(WEEK_END))


class Split(NamedTuple):
    """Train, validation and test windows separated by purge gaps (``None`` for 0 weeks)."""

    train: Window
    val: Window | None
    test: Window | None


class DatasetBuilder:
    """Builds purged, date-ordered windows from a feature matrix and its labels.

    ``features`` and ``labels`` are indexed by (symbol, week_end); labels are aligned to the
    features' index (rows without labels count as unlabelled). The market calendar is the set of
    week ends in ``features``. ``extra_features`` are columns appended after ``FEATURES`` (the
    news columns when ``SV_NEWS_FEATURES=true``); models take their inputs from the window's
    columns and store that list, so serving must build the same extras.
    """

    def __init__(
        self,
        features: pd.DataFrame,
        labels: pd.DataFrame,
        seq_len: int = 8,
        horizon: int = 4,
        extra_features: Sequence[str] = (),
    ) -> None:
        if seq_len < 1 or horizon < 0:
            raise ValueError(f"need seq_len >= 1 and horizon >= 0, got {seq_len}, {horizon}")
        for name, frame in (("features", features), ("labels", labels)):
            if list(frame.index.names) != [SYMBOL, WEEK_END]:
                raise FeatureInputError(
                    f"{name} must be indexed by (symbol, week_end), got {list(frame.index.names)}",
                    "use compute_features / compute_labels outputs",
                )
        self.feature_columns = [*FEATURES, *(c for c in extra_features if c not in FEATURES)]
        missing = [c for c in self.feature_columns if c not in features.columns]
        if missing:
            raise FeatureInputError(
                f"features lack columns {missing}", "recompute them with compute_features"
            )
        missing = [c for c in LABEL_COLUMNS if c not in labels.columns]
        if missing:
            raise FeatureInputError(
                f"labels lack columns {missing}", "recompute them with compute_labels"
            )
        if not features.index.is_unique:
            raise FeatureInputError(
                "features have duplicate (symbol, week_end) rows", "deduplicate before building"
            )
        self.seq_len = seq_len
        self.horizon = horizon
        self.features = features[self.feature_columns].sort_index()
        self.labels = labels[LABEL_COLUMNS].reindex(self.features.index)
        idx = self.features.index
        self._values = self.features.to_numpy(dtype=np.float32, na_value=np.nan)
        codes, _ = pd.factorize(idx.get_level_values(SYMBOL))
        self._pos = ind.group_positions(codes)
        self._week_ends = pd.DatetimeIndex(idx.get_level_values(WEEK_END))
        self.calendar = pd.DatetimeIndex(np.unique(self._week_ends.to_numpy()))
        y = self.labels["future_log_return"].to_numpy(dtype=np.float64, na_value=np.nan)
        self._labelled = np.isfinite(y) & self.labels["pattern"].notna().to_numpy()

    def labelled_weeks(self) -> pd.DatetimeIndex:
        """The market weeks with at least one labelled row (what splits and folds count)."""
        return pd.DatetimeIndex(np.unique(self._week_ends[self._labelled].to_numpy()))

    # --- windows ----------------------------------------------------------------------------
    def window(
        self, start: DateLike | None = None, end: DateLike | None = None, labelled: bool = True
    ) -> Window:
        """Rows with ``start <= week_end <= end`` (inclusive; open ends allowed).

        Only labelled rows unless ``labelled=False`` (e.g. to score recent weeks).
        """
        mask = np.ones(len(self._week_ends), dtype=bool)
        if start is not None:
            mask &= self._week_ends >= pd.Timestamp(start)
        if end is not None:
            mask &= self._week_ends <= pd.Timestamp(end)
        if labelled:
            mask &= self._labelled
        return self._take(np.flatnonzero(mask))

    def next_start(self, end: DateLike) -> pd.Timestamp | None:
        """First week a window may start at after one ending at ``end`` (purge gap applied)."""
        i = self._week_at_or_before(end) + self.horizon + 1
        return self.calendar[i] if i < len(self.calendar) else None

    def split(
        self,
        train_end: DateLike,
        val_weeks: int,
        test_weeks: int,
        train_start: DateLike | None = None,
    ) -> Split:
        """Train up to ``train_end``, then ``val_weeks`` and ``test_weeks`` of market weeks.

        A purge gap of ``horizon`` weeks precedes the validation and the test windows.
        """
        if val_weeks < 0 or test_weeks < 0:
            raise ValueError(f"week counts must be >= 0, got {val_weeks}, {test_weeks}")
        e = self._week_at_or_before(train_end)
        train = self.window(train_start, self.calendar[e])
        if len(train) == 0:
            raise ValueError(
                f"no labelled rows up to train_end={pd.Timestamp(train_end).date()}; "
                "choose a later train_end"
            )
        val, e = self._after(e, val_weeks, "validation")
        test, _ = self._after(e, test_weeks, "test")
        return Split(train, val, test)

    def walk_forward(
        self,
        first_train_end: DateLike,
        test_weeks: int,
        val_weeks: int = 0,
        step_weeks: int | None = None,
        train_weeks: int | None = None,
    ) -> Iterator[Split]:
        """Successive splits, moving ``train_end`` by ``step_weeks`` (default ``test_weeks``).

        Expanding training windows by default; ``train_weeks`` makes them rolling. Stops when the
        test window would run past the last labelled week.
        """
        if test_weeks < 1:
            raise ValueError(f"test_weeks must be >= 1, got {test_weeks}")
        step = step_weeks or test_weeks
        last_labelled = self._week_ends[self._labelled].max() if self._labelled.any() else None
        e = self._week_at_or_before(first_train_end)
        while True:
            gap = self.horizon + 1
            val_last = e + (gap + val_weeks - 1 if val_weeks else 0)
            test_last = val_last + gap + test_weeks - 1
            if last_labelled is None or test_last >= len(self.calendar):
                return
            if self.calendar[test_last] > last_labelled:
                return
            start = None
            if train_weeks is not None:
                start = self.calendar[max(0, e - train_weeks + 1)]
            yield self.split(self.calendar[e], val_weeks, test_weeks, train_start=start)
            e += step

    def latest(self, symbols: Sequence[str] | None = None) -> Window:
        """Each symbol's most recent row (labelled or not), for inference."""
        idx = self.features.index
        sym = idx.get_level_values(SYMBOL)
        last = np.r_[sym[1:] != sym[:-1], True] if len(sym) else np.zeros(0, dtype=bool)
        if symbols is not None:
            wanted = {s.upper() for s in symbols}
            unknown = sorted(wanted - set(sym))
            if unknown:
                raise FeatureInputError(
                    f"no features for symbols {unknown[:10]}",
                    "ingest their prices and recompute features, or check the tickers",
                )
            last &= sym.isin(wanted)
        return self._take(np.flatnonzero(last))

    # --- internals --------------------------------------------------------------------------
    def _week_at_or_before(self, when: DateLike) -> int:
        i = int(self.calendar.searchsorted(pd.Timestamp(when), side="right")) - 1
        if i < 0:
            raise ValueError(
                f"{pd.Timestamp(when).date()} is before the first week "
                f"({self.calendar[0].date() if len(self.calendar) else 'no data'})"
            )
        return i

    def _after(self, end_idx: int, weeks: int, what: str) -> tuple[Window | None, int]:
        if weeks == 0:
            return None, end_idx
        first = end_idx + self.horizon + 1
        last = first + weeks - 1
        if last >= len(self.calendar):
            raise ValueError(
                f"not enough weeks for a {weeks}-week {what} window after "
                f"{self.calendar[end_idx].date()} plus a {self.horizon}-week purge gap; "
                "choose an earlier train_end or fewer weeks"
            )
        return self.window(self.calendar[first], self.calendar[last]), last

    def _take(self, rows: np.ndarray) -> Window:
        return Window(
            X=self.features.iloc[rows],
            labels=self.labels.iloc[rows],
            seq=self._sequences(rows),
        )

    def _sequences(self, rows: np.ndarray) -> np.ndarray:
        lags = np.arange(self.seq_len - 1, -1, -1)  # oldest first
        src = rows[:, None] - lags[None, :]
        ok = self._pos[rows][:, None] >= lags[None, :]
        seq = self._values[np.where(ok, src, 0)]
        seq[~ok] = np.nan
        return seq.astype(np.float32, copy=False)
