"""VnstockSource at its boundary: a client shaped like ``vnstock.Vnstock()`` returning frames
shaped like vnstock 3.x/4.x VCI answers (``time`` column of dates, stock prices in thousand VND,
int64 volume). No network: the real client cannot be reached here, so its answers are generated.
"""

from __future__ import annotations

import os
import sys
import threading
from datetime import date

import numpy as np
import pandas as pd
import pytest

from stockvision.config import Settings, get_settings
from stockvision.data.sources import TokenBucket, VnstockSource
from stockvision.data.sources.vnstock_source import default_client_factory, is_quoted_in_thousands
from stockvision.errors import SourceUnavailableError, UnknownSymbolError

LISTED = ["ACB", "FPT", "VNM"]


def vci_history(symbol: str, start: str, end: str) -> pd.DataFrame:
    """What ``quote.history(interval='1D')`` returns from VCI: thousand VND for stocks."""
    days = pd.bdate_range(start, end)
    rng = np.random.default_rng(sum(map(ord, symbol)))
    level = 1200.0 if symbol == "VN30" else 60.0  # index points vs thousand VND (60 = 60,000)
    close = level + np.cumsum(rng.normal(0, 0.5, len(days)))
    return pd.DataFrame(
        {
            "time": days.astype("datetime64[ns]"),
            "open": (close - 0.1).round(2),
            "high": (close + 0.5).round(2),
            "low": (close - 0.6).round(2),
            "close": close.round(2),
            "volume": rng.integers(100_000, 2_000_000, len(days)).astype("int64"),
        }
    )


class FakeVnstock:
    """Mimics ``vnstock.Vnstock()``: ``.stock(symbol, source).quote.history(...)`` / ``.listing``."""

    def __init__(self, failures: int = 0, error: Exception | None = None) -> None:
        self.failures = failures
        self.error = error or ConnectionError("Failed to resolve 'trading.vietcap.com.vn'")
        self.history_calls: list[tuple[str, str, str, str]] = []
        self.listing_calls = 0
        self.lock = threading.Lock()

    def stock(self, symbol: str | None = None, source: str | None = None) -> FakeVnstock._Stock:
        return FakeVnstock._Stock(self, symbol or "VN30F1M", source or "VCI")

    class _Stock:
        def __init__(self, owner: FakeVnstock, symbol: str, source: str) -> None:
            self.quote = FakeVnstock._Quote(owner, symbol, source)
            self.listing = FakeVnstock._Listing(owner)

    class _Quote:
        def __init__(self, owner: FakeVnstock, symbol: str, source: str) -> None:
            self.owner, self.symbol, self.source = owner, symbol, source

        def history(self, start: str, end: str, interval: str = "1D") -> pd.DataFrame:
            with self.owner.lock:
                self.owner.history_calls.append((self.symbol, start, end, interval))
                if self.owner.failures > 0:
                    self.owner.failures -= 1
                    raise self.owner.error
            if self.symbol == "NODATA":
                raise ValueError("Không tìm thấy dữ liệu. Vui lòng kiểm tra lại mã chứng khoán")
            return vci_history(self.symbol, start, end)

    class _Listing:
        def __init__(self, owner: FakeVnstock) -> None:
            self.owner = owner

        def all_symbols(self) -> pd.DataFrame:
            self.owner.listing_calls += 1
            return pd.DataFrame({"symbol": [*LISTED, "NODATA"], "organ_name": ["x"] * 4})


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def make_source(fake: FakeVnstock, clock: Clock | None = None, **kw) -> VnstockSource:
    clock = clock or Clock()
    limiter = TokenBucket(6000, burst=100, clock=clock, sleep=clock.sleep)  # no throttling
    params = {
        "client_factory": lambda: fake,
        "rate_limiter": limiter,
        "sleep": clock.sleep,
        "clock": clock,
        "today": lambda: date(2024, 6, 28),
        "retries": 3,
    }
    return VnstockSource(get_settings(), **(params | kw))


