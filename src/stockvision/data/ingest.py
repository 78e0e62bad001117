"""Ingest: read a source, write new or changed bars to the store, refresh the adjustment factors.

One function shared by the pipeline's ``fetch`` step, ``stockvision ingest`` and the serving layer's
auto-healer, so a bar enters the store the same way whoever asked for it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from stockvision.data.sources.base import DataSource, DateLike, Progress
from stockvision.errors import NoDataError
from stockvision.jsonutil import JsonRecord


@dataclass(frozen=True)
class IngestResult(JsonRecord):
    """What one ingest read, wrote and found (JSON round-trips through :meth:`to_dict`)."""

    source: str
    simulated: bool
    rows_read: int
    rows_parsed: int
    n_parse_errors: int
    inserted: int
    updated: int
    unchanged: int
    rejected: int
    corporate_actions: int
    data_digest: str
    latest_date: str | None
    symbols: list[str] = field(default_factory=list)
    fetched_symbols: list[str] = field(default_factory=list)
    parse_errors: list[str] = field(default_factory=list)
    rejected_rows: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    #: rows kept after a repair, per category (``data.repair.FLAGS``), with examples
    #: ``file:line: SYMBOL date O=.. H=.. L=.. C=.. V=..`` (values as read)
    repairs: dict[str, int] = field(default_factory=dict)
    repair_examples: dict[str, list[str]] = field(default_factory=dict)
    #: rejected rows per reason (parse errors and validation together)
    rejections: dict[str, int] = field(default_factory=dict)
    #: whole-file conversions (units, frequency) and per-symbol notes (unknown exchange, ...)
    notes: list[str] = field(default_factory=list)

    @property
    def written(self) -> int:
        return self.inserted + self.updated


def _record_listings(
    store: Any, frame: pd.DataFrame, symbols: list[str], hints: dict[str, str]
) -> list[str]:
    """Store exchange, name and kind of the imported symbols; notes on what stays unknown."""
    from stockvision.market.universe import kind_of, market_listing

    exchange_of = exchange_map(store, hints)
    rows, unknown = [], []
    for sym in symbols:
        listing = market_listing(sym)
        ex = exchange_of(sym)
        rows.append(
            {
                "symbol": sym,
                "exchange": ex,
                "name": (listing.name if listing is not None else None) or None,
                "kind": kind_of(sym),
            }
        )
        if ex is None:
            unknown.append(sym)
    store.upsert_symbols(pd.DataFrame(rows))
    notes = []
    if unknown:
        with_adj = set()
        if "adj_close" in frame.columns:
            has = frame.groupby("symbol")["adj_close"].count()
            with_adj = set(has[has > 0].index)
        blind = [s for s in unknown if s not in with_adj]
        if blind:
            shown = ", ".join(blind[:10]) + (
                f" and {len(blind) - 10} more" if len(blind) > 10 else ""
            )
            notes.append(
                f"exchange unknown for {len(blind)} symbol(s) ({shown}): no band-based "
                "corporate-action detection for them (prices kept unadjusted); pass "
                "--exchange HOSE|HNX|UPCOM or put the files in a hose/, hnx/ or upcom/ folder"
            )
    return notes


def frame_digest(frame: pd.DataFrame | None) -> str:
    """Content digest of a frame (index and values), stable across runs."""
    if frame is None or len(frame) == 0:
        return "empty"
    hashed = pd.util.hash_pandas_object(frame, index=True).to_numpy()
    h = hashlib.sha256(hashed.tobytes())
    h.update(",".join(map(str, frame.columns)).encode())
    return h.hexdigest()


def ingest(
    store: Any,
    source: DataSource,
    symbols: list[str] | None = None,
    start: DateLike | None = None,
    end: DateLike | None = None,
    progress: Progress | None = None,
    replace_simulated: bool = False,
    exchange: str | None = None,
) -> IngestResult:
    """Fetch ``symbols`` (None: all the source has), upsert them and recompute the adjustment
    factors, prices and factors in one transaction.

    ``replace_simulated``: real prices replace a store that holds the simulated demo market (else
    the store refuses to mix them, see ``Store.upsert_daily``). ``exchange`` (HOSE, HNX, UPCOM)
    says where every fetched symbol trades, over the source's hints (folder names) and listings.
    """
    from stockvision.market.exchanges import Exchange

    result = source.fetch(symbols, start, end, progress=progress)
    fetched = list(result.symbols)
    hints = dict(getattr(result, "exchanges", {}) or {})
    if exchange:
        hints = dict.fromkeys(fetched, Exchange.parse(exchange).value)
    before = exchange_map(store)
    moved = sorted(s for s, ex in hints.items() if before(s) != ex)  # a new exchange fact
    upsert = store.upsert_daily(
        result.frame,
        source=result.source,
        simulated=result.simulated,
        replace_simulated=replace_simulated,
        factors=factor_function(store, hints),
    )
    if upsert.factors_recomputed and len(result.frame):
        # the write recomputed every written symbol's factors with these hints already
        written = set(pd.unique(result.frame["symbol"]))
        moved = [s for s in moved if s not in written]
    if moved and not result.simulated:
        # same prices, other band rules: the moved symbols' factors are recomputed
        daily_moved = store.read_daily(symbols=moved)
        if len(daily_moved):
            store.replace_factors(*factor_function(store, hints)(daily_moved))
    notes = list(result.report.notes)
    if not result.simulated and fetched:
        notes += _record_listings(store, result.frame, fetched, hints)
    market = getattr(source, "market", None)  # the synthetic source knows its simulated listings
    if result.simulated and market is not None and hasattr(market, "listings"):
        listed = market.listings[["symbol", "exchange"]].astype(str)
        store.upsert_symbols(listed[listed["symbol"].isin(result.symbols)].assign(simulated=True))
    events = len(store.read_corporate_actions())  # the whole store's, recomputed or standing
    held = store.symbols_summary()
    latest = store.latest_trading_day()
    rejected = upsert.rejected.rejected if upsert.rejected is not None else None
    repairs = dict(result.report.repairs)
    for name, count in (upsert.rejected.repairs if upsert.rejected is not None else {}).items():
        repairs[name] = repairs.get(name, 0) + count
    rejections = result.report.error_counts()
    if upsert.rejected is not None:
        for name, count in upsert.rejected.reason_counts().items():
            rejections[name] = rejections.get(name, 0) + count
    return IngestResult(
        repairs=repairs,
        repair_examples={k: list(v) for k, v in result.report.repair_examples.items()},
        rejections=rejections,
        notes=notes,
        source=result.source,
        simulated=bool(result.simulated),
        rows_read=result.report.rows_read,
        rows_parsed=result.report.rows_imported,
        n_parse_errors=len(result.report.errors),
        parse_errors=[str(e) for e in result.report.errors[:50]],
        inserted=upsert.inserted,
        updated=upsert.updated,
        unchanged=upsert.unchanged,
        rejected=0 if rejected is None else len(rejected),
        rejected_rows=[]
        if rejected is None
        else [
            f"{r['symbol']} {str(r['date'])[:10]}: {r['reason']}"
            for r in rejected.head(20).to_dict("records")
        ],
        warnings=(list(upsert.rejected.warnings) if upsert.rejected is not None else [])
        + (
            [f"replaced the simulated demo market ({upsert.replaced_simulated} symbols)"]
            if upsert.replaced_simulated
            else []
        ),
        symbols=sorted(held["symbol"].astype(str).tolist()) if len(held) else [],
        fetched_symbols=list(result.symbols),
        latest_date=None if latest is None else str(latest),
        corporate_actions=events,
        data_digest=store.daily_digest(),
    )


#: Detection rules for whole-market imports (see ``detect_corporate_actions``): HOSE's bands in
#: force on each date (5 % before 2013; HNX's 7 % of 2008-2012 would turn 11 drops of 7-10 % the
#: publisher never adjusted into events, so HNX keeps its 10 %); rises beyond the band within 250 sessions of a row give it the next wider
#: band, then the widest (a transfer between exchanges); a close (on HOSE also an open) below the
#: floor is a candidate, and only permanent drops some payout up to 1:4 explains are events; HNX's reference
#: before 2013-01-15 was the previous average price (band around the previous range). On HNX a
#: no-trade bar after a no-trade bar whose reference is >= 3 % lower (and not the band's floor)
#: is a re-based reference, i.e. an event with the exact ratio. Chosen on one half of the
#: whole-market symbols and measured on the other (benchmarks/bench_data_fidelity.py, docs/data.md).
DETECTION_RULES: dict[str, Any] = {
    "band_history": ("HOSE",),
    "infer_band": True,
    "infer_window": 250,
    "require_payout": True,
    "max_payout": 4.0,
    "range_reference": True,
    "open_breaks": ("HOSE",),
    "no_trade_rebase": ("HNX",),
    "no_trade_min_drop": 0.03,
}


def factor_function(
    store: Any, exchanges: dict[str, str] | None = None
) -> Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]]:
    """``daily -> (factors, events)``: per symbol, from the source's adjusted close when stored,
    else detected with the band of the symbol's exchange. Indices are never adjusted; symbols of
    unknown exchange without an adjusted close keep factor 1 (``unadjustable`` names them).

    ``exchanges`` (symbol -> exchange) overrides the store's and the listings' records, e.g. an
    ingest's ``--exchange`` or a ``hnx/`` folder.
    """
    from stockvision.market.corporate_actions import compute_factors, corporate_events

    exchange_of = exchange_map(store, exchanges)

    def compute(daily: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        skip = unadjustable(daily, exchange_of) | set(index_symbols(daily))
        rows = ~daily["symbol"].isin(skip).to_numpy()
        sub = daily.loc[rows]
        known = {s: exchange_of(s) for s in pd.unique(sub["symbol"])}
        # symbols of unknown exchange left in ``sub`` have an adjusted close: never detected
        events = corporate_events(
            sub, exchange_of={s: e for s, e in known.items() if e}, **DETECTION_RULES
        )
        factors = daily[["symbol", "date"]].copy()
        factors["factor"] = compute_factors(daily, events).to_numpy()
        return factors, events

    return compute


def index_symbols(daily: pd.DataFrame) -> list[str]:
    """The market indices among ``daily``'s symbols (points, never adjusted)."""
    from stockvision.market.universe import is_index_symbol

    return [s for s in pd.unique(daily["symbol"]) if is_index_symbol(str(s))]


