"""Coverage of the 80 % range by the model's OWN predicted scale: how often ranges this narrow (or
this wide) held the outcome in the walk-forward.

Why: the overall coverage (80.0 % on the whole market) hides that the calmest forecasts
under-cover. Their scale is tiny because the price moved little for weeks (on the whole market 58 %
of har_vol's calmest 1 % had an exact-zero 4-week return: frozen prices), and then it jumps: that
1 % held the outcome 70.9 % of the time, the widest 5 % 85.1 % (docs/evaluation.md, Round 5).
An answer for such a stock must say so with the figure measured for forecasts like it, rather
than quote the overall 80 %.

The bins are quantiles of the predicted scale over the scored test rows (a description of the
evaluation, nothing is fitted or served from them except the sentence). They travel to the
registry as flat scalar metrics (``distribution_cov80_scale_bin{i}_max`` / ``_coverage`` /
``_rows``) and are read back at serving time by :meth:`ScaleCoverage.from_metrics`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: Quantile levels of the predicted scale bounding the bins, calmest first: the calmest 1 %, the
#: next 4 %, 15 %, 30 %, 30 %, 15 %, 4 % and the widest 1 %.
SCALE_BIN_LEVELS: tuple[float, ...] = (0.0, 0.01, 0.05, 0.20, 0.50, 0.80, 0.95, 0.99, 1.0)

#: The key of the list in ``metrics.json`` (``models.<name>.distribution``).
BLOCK_KEY = "coverage_80_by_scale"

#: Prefix of the flat metrics (after ``flat_metrics`` adds ``distribution_``).
FLAT_PREFIX = "distribution_cov80_scale_bin"

#: A bin is only quoted to a user when it held at least this many scored rows (VN30's calmest
#: 1 % of har_vol forecasts are 47 rows covering 53 %: far outside the noise, and the answer
#: states the count) ...
MIN_ROWS = 40
#: ... and its coverage is at least this far from the nominal 80 % ...
MATERIAL_GAP = 0.05
#: ... and further than this many binomial standard errors (so noise is never quoted: 240 rows
#: at a true 80 % land outside 75-85 % about 5 % of the time).
NOISE_SE = 3.0


@dataclass(frozen=True)
class ScaleBin:
    """One bin: forecasts whose predicted scale lies in (previous bin's ``scale_max``,
    ``scale_max``] (the first bin also takes everything below; the last everything above)."""

    q_low: float
    q_high: float
    scale_max: float
    rows: int
    coverage_80: float


#: ScaleBin field -> suffix of its flat metric (``distribution_cov80_scale_bin{i}_{suffix}``).
_FLAT_SUFFIX = {
    "q_low": "q_low",
    "q_high": "q_high",
    "scale_max": "max",
    "rows": "rows",
    "coverage_80": "coverage",
}


def _bin(get: Callable[[str], Any]) -> ScaleBin | None:
    """A bin from a lookup by field name (a ``metrics.json`` entry or the flat metrics); None when
    a bound or the row count is missing or not a number (an unmeasured coverage reads as NaN)."""
    try:
        return ScaleBin(
            q_low=float(get("q_low")),
            q_high=float(get("q_high")),
            scale_max=float(get("scale_max")),
            rows=int(get("rows")),
            coverage_80=float(c) if (c := get("coverage_80")) is not None else float("nan"),
        )
    except (TypeError, ValueError):
        return None


def _merge(a: ScaleBin, b: ScaleBin) -> ScaleBin:
    """Two adjacent bins as one (``a`` the narrower)."""
    rows = a.rows + b.rows
    hits = np.nansum([a.coverage_80 * a.rows, b.coverage_80 * b.rows])
    return ScaleBin(
        q_low=a.q_low,
        q_high=b.q_high,
        scale_max=b.scale_max,
        rows=rows,
        coverage_80=float(hits / rows) if rows else float("nan"),
    )


@dataclass(frozen=True)
class ScaleCoverage:
    """The measured 80 % coverage per predicted-scale bin of one price model."""

    bins: tuple[ScaleBin, ...]

    # ------------------------------------------------------------------ measuring (evaluation)
    @classmethod
    def measure(
        cls,
        rows: pd.DataFrame,
        levels: tuple[float, ...] = SCALE_BIN_LEVELS,
        min_rows: int | None = None,
    ) -> ScaleCoverage | None:
        """From :func:`~stockvision.evaluation.scoring.distribution_rows` (columns ``scale`` and
        ``cover_80``). None when the scale barely varies (the constant-width random walk gives
        every row the same scale: there is nothing to split). Outer bins with fewer than
        ``min_rows`` (default :data:`MIN_ROWS`) rows are merged inward."""
        min_rows = MIN_ROWS if min_rows is None else min_rows
        if rows.empty or "scale" not in rows:
            return None
        scale = rows["scale"].to_numpy(float)
        cover = rows["cover_80"].to_numpy(bool)
        edges = np.quantile(scale, levels)
        if len(np.unique(edges)) < len(edges):
            return None
        which = np.searchsorted(edges[1:-1], scale, side="left")
        bins = []
        for i in range(len(levels) - 1):
            sel = which == i
            bins.append(
                ScaleBin(
                    q_low=float(levels[i]),
                    q_high=float(levels[i + 1]),
                    scale_max=float(edges[i + 1]),
                    rows=int(sel.sum()),
                    coverage_80=float(cover[sel].mean()) if sel.any() else float("nan"),
                )
            )
        # an outer bin too small to quote joins its neighbour (a short evaluation's narrowest 1 %
        # would otherwise say nothing while the next 4 % under-covers): "the narrowest 5 %"
        while len(bins) > 2 and bins[0].rows < min_rows:
            bins[:2] = [_merge(bins[0], bins[1])]
        while len(bins) > 2 and bins[-1].rows < min_rows:
            bins[-2:] = [_merge(bins[-2], bins[-1])]
        return cls(tuple(bins))

    def to_block(self) -> list[dict[str, float]]:
        """The list ``metrics.json`` holds (calmest bin first)."""
        return [{f: getattr(b, f) for f in _FLAT_SUFFIX} for b in self.bins]

    @classmethod
    def from_block(cls, block: list[Mapping[str, Any]]) -> ScaleCoverage | None:
        bins = tuple(_bin(b.get) for b in block)
        return cls(bins) if bins and None not in bins else None  # type: ignore[arg-type]

    # ------------------------------------------------------------------ the registry's flat form
    def flat(self) -> dict[str, float]:
        """Scalar metrics for MLflow (``distribution_cov80_scale_bin3_max`` ...); an unmeasured
        coverage (NaN) is left out."""
        out: dict[str, float] = {}
        for i, b in enumerate(self.bins):
            for field, suffix in _FLAT_SUFFIX.items():
                value = float(getattr(b, field))
                if field != "coverage_80" or np.isfinite(value):
                    out[f"{FLAT_PREFIX}{i}_{suffix}"] = value
        return out

    @classmethod
    def from_metrics(cls, metrics: Mapping[str, Any]) -> ScaleCoverage | None:
        """Back from the flat metrics of the registry; None when they are absent (a model
        registered before this existed, or a short history validated on a holdout)."""
        bins = []
        while f"{FLAT_PREFIX}{len(bins)}_max" in metrics:
            key = f"{FLAT_PREFIX}{len(bins)}_"
            b = _bin(lambda field, key=key: metrics.get(key + _FLAT_SUFFIX[field]))
            if b is None:
                return None
            bins.append(b)
        return cls(tuple(bins)) if bins else None

    # ------------------------------------------------------------------ serving
    def bin_of(self, scale: np.ndarray) -> np.ndarray:
        """Index of each scale's bin (the same rule as :meth:`measure`)."""
        upper = np.array([b.scale_max for b in self.bins[:-1]], dtype=float)
        return np.searchsorted(upper, np.asarray(scale, dtype=float), side="left")

    def quotable(self, i: int) -> bool:
        """True when bin ``i``'s coverage is measured on enough rows and differs from the nominal
        80 % both materially and beyond its sampling noise: only then does an answer quote it."""
        b = self.bins[i]
        return departs(b.coverage_80, 0.8, b.rows)


