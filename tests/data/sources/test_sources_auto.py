"""AutoSource fallbacks and the get_source factory."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from stockvision.config import Settings, get_settings
from stockvision.data.sources import (
    AutoSource,
    CsvSource,
    SourceError,
    SourceUnavailableError,
    SyntheticSource,
    TokenBucket,
    VnstockSource,
    generate_market,
    get_source,
)


class OneBar:
    """A vnstock-like client whose every history call returns one bar (thousand VND)."""

    def __init__(self) -> None:
        self.calls = 0

    def stock(self, symbol: str | None = None, source: str | None = None):
        owner = self

        class Quote:
            def history(self, start: str, end: str, interval: str = "1D") -> pd.DataFrame:
                owner.calls += 1
                return pd.DataFrame(
                    {"time": [pd.Timestamp(start)], "open": [10.0], "high": [11.0],
                     "low": [9.5], "close": [10.5], "volume": [1000]}
                )  # fmt: skip

        class Listing:
            def all_symbols(self) -> pd.DataFrame:
                return pd.DataFrame({"symbol": ["VNM"], "organ_name": ["Vinamilk"]})

        stock = type("Stock", (), {})()
        stock.quote, stock.listing = Quote(), Listing()
        return stock


class Offline:
    def stock(self, symbol: str | None = None, source: str | None = None):
        raise ConnectionError("Network is unreachable")


def vnstock_with(client, **kw) -> VnstockSource:
    return VnstockSource(
        get_settings(),
        client_factory=lambda: client,
        rate_limiter=TokenBucket(6000, burst=100, sleep=lambda s: None),
        sleep=lambda s: None,
        today=lambda: date(2024, 6, 28),
        **kw,
    )


def stored_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "symbol": ["vnm", "vnm", "fpt"],
            "date": pd.to_datetime(["2024-01-02", "2024-01-03", "2024-01-02"]),
            "open": [1.0, 1.0, 2.0], "high": [1.0, 1.0, 2.0], "low": [1.0, 1.0, 2.0],
            "close": [1.0, 1.0, 2.0], "volume": [5.0, 5.0, 6.0],
        }
    )  # fmt: skip


def test_uses_vnstock_when_reachable() -> None:
    client = OneBar()
    auto = AutoSource(Settings(), vnstock=vnstock_with(client), probe=lambda: True)
    res = auto.fetch(["VNM"], start="2024-01-02", end="2024-01-05")
    assert res.source == "vnstock" and res.simulated is False and auto.chosen == "vnstock"
    assert res.frame["close"].tolist() == [10_500.0]
    assert client.calls == 1


def test_falls_back_to_store_when_offline() -> None:
    auto = AutoSource(Settings(), store_reader=stored_frame, probe=lambda: False)
    res = auto.fetch(["VNM"], start="2024-01-01", end="2024-01-02")
    assert res.source == "store" and res.simulated is False
    assert res.frame["symbol"].tolist() == ["VNM"] and len(res.frame) == 1


def test_falls_back_when_probe_passes_but_fetch_fails() -> None:
    auto = AutoSource(
        Settings(),
        vnstock=vnstock_with(Offline(), retries=1),
        store_reader=stored_frame,
        probe=lambda: True,
    )
    res = auto.fetch(None, start="2024-01-01", end="2024-01-31")
    assert res.source == "store" and res.symbols == ["FPT", "VNM"]


def test_store_of_simulated_data_stays_flagged_simulated() -> None:
    held = generate_market(n_symbols=3, years=1, seed=1)
    res = AutoSource(Settings(), store_reader=lambda: held, probe=lambda: False).fetch()
    assert res.source == "store" and res.simulated is True


def test_falls_back_to_synthetic_when_nothing_else() -> None:
    synthetic = SyntheticSource(n_symbols=4, years=1, seed=3)
    for reader in (None, lambda: None, lambda: stored_frame().iloc[:0]):
        auto = AutoSource(Settings(), store_reader=reader, synthetic=synthetic, probe=lambda: False)
        res = auto.fetch(["VNM"])  # real tickers are never simulated under their own names
        assert res.source == "synthetic" and res.simulated is True
        assert len(res.symbols) == 4 and all(s.startswith("Z") for s in res.symbols)


def test_default_probe_is_false_without_vnstock_or_network() -> None:
    # vnstock is not installed here (and there is no internet): the probe must say no, fast
    assert AutoSource(Settings(), probe_timeout=0.5).vnstock_reachable() is False


def test_get_source_factory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SV_SYNTHETIC_SYMBOLS", "7")
    monkeypatch.setenv("SV_SYNTHETIC_SEED", "99")
    get_settings.cache_clear()
    syn = get_source("synthetic", get_settings())
    assert isinstance(syn, SyntheticSource) and (syn.n_symbols, syn.seed) == (7, 99)
    assert get_source("synthetic", get_settings(), n_symbols=2).n_symbols == 2

    csv = tmp_path / "VNM.csv"
    csv.write_text("date,open,high,low,close\n2020-01-02,1,2,1,2\n")
    monkeypatch.setenv("SV_CSV_PATHS", str(csv))
    get_settings.cache_clear()
    src = get_source("csv", get_settings())
    assert isinstance(src, CsvSource) and src.paths == [csv]
    assert get_source("csv", get_settings(), paths=[tmp_path]).paths == [tmp_path]
    assert isinstance(get_source("vnstock", get_settings(), client_factory=OneBar), VnstockSource)
    assert isinstance(get_source("AUTO", get_settings()), AutoSource)
    monkeypatch.setenv("SV_SOURCE", "synthetic")
    get_settings.cache_clear()
    assert isinstance(get_source(None, get_settings()), SyntheticSource)
    with pytest.raises(SourceError, match="choose one of"):
        get_source("yahoo", get_settings())


def test_get_csv_without_paths_is_clear() -> None:
    with pytest.raises(SourceUnavailableError, match="SV_CSV_PATHS"):
        get_source("csv", get_settings())


def test_default_fallback_is_the_listed_demo_market_up_to_last_week() -> None:
    settings = Settings(synthetic_symbols=6, synthetic_years=1)
    res = AutoSource(settings, store_reader=None, probe=lambda: False).fetch()
    assert res.source == "synthetic" and res.simulated is True
    assert {"VNM", "FPT", "HPG", "HSG"} <= set(res.symbols)
    age = (pd.Timestamp.now().normalize() - res.frame["date"].max()).days
    assert 1 <= age <= 14  # the last completed trading week (holidays can push it back)