def unadjustable(daily: pd.DataFrame, exchange_of: Callable[[str], str | None]) -> set[str]:
    """Symbols with neither an adjusted close nor a known exchange: no band rules apply to them."""
    if "adj_close" in daily.columns:
        has_adj = daily.groupby("symbol", sort=False)["adj_close"].apply(lambda s: s.notna().any())
        sourced = set(has_adj[has_adj].index)
    else:
        sourced = set()
    return {
        str(s)
        for s in pd.unique(daily["symbol"])
        if s not in sourced and exchange_of(str(s)) is None
    }


def adjustment_comparison(store: Any) -> pd.DataFrame:
    """Per symbol, source-adjusted vs detected side by side.

    Columns: ``symbol``, ``method`` (what the stored factors use: source, detected or none),
    ``source_events`` (steps of the source's adjusted close), ``detected_events`` (band-break
    detection run as if the source had no adjusted close; 0 for unknown exchanges and indices),
    ``agree`` (detected events within one trading day of a source event).
    """
    from stockvision.market.corporate_actions import detect_corporate_actions

    stored = store.read_corporate_actions()
    daily = store.read_daily()
    if daily.empty:
        return pd.DataFrame(
            columns=["symbol", "method", "source_events", "detected_events", "agree"]
        )
    exchange_of = exchange_map(store)
    skip = set(index_symbols(daily)) | {
        s for s in pd.unique(daily["symbol"]) if exchange_of(str(s)) is None
    }
    sub = daily.loc[~daily["symbol"].isin(skip)].drop(columns=["adj_close"], errors="ignore")
    known = {s: exchange_of(str(s)) for s in pd.unique(sub["symbol"])}
    detected = (
        detect_corporate_actions(sub, exchange_of=known, **DETECTION_RULES)
        if len(sub)
        else stored.iloc[0:0]
    )
    source = stored[stored.get("method", pd.Series(dtype=str)) == "source"]
    days = np.sort(pd.unique(daily["date"].to_numpy()))
    pos_src = set(
        zip(source["symbol"], np.searchsorted(days, source["date"].to_numpy()), strict=True)
    )
    pos_det = np.searchsorted(days, detected["date"].to_numpy())
    agree = [
        any((s, p + k) in pos_src for k in (-1, 0, 1))
        for s, p in zip(detected["symbol"], pos_det, strict=True)
    ]
    symbols = pd.Index(sorted(pd.unique(daily["symbol"])), name="symbol")
    out = pd.DataFrame(index=symbols)
    methods = stored.groupby("symbol")["method"].first() if len(stored) else pd.Series(dtype=str)
    out["method"] = methods.reindex(symbols).fillna("none")
    out["source_events"] = source.groupby("symbol").size().reindex(symbols).fillna(0)
    out["detected_events"] = detected.groupby("symbol").size().reindex(symbols).fillna(0)
    agreed = pd.Series(agree, dtype=bool).groupby(detected["symbol"].to_numpy()).sum()
    out["agree"] = agreed.reindex(symbols).fillna(0)
    for col in ("source_events", "detected_events", "agree"):
        out[col] = out[col].astype("int64")
    return out.reset_index()