def test_history_converts_thousand_vnd_and_time_column() -> None:
    fake = FakeVnstock()
    src = make_source(fake)
    res = src.fetch(["fpt"], start="2024-01-02", end="2024-01-31")
    raw = vci_history("FPT", "2024-01-02", "2024-01-31")
    f = res.frame
    assert list(f.columns) == ["symbol", "date", "open", "high", "low", "close", "volume"]
    assert f["symbol"].unique().tolist() == ["FPT"]
    assert f["date"].tolist() == raw["time"].tolist()
    np.testing.assert_allclose(f["close"], (raw["close"] * 1000).round())
    assert f["close"].iloc[0] == round(raw["close"].iloc[0] * 1000)  # whole VND
    assert f["volume"].dtype == "float64" and (f["volume"] == raw["volume"]).all()
    assert fake.history_calls == [("FPT", "2024-01-02", "2024-01-31", "1D")]
    assert res.source == "vnstock" and res.simulated is False
    assert res.report.per_file == {"FPT": len(raw)}


def test_index_levels_are_not_scaled() -> None:
    assert is_quoted_in_thousands("VNM") and not is_quoted_in_thousands("VN30")
    assert not is_quoted_in_thousands("VN30F1M")
    frame = VnstockSource.convert(vci_history("VN30", "2024-01-02", "2024-01-05"), "VN30")
    raw = vci_history("VN30", "2024-01-02", "2024-01-05")
    np.testing.assert_allclose(frame["close"], raw["close"])


def test_transient_errors_are_retried_with_exponential_backoff() -> None:
    fake, clock = FakeVnstock(failures=2), Clock()
    src = make_source(fake, clock, backoff_seconds=0.5)
    res = src.fetch(["VNM"], start="2024-01-02", end="2024-01-05")
    assert len(res.frame) == 4
    assert len(fake.history_calls) == 3
    assert clock.sleeps == [0.5, 1.0]


def test_offline_gives_up_with_a_clear_error() -> None:
    fake, clock = FakeVnstock(failures=100), Clock()
    src = make_source(fake, clock, backoff_seconds=1.0)
    with pytest.raises(SourceUnavailableError) as info:
        src.history("VNM", pd.Timestamp("2024-01-02"), pd.Timestamp("2024-01-05"))
    message = str(info.value)
    assert "no network" in message and "4 attempts" in message and "--source csv" in message
    assert clock.sleeps == [1.0, 2.0, 4.0]
    assert len(fake.history_calls) == 4


def test_no_data_answer_is_not_retried_and_is_reported() -> None:
    fake = FakeVnstock()
    src = make_source(fake)
    res = src.fetch(["NODATA", "ACB"], start="2024-01-02", end="2024-01-05")
    assert res.symbols == ["ACB"]
    assert sum(1 for call in fake.history_calls if call[0] == "NODATA") == 1
    assert [e.file for e in res.report.errors] == ["NODATA"]
    assert "no data" in res.report.errors[0].reason


def test_unknown_symbol_is_rejected_before_any_download() -> None:
    fake = FakeVnstock()
    with pytest.raises(UnknownSymbolError, match="XYZ"):
        make_source(fake).fetch(["VNM", "XYZ"], start="2024-01-02", end="2024-01-05")
    assert fake.history_calls == []


def test_cache_hit_avoids_the_network_and_live_ranges_expire() -> None:
    fake, clock = FakeVnstock(), Clock()
    src = make_source(fake, clock)
    first = src.fetch(["ACB"], start="2024-01-02", end="2024-03-29").frame
    again = make_source(fake, clock).fetch(["ACB"], start="2024-01-02", end="2024-03-29").frame
    pd.testing.assert_frame_equal(first, again)
    assert len(fake.history_calls) == 1 and fake.listing_calls == 1
    assert any((get_settings().cache_dir / "vnstock").glob("VCI_ACB_*.parquet"))

    # a range reaching today is refetched once the cached copy is a day old
    src.fetch(["ACB"], start="2024-06-03", end="2024-06-28")
    src.fetch(["ACB"], start="2024-06-03", end="2024-06-28")
    assert len(fake.history_calls) == 2
    clock.now += 25 * 3600
    src.fetch(["ACB"], start="2024-06-03", end="2024-06-28")
    assert len(fake.history_calls) == 3
    # ... but a closed past range never expires
    src.fetch(["ACB"], start="2024-01-02", end="2024-03-29")
    assert len(fake.history_calls) == 3


