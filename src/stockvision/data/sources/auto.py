"""Pick the best source available right now: live vnstock, else the store, else simulated.

Why: the CLI and the demo must work on a laptop without network or data, yet use real data
whenever there is some. The result says which source answered (``SourceResult.source``) and
whether it is simulated, so nothing downstream mistakes a simulation for the market.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import pandas as pd

from stockvision.config import Settings
from stockvision.data.schema import SYMBOL
from stockvision.data.sources.base import (
    DataSource,
    DateLike,
    ImportReport,
    Progress,
    SourceResult,
    filter_range,
    normalise_daily,
)
from stockvision.data.sources.synthetic import demo_source
from stockvision.data.sources.vnstock_source import VnstockSource, probe
from stockvision.errors import SourceUnavailableError

log = logging.getLogger(__name__)

StoreReader = Callable[[], pd.DataFrame | None]


class AutoSource(DataSource):
    """vnstock when reachable, else what the store holds, else the synthetic market.

    ``store_reader`` returns the store's daily frame (or None when empty); it is a callable so
    this module does not depend on the store. ``probe`` answers "is vnstock reachable?" quickly.
    The synthetic fallback is the offline demo (:func:`demo_source`: listed tickers, simulated up
    to the last completed week, labelled simulated); it ignores ``symbols`` and returns the whole
    demo market, so a request for one symbol never yields a one-stock market.
    """

    name = "auto"

    def __init__(
        self,
        settings: Settings,
        store_reader: StoreReader | None = None,
        vnstock: VnstockSource | None = None,
        synthetic: DataSource | None = None,
        probe: Callable[[], bool] | None = None,
        probe_timeout: float = 2.0,
    ) -> None:
        self.settings = settings
        self.store_reader = store_reader
        self._vnstock = vnstock
        self._synthetic = synthetic
        self._probe = probe
        self.probe_timeout = probe_timeout
        self.chosen: str | None = None  # which source answered the last fetch

    @property
    def vnstock(self) -> VnstockSource:
        if self._vnstock is None:
            self._vnstock = VnstockSource(self.settings)
        return self._vnstock

    @property
    def synthetic(self) -> DataSource:
        if self._synthetic is None:
            s = self.settings
            self._synthetic = demo_source(s.synthetic_symbols, s.synthetic_years, s.synthetic_seed)
        return self._synthetic

    def vnstock_reachable(self) -> bool:
        if self._probe is not None:
            return self._probe()
        return probe(timeout=self.probe_timeout)

    def fetch(
        self,
        symbols: list[str] | None = None,
        start: DateLike | None = None,
        end: DateLike | None = None,
        progress: Progress | None = None,
    ) -> SourceResult:
        """Try each source in turn; the result's ``source`` names the one used."""
        if self.vnstock_reachable():
            try:
                return self._answer(self.vnstock.fetch(symbols, start, end, progress))
            except SourceUnavailableError as exc:
                log.warning("vnstock probe passed but fetch failed, falling back: %s", exc)
        stored = self._from_store(symbols, start, end)
        if stored is not None:
            return self._answer(stored)
        log.warning("no network and an empty store: using the SIMULATED market")
        return self._answer(self.synthetic.fetch(None, start, end, progress))

    def _from_store(
        self, symbols: list[str] | None, start: DateLike | None, end: DateLike | None
    ) -> SourceResult | None:
        if self.store_reader is None:
            return None
        held = self.store_reader()
        if held is None or held.empty:
            return None
        frame = filter_range(normalise_daily(held), symbols, start, end)
        if frame.empty:
            return None
        report = ImportReport()
        for sym, count in frame.groupby(SYMBOL, sort=True).size().items():
            report.add_file(str(sym), int(count), int(count), [])
        simulated = bool(held.attrs.get("simulated", False))
        return SourceResult(frame=frame, report=report, source="store", simulated=simulated)

    def _answer(self, result: SourceResult) -> SourceResult:
        self.chosen = result.source
        log.info("auto source used %s (simulated=%s)", result.source, result.simulated)
        return result