def departs(observed: float, expected: float, rows: int) -> bool:
    """True when a coverage ``observed`` on ``rows`` forecasts differs from ``expected`` by at
    least :data:`MATERIAL_GAP` AND by more than :data:`NOISE_SE` binomial standard errors, on at
    least :data:`MIN_ROWS` rows. The one rule for quoting a bin to a user (expected: the nominal
    80 %); live outcomes against a walk-forward figure use :func:`departs_from_measured`.
    Overlapping 4-week outcomes are not independent, so the binomial error understates the
    real noise; the 5-point floor is what keeps small gaps on many rows from being quoted."""
    if rows < MIN_ROWS or not (np.isfinite(observed) and np.isfinite(expected)):
        return False
    p = min(max(float(expected), 0.01), 0.99)
    noise = NOISE_SE * float(np.sqrt(p * (1.0 - p) / rows))
    return abs(float(observed) - float(expected)) >= max(MATERIAL_GAP, noise)


def departs_from_measured(live: float, live_rows: int, measured: float, measured_rows: int) -> bool:
    """True when a LIVE coverage left a coverage MEASURED on ``measured_rows`` walk-forward
    forecasts: :func:`departs`' rule with the noise of both estimates (two-sample binomial
    standard error on the pooled rate), since the walk-forward figure of a small bin is itself
    uncertain (VN30's calmest 1 %: 47 rows, about 7 points). Both need :data:`MIN_ROWS` rows."""
    if live_rows < MIN_ROWS or measured_rows < MIN_ROWS:
        return False
    if not (np.isfinite(live) and np.isfinite(measured)):
        return False
    pooled = (live * live_rows + measured * measured_rows) / (live_rows + measured_rows)
    p = min(max(float(pooled), 0.01), 0.99)
    noise = NOISE_SE * float(np.sqrt(p * (1.0 - p) * (1.0 / live_rows + 1.0 / measured_rows)))
    return abs(float(live) - float(measured)) >= max(MATERIAL_GAP, noise)