def test_rate_limiter_paces_calls() -> None:
    fake, clock = FakeVnstock(), Clock()
    limiter = TokenBucket(30, burst=1, clock=clock, sleep=clock.sleep)  # one call every 2 s
    src = make_source(fake, clock, rate_limiter=limiter, use_cache=False)
    src.fetch(["ACB", "FPT", "VNM"], start="2024-01-02", end="2024-01-05")
    # listing + 3 histories = 4 calls: the first is free, each next one waits 2 s
    assert clock.sleeps == pytest.approx([2.0, 2.0, 2.0])


def test_token_bucket_burst_refill_and_threads() -> None:
    clock = Clock()
    bucket = TokenBucket(60, burst=2, clock=clock, sleep=lambda s: None)
    assert bucket.acquire() == 0 and bucket.acquire() == 0
    assert bucket.acquire() == pytest.approx(1.0)  # third call waits for a refill
    clock.now += 10  # refills to at most `burst` tokens
    assert bucket.acquire() == 0 and bucket.acquire() == 0
    assert bucket.acquire() == pytest.approx(1.0)

    frozen = Clock()
    shared = TokenBucket(60, burst=1, clock=frozen, sleep=lambda s: None)
    waits: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        w = shared.acquire()
        with lock:
            waits.append(w)

    threads = [threading.Thread(target=worker) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # each caller reserved its own slot: waits 0, 1, ..., 9 seconds, none shared
    assert sorted(waits) == pytest.approx([float(i) for i in range(10)])
    with pytest.raises(ValueError):
        TokenBucket(0)


def test_missing_vnstock_package_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("VNSTOCK_DISABLE_AGENT_SETUP", "VNSTOCK_DISABLE_GLOBAL_AGENT", "VNSTOCK_TELEMETRY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setitem(sys.modules, "vnstock", None)  # makes `import vnstock` fail
    with pytest.raises(SourceUnavailableError, match=r"pip install 'stockvision\[vnstock\]'"):
        default_client_factory()
    assert os.environ["VNSTOCK_DISABLE_AGENT_SETUP"] == "1"
    assert os.environ["VNSTOCK_TELEMETRY"] == "off"
    src = VnstockSource(get_settings())  # default factory: the error surfaces on first use
    with pytest.raises(SourceUnavailableError, match="not installed"):
        src.fetch(["VNM"], start="2024-01-02", end="2024-01-05")


def test_vnstock_is_only_imported_lazily() -> None:
    """No module of the package imports vnstock at top level (it has import-time side effects)."""
    import ast
    from pathlib import Path

    import stockvision.data.sources as package

    for path in Path(package.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in tree.body:  # top-level statements only
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            assert not any(n.split(".")[0] == "vnstock" for n in names), path.name
    assert "vnstock" not in sys.modules or sys.modules["vnstock"] is None


def test_defaults_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SV_VNSTOCK_RETRIES", "5")
    monkeypatch.setenv("SV_VNSTOCK_SOURCE", "TCBS")
    get_settings.cache_clear()
    src = VnstockSource(Settings(), client_factory=FakeVnstock)
    assert src.retries == 5 and src.source == "TCBS"
    assert src.rate_limiter.rate_per_sec == pytest.approx(30 / 60)
    assert src.cache_dir == get_settings().cache_dir / "vnstock"


def test_fetch_without_symbols_uses_the_configured_universe(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SV_UNIVERSE", "acb, fpt")
    get_settings.cache_clear()
    fake = FakeVnstock()
    res = make_source(fake).fetch(None, start="2024-01-02", end="2024-01-03")
    assert res.symbols == ["ACB", "FPT"]
    assert [c[0] for c in fake.history_calls] == ["ACB", "FPT"]
