"""CSV import: every export quirk on small generated files, and the real VN30 files."""

from __future__ import annotations

import math
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stockvision.data.schema import DAILY_COLUMNS
from stockvision.data.sources import CsvSource
from stockvision.data.sources.csv_source import (
    normalise_header,
    parse_dates,
    parse_numbers,
    symbol_from_stem,
)
from stockvision.errors import SourceError, SourceUnavailableError, UnknownSymbolError


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def fetch(path: Path, **kw):
    return CsvSource(path, **kw).fetch()


# --- helpers --------------------------------------------------------------------------------
def test_normalise_header_handles_case_accents_punctuation() -> None:
    assert normalise_header(' "Giá đóng cửa" ') == "giadongcua"
    assert normalise_header("Mã") == "ma"
    assert normalise_header("Ngày") == "ngay"
    assert normalise_header("Vol.") == "vol"
    assert normalise_header("Adj Close") == "adjclose"


def test_symbol_from_stem() -> None:
    assert symbol_from_stem("VNM") == "VNM"
    assert symbol_from_stem("VN 30 Historical Data") == "VN30"
    assert symbol_from_stem("vn30_index_daily_2009_2019") == "VN30"
    assert symbol_from_stem("historical_data") == ""


def test_parse_numbers_suffixes_separators_missing_and_garbage() -> None:
    values, bad = parse_numbers(
        pd.Series(["61.80K", "1.2M", "1,234,500", "-", "", " 42 ", "abc", "3B", '"7"'])
    )
    expected = [61_800.0, 1_200_000.0, 1_234_500.0, np.nan, np.nan, 42.0, np.nan, 3e9, 7.0]
    np.testing.assert_allclose(values.to_numpy(), expected, equal_nan=True)
    assert bad.tolist() == [False, False, False, False, False, False, True, False, False]


@pytest.mark.parametrize(
    ("raw", "expected", "fmt"),
    [
        (["2019-06-14", "2019-06-13"], ["2019-06-14", "2019-06-13"], "%Y-%m-%d"),
        (["19/01/2006", "20/01/2006"], ["2006-01-19", "2006-01-20"], "%d/%m/%Y"),
        (["Mar18,2019", "Mar15,2019"], ["2019-03-18", "2019-03-15"], "%b%d,%Y"),
        (
            ["4/1/2015 16:00:00", "4/2/2015 16:00:00", "4/13/2015 16:00:00"],
            ["2015-04-01", "2015-04-02", "2015-04-13"],
            "%m/%d/%Y",
        ),
        (["2019-06-14T00:00:00+07:00"], ["2019-06-14"], "%Y-%m-%d"),
        (["2019-06-14 9:15 AM"], ["2019-06-14"], "%Y-%m-%d"),
        (["19-01-2006", "20-01-2006"], ["2006-01-19", "2006-01-20"], "%d-%m-%Y"),
        (["14 Jun 2019", "17 Jun 2019"], ["2019-06-14", "2019-06-17"], "%d %b %Y"),
    ],
)
def test_parse_dates_formats(raw: list[str], expected: list[str], fmt: str) -> None:
    dates, used = parse_dates(pd.Series(raw))
    assert used == fmt
    assert dates.tolist() == [pd.Timestamp(d) for d in expected]


def test_day_month_ambiguity_resolved_by_monotonic_order() -> None:
    # every value is valid both ways; only month-first keeps the series in order
    dates, used = parse_dates(pd.Series(["5/1/2015", "5/2/2015", "6/1/2015"]))
    assert used == "%m/%d/%Y" and dates.iloc[-1] == pd.Timestamp("2015-06-01")
    # and day-first when that is the only monotonic reading (1 May, 2 May, 1 Jun)
    dates, used = parse_dates(pd.Series(["1/5/2015", "2/5/2015", "1/6/2015"]))
    assert used == "%d/%m/%Y" and dates.iloc[-1] == pd.Timestamp("2015-06-01")
    # monotonic per symbol, not across the whole file
    groups = pd.Series(["A", "A", "A", "B", "B", "B"])
    values = pd.Series(["5/1/2015", "5/2/2015", "6/1/2015"] * 2)
    assert parse_dates(values, groups)[1] == "%m/%d/%Y"
    # both readings monotonic: Vietnam's day-first convention wins
    _, used = parse_dates(pd.Series(["1/1/2015", "2/2/2015"]))
    assert used == "%d/%m/%Y"


