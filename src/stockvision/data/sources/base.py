"""The one interface every market-data source implements, and the result it returns.

A source only *parses*: it turns whatever it reads into the daily frame of the contract
(``stockvision.data.schema``) and reports what it could not read. Checking OHLC consistency,
gaps and corporate actions is the store's and the market layer's job, so a source never drops a
row just because its prices look odd.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Literal

import numpy as np
import pandas as pd

from stockvision.data.schema import (
    DAILY_COLUMNS,
    DATE,
    FLAGS_COLUMN,
    OHLCV,
    OPTIONAL_DAILY_COLUMNS,
    SYMBOL,
)
from stockvision.errors import SourceError

#: ``progress(done, total, label)``: called by long fetches so a CLI can draw a progress bar.
Progress = Callable[[int, int, str], None]
#: Repair examples kept per category in a report.
MAX_EXAMPLES = 20
DateLike = date | datetime | str | pd.Timestamp


@dataclass(frozen=True)
class RowError:
    """One input row that could not be imported: where it is and why."""

    file: str
    line: int  # 1-based line number as in the file (header = line 1); 0 when not line-bound
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class ImportReport:
    """What a fetch read and imported, per file, and every row it had to skip."""

    rows_read: int = 0
    rows_imported: int = 0
    per_file: dict[str, int] = field(default_factory=dict)  # rows imported per file/symbol
    errors: list[RowError] = field(default_factory=list)
    #: rows kept after a repair, per category (``data.repair.FLAGS``), and a few of each with
    #: file:line and the values as read
    repairs: dict[str, int] = field(default_factory=dict)
    repair_examples: dict[str, list[str]] = field(default_factory=dict)
    #: one line per whole-file conversion (unit, frequency, kind), e.g. "VNM.csv: thousand VND"
    notes: list[str] = field(default_factory=list)

    @property
    def rows_rejected(self) -> int:
        return self.rows_read - self.rows_imported

    def add_file(self, name: str, read: int, imported: int, errors: list[RowError]) -> None:
        """Record one file's (or one symbol's) counts and errors."""
        self.rows_read += read
        self.rows_imported += imported
        self.per_file[name] = self.per_file.get(name, 0) + imported
        self.errors.extend(errors)

    def merge(self, other: ImportReport) -> ImportReport:
        """Fold another report into this one (returns self for chaining)."""
        self.rows_read += other.rows_read
        self.rows_imported += other.rows_imported
        for name, count in other.per_file.items():
            self.per_file[name] = self.per_file.get(name, 0) + count
        self.errors.extend(other.errors)
        self.add_repair_counts(other.repairs, other.repair_examples)
        self.notes.extend(other.notes)
        return self

    def add_repair_counts(self, counts: dict[str, int], examples: dict[str, list[str]]) -> None:
        """Fold repair counts and examples in (at most ``MAX_EXAMPLES`` kept per category)."""
        for name, count in counts.items():
            self.repairs[name] = self.repairs.get(name, 0) + int(count)
        for name, lines in examples.items():
            kept = self.repair_examples.setdefault(name, [])
            kept.extend(lines[: max(0, MAX_EXAMPLES - len(kept))])

    def error_counts(self) -> dict[str, int]:
        """Rejected rows per reason (the text before any quoted value)."""
        out: dict[str, int] = {}
        for err in self.errors:
            key = err.reason.split(" '")[0].split(", kept")[0]
            key = "duplicate" if key.startswith("duplicate") else key
            out[key] = out.get(key, 0) + 1
        return out

    def summary(self, max_errors: int = 10) -> str:
        """A short human-readable account, listing the first ``max_errors`` errors."""
        lines = [
            f"read {self.rows_read} rows, imported {self.rows_imported} "
            f"from {len(self.per_file)} file(s)/symbol(s), rejected {len(self.errors)}"
        ]
        lines += [f"  {err}" for err in self.errors[:max_errors]]
        if len(self.errors) > max_errors:
            lines.append(f"  ... and {len(self.errors) - max_errors} more")
        for name, count in sorted(self.repairs.items()):
            lines.append(
                f"  repaired {count} x {name}, e.g. {'; '.join(self.repair_examples.get(name, [])[:2])}"
            )
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


@dataclass
class SourceResult:
    """A fetch's outcome: the daily frame plus where it came from and whether it is simulated."""

    frame: pd.DataFrame
    report: ImportReport
    source: str
    simulated: bool = False
    #: symbol -> exchange the source knows (e.g. from a ``hose/`` or ``hnx/`` folder name)
    exchanges: dict[str, str] = field(default_factory=dict)

    @property
    def symbols(self) -> list[str]:
        return sorted(self.frame[SYMBOL].unique().tolist()) if len(self.frame) else []


