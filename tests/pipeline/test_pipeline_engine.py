"""SV_ENGINE=dask runs the pipeline's fetch (CSV files read on the cluster) and feature steps on the
engine and stores what the serial run stores: same daily rows, same features, bit for bit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from stockvision.config import Settings
from stockvision.data.store import Store
from stockvision.engine import DaskEngine
from stockvision.pipeline import steps

pytest.importorskip("distributed", reason="dask.distributed not installed (extra 'distributed')")


@pytest.fixture(scope="module")
def csv_folder(tmp_path_factory):
    from stockvision.data.sources import generate_market

    root = tmp_path_factory.mktemp("prices")
    market = generate_market(n_symbols=5, years=2, seed=7)
    for sym, rows in market.groupby("symbol"):
        cols = ["date", "open", "high", "low", "close", "volume"]
        rows[cols].to_csv(root / f"X{str(sym)[-2:]}.csv", index=False)
    return root


def _run(tmp_path: Path, folder: Path, engine: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    settings = Settings(data_dir=tmp_path / engine, engine=engine, dask_workers=1)
    steps.fetch(settings, paths=[folder], source="csv")
    steps.build_features(settings)
    store = Store.from_settings(settings)
    return store.read_daily(), store.read_features()


def test_pipeline_steps_on_dask_store_what_serial_stores(tmp_path, csv_folder, monkeypatch):
    daily, feats = _run(tmp_path, csv_folder, "serial")
    calls: list[str] = []
    real_map = DaskEngine.map

    def counted(self, fn, items, **kw):
        calls.append(fn.__name__)
        return real_map(self, fn, items, **kw)

    monkeypatch.setattr(DaskEngine, "map", counted)
    dist_daily, dist_feats = _run(tmp_path, csv_folder, "dask")
    assert calls == ["_read_chunk", "_symbol_features"]  # both steps ran on the cluster
    assert len(feats) > 100
    pd.testing.assert_frame_equal(dist_daily, daily, check_exact=True)
    pd.testing.assert_frame_equal(dist_feats, feats, check_exact=True)
