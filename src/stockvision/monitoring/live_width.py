"""What the latest monitoring report says about the served champion's width bins, for answers.

``stockvision monitor`` compares, per bin of predicted width, the live 80 % coverage with the
walk-forward figure answers quote (``live.coverage_by_width``). The API, the chat, the CLI and the
live stream all answer through the prediction core, which adds a ``live_coverage_departed``
caveat for a bin that departed (``Predictor.predict(live_by_width=...)``); this reader gives them
those bins. A report about another price version says nothing about the served one: ignored.
"""

from __future__ import annotations

import threading
from typing import Any

from stockvision.evaluation.scale_coverage import ScaleBin
from stockvision.monitoring.state import MonitoringState

#: (q_low, q_high) of a walk-forward bin -> its LIVE figures (rows, coverage)
LiveBins = dict[tuple[float, float], ScaleBin]


class LiveWidthReader:
    """Departed width bins of the latest report, re-read only when the report file changes."""

    def __init__(self, state: MonitoringState) -> None:
        self.state = state
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, str], tuple[str, LiveBins | None]] | None = None

    def read(self, price_version: Any) -> tuple[str, LiveBins | None]:
        """(token, bins): ``token`` changes whenever the bins do (part of an answer's cache key;
        empty when there are none), ``bins`` None when no bin of this version departed."""
        try:
            stamp = (self.state.latest_path.stat().st_mtime_ns, str(price_version))
        except OSError:
            return "", None
        cached = self._cached
        if cached is not None and cached[0] == stamp:
            return cached[1]
        with self._lock:
            bins = departed_bins(self.state.latest() or {}, stamp[1])
            result = (f":live{stamp[0] % 10**9}" if bins else "", bins or None)
            self._cached = (stamp, result)
        return result


def departed_bins(report: dict[str, Any], price_version: str) -> LiveBins:
    """The bins of ``report`` (a monitoring report) that departed, when it is about
    ``price_version``; entries of another format are skipped."""
    if str((report.get("summary") or {}).get("price_version")) != str(price_version):
        return {}
    out: LiveBins = {}
    for b in (report.get("live") or {}).get("coverage_by_width") or []:
        try:
            if b.get("departs") and b.get("live_coverage") is not None:
                key = (float(b["q_low"]), float(b["q_high"]))
                out[key] = ScaleBin(
                    key[0],
                    key[1],
                    float(b["scale_max"]),
                    int(b["live_rows"]),
                    float(b["live_coverage"]),
                )
        except (AttributeError, KeyError, TypeError, ValueError):
            continue
    return out