class DataSource(ABC):
    """A provider of daily OHLCV bars for Vietnamese symbols."""

    name: str = "base"
    simulated: bool = False

    @abstractmethod
    def fetch(
        self,
        symbols: list[str] | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
        progress: Progress | None = None,
    ) -> SourceResult:
        """Daily bars of ``symbols`` (all the source has when None) in ``[start, end]`` inclusive."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def empty_daily() -> pd.DataFrame:
    """An empty frame with the contract's columns and dtypes."""
    frame = pd.DataFrame({SYMBOL: pd.Series([], dtype=str)})
    frame[DATE] = pd.Series([], dtype="datetime64[ns]")
    for col in OHLCV:
        frame[col] = pd.Series([], dtype="float64")
    return frame


def to_timestamp(value: DateLike | None) -> pd.Timestamp | None:
    """Parse a user-supplied bound (ISO string, date, datetime) to a midnight timestamp."""
    if value is None:
        return None
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError) as exc:
        raise SourceError(f"invalid date {value!r}: use ISO format YYYY-MM-DD") from exc
    if ts.tzinfo is not None:
        ts = ts.tz_localize(None)
    return ts.normalize()


def normalise_daily(df: pd.DataFrame, keep: Literal["first", "last"] = "last") -> pd.DataFrame:
    """Coerce a parsed frame to the daily contract.

    Upper-case stripped symbols, ``datetime64[ns]`` midnight dates without time zone, float prices
    and volume, optional ``adj_close`` kept, other columns dropped, sorted by (symbol, date) and
    unique on it (``keep`` chooses which duplicate survives; callers that care report duplicates
    themselves before calling this). Values are not judged: that is the store's job.
    """
    missing = [c for c in DAILY_COLUMNS if c not in df.columns]
    if missing:
        raise SourceError(
            f"daily frame lacks column(s) {missing}; required: {DAILY_COLUMNS}"
            f" (optional: {OPTIONAL_DAILY_COLUMNS})"
        )
    cols = DAILY_COLUMNS + [c for c in OPTIONAL_DAILY_COLUMNS if c in df.columns]
    if FLAGS_COLUMN in df.columns:
        cols.append(FLAGS_COLUMN)
    out = df.loc[:, cols].copy()
    out[SYMBOL] = out[SYMBOL].astype(str).str.strip().str.upper()
    dates = out[DATE]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        try:
            dates = pd.to_datetime(dates, format="ISO8601", utc=False)
        except (ValueError, TypeError) as exc:
            raise SourceError(
                f"dates must be datetimes or ISO strings (YYYY-MM-DD): {exc}"
            ) from exc
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    out[DATE] = dates.dt.normalize().astype("datetime64[ns]")
    for col in cols[2:]:
        if col == FLAGS_COLUMN:
            out[col] = pd.to_numeric(out[col], errors="coerce").fillna(0).astype("int64")
        else:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    out = out.dropna(subset=[DATE])
    out = out.drop_duplicates(subset=[SYMBOL, DATE], keep=keep)
    out = out.sort_values([SYMBOL, DATE], kind="mergesort").reset_index(drop=True)
    out[SYMBOL] = out[SYMBOL].astype(str)
    return out


def filter_range(
    df: pd.DataFrame,
    symbols: list[str] | None,
    start: DateLike | None,
    end: DateLike | None,
) -> pd.DataFrame:
    """Keep the rows of ``symbols`` (None = all) within ``[start, end]`` (None = open-ended)."""
    mask = np.ones(len(df), dtype=bool)
    if symbols is not None:
        wanted = {s.strip().upper() for s in symbols}
        mask &= df[SYMBOL].isin(wanted).to_numpy()
    lo, hi = to_timestamp(start), to_timestamp(end)
    if lo is not None:
        mask &= (df[DATE] >= lo).to_numpy()
    if hi is not None:
        mask &= (df[DATE] <= hi).to_numpy()
    return df.loc[mask].reset_index(drop=True)
