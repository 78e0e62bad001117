"""Issue 13: keep every real bar, adjust like the publisher, know each symbol's exchange and unit.

Unit tests on small generated files, plus one integration test on a slice of the real
whole-market exports (``../shared/data/vn-exchanges``; skipped when absent). The full figures are
printed by ``benchmarks/bench_data_fidelity.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from stockvision.data.export import export_daily, export_frame
from stockvision.data.ingest import ingest
from stockvision.data.repair import FLAGS
from stockvision.data.sources.csv_source import CsvSource
from stockvision.data.store import Store
from stockvision.data.validation import validate_daily
from stockvision.market.corporate_actions import detect_corporate_actions
from stockvision.market.source_adjust import factors_from_adjusted

# same default as tests/conftest.py: ../shared/data beside the repository, or SV_SHARED_DATA
_ROOT = Path(__file__).resolve().parents[2]
VN_EXCHANGES = (
    Path(os.environ.get("SV_SHARED_DATA", _ROOT.parent / "shared" / "data")) / "vn-exchanges"
)


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _walk(n: int, start: float, seed: int, step: float = 0.02) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.round(start * np.exp(np.cumsum(rng.normal(0, step, n))) / 100) * 100


def _file(closes: np.ndarray, start: str = "2018-01-02", adj: np.ndarray | None = None) -> str:
    days = pd.bdate_range(start, periods=len(closes))
    lines = [",Date,High,Low,Open,Close,Volume" + (",Adj Close" if adj is not None else "")]
    for i, (d, c) in enumerate(zip(days, closes, strict=True)):
        row = f"{i},{d:%d/%m/%Y},{c},{c},{c},{c},1000"
        lines.append(row + (f",{adj[i]:.0f}" if adj is not None else ""))
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------ keep every bar
def test_whole_market_style_rows_are_all_kept_and_counted_with_file_line(tmp_path: Path) -> None:
    text = (
        ",Date,High,Low,Open,Close,Volume,Adj Close\n"
        "0,02/01/2019,10100,9900,10000,10000,500,9000\n"  # line 2: as read
        "1,03/01/2019,10000,10000,-,10000,-,9000\n"  # 3: no trade
        "2,04/01/2019,10300,10100,-,10200,300,9200\n"  # 4: traded, open missing
        "3,07/01/2019,10400,10200,9900,10300,200,9300\n"  # 5: open below low (reference)
        "4,08/01/2019,10200,10100,10150,10500,100,9450\n"  # 6: close above high
        "5,09/01/2019,-,-,-,-,-,-\n"  # 7: no close at all: irreparable
    )
    res = CsvSource(_write(tmp_path / "hnx" / "SHS.csv", text)).fetch()
    f = res.frame.set_index("date")
    assert len(f) == 5 and res.report.rows_read == 6
    assert [e.line for e in res.report.errors] == [7]
    assert res.report.repairs == {
        "no_trade": 1,
        "open_filled": 1,
        "open_clamped": 1,
        "range_extended": 1,
    }
    assert (
        "SHS.csv:3: SHS 2019-01-03 O=- H=10000 L=10000 C=10000 V=-"
        in (res.report.repair_examples["no_trade"][0])
    )
    no_trade = f.loc["2019-01-03"]
    assert no_trade["volume"] == 0 and no_trade["flags"] == FLAGS["no_trade"]
    assert f.loc["2019-01-07", "open"] == 10200  # clamped into [low, high]
    assert (f.loc["2019-01-08", "high"], f.loc["2019-01-08", "close"]) == (10500, 10500)
    assert res.exchanges == {"SHS": "HNX"}  # the folder's name
    good, report = validate_daily(res.frame)
    assert len(good) == 5 and report.n_rejected == 0 and report.repairs == {}  # idempotent


# ------------------------------------------------------------------------------------- units
def test_thousand_vnd_and_vnd_files_of_one_symbol_end_on_one_scale(tmp_path: Path) -> None:
    closes = _walk(60, 70_000, seed=1)
    vnd = _write(tmp_path / "a" / "VNM.csv", _file(closes[:30]))
    thousand = _file(closes[30:] / 1000, start="2018-02-13")
    k = _write(tmp_path / "b" / "VNM.csv", thousand)
    res = CsvSource([vnd, k]).fetch()
    assert any("thousand VND" in note and "VNM" in note for note in res.report.notes)
    np.testing.assert_allclose(res.frame["close"].to_numpy(), closes)
    converted = (res.frame["flags"].to_numpy() & FLAGS["unit_converted"]) > 0
    assert converted.sum() == 30
    forced = CsvSource(k, price_unit="vnd").fetch().frame  # the override wins
    assert forced["close"].max() < 1_000


def test_index_is_never_converted_nor_given_no_trade_bars(tmp_path: Path) -> None:
    text = "Date,Price,Open,High,Low,Vol.\n2019-03-15,925.1,925.1,925.1,925.1,-\n"
    text += "2019-03-18,932.75,927.16,935.0,926.0,61.80K\n"
    f = CsvSource(_write(tmp_path / "VN30.csv", text)).fetch().frame
    assert f["close"].tolist() == [925.1, 932.75]
    assert np.isnan(f["volume"].iloc[0])  # unknown, not 0: an index has no "no-trade" day
    assert f["flags"].iloc[0] == FLAGS["volume_missing"]


def test_intraday_file_is_aggregated_to_daily_bars_with_a_report_line(tmp_path: Path) -> None:
    text = "time,open,high,low,close,volume\n"
    text += "2024-01-02 14:45:00,70900,70900,69500,69800,300\n"  # newest first, as exported
    text += "2024-01-02 09:30:00,70400,71000,70200,70900,200\n"
    text += "2024-01-02 09:15:00,70100,70500,70000,70400,100\n"
    res = CsvSource(_write(tmp_path / "VNM.csv", text)).fetch()
    bar = res.frame.iloc[0]
    assert len(res.frame) == 1 and res.report.errors == []
    assert (bar["open"], bar["high"], bar["low"], bar["close"], bar["volume"]) == (
        70100, 71000, 69500, 69800, 600,
    )  # fmt: skip
    assert bar["flags"] & FLAGS["aggregated"]
    assert any("aggregated to 1 daily bars" in note for note in res.report.notes)


# ---------------------------------------------------------------------------------- adjustment
def test_source_factor_ignores_the_publishers_rounding_and_keeps_its_events() -> None:
    n = 120
    close = _walk(n, 20_000, seed=3)
    close[60:] = np.round(close[60:] / 1.2 / 100) * 100  # a 20 % stock dividend on day 60
    true = np.where(np.arange(n) < 60, 1 / 1.2, 1.0) * 0.95  # + later dividends in the level
    adj = np.round(close * true / 100) * 100  # the publisher rounds to 100 VND
    adj[30] += 300  # and a row from another series
    daily = pd.DataFrame(
        {"symbol": "AAA", "date": pd.bdate_range("2018-01-02", periods=n), "close": close}
    ).assign(open=close, high=close, low=close, volume=1.0, adj_close=adj)
    factor, covered, events = factors_from_adjusted(daily)
    assert covered.all()
    np.testing.assert_allclose(factor[60:], 1.0)
    np.testing.assert_allclose(factor[:60], 1 / 1.2, rtol=0.01)
    assert len(np.unique(np.round(factor, 6))) == 2  # piecewise constant, no daily noise
    assert events["date"].tolist() == [daily["date"][60]]
    assert events["kind"].iloc[0] == "stock_dividend" and events["method"].iloc[0] == "source"


def test_strict_detection_keeps_payout_drops_only() -> None:
    n = 40
    close = np.full(n, 20_000.0)
    close[10:] = 16_000  # a 25 % stock dividend: permanent
    close[25] = 14_000  # a bad print, undone the next day
    close[30:] = close[30:] * 1.09  # a 9 % rise: no corporate action raises a price
    daily = pd.DataFrame(
        {"symbol": "AAA", "date": pd.bdate_range("2019-01-02", periods=n), "close": close}
    ).assign(open=close, high=close, low=close, volume=1.0)
    strict = detect_corporate_actions(daily, "HOSE", infer_band=True, require_payout=True)
    assert strict["date"].tolist() == [daily["date"][10]]
    assert strict["ratio"].iloc[0] == pytest.approx(0.8)
    loose = detect_corporate_actions(daily, "HOSE")
    assert len(loose) == 4  # the old rule: every band break is an event


def test_unknown_exchange_is_never_hose_and_is_reported(tmp_path: Path) -> None:
    closes = _walk(50, 10_000, seed=5)
    closes[20:] = np.round(closes[20:] * 0.91 / 100) * 100  # a 9 % drop: legal on HNX/UPCoM
    path = _write(tmp_path / "files" / "QQX.csv", _file(closes))
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    result = ingest(store, CsvSource(path))
    assert result.corporate_actions == 0
    assert any("exchange unknown" in note and "QQX" in note for note in result.notes)
    assert store.read_symbols().set_index("symbol").loc["QQX", "exchange"] is None
    again = ingest(store, CsvSource(path), exchange="HOSE")  # --exchange HOSE: band rules apply
    assert store.read_symbols().set_index("symbol").loc["QQX", "exchange"] == "HOSE"
    assert again.corporate_actions == 1


def test_export_has_the_contract_columns_and_adj_close_is_close_times_factor(
    tmp_path: Path,
) -> None:
    closes = _walk(30, 30_000, seed=2)
    closes[15:] = np.round(closes[15:] / 1.5 / 100) * 100
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    ingest(store, CsvSource(_write(tmp_path / "hose" / "FPT.csv", _file(closes))))
    frame = export_frame(store)
    assert list(frame.columns) == [
        "symbol", "date", "open", "high", "low", "close", "volume", "factor", "adj_close", "flags",
    ]  # fmt: skip
    np.testing.assert_allclose(frame["adj_close"], frame["close"] * frame["factor"])
    assert frame["factor"].iloc[0] == pytest.approx(1 / 1.5)
    for name in ("out.parquet", "out.csv"):
        assert export_daily(store, tmp_path / name) == 30
    back = pd.read_csv(tmp_path / "out.csv", keep_default_na=False)
    assert back["date"].iloc[0] == "2018-01-02" and set(back["flags"]) == {""}


# ---------------------------------------------------------------------------- real exports
@pytest.mark.integration
def test_real_whole_market_slice_keeps_rows_and_matches_the_publisher(tmp_path: Path) -> None:
    if not VN_EXCHANGES.is_dir():
        pytest.skip(f"real whole-market exports not found at {VN_EXCHANGES}")
    files = sorted((VN_EXCHANGES / "hose").glob("*.csv"))[:15]
    files += sorted((VN_EXCHANGES / "hnx").glob("*.csv"))[:15]
    res = CsvSource(files).fetch()
    good, _ = validate_daily(res.frame)
    irreparable = res.report.rows_read - len(good)
    assert irreparable <= 0.0005 * res.report.rows_read
    assert res.report.repairs.get("no_trade", 0) > 0
    assert set(res.exchanges.values()) == {"HOSE", "HNX"}

    factor, _, _ = factors_from_adjusted(good)
    codes, _ = pd.factorize(good["symbol"])
    adj, close = good["adj_close"].to_numpy(), good["close"].to_numpy()
    ratio = pd.Series(adj / close).groupby(codes).ffill().groupby(codes).transform("last")
    mask = np.isfinite(adj) & (adj >= 5_000)
    err = np.abs(np.log(close[mask] * factor[mask] / (adj[mask] / ratio.to_numpy()[mask])))
    assert np.median(err) <= 0.005 and np.percentile(err, 95) <= 0.02

    hnx = good[good["symbol"].map(res.exchanges) == "HNX"].drop(columns="adj_close")
    found = detect_corporate_actions(hnx, exchange_of="HNX", infer_band=True, require_payout=True)
    assert not found["pct_change"].between(-0.10, -0.07).any()  # HNX band: no such inventions


def test_ingest_detects_a_no_trade_rebase_in_an_hnx_file_without_adj_close(tmp_path: Path) -> None:
    # an illiquid HNX name: a 10 % stock dividend's ex-date falls in a no-trade stretch, so the
    # flat reference drops 15,000 -> 13,600 (-9.3 %, inside the band) between two no-trade rows
    closes = _walk(40, 15_000, seed=9, step=0.01)
    closes[20:26] = closes[19]
    closes[23:] = np.round(closes[23:] / 1.1 / 100) * 100
    text = _file(closes, start="2016-03-01").splitlines()
    for i in range(20, 26):  # no-trade rows: '-' for Open and Volume (line i + 1 is row i)
        cells = text[i + 1].split(",")
        cells[4], cells[6] = "-", "-"
        text[i + 1] = ",".join(cells)
    path = _write(tmp_path / "hnx" / "NTR.csv", "\n".join(text) + "\n")
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    result = ingest(store, CsvSource(path))
    assert result.corporate_actions == 1
    event = store.read_corporate_actions().iloc[0]
    assert event["date"] == pd.bdate_range("2016-03-01", periods=40)[23]
    assert event["ratio"] == pytest.approx(1 / 1.1, abs=0.005)