# --- file formats ---------------------------------------------------------------------------
def test_vnstock_style_file_one_symbol_from_stem(tmp_path: Path) -> None:
    path = write(
        tmp_path / "VNM.csv",
        "time,open,high,low,close,volume\n"
        "2024-01-02,67000,67500,66500,67100,1234500\n"
        "2024-01-03,67100,68000,67000,67900,2000000\n",
    )
    res = fetch(path)
    assert list(res.frame.columns) == [*DAILY_COLUMNS, "flags"]
    assert res.frame["symbol"].tolist() == ["VNM", "VNM"]
    assert res.frame["close"].tolist() == [67100.0, 67900.0]
    assert res.frame["date"].dtype == "datetime64[ns]"
    assert res.report.rows_read == 2 and res.report.rows_imported == 2
    assert res.source == "csv" and res.simulated is False


def test_investing_style_export_bom_quotes_padding_newest_first(tmp_path: Path) -> None:
    text = (
        '"Date"      ,"Price"   ,"Open"    ,"High"    ,"Low"     ,"Vol."   ,"Change%"\n'
        '"Mar18,2019","1,932.75"  ,"927.16"  ,"935.16"  ,"926.85"  ,"61.80K" ,"0.61%"\n'
        '"Mar15,2019","927.06"  ,"934.87"  ,"934.87"  ,"924.45"  ,"-"      ,"-0.79%"\n'
    )
    path = write(tmp_path / "VN 30 Historical Data.csv", "\ufeff" + text)
    res = fetch(path)
    f = res.frame
    assert f["symbol"].unique().tolist() == ["VN30"]
    assert f["date"].tolist() == [pd.Timestamp("2019-03-15"), pd.Timestamp("2019-03-18")]
    assert f["close"].tolist() == [927.06, 1932.75]
    assert f["volume"].iloc[1] == 61_800.0 and math.isnan(f["volume"].iloc[0])
    assert "Change%" not in f.columns


def test_symbol_argument_and_name_map_override_the_stem(tmp_path: Path) -> None:
    path = write(tmp_path / "export.csv", "date,open,high,low,close\n2020-01-02,1,2,1,2\n")
    assert fetch(path, symbol="vn30").frame["symbol"].iloc[0] == "VN30"
    assert fetch(path, name_map={"export": "HNX30"}).frame["symbol"].iloc[0] == "HNX30"
    nameless = write(tmp_path / "2020.csv", "date,open,high,low,close\n2020-01-02,1,2,1,2\n")
    with pytest.raises(SourceError, match="symbol="):
        fetch(nameless)


def test_many_symbols_per_file_vietnamese_headers_unnamed_index(tmp_path: Path) -> None:
    text = (
        ",Mã,Ngày,Mở cửa,Cao nhất,Thấp nhất,Giá đóng cửa,KL\n"
        "0,fpt,19/01/2006,10,12,9,11,100\n"
        "1,fpt,20/01/2006,11,12,10,12,200\n"
        "2,hpg,19/01/2006,20,21,19,20,300\n"
    )
    res = fetch(write(tmp_path / "mixed.csv", text))
    f = res.frame
    assert f["symbol"].tolist() == ["FPT", "FPT", "HPG"]
    assert f["date"].iloc[1] == pd.Timestamp("2006-01-20")
    assert f["volume"].tolist() == [100.0, 200.0, 300.0]


def test_adj_close_kept_and_close_preferred_over_price(tmp_path: Path) -> None:
    text = (
        "Date,Open,High,Low,Close,Adj Close,Volume\n"
        "2019-06-13,10,11,9,10.5,9.5,1000\n"
        "2019-06-14,10.5,11,10,10.8,9.8,1200\n"
    )
    f = fetch(write(tmp_path / "ACB.csv", text)).frame
    # thousand-VND prices of a listed stock come out in VND (data.convert)
    assert f["close"].tolist() == [10_500, 10_800] and f["adj_close"].tolist() == [9_500, 9_800]


def test_metastock_style_export(tmp_path: Path) -> None:
    text = (
        "<Ticker>,<DTYYYYMMDD>,<Open>,<High>,<Low>,<Close>,<Volume>\n"
        "VNM,20190614,120.5,121,119.8,120.9,1000500\n"
        "VNM,20190613,120,120.8,119.5,120.5,900000\n"
    )
    f = fetch(write(tmp_path / "CafeF.Upto.csv", text)).frame
    assert f["date"].tolist() == [pd.Timestamp("2019-06-13"), pd.Timestamp("2019-06-14")]
    assert f["close"].tolist() == [120_500, 120_900]  # thousand VND, converted to VND


