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
) -> IngestResult:
    """Fetch ``symbols`` (None: all the source has), upsert them and recompute the adjustment
    factors, prices and factors in one transaction.

    ``replace_simulated``: real prices replace a store that holds the simulated demo market (else
    the store refuses to mix them, see ``Store.upsert_daily``).
    """
    result = source.fetch(symbols, start, end, progress=progress)
    upsert = store.upsert_daily(
        result.frame,
        source=result.source,
        simulated=result.simulated,
        replace_simulated=replace_simulated,
        factors=factor_function(store),
    )
    market = getattr(source, "market", None)  # the synthetic source knows its simulated listings
    if result.simulated and market is not None and hasattr(market, "listings"):
        listed = market.listings[["symbol", "exchange"]].astype(str)
        store.upsert_symbols(listed[listed["symbol"].isin(result.symbols)].assign(simulated=True))
    if upsert.factors_recomputed:
        events = upsert.factor_events
    else:  # nothing written: the stored factors stand
        events = len(store.read_corporate_actions())
    daily = store.read_daily()
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
        notes=list(result.report.notes),
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
        symbols=sorted(daily["symbol"].unique().tolist()) if len(daily) else [],
        fetched_symbols=list(result.symbols),
        latest_date=str(pd.Timestamp(daily["date"].max()).date()) if len(daily) else None,
        corporate_actions=events,
        data_digest=frame_digest(daily),
    )


def factor_function(store: Any) -> Callable[[pd.DataFrame], tuple[pd.DataFrame, pd.DataFrame]]:
    """``daily -> (factors, events)``: corporate actions detected with each symbol's exchange band."""
    from stockvision.market.corporate_actions import adjust, detect_corporate_actions

    exchange_of = exchange_map(store)

    def compute(daily: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        events = detect_corporate_actions(daily, exchange_of=exchange_of)
        adjusted = adjust(daily, events=events)
        return adjusted[["symbol", "date", "factor"]], events

    return compute


def adjust_store(store: Any) -> int:
    """Detect corporate actions over the whole store and replace the stored factors (event count)."""
    daily = store.read_daily()
    if daily is None or daily.empty:
        return 0
    factors, events = factor_function(store)(daily)
    store.replace_factors(factors, events)
    return len(events)


def exchange_map(store: Any) -> Callable[[str], str]:
    """Exchange of a symbol for the price-band rules: the store's record (e.g. simulated listings), VN30
    members on HOSE (the basket is HOSE's), the static listings, else HOSE (the tightest band: a move
    beyond it on HNX/UPCoM would be missed, never invented)."""
    from stockvision.market.listings import exchange_of
    from stockvision.market.vn30 import VN30_SYMBOLS

    try:
        table = store.read_symbols()
        known = {
            r["symbol"]: str(r["exchange"]) for r in table.to_dict("records") if r.get("exchange")
        }
    except Exception:
        known = {}

    def lookup(symbol: str) -> str:
        if symbol in known:
            return known[symbol]
        if symbol in VN30_SYMBOLS:
            return "HOSE"
        try:
            return str(exchange_of(symbol))
        except Exception:
            return "HOSE"

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