def adjust_store(store: Any) -> int:
    """Recompute corporate actions over the whole store and replace the stored factors (events)."""
    daily = store.read_daily()
    if daily is None or daily.empty:
        return 0
    factors, events = factor_function(store)(daily)
    store.replace_factors(factors, events)
    return len(events)


def exchange_map(
    store: Any, overrides: dict[str, str] | None = None
) -> Callable[[str], str | None]:
    """Exchange of a symbol for the price-band rules, or None when no fact says it.

    In order: ``overrides`` (``--exchange``, a ``hose/``/``hnx/``/``upcom/`` folder), the store's
    record (set by earlier imports, or the simulated listings), the curated listings, the
    whole-market table (``market.universe``). Never a default exchange: HOSE's band on an HNX or
    UPCoM name would turn ordinary moves into invented dividends.
    """
    from stockvision.market.listings import LISTINGS
    from stockvision.market.universe import listed_exchange

    try:
        table = store.read_symbols()
        known = {
            r["symbol"]: str(r["exchange"]) for r in table.to_dict("records") if r.get("exchange")
        }
    except Exception:
        known = {}
    known.update({k.upper(): str(v) for k, v in (overrides or {}).items() if v})

    def lookup(symbol: str) -> str | None:
        if symbol in known:
            return known[symbol]
        if symbol in LISTINGS:
            return str(LISTINGS[symbol].exchange)
        ex = listed_exchange(symbol)
        return None if ex is None else str(ex)

    return lookup


def adjusted_daily(store: Any, symbols: list[str] | None = None) -> pd.DataFrame:
    """Raw daily prices from the store with the stored factors applied (the adjusted frame)."""
    from stockvision.market.corporate_actions import adjust

    daily = store.read_daily(symbols=symbols)
    if daily is None or daily.empty:
        raise NoDataError(
            "The store has no daily prices yet.",
            "Run 'stockvision ingest --source csv FILE' (or --source synthetic) first.",
            message_vi="Kho dữ liệu chưa có giá ngày nào.",
        )
    return adjust(daily, events=store.read_corporate_actions(symbols=symbols))


def read_store_labelled(store: Any) -> pd.DataFrame:
    """The store's daily frame for the auto source, flagged simulated when every symbol in it is."""
    daily = store.read_daily()
    summary = store.symbols_summary()
    simulated = set(summary.loc[summary["simulated"], "symbol"]) if len(summary) else set()
    daily.attrs["simulated"] = bool(len(daily)) and set(daily["symbol"].unique()) <= simulated
    return daily


def last_trading_day(store: Any) -> date | None:
    """The newest trading day in the store (None when empty)."""
    latest = store.latest_trading_day()
    return None if latest is None else pd.Timestamp(latest).date()
