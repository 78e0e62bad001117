"""Coverage of the 80 % range by the model's own predicted scale: measured per bin, carried to the
registry as flat metrics and read back unchanged, bins assigned the same way at serving time."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pandas as pd
import pytest

from stockvision.evaluation.scale_coverage import (
    MIN_ROWS,
    SCALE_BIN_LEVELS,
    ScaleBin,
    ScaleCoverage,
)
from stockvision.evaluation.scoring import distribution_block, distribution_rows
from stockvision.pipeline.steps import flat_metrics


def _rows(n: int = 20_000, seed: int = 0) -> pd.DataFrame:
    """Scored rows whose calmest 5 % have a scale far too small for their outcomes (a frozen
    price that then jumps): their 80 % range under-covers; the rest are well calibrated."""
    rng = np.random.default_rng(seed)
    scale = np.exp(rng.uniform(np.log(0.01), np.log(0.2), n))
    calm = scale < np.quantile(scale, 0.05)
    true_scale = np.where(calm, scale * 3.0, scale)
    y = rng.normal(0.0, true_scale)
    z80 = 1.2815515655446004
    return pd.DataFrame({"scale": scale, "cover_80": np.abs(y) <= z80 * scale})


def test_the_calmest_bins_measure_their_under_coverage_and_the_rest_hold_80():
    by = ScaleCoverage.measure(_rows())
    assert by is not None
    assert [(b.q_low, b.q_high) for b in by.bins] == list(pairwise(SCALE_BIN_LEVELS))
    assert sum(b.rows for b in by.bins) == 20_000
    assert by.bins[0].rows == 200 and by.bins[1].rows == 800
    assert by.bins[0].coverage_80 < 0.5 and by.bins[1].coverage_80 < 0.5  # 3x too narrow: ~33 %
    assert all(abs(b.coverage_80 - 0.8) < 0.05 for b in by.bins[2:])
    assert by.quotable(0) and by.quotable(1) and not by.quotable(4)
    assert [b.scale_max for b in by.bins] == sorted(b.scale_max for b in by.bins)


def test_a_constant_scale_has_no_bins():
    rows = pd.DataFrame({"scale": np.full(1000, 0.05), "cover_80": np.ones(1000, bool)})
    assert ScaleCoverage.measure(rows) is None


def test_serving_assigns_the_bins_measure_used_and_clips_outside_the_tested_range():
    rows = _rows(5000, seed=3)
    by = ScaleCoverage.measure(rows)
    assert by is not None
    which = by.bin_of(rows["scale"].to_numpy())
    counts = np.bincount(which, minlength=len(by.bins))
    assert list(counts) == [b.rows for b in by.bins]
    assert list(by.bin_of(np.array([1e-9, 10.0]))) == [0, len(by.bins) - 1]


def test_small_outer_bins_join_their_neighbour_and_small_gaps_are_not_quoted():
    rows = _rows(3000, seed=1)  # the narrowest and the widest 1 % hold 30 rows each
    by = ScaleCoverage.measure(rows)
    assert by is not None and len(by.bins) == 6 and sum(b.rows for b in by.bins) == 3000
    first, last = by.bins[0], by.bins[-1]
    assert (first.q_low, first.q_high, first.rows) == (0.0, 0.05, 150)
    assert (last.q_low, last.q_high, last.rows) == (0.95, 1.0, 150)
    assert first.coverage_80 == pytest.approx(
        rows["cover_80"][rows["scale"] <= first.scale_max].mean()
    )
    assert by.quotable(0)  # the narrowest 5 % (3x too narrow) under-cover
    # the calibrated middle: enough rows, but within 5 points of 80 %
    assert all(b.rows >= MIN_ROWS and not by.quotable(i) for i, b in enumerate(by.bins) if i > 0)
    unmerged = ScaleCoverage.measure(rows, min_rows=0)
    assert unmerged is not None and len(unmerged.bins) == 8 and unmerged.bins[0].rows == 30


def test_the_block_goes_through_metrics_json_and_the_registry_flat_form_unchanged():
    rng = np.random.default_rng(5)
    n = 5000
    scale = np.exp(rng.uniform(np.log(0.01), np.log(0.2), n))
    df = pd.DataFrame(
        {
            "symbol": rng.choice(["AAA", "BBB", "CCC"], n),
            "week_end": pd.Timestamp("2019-01-04")
            + pd.to_timedelta(rng.integers(0, 100, n) * 7, "D"),
            "actual_log_return": rng.normal(0.0, scale),
            "pred_log_return": 0.0,
            "pred_scale": scale,
            "dist_df": np.inf,
            "vol_4w": scale / 4.5,
            "raw_close": 10_000.0,
        }
    )
    block = distribution_block(distribution_rows(df), None, horizon=4)
    listed = block["coverage_80_by_scale"]
    assert len(listed) == len(SCALE_BIN_LEVELS) - 1 and sum(b["rows"] for b in listed) == n
    flat = flat_metrics({"distribution": block})
    assert flat["distribution_cov80_scale_bin0_q_high"] == pytest.approx(0.01)
    back = ScaleCoverage.from_metrics(flat)
    assert back == ScaleCoverage.from_block(listed)
    assert back == ScaleCoverage.measure(distribution_rows(df))
    assert ScaleCoverage.from_metrics({"distribution_crps": 0.05}) is None


def test_a_gap_within_its_sampling_noise_is_not_quoted():
    def one(rows: int, cov: float) -> ScaleCoverage:
        return ScaleCoverage((ScaleBin(0.0, 0.01, 0.02, rows, cov), ScaleBin(0.01, 1, 1, 1, 0.8)))

    assert not one(240, 0.858).quotable(0)  # 2.2 standard errors: noise
    assert one(2450, 0.709).quotable(0)  # the market's calmest 1 % (docs/evaluation.md)
    assert not one(5000, 0.77).quotable(0)  # significant but immaterial
