"""Pre-write validation of daily bars: what may enter the store, and an account of what may not.

Sources only parse (``data.sources.base``); this module judges. Every row that fails a check is
*rejected with a reason* and reported, never dropped silently. Anomalies that do not make a row
wrong (unsorted input, missing trading days) become warnings. All checks are vectorised boolean
masks over the whole frame, so validating millions of rows takes seconds.

Before judging, repairable rows are repaired and flagged (``data.repair``: no-trade days become flat
bars with volume 0, a missing Open/High/Low is filled, an Open outside the range is clamped, a
Close outside the range extends it, swapped High/Low are swapped back), so only rows that cannot be
repaired reach the rules below and are rejected. Repairs are counted in ``repairs``.

Rules, in the order reasons are listed for a rejected row:

- ``symbol`` and ``date`` present and parseable; ``date`` from 2000-01-01 (before any VN
  exchange) to tomorrow (a one-day allowance for time zones: Vietnam is UTC+7);
- ``open, high, low, close`` present and finite (non-numeric text counts as missing); ``volume``
  finite or missing: a missing volume (exports write "-" for early index history) is kept as NaN and
  counted in the warnings, so volume-based features are NaN there rather than the bar being lost;
- prices strictly positive, volume non-negative, ``adj_close`` (optional) positive when given;
- OHLC consistency: ``low <= high``, ``low <= min(open, close)``, ``max(open, close) <= high``,
  with a relative tolerance of ``1e-6`` for floating-point noise in vendors' numbers;
- duplicates of (symbol, date) among rows that passed the checks above: the **last** occurrence
  wins (a later line is normally a vendor's correction) and the earlier ones are rejected as
  ``duplicate``.

Warnings (rows kept): input not sorted by (symbol, date) -- the output is sorted; dates missing for
a symbol within its own first..last range, against the market calendar formed by the union of
all symbols' dates in the input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from stockvision.data.repair import index_rows, repair_bars
from stockvision.data.schema import (
    DAILY_COLUMNS,
    DATE,
    FLAGS_COLUMN,
    OHLCV,
    OPTIONAL_DAILY_COLUMNS,
    SYMBOL,
)
from stockvision.errors import DataValidationError

PRICE_COLUMNS = ["open", "high", "low", "close"]
#: Relative tolerance of the OHLC consistency checks.
OHLC_TOLERANCE = 1e-6
#: Earliest accepted date (Vietnam's first exchange, HOSE, opened in July 2000).
MIN_DATE = pd.Timestamp("2000-01-01")
REJECTED_COLUMNS = ["row", SYMBOL, DATE, "reason"]
#: A ticker: what exchanges list (VNM, E1VFVN30, VN30F2406) and nothing a page could render as markup.
SYMBOL_RE = r"[A-Z0-9]{1,15}"


@dataclass
class ValidationReport:
    """What validation kept, rejected (with reasons) and warned about.

    ``rejected`` has one row per rejected input row: ``row`` (0-based position in the input),
    ``symbol``, ``date`` and ``reason`` (several reasons joined by ``"; "``). ``gaps`` has one row
    per symbol with missing market days: ``symbol``, ``missing_days``.
    """

    n_input: int = 0
    n_valid: int = 0
    rejected: pd.DataFrame = field(default_factory=lambda: _empty_rejected())
    warnings: list[str] = field(default_factory=list)
    gaps: pd.DataFrame = field(
        default_factory=lambda: pd.DataFrame(
            {SYMBOL: pd.Series([], dtype=str), "missing_days": pd.Series([], dtype="int64")}
        )
    )
    was_sorted: bool = True
    #: rows kept after a repair, per ``data.repair.FLAGS`` category (repairs a source already
    #: counted with file:line are not counted again)
    repairs: dict[str, int] = field(default_factory=dict)

    @property
    def n_rejected(self) -> int:
        return len(self.rejected)

    @property
    def n_duplicates(self) -> int:
        return int(self.rejected["reason"].str.startswith("duplicate").sum())

    @property
    def ok(self) -> bool:
        """True when no row was rejected (warnings allowed)."""
        return self.n_rejected == 0

    def reason_counts(self) -> dict[str, int]:
        """How many rows failed each individual check (a row can fail several)."""
        if self.rejected.empty:
            return {}
        reasons = self.rejected["reason"].str.split("; ").explode()
        reasons = reasons.str.replace(r" \(.*\)$", "", regex=True)
        return {str(k): int(v) for k, v in reasons.value_counts().sort_index().items()}

    def to_dict(self, max_rows: int = 100) -> dict[str, Any]:
        """A JSON-serialisable account; lists at most ``max_rows`` rejected rows."""
        head = self.rejected.head(max_rows)
        rows = [
            {
                "row": int(r.row),
                "symbol": None if pd.isna(r.symbol) else str(r.symbol),
                "date": None if pd.isna(r.date) else pd.Timestamp(r.date).date().isoformat(),
                "reason": str(r.reason),
            }
            for r in head.itertuples(index=False)
        ]
        return {
            "n_input": self.n_input,
            "n_valid": self.n_valid,
            "n_rejected": self.n_rejected,
            "n_duplicates": self.n_duplicates,
            "reason_counts": self.reason_counts(),
            "rejected": rows,
            "rejected_truncated": self.n_rejected > len(rows),
            "warnings": list(self.warnings),
            "gaps": {
                str(s): int(n)
                for s, n in zip(self.gaps[SYMBOL], self.gaps["missing_days"], strict=True)
            },
            "was_sorted": self.was_sorted,
            "repairs": dict(self.repairs),
        }

    def summary(self, max_rows: int = 10) -> str:
        """A short human-readable account for logs and the CLI."""
        lines = [f"{self.n_input} rows in, {self.n_valid} valid, {self.n_rejected} rejected"]
        for reason, count in self.reason_counts().items():
            lines.append(f"  {count:>8} x {reason}")
        for r in self.rejected.head(max_rows).itertuples(index=False):
            when = "?" if pd.isna(r.date) else pd.Timestamp(r.date).date().isoformat()
            sym = "?" if pd.isna(r.symbol) else r.symbol
            lines.append(f"  row {r.row}: {sym} {when}: {r.reason}")
        if self.n_rejected > max_rows:
            lines.append(f"  ... and {self.n_rejected - max_rows} more rejected rows")
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


def _empty_rejected() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row": pd.Series([], dtype="int64"),
            SYMBOL: pd.Series([], dtype=str),
            DATE: pd.Series([], dtype="datetime64[ns]"),
            "reason": pd.Series([], dtype=str),
        }
    )


def _coerce(
    frame: pd.DataFrame, limit: pd.Timestamp
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Normalise types without judging: bad values become NaN/NaT/None, checked afterwards.

    Also returns the masks of dates after ``limit`` and before ``MIN_DATE``, taken before the
    conversion to nanoseconds (which cannot represent, say, year 2999: those become NaT).
    """
    missing = [c for c in DAILY_COLUMNS if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"daily frame lacks column(s) {missing}; required {DAILY_COLUMNS} "
            f"(optional {OPTIONAL_DAILY_COLUMNS}). Rename the source's columns to these names."
        )
    cols = DAILY_COLUMNS + [c for c in OPTIONAL_DAILY_COLUMNS if c in frame.columns]
    out = frame.loc[:, cols].reset_index(drop=True)
    out[FLAGS_COLUMN] = (
        pd.to_numeric(frame[FLAGS_COLUMN], errors="coerce").fillna(0).astype("int64").to_numpy()
        if FLAGS_COLUMN in frame.columns
        else np.zeros(len(out), dtype="int64")
    )
    sym = out[SYMBOL].astype("string").str.strip().str.upper()
    out[SYMBOL] = sym.mask(sym == "")
    dates = out[DATE]
    if not pd.api.types.is_datetime64_any_dtype(dates):
        dates = pd.to_datetime(dates, errors="coerce", format="mixed")
    if getattr(dates.dt, "tz", None) is not None:
        dates = dates.dt.tz_localize(None)
    dates = dates.dt.normalize()
    future = (dates > limit).to_numpy()
    too_old = (dates < MIN_DATE).to_numpy()
    out[DATE] = dates.where(~(future | too_old)).astype("datetime64[ns]")
    # the dates as read, for the report of rejected rows (never NaT for a date that was read,
    # e.g. one before 2000; only dates nanoseconds cannot hold, like year 2999, stay unknown)
    try:
        out.attrs["dates_as_read"] = dates.astype("datetime64[ns]").to_numpy()
    except (OverflowError, ValueError, pd.errors.OutOfBoundsDatetime):
        out.attrs["dates_as_read"] = dates.where(~future).astype("datetime64[ns]").to_numpy()
    for col in cols[2:]:
        if col == FLAGS_COLUMN:
            continue
        if out[col].dtype != np.float64:
            out[col] = pd.to_numeric(out[col], errors="coerce").astype("float64")
    return out, future, too_old


