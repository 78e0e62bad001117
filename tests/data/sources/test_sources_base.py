"""The shared source plumbing: contract normalisation, reports, range filters, errors."""

from __future__ import annotations

import pandas as pd
import pytest

from stockvision.data.schema import DAILY_COLUMNS
from stockvision.data.sources.base import (
    ImportReport,
    RowError,
    empty_daily,
    filter_range,
    normalise_daily,
    to_timestamp,
)
from stockvision.errors import SourceError, UnknownSymbolError


def raw_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "extra": [1, 2, 3, 4],
            "symbol": [" vnm ", "fpt", "vnm", "vnm"],
            "date": ["2024-01-03 15:00", "2024-01-02", "2024-01-02", "2024-01-03"],
            "open": ["1", 2, 3, 4],
            "high": [1, 2, 3, 4],
            "low": [1, 2, 3, 4],
            "close": [1, 2, 3, 5],
            "volume": [10, 20, 30, 40],
            "adj_close": [0.5, 1, 1.5, 2.5],
        }
    )


def test_normalise_daily_enforces_the_contract() -> None:
    out = normalise_daily(raw_frame())
    assert list(out.columns) == [*DAILY_COLUMNS, "adj_close"]
    assert out["symbol"].tolist() == ["FPT", "VNM", "VNM"]
    assert out["date"].dtype == "datetime64[ns]"
    assert (out["date"] == out["date"].dt.normalize()).all()
    assert all(out[c].dtype == "float64" for c in ["open", "high", "low", "close", "volume"])
    # duplicates on (symbol, date) after normalising the time away: the last one wins by default
    assert out.loc[out["symbol"] == "VNM", "close"].tolist() == [3.0, 5.0]
    first = normalise_daily(raw_frame(), keep="first")
    assert first.loc[first["symbol"] == "VNM", "close"].tolist() == [3.0, 1.0]


def test_normalise_daily_drops_timezones_and_names_missing_columns() -> None:
    frame = raw_frame()
    frame["date"] = pd.to_datetime(frame["date"], format="ISO8601").dt.tz_localize(
        "Asia/Ho_Chi_Minh"
    )
    assert normalise_daily(frame)["date"].dt.tz is None
    with pytest.raises(SourceError, match="volume"):
        normalise_daily(raw_frame().drop(columns=["volume"]))


def test_filter_range_and_dates() -> None:
    daily = normalise_daily(raw_frame())
    assert len(filter_range(daily, None, None, None)) == 3
    assert filter_range(daily, ["vnm"], "2024-01-03", None)["close"].tolist() == [5.0]
    assert filter_range(daily, None, None, "2024-01-02")["symbol"].tolist() == ["FPT", "VNM"]
    assert to_timestamp("2024-01-03T10:00:00+07:00") == pd.Timestamp("2024-01-03")
    assert to_timestamp(None) is None
    with pytest.raises(SourceError, match="YYYY-MM-DD"):
        to_timestamp("yesterday-ish")


def test_import_report_counts_and_summary() -> None:
    report = ImportReport()
    report.add_file("a.csv", 10, 8, [RowError("a.csv", 3, "bad date"), RowError("a.csv", 7, "x")])
    other = ImportReport()
    other.add_file("b.csv", 5, 5, [])
    report.merge(other)
    assert (report.rows_read, report.rows_imported, report.rows_rejected) == (15, 13, 2)
    assert report.per_file == {"a.csv": 8, "b.csv": 5}
    text = report.summary(max_errors=1)
    assert "a.csv:3: bad date" in text and "1 more" in text


def test_empty_daily_and_unknown_symbol_message() -> None:
    empty = empty_daily()
    assert list(empty.columns) == DAILY_COLUMNS and empty["date"].dtype == "datetime64[ns]"
    err = UnknownSymbolError(["XYZ"], source="csv")
    assert err.symbols == ["XYZ"] and "XYZ" in str(err) and "csv" in str(err)
