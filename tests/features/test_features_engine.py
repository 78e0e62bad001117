"""The distributed engine splits the feature build into symbol chunks, never changes it: full and
incremental builds on a Dask cluster (and on the serial engine's chunked path) equal the one-pass
build bit for bit, cross-sectional ``illiq_rank`` and the market calendar included."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from feature_frames import make_adjusted

from stockvision.engine import DaskEngine, SerialEngine
from stockvision.features.pipeline import incremental_update
from stockvision.features.weekly import compute_features

pytest.importorskip("distributed", reason="dask.distributed not installed (extra 'distributed')")

REPO = Path(__file__).resolve().parents[2]
VN30 = (
    Path(os.environ.get("SV_SHARED_DATA", REPO.parent / "shared" / "data"))
    / "vn30"
    / "vn30_constituents_daily_2016_2019.csv"
)


@pytest.fixture(scope="module")
def dask_engine():
    engine = DaskEngine(n_workers=2)
    yield engine
    engine.close()


@pytest.fixture(scope="module")
def market():
    return make_adjusted(
        n_symbols=9, n_days=700, seed=3, gaps=((1, 100, 30), (4, 0, 200), (5, 600, 100))
    )


def test_chunked_build_equals_one_pass_bit_for_bit(market, dask_engine):
    serial = compute_features(market)
    for engine, chunks in ((SerialEngine(), 4), (dask_engine, 3), (dask_engine, 50)):
        chunked = compute_features(market, engine=engine, chunks=chunks)
        pd.testing.assert_frame_equal(chunked, serial, check_exact=True)
    assert dask_engine.describe()["workers"] == 2  # it did run on the cluster


def test_incremental_build_on_the_engine_equals_serial(market, dask_engine):
    weeks = compute_features(market).index.get_level_values(1)
    cut = weeks.unique().sort_values()[-30]
    stored = compute_features(market[market["date"] < cut])
    serial = incremental_update(stored, market)
    dist = incremental_update(stored, market, engine=dask_engine)
    pd.testing.assert_frame_equal(dist, serial, check_exact=True)


@pytest.mark.skipif(not VN30.exists(), reason=f"real VN30 data not found at {VN30}")
def test_real_vn30_slice_on_dask_equals_serial(dask_engine):
    from stockvision.data.sources.csv_source import CsvSource
    from stockvision.market.corporate_actions import adjust

    daily = adjust(CsvSource(VN30).fetch(start="2017-01-01", end="2018-12-31").frame)
    serial = compute_features(daily)
    pd.testing.assert_frame_equal(
        compute_features(daily, engine=dask_engine, chunks=7), serial, check_exact=True
    )