def test_semicolon_delimiter_and_month_first_times(tmp_path: Path) -> None:
    text = (
        "ticker;date;open;high;low;close;volume\n"
        "SSI;4/1/2015 16:00:00;10;11;9;10;5\n"
        "SSI;4/2/2015 16:00:00;10;11;9;10;5\n"
        "SSI;4/13/2015 16:00:00;10;11;9;10;5\n"
    )
    f = fetch(write(tmp_path / "ssi.csv", text)).frame
    assert f["date"].tolist() == [
        pd.Timestamp(d) for d in ("2015-04-01", "2015-04-02", "2015-04-13")
    ]


def test_folder_is_read_recursively(tmp_path: Path) -> None:
    body = "date,open,high,low,close,volume\n2020-01-02,1,2,1,2,10\n"
    write(tmp_path / "data" / "VNM.csv", body)
    write(tmp_path / "data" / "hose" / "FPT.csv", body)
    write(tmp_path / "data" / "notes.txt", "not a csv")
    res = CsvSource(tmp_path / "data").fetch()
    assert res.symbols == ["FPT", "VNM"]
    assert len(res.report.per_file) == 2


def test_fetch_filters_symbols_and_dates(tmp_path: Path) -> None:
    text = "symbol,date,open,high,low,close\n" + "".join(
        f"{s},2020-01-0{d},1,2,1,2\n" for s in ("AAA", "BBB") for d in (2, 3, 6)
    )
    src = CsvSource(write(tmp_path / "x.csv", text))
    res = src.fetch(["bbb"], start="2020-01-03", end="2020-01-06")
    assert res.frame["symbol"].unique().tolist() == ["BBB"] and len(res.frame) == 2
    assert res.report.rows_imported == 6  # the report covers the files, the frame the request
    with pytest.raises(UnknownSymbolError, match="ZZZ"):
        src.fetch(["ZZZ"])


# --- bad input --------------------------------------------------------------------------------
def test_bad_rows_reported_with_file_line_reason_good_rows_kept(tmp_path: Path) -> None:
    text = (
        "date,open,high,low,close,volume\n"  # line 1
        "2020-01-02,1,2,1,2,10\n"  # 2 ok
        "2020-13-45,1,2,1,2,10\n"  # 3 bad date
        "2020-01-06,1,2,1,abc,10\n"  # 4 non-numeric close
        "\n"  # 5 blank: skipped silently
        "2020-01-07,1,2,1,2,10,99\n"  # 6 too many fields
        "2020-01-08,1,2,1,-,10\n"  # 7 missing close
        "2020-01-09,1,2,1,2,lots\n"  # 8 non-numeric volume: kept, volume unknown
        "2020-01-10,1,2,1,2,-\n"  # 9 ok, volume NaN
        "2020-01-02,1,2,1,3,10\n"  # 10 duplicate of line 2
    )
    path = write(tmp_path / "BAD.csv", text)
    res = fetch(path)
    assert res.frame["date"].dt.strftime("%Y-%m-%d").tolist() == [
        "2020-01-02",
        "2020-01-09",
        "2020-01-10",
    ]
    assert res.frame["close"].iloc[0] == 2.0  # the first occurrence is kept
    errors = {e.line: e.reason for e in res.report.errors}
    assert set(errors) == {3, 4, 6, 7, 10}
    assert "unparseable date '2020-13-45'" in errors[3]
    assert "non-numeric close 'abc'" in errors[4]
    assert "expected 6 fields, saw 7" in errors[6]
    assert "missing close" in errors[7]
    assert res.report.repairs["volume_missing"] == 2
    assert any("BAD.csv:8:" in x for x in res.report.repair_examples["volume_missing"])
    assert "duplicate BAD 2020-01-02" in errors[10] and ":2" in errors[10]
    assert all(e.file == str(path) for e in res.report.errors)
    assert res.report.rows_read == 8 and res.report.rows_imported == 3
    assert "BAD.csv:3" in res.report.summary()


def test_missing_columns_error_names_file_column_and_accepted_names(tmp_path: Path) -> None:
    path = write(tmp_path / "VNM.csv", "date,open,high,low\n2020-01-02,1,2,1\n")
    with pytest.raises(SourceError) as info:
        fetch(path)
    message = str(info.value)
    assert "VNM.csv" in message and "close" in message and "price" in message


