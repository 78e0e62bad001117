"""Market-data sources behind one interface (:class:`DataSource`), chosen by :func:`get_source`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stockvision.config import Settings
from stockvision.data.sources.auto import AutoSource
from stockvision.data.sources.base import (
    DataSource,
    ImportReport,
    RowError,
    SourceResult,
    normalise_daily,
)
from stockvision.data.sources.csv_source import CsvSource
from stockvision.data.sources.synthetic import SyntheticMarket, SyntheticSource, generate_market
from stockvision.data.sources.vnstock_source import TokenBucket, VnstockSource
from stockvision.errors import SourceError, SourceUnavailableError, UnknownSymbolError

SOURCE_NAMES = ("auto", "vnstock", "csv", "synthetic")


def get_source(name: str | None, settings: Settings, **kw: Any) -> DataSource:
    """The source called ``name`` (default ``settings.source``), configured from settings.

    Keyword arguments go to the source's constructor and override settings, e.g.
    ``get_source("csv", paths=["VNM.csv"])`` or ``get_source("auto", store_reader=store.read)``.
    """
    name = (name or settings.source).strip().lower()
    if name == "synthetic":
        params: dict[str, Any] = {
            "n_symbols": settings.synthetic_symbols,
            "years": settings.synthetic_years,
            "seed": settings.synthetic_seed,
        }
        return SyntheticSource(**(params | kw))
    if name == "csv":
        paths: list[Path] = [Path(p) for p in kw.pop("paths", None) or settings.csv_paths]
        if not paths:
            raise SourceUnavailableError(
                "the csv source needs files: pass paths or set SV_CSV_PATHS (files or folders)"
            )
        return CsvSource(paths, **kw)
    if name == "vnstock":
        return VnstockSource(settings, **kw)
    if name == "auto":
        return AutoSource(settings, **kw)
    raise SourceError(f"unknown source {name!r}; choose one of {', '.join(SOURCE_NAMES)}")


def real_source(settings: Settings) -> DataSource:
    """A source of REAL prices for fetching symbols on demand (the serving layer's auto-healing).

    Never the synthetic market and never the ``auto`` fallback chain: a symbol fetched for a user must
    be real or fail with a reason. ``auto`` means vnstock here (it fails fast when offline).
    """
    name = (settings.source or "auto").strip().lower()
    if name == "synthetic":
        raise SourceUnavailableError(
            "This installation runs on the simulated demo market; there is no real data source "
            "to fetch from.",
            "Import real prices with 'stockvision ingest --source csv FILE --replace-simulated', "
            "or set SV_SOURCE=vnstock when online.",
            message_vi=(
                "Hệ thống đang chạy trên thị trường mô phỏng; không có nguồn dữ liệu thật để tải."
            ),
        )
    if name == "csv":
        return get_source("csv", settings)
    return VnstockSource(settings)


__all__ = [
    "SOURCE_NAMES",
    "AutoSource",
    "CsvSource",
    "DataSource",
    "ImportReport",
    "RowError",
    "SourceError",
    "SourceResult",
    "SourceUnavailableError",
    "SyntheticMarket",
    "SyntheticSource",
    "TokenBucket",
    "UnknownSymbolError",
    "VnstockSource",
    "generate_market",
    "get_source",
    "normalise_daily",
    "real_source",
]