def _gaps(good: pd.DataFrame) -> pd.DataFrame:
    """Per symbol, the market days (union of all dates) missing within its first..last range."""
    if good.empty:
        return ValidationReport().gaps
    calendar = np.unique(good[DATE].to_numpy())
    by = good.groupby(SYMBOL, sort=True)[DATE]
    first, last, rows = by.min(), by.max(), by.size()
    span = np.searchsorted(calendar, last.to_numpy(), side="right") - np.searchsorted(
        calendar, first.to_numpy(), side="left"
    )
    missing = span - rows.to_numpy()
    gaps = pd.DataFrame({SYMBOL: first.index.astype(str), "missing_days": missing.astype("int64")})
    return gaps[gaps["missing_days"] > 0].reset_index(drop=True)


def _is_sorted(frame: pd.DataFrame) -> bool:
    """True when rows are strictly increasing in (symbol, date)."""
    if len(frame) < 2:
        return True
    sym = frame[SYMBOL].to_numpy(dtype=object)
    day = frame[DATE].to_numpy()
    same = sym[1:] == sym[:-1]
    return bool(np.all((sym[1:] > sym[:-1]) | (same & (day[1:] > day[:-1]))))


def validate_daily(
    frame: pd.DataFrame, today: pd.Timestamp | None = None
) -> tuple[pd.DataFrame, ValidationReport]:
    """Split ``frame`` into the rows fit for the store and a report of the rest.

    Returns ``(good, report)``: ``good`` follows the daily contract (upper-case symbols,
    ``datetime64[ns]`` dates, float64 values, sorted by (symbol, date), unique on it, index reset).
    ``today`` (default: now) bounds the accepted dates. Raises ``DataValidationError`` only when
    required columns are missing.
    """
    limit = (pd.Timestamp.now() if today is None else pd.Timestamp(today)).normalize()
    limit += pd.Timedelta(days=1)
    data, future, too_old = _coerce(frame, limit)
    as_read = data.attrs.pop("dates_as_read", data[DATE].to_numpy())
    n = len(data)
    repaired = repair_bars(data, keep_volume_nan=index_rows(data[SYMBOL]))
    data = repaired.frame
    repair_counts = repaired.counts()

    o, h, lo, c, v = (data[col].to_numpy() for col in OHLCV)
    finite = {col: np.isfinite(data[col].to_numpy()) for col in OHLCV}
    with np.errstate(invalid="ignore"):
        tol = 1 + OHLC_TOLERANCE
        checks: list[tuple[str, np.ndarray]] = [
            ("missing symbol", data[SYMBOL].isna().to_numpy()),
            (
                "invalid symbol (letters and digits only, e.g. VNM or E1VFVN30)",
                ~data[SYMBOL].fillna("A").str.fullmatch(SYMBOL_RE).to_numpy(dtype=bool),
            ),
            ("missing or unparseable date", data[DATE].isna().to_numpy() & ~future & ~too_old),
            ("date in the future", future),
            (f"date before {MIN_DATE.date()}", too_old),
        ]
        checks += [(f"missing or non-finite {col}", ~finite[col]) for col in PRICE_COLUMNS]
        checks.append(("non-finite volume", np.isinf(v)))
        checks += [(f"{col} <= 0", data[col].to_numpy() <= 0) for col in PRICE_COLUMNS]
        checks.append(("volume < 0", v < 0))
        if "adj_close" in data.columns:
            adj = data["adj_close"].to_numpy()
            checks.append(("adj_close <= 0 or non-finite", (adj <= 0) | np.isinf(adj)))
        checks += [
            ("low > high", lo > h * tol),
            ("low > min(open, close)", lo > np.fmin(o, c) * tol),
            ("max(open, close) > high", np.fmax(o, c) > h * tol),
        ]
    bad = np.zeros(n, dtype=bool)
    for _, mask in checks:
        bad |= mask

    # Duplicates among otherwise valid rows: keep the last occurrence.
    dup = np.zeros(n, dtype=bool)
    valid_idx = np.flatnonzero(~bad)
    if len(valid_idx):
        keys = data.loc[valid_idx, [SYMBOL, DATE]]
        dup[valid_idx[keys.duplicated(keep="last").to_numpy()]] = True

    rejected_idx = np.flatnonzero(bad | dup)
    reasons = pd.Series("", index=rejected_idx, dtype=object)
    for name, mask in checks:
        hit = mask[rejected_idx]
        if hit.any():
            reasons[hit] = reasons[hit] + name + "; "
    reasons[dup[rejected_idx]] = "duplicate (symbol, date): a later row supersedes it; "
    rejected = pd.DataFrame(
        {
            "row": rejected_idx.astype("int64"),
            SYMBOL: data[SYMBOL].to_numpy()[rejected_idx],
            DATE: np.where(
                np.isnat(data[DATE].to_numpy()[rejected_idx]),
                as_read[rejected_idx],
                data[DATE].to_numpy()[rejected_idx],
            ),
            "reason": reasons.str[:-2].to_numpy(),
        }
    )
    rejected[SYMBOL] = rejected[SYMBOL].astype(object)
    rejected["reason"] = rejected["reason"].astype(str)

    good = data.loc[~(bad | dup)]
    keys_sorted = _is_sorted(good)
    warnings: list[str] = []
    if not keys_sorted:
        good = good.sort_values([SYMBOL, DATE], kind="mergesort")
        warnings.append("input was not sorted by (symbol, date); rows were sorted")
    good = good.reset_index(drop=True)
    good[SYMBOL] = good[SYMBOL].astype(str)
    no_volume = int(good["volume"].isna().sum())
    if no_volume:
        warnings.append(
            f"{no_volume} row(s) have no volume (kept; volume-based features are missing for them)"
        )

    gaps = _gaps(good)
    if len(gaps):
        worst = gaps.sort_values("missing_days", ascending=False).head(5)
        listed = ", ".join(
            f"{s} ({m})" for s, m in zip(worst[SYMBOL], worst["missing_days"], strict=True)
        )
        warnings.append(
            f"{len(gaps)} symbol(s) miss {int(gaps['missing_days'].sum())} market day(s) within "
            f"their own date range, e.g. {listed} (suspensions or incomplete source data)"
        )
    report = ValidationReport(
        n_input=n,
        n_valid=len(good),
        rejected=rejected,
        warnings=warnings,
        gaps=gaps,
        was_sorted=keys_sorted,
        repairs=repair_counts,
    )
    return good, report
