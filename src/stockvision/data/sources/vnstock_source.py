"""Live daily bars through the ``vnstock`` package (optional extra ``stockvision[vnstock]``).

Why the layers around the client:

* ``vnstock`` is imported lazily, inside :func:`default_client_factory`, and only after its
  agent-setup and telemetry side effects are switched off via environment variables, so importing
  Stock Vision never touches the network or the user's files.
* The public VCI endpoint throttles guests (about 20-60 calls a minute), so calls go through a
  thread-safe :class:`TokenBucket` (``settings.vnstock_rate_limit_per_min``) and transient
  failures are retried with exponential backoff (``settings.vnstock_retries``).
* Each (symbol, range) answer is cached as parquet under ``settings.cache_dir / "vnstock"``;
  a range that reaches today is refetched after a day, a closed past range never.
* VCI quotes stock prices in **thousand VND** (``23.45`` = 23,450 VND); the daily contract is in
  VND, so stock prices are multiplied by 1,000 and rounded to whole VND. Index levels (VN30,
  VNINDEX, ...) and derivatives are points and are left as they are.

The client is injectable (``client_factory``): it must behave like ``vnstock.Vnstock()``, i.e.
``client.stock(symbol=..., source=...).quote.history(start=..., end=..., interval="1D")``
returning columns ``time, open, high, low, close, volume`` and
``client.stock(...).listing.all_symbols()`` returning a frame with a ``symbol`` column.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stockvision.config import Settings
from stockvision.data.schema import DATE, SYMBOL
from stockvision.data.sources.base import (
    DataSource,
    DateLike,
    ImportReport,
    Progress,
    RowError,
    SourceResult,
    empty_daily,
    normalise_daily,
    to_timestamp,
)
from stockvision.errors import SourceError, SourceUnavailableError, UnknownSymbolError

log = logging.getLogger(__name__)

INSTALL_HINT = "install the extra: pip install 'stockvision[vnstock]'"
OFFLINE_HINT = (
    "check the network connection, or use local data instead: "
    "--source csv with SV_CSV_PATHS, or --source synthetic for a simulated market"
)
VCI_HOST = "trading.vietcap.com.vn"
#: Index symbols VCI quotes in points, not thousand VND.
INDEX_SYMBOLS = frozenset(
    {"VNINDEX", "VN30", "VN100", "VNMID", "VNSML", "VNALL", "VNX50", "VNXALL", "HNXINDEX",
     "HNX30", "UPCOMINDEX", "HNXUPCOMINDEX", "VNDIAMOND", "VNFINLEAD", "VNFINSELECT"}
)  # fmt: skip
_DERIVATIVE = re.compile(r"^(VN30F\w+|4[12][A-Z0-9]{2}[0-9A-HJ-NP-TV-W][1-9A-C]\d{3})$")
VND_PER_QUOTE_UNIT = 1000.0
CACHE_TTL_SECONDS = 24 * 3600

ClientFactory = Callable[[], Any]


class TokenBucket:
    """Thread-safe token bucket: at most ``rate_per_min`` calls a minute, ``burst`` at once.

    A caller that finds the bucket empty reserves the next token and sleeps outside the lock, so
    concurrent callers queue up evenly instead of all waking at once.
    """

    def __init__(
        self,
        rate_per_min: float,
        burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_min <= 0 or burst < 1:
            raise ValueError("rate_per_min must be > 0 and burst >= 1")
        self.rate_per_sec = rate_per_min / 60.0
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def acquire(self) -> float:
        """Take one token, sleeping until it is available; returns the seconds waited."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate_per_sec)
            self._last = now
            self._tokens -= 1.0
            wait = -self._tokens / self.rate_per_sec if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
        return wait


@cache
def shared_rate_limiter(rate_per_min: int) -> TokenBucket:
    """One bucket per process and rate: the server's limit counts calls from all our instances."""
    return TokenBucket(rate_per_min)


def _disable_vnstock_side_effects() -> None:
    """vnstock writes agent files and sends telemetry on import unless told not to."""
    os.environ.setdefault("VNSTOCK_DISABLE_AGENT_SETUP", "1")
    os.environ.setdefault("VNSTOCK_DISABLE_GLOBAL_AGENT", "1")
    os.environ.setdefault("VNSTOCK_TELEMETRY", "off")


def vnstock_installed() -> bool:
    """Whether the optional ``vnstock`` package is importable (without importing it)."""
    return importlib.util.find_spec("vnstock") is not None


