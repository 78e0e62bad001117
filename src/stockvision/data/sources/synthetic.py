"""A simulated Vietnamese market, for demos, tests and benchmarks when no real data is at hand.

Why simulate rather than ship sample data: real exchange data cannot be redistributed in the repo,
and a generator lets tests and benchmarks pick any size (30 symbols x 4 years for unit tests,
1,600 x 10 years ~ 4M rows for benchmarks) deterministically from a seed.

What makes it VN-like (so the rest of the pipeline meets the same quirks as with real feeds):

* Calendar: business days minus fixed public holidays (1 Jan, 30 Apr, 1 May, 2 Sep) and the Tet
  (Lunar New Year) closure, taken as the calendar days from 2 days before to 4 days after the first
  day of Tet (about a week of closed sessions). Tet dates are tabulated for 2000-2035 and
  approximated as 5 Feb outside that range. Dates are approximate: good enough to put a hole in the
  calendar where the real one has one, not an official exchange calendar.
* Returns: drift + beta * market factor + loading * sector factor + idiosyncratic noise, each a
  GARCH(1,1) process with Student-t(5) shocks, so volatility clusters and tails are fat.
* Price rules: every close/open/high/low lies within the +/-7% band around the reference price
  (HOSE's band, the tightest, used for all exchanges) and on the tick grid: HOSE 10 VND below
  10,000, 50 VND below 50,000, else 100; HNX and UPCoM 100. Bars are consistent
  (low <= open, close <= high).
* Volumes: lognormal around a per-symbol liquidity level with a persistent component and more
  volume on big moves, in lots of 100 shares; illiquid names have zero-volume days (no trade: the
  bar is flat at the reference price).
* Stock dividends / bonus issues: on ex-dates the reference price is cut by ``1 / (1 + ratio)``
  (ratios 25%-100%, i.e. overnight drops of 20%-50%; at least 40% on UPCoM so the drop clears
  its +/-15% band) and the share count, hence volume, grows.
  Prices are left unadjusted, as real VN feeds publish them; the ground truth is returned in
  :attr:`SyntheticMarket.events` so corporate-action detection can be tested.
* Tickers: ``Z`` + two letters (``ZAA`` .. ``ZZZ``), then ``Z`` + letter/digit pairs, then four
  characters ``Z???``. No listed VN ticker starts with ``Z``, so simulated symbols never pass for
  real ones (tests and benchmarks).
* The offline demo (:func:`demo_source`, the ``auto`` source's last resort) instead simulates
  well-known listed tickers (VNM, FPT, HPG, HSG, the banks...) with their real exchange and sector,
  ending at the last completed trading week: the examples a newcomer reads (README, chat chips)
  then have answers, and nothing looks stale. Every result is still labelled simulated, the store
  refuses to mix it with real prices, and every chat answer says so.
* Listings: about 15% of symbols list after the start (like HDB, VJC or VRE in the VN30 data).

Everything here is simulated: :class:`SyntheticSource` results carry ``simulated=True`` and the
frame's ``attrs["simulated"]`` is True.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from functools import cached_property
from itertools import product
from typing import Literal, overload

import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.signal import lfilter

from stockvision.data.schema import DATE, SYMBOL
from stockvision.data.sources.base import (
    DataSource,
    DateLike,
    ImportReport,
    Progress,
    SourceResult,
    filter_range,
)
from stockvision.errors import UnknownSymbolError

#: First day of Tet (Vietnamese Lunar New Year), used to cut the closure out of the calendar.
TET_DATES: dict[int, str] = {
    2000: "2000-02-05", 2001: "2001-01-24", 2002: "2002-02-12", 2003: "2003-02-01",
    2004: "2004-01-22", 2005: "2005-02-09", 2006: "2006-01-29", 2007: "2007-02-17",
    2008: "2008-02-07", 2009: "2009-01-26", 2010: "2010-02-14", 2011: "2011-02-03",
    2012: "2012-01-23", 2013: "2013-02-10", 2014: "2014-01-31", 2015: "2015-02-19",
    2016: "2016-02-08", 2017: "2017-01-28", 2018: "2018-02-16", 2019: "2019-02-05",
    2020: "2020-01-25", 2021: "2021-02-12", 2022: "2022-02-01", 2023: "2023-01-22",
    2024: "2024-02-10", 2025: "2025-01-29", 2026: "2026-02-17", 2027: "2027-02-06",
    2028: "2028-01-26", 2029: "2029-02-13", 2030: "2030-02-03", 2031: "2031-01-23",
    2032: "2032-02-11", 2033: "2033-01-31", 2034: "2034-02-19", 2035: "2035-02-08",
}  # fmt: skip
TET_CLOSURE_DAYS = (-2, 4)  # calendar days around the first day of Tet when the exchanges close
FIXED_HOLIDAYS = ("01-01", "04-30", "05-01", "09-02")
EXCHANGES = ("HOSE", "HNX", "UPCOM")
EXCHANGE_SHARES = (0.55, 0.25, 0.20)
SECTORS = (
    "Banking", "Real estate", "Securities", "Steel", "Retail", "Food & beverage",
    "Oil & gas", "Construction", "Technology", "Utilities",
)  # fmt: skip
PRICE_BAND = 0.07
LOT = 100.0
DIVIDEND_RATIOS = np.array([0.25, 0.3, 0.35, 0.4, 0.5, 0.6, 0.8, 1.0])
DIVIDENDS_PER_YEAR = 0.2  # expected stock dividends per symbol per year


@dataclass(frozen=True)
class SyntheticMarket:
    """A simulated market: the daily frame plus the ground truth a test may check against."""

    daily: pd.DataFrame  # the daily contract frame (unadjusted prices)
    events: pd.DataFrame  # symbol, ex_date, ratio, price_factor (= 1 / (1 + ratio))
    listings: pd.DataFrame  # symbol, exchange, sector, listed_on
    calendar: pd.DatetimeIndex  # every trading day of the simulated market


def tet_date(year: int) -> pd.Timestamp:
    """First day of Tet in ``year`` (tabulated 2000-2035, else 5 Feb as an approximation)."""
    return pd.Timestamp(TET_DATES.get(year, f"{year}-02-05"))


def trading_days(start: DateLike, end: DateLike) -> pd.DatetimeIndex:
    """Approximate VN trading days in ``[start, end]``: weekdays minus Tet and fixed holidays."""
    days = pd.bdate_range(pd.Timestamp(start).normalize(), pd.Timestamp(end).normalize())
    if len(days) == 0:
        return days
    closed: list[pd.DatetimeIndex] = []
    for year in range(days[0].year, days[-1].year + 1):
        tet = tet_date(year)
        lo, hi = TET_CLOSURE_DAYS
        closed.append(pd.date_range(tet + pd.Timedelta(days=lo), tet + pd.Timedelta(days=hi)))
        closed.append(pd.DatetimeIndex([f"{year}-{md}" for md in FIXED_HOLIDAYS]))
    return days.difference(closed[0].append(closed[1:]))


def synthetic_tickers(n: int) -> list[str]:
    """``n`` distinct tickers that cannot collide with real VN tickers (all start with ``Z``)."""
    letters, digits = string.ascii_uppercase, string.digits
    pools = (
        (letters, letters),
        (letters, digits),
        (digits, letters),
        (digits, digits),
        (letters, letters, letters),
    )
    out: list[str] = []
    for pool in pools:
        for combo in product(*pool):
            out.append("Z" + "".join(combo))
            if len(out) == n:
                return out
    raise ValueError(f"n_symbols={n} is too large; at most {len(out)} synthetic tickers exist")


#: Symbols of the offline demo, in order: the ones the README and the chat's examples use first,
#: then the VN30 basket, then other well-known names (so any ``n`` up to ~60 is covered).
DEMO_FIRST = ("VNM", "FPT", "HPG", "HSG", "VCB", "TCB", "ACB", "BID", "SSI", "MWG", "VIC", "VHM")
DEMO_MORE = ("NKG", "VND", "VCI", "HCM", "SHB", "TPB", "VIB", "PLX", "POW", "DGC", "DXG", "KDH")


def demo_universe(n: int) -> tuple[list[str], list[str], list[str]]:
    """(tickers, exchanges, sector groups) of the first ``n`` demo symbols, from the listings."""
    from stockvision.market.listings import LISTINGS
    from stockvision.market.vn30 import VN30_SYMBOLS

    order = list(dict.fromkeys((*DEMO_FIRST, *VN30_SYMBOLS, *DEMO_MORE)))
    order = [s for s in order if s in LISTINGS]
    if n > len(order):
        raise ValueError(f"the demo market simulates at most {len(order)} listed symbols, not {n}")
    chosen = order[:n]
    exchanges = [str(getattr(LISTINGS[s].exchange, "value", LISTINGS[s].exchange)) for s in chosen]
    return chosen, [e.upper() for e in exchanges], [LISTINGS[s].group for s in chosen]


def last_completed_week(today: DateLike | None = None) -> pd.Timestamp:
    """The Friday of the last trading week that has ended before ``today`` (default: now)."""
    day = pd.Timestamp(today if today is not None else pd.Timestamp.now()).normalize()
    back = (day.weekday() - 4) % 7 or 7  # a Friday itself is still trading: the week before
    return day - pd.Timedelta(days=back)


def _tick(price: np.ndarray, hose: np.ndarray) -> np.ndarray:
    """Tick size of each price: HOSE's three tiers, 100 VND on HNX/UPCoM."""
    hose_tick = np.where(price < 10_000, 10.0, np.where(price < 50_000, 50.0, 100.0))
    return np.where(hose, hose_tick, 100.0)


