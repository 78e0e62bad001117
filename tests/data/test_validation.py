"""Pre-write validation of daily bars: every bad row rejected with its reason, nothing silent."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockvision.data.validation import validate_daily
from stockvision.errors import DataValidationError


def _bars(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["symbol", "date", "open", "high", "low", "close", "volume"])


GOOD = [
    ("FPT", "2024-01-02", 100.0, 110.0, 95.0, 105.0, 1000.0),
    ("FPT", "2024-01-03", 105.0, 108.0, 100.0, 101.0, 0.0),
    ("VNM", "2024-01-02", 60.0, 61.0, 59.0, 60.5, 500.0),
    ("VNM", "2024-01-03", 60.5, 62.0, 60.0, 61.0, 700.0),
]


def test_clean_input_passes_untouched_in_contract_types() -> None:
    good, report = validate_daily(_bars(GOOD))

    assert report.ok and report.n_valid == 4 and report.warnings == []
    assert good["date"].dtype == "datetime64[ns]"
    assert good[["open", "high", "low", "close", "volume"]].dtypes.eq("float64").all()
    assert good["symbol"].tolist() == ["FPT", "FPT", "VNM", "VNM"]


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        (("FPT", "2024-01-04", 0.0, 105.0, 0.0, 100.0, 1.0), "open <= 0; low <= 0"),
        (("FPT", "2024-01-04", 100.0, 105.0, 95.0, 100.0, -1.0), "volume < 0"),
        (("FPT", "2024-01-04", 100.0, 105.0, 95.0, np.nan, 1.0), "missing or non-finite close"),
        (("FPT", "2024-01-04", 100.0, np.inf, 95.0, 100.0, 1.0), "missing or non-finite high"),
        (("FPT", "not a date", 100.0, 105.0, 95.0, 100.0, 1.0), "missing or unparseable date"),
        ((None, "2024-01-04", 100.0, 105.0, 95.0, 100.0, 1.0), "missing symbol"),
        (("  ", "2024-01-04", 100.0, 105.0, 95.0, 100.0, 1.0), "missing symbol"),
        (("FPT", "2999-01-04", 100.0, 105.0, 95.0, 100.0, 1.0), "date in the future"),
        (("FPT", "1850-01-04", 100.0, 105.0, 95.0, 100.0, 1.0), "date before 2000-01-01"),
    ],
)
def test_each_bad_row_is_rejected_with_its_reason(row: tuple, reason: str) -> None:
    good, report = validate_daily(_bars([*GOOD, row]))

    assert len(good) == 4
    assert report.rejected["row"].tolist() == [4]
    assert report.rejected["reason"].iloc[0] == reason
    assert report.reason_counts() == dict.fromkeys(reason.split("; "), 1)


@pytest.mark.parametrize(
    ("row", "flag", "fixed"),
    [
        # High < Low, and the swapped range holds Open and Close: swapped back
        (("FPT", "2024-01-04", 100.0, 99.0, 101.0, 100.0, 1.0), "high_low_swapped", (100, 101, 99)),
        # Open below Low (the reference price written into Open): clamped, Close kept
        (("FPT", "2024-01-04", 100.0, 105.0, 101.0, 102.0, 1.0), "open_clamped", (101, 105, 101)),
        # Close above High: the range is extended to the traded Close
        (("FPT", "2024-01-04", 100.0, 105.0, 95.0, 106.0, 1.0), "range_extended", (100, 106, 95)),
        # Open not a number on a traded day: filled from the Close
        (("FPT", "2024-01-04", "n/a", 105.0, 95.0, 100.0, 1.0), "open_filled", (100, 105, 95)),
        # no open, no volume, High = Low = Close: a no-trade day, flat bar with volume 0
        (("FPT", "2024-01-04", np.nan, 100.0, 100.0, 100.0, np.nan), "no_trade", (100, 100, 100)),
    ],
)
def test_repairable_rows_are_kept_repaired_and_flagged(row: tuple, flag: str, fixed: tuple) -> None:
    from stockvision.data.repair import FLAGS

    good, report = validate_daily(_bars([*GOOD, row]))

    assert len(good) == 5 and report.n_rejected == 0
    bar = good[good["date"] == pd.Timestamp("2024-01-04")].iloc[0]
    assert (bar["open"], bar["high"], bar["low"]) == fixed
    assert bar["close"] == row[5]  # a repair never moves the close
    assert int(bar["flags"]) == FLAGS[flag]
    assert report.repairs == {flag: 1}
    assert (good.loc[good["date"] != pd.Timestamp("2024-01-04"), "flags"] == 0).all()
    if flag == "no_trade":
        assert bar["volume"] == 0


def test_high_below_low_that_no_swap_explains_is_rejected() -> None:
    row = ("FPT", "2024-01-04", 120.0, 99.0, 101.0, 100.0, 1.0)  # open outside even when swapped
    good, report = validate_daily(_bars([*GOOD, row]))
    assert len(good) == 4
    assert "low > high" in report.rejected["reason"].iloc[0]


def test_several_reasons_are_listed_together() -> None:
    row = ("FPT", "2024-01-04", 100.0, 90.0, 95.0, -1.0, -3.0)
    _, report = validate_daily(_bars([row]))
    assert report.rejected["reason"].iloc[0].split("; ") == [
        "close <= 0",
        "volume < 0",
        "low > high",
        "low > min(open, close)",
        "max(open, close) > high",
    ]


def test_tiny_float_noise_in_ohlc_is_tolerated() -> None:
    row = ("FPT", "2024-01-04", 100.0, 100.0 * (1 - 1e-9), 95.0, 99.0, 1.0)
    good, report = validate_daily(_bars([row]))
    assert report.ok and len(good) == 1


def test_duplicates_keep_the_last_occurrence() -> None:
    fix = ("fpt", "2024-01-02", 100.0, 110.0, 95.0, 107.0, 1200.0)  # a later correction
    bad_fix = ("FPT", "2024-01-03", 100.0, 90.0, 95.0, 100.0, 1.0)  # invalid: earlier row kept

    good, report = validate_daily(_bars([*GOOD, fix, bad_fix]))

    assert report.n_duplicates == 1 and report.n_rejected == 2
    assert report.rejected.set_index("row")["reason"].to_dict() == {
        0: "duplicate (symbol, date): a later row supersedes it",
        5: "low > high; max(open, close) > high",
    }
    fpt = good[good["symbol"] == "FPT"].set_index("date")
    assert fpt.loc["2024-01-02", "close"] == 107.0
    assert fpt.loc["2024-01-03", "close"] == 101.0


def test_unsorted_input_is_sorted_and_noted() -> None:
    good, report = validate_daily(_bars(GOOD[::-1]))
    assert report.ok and not report.was_sorted
    assert "not sorted" in report.warnings[0]
    pd.testing.assert_frame_equal(good, validate_daily(_bars(GOOD))[0])


def test_gaps_against_market_calendar_are_warnings() -> None:
    rows = [*GOOD, ("VNM", "2024-01-05", 61.0, 62.0, 60.0, 61.0, 1.0)]
    rows += [("FPT", d, 100.0, 101.0, 99.0, 100.0, 1.0) for d in ("2024-01-04", "2024-01-05")]
    rows.append(("HPG", "2024-01-05", 20.0, 21.0, 19.0, 20.0, 1.0))  # listed late: no gap

    good, report = validate_daily(_bars(rows))

    assert report.ok and len(good) == len(rows)
    assert report.gaps.to_dict("records") == [{"symbol": "VNM", "missing_days": 1}]
    assert "VNM (1)" in report.warnings[-1]


def test_missing_columns_raise_a_clear_error() -> None:
    with pytest.raises(DataValidationError, match=r"lacks column\(s\) \['volume'\]"):
        validate_daily(_bars(GOOD).drop(columns="volume"))


def test_report_serialises_to_json_and_reads_well() -> None:
    bad = ("FPT", "2024-01-04", 100.0, 90.0, 95.0, 100.0, 1.0)
    _, report = validate_daily(_bars([*GOOD, bad, (None, None, 1, 1, 1, 1, 1)]))

    payload = json.loads(json.dumps(report.to_dict()))

    assert payload["n_input"] == 6 and payload["n_rejected"] == 2
    assert payload["rejected"][1] == {
        "row": 5,
        "symbol": None,
        "date": None,
        "reason": "missing symbol; missing or unparseable date",
    }
    text = report.summary()
    assert "6 rows in, 4 valid, 2 rejected" in text and "row 4: FPT 2024-01-04" in text


def test_optional_adj_close_is_kept_and_checked() -> None:
    frame = _bars(GOOD).assign(adj_close=[90.0, np.nan, 50.0, -1.0])
    good, report = validate_daily(frame)
    assert "adj_close" in good.columns and np.isnan(good["adj_close"].iloc[1])
    assert report.rejected["reason"].tolist() == ["adj_close <= 0 or non-finite"]


prices = st.floats(min_value=-10, max_value=1e6) | st.sampled_from([np.nan, np.inf, -np.inf])


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["AAA", "BBB", "ccc"]),
            st.integers(0, 9),
            prices,
            prices,
            prices,
            prices,
            st.floats(min_value=-5, max_value=1e9) | st.just(np.nan),
        ),
        max_size=40,
    )
)
def test_every_row_is_either_kept_or_rejected_and_kept_rows_are_sound(rows: list[tuple]) -> None:
    frame = pd.DataFrame(rows, columns=["symbol", "day", "open", "high", "low", "close", "volume"])
    frame["date"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(frame.pop("day"), unit="D")

    good, report = validate_daily(frame)

    assert len(good) + report.n_rejected == len(frame)
    assert not good.duplicated(["symbol", "date"]).any()
    assert good.equals(good.sort_values(["symbol", "date"]).reset_index(drop=True))
    assert np.isfinite(good[["open", "high", "low", "close"]].to_numpy()).all()
    volume = good["volume"].to_numpy()  # unknown volume is kept as NaN (a warning), never inf/<0
    assert (np.isnan(volume) | (np.isfinite(volume) & (volume >= 0))).all()
    assert (good[["open", "high", "low", "close"]] > 0).all().all()
    tol = 1 + 1e-6
    assert (good["low"] <= good[["open", "close"]].min(axis=1) * tol).all()
    assert (good[["open", "close"]].max(axis=1) <= good["high"] * tol).all()


def test_rejected_old_dates_are_reported_with_their_date_not_nat() -> None:
    row = ("FPT", "1999-12-31", 100.0, 105.0, 95.0, 100.0, 1.0)
    _, report = validate_daily(_bars([*GOOD, row]))
    rejected = report.to_dict()["rejected"][0]
    assert rejected["date"] == "1999-12-31" and "NaT" not in report.summary()