def test_bad_file_in_a_folder_raises_or_is_skipped(tmp_path: Path) -> None:
    write(tmp_path / "VNM.csv", "date,open,high,low,close\n2020-01-02,1,2,1,2\n")
    write(tmp_path / "README.csv", "note,text\nhello,world\n")
    write(tmp_path / "EMPTY.csv", "")
    with pytest.raises(SourceError, match=r"EMPTY\.csv"):
        CsvSource(tmp_path).fetch()
    res = CsvSource(tmp_path, on_bad_file="skip").fetch()
    assert res.symbols == ["VNM"]
    skipped = sorted(Path(e.file).name for e in res.report.errors)
    assert skipped == ["EMPTY.csv", "README.csv"]
    assert all("file skipped" in e.reason for e in res.report.errors)


def test_title_line_before_header_keeps_line_numbers(tmp_path: Path) -> None:
    text = (
        "Lich su gia VNM\n"  # line 1: a title, not the header
        "date,open,high,low,close\n"
        "2020-01-02,1,2,1,2\n"
        "2020-01-03,1,2,1,2,9\n"  # line 4: one field too many
        "not-a-date,1,2,1,2\n"  # line 5
    )
    res = fetch(write(tmp_path / "VNM.csv", text))
    assert len(res.frame) == 1
    assert [(e.line, e.reason.split(" ")[0]) for e in res.report.errors] == [
        (4, "malformed"),
        (5, "unparseable"),
    ]


def test_missing_paths_are_clear(tmp_path: Path) -> None:
    with pytest.raises(SourceUnavailableError, match="not found"):
        CsvSource(tmp_path / "nope.csv").fetch()
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceUnavailableError, match=r"no \*\.csv"):
        CsvSource(tmp_path / "empty").fetch()
    with pytest.raises(SourceUnavailableError, match="SV_CSV_PATHS"):
        CsvSource([]).fetch()


def test_cp1258_and_utf16_exports_decode(tmp_path: Path) -> None:
    body = "Mã,Ngày,open,high,low,close\nVNM,2020-01-02,1,2,1,2\n"
    assert fetch(write(tmp_path / "a.csv", body, "utf-16")).frame["symbol"].tolist() == ["VNM"]
    decomposed = unicodedata.normalize("NFD", body)  # how cp1258 spells Vietnamese accents
    assert fetch(write(tmp_path / "b.csv", decomposed, "cp1258")).frame["symbol"].tolist() == [
        "VNM"
    ]


# --- the real files ---------------------------------------------------------------------------
@pytest.mark.integration
def test_real_vn30_constituents(vn30_daily_path: Path) -> None:
    res = CsvSource(vn30_daily_path).fetch()
    f = res.frame
    assert len(f) == 22_238 and res.report.rows_imported == 22_238
    assert res.report.errors == []
    assert f["symbol"].nunique() == 30
    assert f["date"].min() == pd.Timestamp("2016-01-04")
    assert f["date"].max() == pd.Timestamp("2019-06-14")
    ctd = f[(f["symbol"] == "CTD") & (f["date"] == "2019-06-14")].iloc[0]
    assert (ctd["open"], ctd["high"], ctd["low"], ctd["close"], ctd["volume"]) == (
        102_500.0,
        104_300.0,
        102_000.0,
        102_300.0,
        468_500.0,
    )
    # unadjusted: HPG's stock dividend shows as a -31% overnight drop on 2016-05-16
    hpg = f[f["symbol"] == "HPG"].set_index("date")["close"]
    assert hpg.pct_change().loc["2016-05-16"] < -0.25
    late = f.groupby("symbol")["date"].min()
    assert late["VHM"] > pd.Timestamp("2018-01-01")


@pytest.mark.integration
def test_real_vn30_index(vn30_index_path: Path) -> None:
    res = CsvSource(vn30_index_path).fetch()
    f = res.frame
    # the file holds 2,542 data rows (2,543 lines, the last one without a newline, so
    # `wc -l` says 2,542): every one of them is a valid bar
    assert len(f) == 2_542 and res.report.errors == []
    assert f["symbol"].unique().tolist() == ["VN30"]
    assert f["date"].min() == pd.Timestamp("2009-01-05")
    assert f["date"].max() == pd.Timestamp("2019-03-18")
    last = f.iloc[-1]
    assert (last["close"], last["open"], last["volume"]) == (932.75, 927.16, 61_800.0)
    assert math.isnan(f.iloc[0]["volume"])  # "-" in the file
    assert f["close"].max() > 1000  # "1,005.04"-style thousands separators parse