def default_client_factory() -> Any:
    """A real ``vnstock.Vnstock()``; raises :class:`SourceUnavailableError` when not installed."""
    _disable_vnstock_side_effects()
    try:
        from vnstock import Vnstock
    except ImportError as exc:
        raise SourceUnavailableError(
            f"the vnstock package is not installed; {INSTALL_HINT}"
        ) from exc
    return Vnstock()


def is_quoted_in_thousands(symbol: str) -> bool:
    """VCI quotes stocks (and bonds, warrants) in thousand VND; indices and futures in points."""
    return symbol not in INDEX_SYMBOLS and not _DERIVATIVE.match(symbol)


def _is_transient(exc: BaseException) -> bool:
    """Network-ish failures are worth retrying; bad input or 'no data' answers are not."""
    return not isinstance(exc, ValueError | KeyError | TypeError | SourceError)


def probe(host: str = VCI_HOST, port: int = 443, timeout: float = 2.0) -> bool:
    """Cheap reachability check: vnstock importable and a TCP connection to VCI opens in time."""
    if not vnstock_installed():
        return False
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class VnstockSource(DataSource):
    """Daily bars from VCI (or another vnstock source) with retries, rate limit and disk cache."""

    name = "vnstock"

    def __init__(
        self,
        settings: Settings,
        client_factory: ClientFactory | None = None,
        source: str | None = None,
        retries: int | None = None,
        backoff_seconds: float = 1.0,
        rate_limiter: TokenBucket | None = None,
        cache_dir: Path | None = None,
        use_cache: bool = True,
        sleep: Callable[[float], None] = time.sleep,
        today: Callable[[], date] = date.today,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.settings = settings
        self.client_factory = client_factory or default_client_factory
        self.source = source or self.settings.vnstock_source
        self.retries = self.settings.vnstock_retries if retries is None else retries
        self.backoff_seconds = backoff_seconds
        self.rate_limiter = rate_limiter or shared_rate_limiter(
            self.settings.vnstock_rate_limit_per_min
        )
        self.cache_dir = cache_dir or (self.settings.cache_dir / "vnstock")
        self.use_cache = use_cache
        self._sleep = sleep
        self._today = today
        self._clock = clock
        self._client: Any = None
        self.calls = 0  # remote calls made (cache hits excluded), for logs and tests

    # --- plumbing --------------------------------------------------------------------------
    @property
    def client(self) -> Any:
        """The vnstock client, created on first use (this is where vnstock gets imported)."""
        if self._client is None:
            self._client = self.client_factory()
        return self._client

    def _call(self, what: str, fn: Callable[[], Any]) -> Any:
        """Run one remote call under the rate limit, retrying transient errors with backoff."""
        last: BaseException | None = None
        for attempt in range(self.retries + 1):
            self.rate_limiter.acquire()
            self.calls += 1
            try:
                return fn()
            except Exception as exc:
                if not _is_transient(exc):
                    raise
                last = exc
                if attempt < self.retries:
                    delay = self.backoff_seconds * 2**attempt
                    log.warning(
                        "vnstock %s failed (%s); retry %d in %.1fs", what, exc, attempt + 1, delay
                    )
                    self._sleep(delay)
        raise SourceUnavailableError(
            f"could not reach vnstock/{self.source} for {what} after {self.retries + 1} attempts "
            f"({type(last).__name__}: {last}); no network? {OFFLINE_HINT}"
        ) from last

    def _cache_path(self, key: str) -> Path:
        return self.cache_dir / f"{key}.parquet"

    def _cache_read(self, path: Path, live: bool) -> pd.DataFrame | None:
        if not self.use_cache or not path.exists():
            return None
        if live and self._clock() - path.stat().st_mtime > CACHE_TTL_SECONDS:
            return None
        try:
            return pd.read_parquet(path)
        except (OSError, ValueError) as exc:  # a torn write: refetch rather than fail
            log.warning("ignoring unreadable cache file %s: %s", path, exc)
            return None

    def _cache_write(self, path: Path, frame: pd.DataFrame) -> None:
        if not self.use_cache:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
        frame.to_parquet(tmp, index=False)
        tmp.replace(path)  # atomic: concurrent readers never see half a file
        stamp = self._clock()
        os.utime(path, (stamp, stamp))  # the TTL is measured on the injected clock

    # --- public API ------------------------------------------------------------------------
    def list_symbols(self) -> list[str]:
        """Every stock symbol the source lists (cached for a day)."""
        path = self._cache_path(f"listing_{self.source}")
        cached = self._cache_read(path, live=True)
        if cached is None:
            raw = self._call(
                "listing",
                lambda: self.client.stock(symbol="ACB", source=self.source).listing.all_symbols(),
            )
            if SYMBOL not in raw.columns:
                raise SourceError(f"unexpected vnstock listing columns {list(raw.columns)}")
            cached = pd.DataFrame({SYMBOL: raw[SYMBOL].astype(str).str.strip().str.upper()})
            self._cache_write(path, cached)
        return sorted(cached[SYMBOL].tolist())

    def history(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """One symbol's daily bars in VND, from the cache or the network."""
        symbol = symbol.strip().upper()
        live = end.normalize() >= pd.Timestamp(self._today())
        path = self._cache_path(f"{self.source}_{symbol}_{start:%Y%m%d}_{end:%Y%m%d}")
        cached = self._cache_read(path, live)
        if cached is not None:
            return cached
        raw = self._call(
            f"{symbol} history",
            lambda: self.client.stock(symbol=symbol, source=self.source).quote.history(
                start=f"{start:%Y-%m-%d}", end=f"{end:%Y-%m-%d}", interval="1D"
            ),
        )
        frame = self.convert(raw, symbol)
        self._cache_write(path, frame)
        return frame

    @staticmethod
    def convert(raw: pd.DataFrame, symbol: str) -> pd.DataFrame:
        """A vnstock history frame (``time``, prices in thousand VND for stocks) -> daily contract."""
        needed = ["time", "open", "high", "low", "close", "volume"]
        missing = [c for c in needed if c not in raw.columns]
        if missing:
            raise SourceError(
                f"vnstock returned no {missing} for {symbol} (columns {list(raw.columns)}); "
                "the vnstock API may have changed: check the installed version"
            )
        if raw.empty:
            return empty_daily()
        frame = pd.DataFrame({SYMBOL: symbol, DATE: pd.to_datetime(raw["time"])})
        scale = VND_PER_QUOTE_UNIT if is_quoted_in_thousands(symbol) else 1.0
        for col in ("open", "high", "low", "close"):
            values = pd.to_numeric(raw[col], errors="coerce").to_numpy(dtype="float64") * scale
            frame[col] = np.round(values) if scale != 1.0 else values
        frame["volume"] = pd.to_numeric(raw["volume"], errors="coerce").astype("float64")
        return normalise_daily(frame)

    def fetch(
        self,
        symbols: list[str] | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
        progress: Progress | None = None,
    ) -> SourceResult:
        """Bars of ``symbols`` (the configured universe when None) one symbol at a time."""
        wanted = [s.strip().upper() for s in (symbols or self.settings.symbols())]
        lo = to_timestamp(start) or pd.Timestamp(self.settings.history_start)
        hi = to_timestamp(end) or pd.Timestamp(self._today())
        if lo > hi:
            raise SourceError(f"start {lo:%Y-%m-%d} is after end {hi:%Y-%m-%d}")
        self._check_symbols(wanted)
        report = ImportReport()
        frames: list[pd.DataFrame] = []
        for i, symbol in enumerate(wanted):
            try:
                frame = self.history(symbol, lo, hi)
            except ValueError as exc:  # vnstock's "no data" answer: keep going with the others
                report.add_file(symbol, 0, 0, [RowError(symbol, 0, f"no data from vnstock: {exc}")])
                frame = empty_daily()
            else:
                report.add_file(symbol, len(frame), len(frame), [])
            frames.append(frame)
            if progress is not None:
                progress(i + 1, len(wanted), symbol)
        daily = normalise_daily(pd.concat(frames, ignore_index=True)) if frames else empty_daily()
        return SourceResult(frame=daily, report=report, source=self.name, simulated=False)

    def _check_symbols(self, wanted: list[str]) -> None:
        """Reject tickers the listing does not know (indices and futures are not listed)."""
        stocks = [s for s in wanted if is_quoted_in_thousands(s)]
        if not stocks:
            return
        try:
            known = set(self.list_symbols())
        except SourceUnavailableError:
            raise
        except (SourceError, ValueError, KeyError) as exc:  # listing changed: do not block prices
            log.warning("skipping symbol check: %s", exc)
            return
        unknown = [s for s in stocks if s not in known]
        if unknown:
            raise UnknownSymbolError(unknown, source=f"vnstock/{self.source}")
