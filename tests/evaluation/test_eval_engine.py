"""The distributed engine changes where the fits run, never what they compute: the walk-forward on
a Dask LocalCluster writes a byte-identical metrics.json (and equal predictions) to the serial run,
failures included. Small generated market, two single-threaded worker processes."""

from __future__ import annotations

import pandas as pd
import pytest
from eval_synth import make_daily

from stockvision.config import Settings
from stockvision.engine import DaskEngine, SerialEngine
from stockvision.evaluation.evaluate import evaluate_dataset
from stockvision.evaluation.splits import WalkForwardSplitter
from stockvision.features import DatasetBuilder, build_features_and_labels

pytest.importorskip("distributed", reason="dask.distributed not installed (extra 'distributed')")

# price and pattern models: linear, tree and torch (GRU), baselines; pooled calibration included
MODELS = ["ridge", "random_walk", "lgbm_clf", "gru", "majority"]
SPLITTER = WalkForwardSplitter(min_train_weeks=60, val_weeks=8, max_folds=2)
PARAMS = {
    "ridge": {"degree": 1},
    "lgbm_clf": {"n_estimators": 40, "num_threads": 1},
    "gru": {"max_epochs": 2, "num_threads": 1, "hidden": (8,)},
}


@pytest.fixture(scope="module")
def market():
    daily = make_daily(n_symbols=6, n_weeks=110, seed=4)
    features, labels = build_features_and_labels(daily)
    return daily, DatasetBuilder(features, labels, seq_len=8, horizon=4)


@pytest.fixture(scope="module")
def dask_engine():
    engine = DaskEngine(n_workers=2)
    yield engine
    engine.close()


def _run(market, engine, out, params=PARAMS, models=MODELS):
    daily, builder = market
    settings = Settings(data_dir=out / "home", seed=11)
    _, _, result = evaluate_dataset(
        builder, daily, out, models, SPLITTER,
        settings=settings, show_progress=False, model_params=params, engine=engine,
    )  # fmt: skip
    return (out / "metrics.json").read_bytes(), result


def test_dask_gives_the_serial_metrics_byte_for_byte(market, dask_engine, tmp_path):
    serial_metrics, serial = _run(market, SerialEngine(), tmp_path / "serial")
    dask_metrics, dist = _run(market, dask_engine, tmp_path / "dask")
    assert dask_engine.describe()["workers"] == 2  # it did run on the cluster
    assert serial_metrics == dask_metrics
    pd.testing.assert_frame_equal(serial.predictions, dist.predictions, check_exact=True)
    assert serial.temperatures == dist.temperatures and serial.temperatures  # pooled calibration
    assert set(serial.model_kinds) == set(MODELS)


def test_a_failing_model_is_dropped_the_same_way(market, dask_engine, tmp_path):
    bad = {**PARAMS, "lgbm_clf": {"n_estimators": 40, "num_threads": 1, "num_leaves": -3}}
    models = ["random_walk", "lgbm_clf", "majority"]
    serial_metrics, serial = _run(market, SerialEngine(), tmp_path / "s", bad, models)
    dask_metrics, dist = _run(market, dask_engine, tmp_path / "d", bad, models)
    assert set(serial.failed) == {"lgbm_clf"}
    assert serial.failed == dist.failed
    assert serial_metrics == dask_metrics