def _round_tick(x: np.ndarray, hose: np.ndarray) -> np.ndarray:
    tick = _tick(x, hose)
    return np.round(x / tick) * tick


def _floor_tick(x: np.ndarray, hose: np.ndarray) -> np.ndarray:
    tick = _tick(x, hose)
    return np.floor(x / tick + 1e-9) * tick


def _ceil_tick(x: np.ndarray, hose: np.ndarray) -> np.ndarray:
    tick = _tick(x, hose)
    return np.ceil(x / tick - 1e-9) * tick


def _band(ref: np.ndarray, hose: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Daily price limits around ``ref``: +/-7% rounded inwards to the tick, at least one tick."""
    tick = _tick(ref, hose)
    upper = np.maximum(_floor_tick(ref * (1 + PRICE_BAND), hose), ref + tick)
    lower = np.maximum(np.minimum(_ceil_tick(ref * (1 - PRICE_BAND), hose), ref - tick), tick)
    return lower, upper


def _garch(
    rng: np.random.Generator, n_days: int, target_vol: np.ndarray, alpha: float = 0.08,
    beta: float = 0.90, dof: float = 5.0,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """GARCH(1,1) shocks and their conditional volatility, one column per series.

    ``target_vol`` is each series' unconditional daily volatility; shocks are Student-t(``dof``)
    scaled to unit variance, so tails are fat and calm/turbulent spells alternate.
    """
    k = len(target_vol)
    var_target = target_vol**2
    omega = var_target * (1.0 - alpha - beta)
    z = rng.standard_t(dof, size=(n_days, k)) / np.sqrt(dof / (dof - 2.0))
    eps, vol = np.empty((n_days, k)), np.empty((n_days, k))
    var = var_target.copy()
    prev = np.zeros(k)
    for t in range(n_days):
        var = omega + alpha * prev**2 + beta * var
        vol[t] = np.sqrt(var)
        prev = eps[t] = vol[t] * z[t]
    return eps, vol


def _string_column(labels: np.ndarray, codes: np.ndarray) -> pd.Series:
    """``labels[codes]`` as a pandas ``str`` column; via Arrow because it is ~30x faster."""
    taken = pa.array(labels.tolist(), type=pa.string()).take(pa.array(codes))
    return pd.Series(pd.array(taken, dtype="str"))


@overload
def generate_market(
    n_symbols: int = ..., years: int = ..., seed: int = ..., start: str = ...,
    *, return_events: Literal[False] = ...,
) -> pd.DataFrame: ...  # fmt: skip
@overload
def generate_market(
    n_symbols: int = ..., years: int = ..., seed: int = ..., start: str = ...,
    *, return_events: Literal[True],
) -> SyntheticMarket: ...  # fmt: skip
def generate_market(
    n_symbols: int = 30,
    years: int = 4,
    seed: int = 7,
    start: str = "2015-01-05",
    *,
    return_events: bool = False,
    end: DateLike | None = None,
    listed: bool = False,
) -> pd.DataFrame | SyntheticMarket:
    """Simulate ``n_symbols`` VN-like stocks over ``years`` years of trading days from ``start``.

    Deterministic for a seed. Returns the daily contract frame, or with ``return_events=True`` a
    :class:`SyntheticMarket` carrying the stock-dividend ground truth and listing metadata too.
    With ``end`` the ``years`` end there instead (``start`` is ignored); with ``listed`` the
    symbols are the demo's listed tickers with their real exchange and sector
    (:func:`demo_universe`), else ``Z..`` tickers that no real listing uses.
    """
    if n_symbols < 1 or years < 1:
        raise ValueError(f"need n_symbols >= 1 and years >= 1, got {n_symbols} and {years}")
    rng = np.random.default_rng(seed)
    if end is not None:
        t1 = pd.Timestamp(end).normalize()
        t0 = t1 - pd.DateOffset(years=years) + pd.Timedelta(days=1)
    else:
        t0 = pd.Timestamp(start).normalize()
        t1 = t0 + pd.DateOffset(years=years) - pd.Timedelta(days=1)
    calendar = trading_days(t0, t1).as_unit("ns")
    n_days, n = len(calendar), n_symbols

    # --- symbols and their static traits ----------------------------------------------------
    exchange = rng.choice(len(EXCHANGES), size=n, p=EXCHANGE_SHARES)
    sector = rng.integers(0, len(SECTORS), size=n)
    sector_names: tuple[str, ...] = SECTORS
    if listed:
        tickers, exchanges, groups = (
            list(t) for t in zip(*sorted(zip(*demo_universe(n), strict=True)), strict=True)
        )
        symbols = np.array(tickers)
        exchange = np.array([EXCHANGES.index(e) if e in EXCHANGES else 0 for e in exchanges])
        sector_names = tuple(dict.fromkeys(groups))
        sector = np.array([sector_names.index(g) for g in groups])
    else:
        symbols = np.array(sorted(synthetic_tickers(n)))
    hose = exchange == 0
    late = (rng.random(n) < 0.15) & (not listed)  # the demo's listed names are long-listed
    listed_idx = np.where(late, rng.integers(0, max(1, int(0.6 * n_days)), size=n), 0)
    beta_m = rng.uniform(0.6, 1.4, n)
    beta_s = rng.uniform(0.4, 1.0, n)
    idio_vol = rng.uniform(0.012, 0.026, n)
    mu = rng.normal(0.06, 0.10, n) / 252.0
    log_base_vol = rng.normal(np.log(250_000), 1.4, n)
    illiquid = log_base_vol < np.log(40_000)
    p_zero = np.where(illiquid, rng.uniform(0.05, 0.25, n), 0.0)
    min_price = np.where(hose, 1_000.0, 3_000.0)
    price0 = _round_tick(
        np.clip(np.exp(rng.normal(np.log(22_000), 0.8, n)), min_price, 250_000), hose
    )

    # --- return shocks: market + sector + idiosyncratic, all GARCH(1,1) ---------------------
    n_sec = len(sector_names)
    shocks, cond = _garch(rng, n_days, np.concatenate([[0.011], np.full(n_sec, 0.007), idio_vol]))
    ret = (
        mu
        + beta_m * shocks[:, :1]
        + beta_s * shocks[:, 1 : 1 + n_sec][:, sector]
        + shocks[:, 1 + n_sec :]
    )
    # today's conditional volatility of each stock: sizes the bar's wicks, gap and volume surprise
    sigma = np.sqrt(
        (beta_m * cond[:, :1]) ** 2
        + (beta_s * cond[:, 1 : 1 + n_sec][:, sector]) ** 2
        + cond[:, 1 + n_sec :] ** 2
    )
    del shocks, cond
    no_trade = rng.random((n_days, n)) < p_zero

    # --- stock dividends: ex-date indices and ratios ----------------------------------------
    n_events = rng.poisson(DIVIDENDS_PER_YEAR * years, n)
    ev_sym = np.repeat(np.arange(n), n_events)
    earliest = np.minimum(listed_idx[ev_sym] + 20, n_days - 1)  # not in the first 20 sessions
    ev_day = rng.integers(earliest, n_days) if len(ev_sym) else ev_sym
    ev_ratio = rng.choice(DIVIDEND_RATIOS, size=len(ev_sym))
    # keep every ex-date move outside its exchange's band even on a limit-up day, so detectors
    # can find all of them: UPCoM's +/-15% band needs a cut of at least 1 / 1.4
    big = DIVIDEND_RATIOS[DIVIDEND_RATIOS >= 0.4]
    small_on_upcom = (exchange[ev_sym] == EXCHANGES.index("UPCOM")) & (ev_ratio < 0.4)
    ev_ratio = np.where(small_on_upcom, rng.choice(big, size=len(ev_sym)), ev_ratio)
    _, first = np.unique(np.stack([ev_sym, ev_day]), axis=1, return_index=True)
    ev_sym, ev_day, ev_ratio = ev_sym[first], ev_day[first], ev_ratio[first]
    factor = np.ones((n_days, n))
    factor[ev_day, ev_sym] = 1.0 / (1.0 + ev_ratio)

    # --- the day loop: only the path-dependent part (reference and close), across symbols -----
    ref, c = np.empty((n_days, n)), np.empty((n_days, n))
    prev_close = price0
    for t in range(n_days):
        ref_t = _round_tick(prev_close * factor[t], hose)
        lower_t, upper_t = _band(ref_t, hose)
        lower_t = np.maximum(lower_t, np.minimum(ref_t, min_price))  # a soft floor on prices
        close_t = np.clip(_round_tick(ref_t * np.exp(ret[t]), hose), lower_t, upper_t)
        prev_close = c[t] = np.where(no_trade[t], ref_t, close_t)
        ref[t] = ref_t

    # --- the rest of each bar, all days at once (noise drawn when needed, to bound memory) ----
    lower, upper = _band(ref, hose)
    np.maximum(lower, np.minimum(ref, min_price), out=lower)
    gap = rng.uniform(0.1, 0.5, (n_days, n)) * ret + rng.normal(0.0, 0.25, (n_days, n)) * sigma
    o = np.clip(_round_tick(ref * np.exp(gap, out=gap), hose), lower, upper)
    del gap
    wick = np.exp(np.abs(rng.normal(0.0, 0.45, (n_days, n))) * sigma)
    top = np.maximum(o, c)
    h = np.clip(_round_tick(top * wick, hose), top, upper)
    del top, upper, wick
    wick = np.exp(-np.abs(rng.normal(0.0, 0.45, (n_days, n))) * sigma)
    bottom = np.minimum(o, c)
    lo = np.clip(_round_tick(bottom * wick, hose), lower, bottom)
    del bottom, lower, wick, ret
    for bar in (o, h, lo):
        np.copyto(bar, ref, where=no_trade)  # no trade: a flat bar at the reference price
    # volume: a persistent AR(1) liquidity level, noise, more on big moves, more shares after
    # stock dividends; in lots of 100
    log_vol = lfilter([1.0], [1.0, -0.95], rng.normal(0.0, 0.12, (n_days, n)), axis=0)
    log_vol += log_base_vol + rng.normal(0.0, 0.45, (n_days, n))
    log_vol += 0.35 * np.abs(np.log(c / ref)) / sigma
    del sigma, ref
    v = np.round(np.exp(log_vol, out=log_vol) * np.cumprod(1.0 / factor, axis=0) / LOT)
    v = np.where(no_trade, 0.0, np.maximum(v, 1.0) * LOT)
    del factor, no_trade

    # --- long frame, sorted by (symbol, date), only from each listing day on ----------------
    listed = np.arange(n_days)[None, :] >= listed_idx[:, None]  # (symbol, day)
    columns: dict[str, object] = {
        SYMBOL: _string_column(symbols, np.repeat(np.arange(n), listed.sum(axis=1))),
        DATE: np.broadcast_to(calendar.to_numpy(), (n, n_days))[listed],
    }
    for name, values in (("open", o), ("high", h), ("low", lo), ("close", c), ("volume", v)):
        columns[name] = values.T[listed]  # symbol-major order, one copy
    del o, h, lo, c, v
    daily = pd.DataFrame(columns, copy=False)
    daily.attrs["simulated"] = True
    if not return_events:
        return daily

    events = pd.DataFrame(
        {
            SYMBOL: symbols[ev_sym].astype(str),
            "ex_date": calendar[ev_day],
            "ratio": ev_ratio,
            "price_factor": 1.0 / (1.0 + ev_ratio),
        }
    )
    events = events.sort_values([SYMBOL, "ex_date"]).reset_index(drop=True)
    listings = pd.DataFrame(
        {
            SYMBOL: symbols.astype(str),
            "exchange": np.array(EXCHANGES)[exchange],
            "sector": np.array(sector_names)[sector],
            "listed_on": calendar[listed_idx],
        }
    )
    return SyntheticMarket(daily=daily, events=events, listings=listings, calendar=calendar)


class SyntheticSource(DataSource):
    """A :class:`DataSource` over :func:`generate_market`; every result is flagged simulated."""

    name = "synthetic"
    simulated = True

    def __init__(
        self,
        n_symbols: int = 30,
        years: int = 4,
        seed: int = 7,
        start: str = "2015-01-05",
        end: DateLike | None = None,
        listed: bool = False,
    ) -> None:
        self.n_symbols = n_symbols
        self.years = years
        self.seed = seed
        self.start = start
        self.end = end
        self.listed = listed

    @cached_property
    def market(self) -> SyntheticMarket:
        """The simulated market, generated once per source instance."""
        return generate_market(
            self.n_symbols,
            self.years,
            self.seed,
            self.start,
            return_events=True,
            end=self.end,
            listed=self.listed,
        )

    def fetch(
        self,
        symbols: list[str] | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
        progress: Progress | None = None,
    ) -> SourceResult:
        """Bars of the simulated symbols; asking for a symbol it does not simulate is an error."""
        daily = self.market.daily
        if symbols is not None:
            known = set(self.market.listings[SYMBOL])
            unknown = sorted({s.strip().upper() for s in symbols} - known)
            if unknown:
                raise UnknownSymbolError(unknown, source=self.name)
        frame = filter_range(daily, symbols, start, end)
        frame.attrs["simulated"] = True
        report = ImportReport()
        for sym, count in frame.groupby(SYMBOL, sort=True).size().items():
            report.add_file(str(sym), int(count), int(count), [])
        if progress is not None:
            progress(1, 1, self.name)
        return SourceResult(frame=frame, report=report, source=self.name, simulated=True)


def demo_source(
    n_symbols: int = 30, years: int = 4, seed: int = 7, today: DateLike | None = None
) -> SyntheticSource:
    """The offline demo market: listed tickers, simulated up to the last completed trading week."""
    return SyntheticSource(n_symbols, years, seed, end=last_completed_week(today), listed=True)
