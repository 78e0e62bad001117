"""Walk-forward with the random walk's ``calibration`` and the learned scale's ``market_inputs``."""

from __future__ import annotations

import numpy as np
import pytest
from eval_synth import make_daily

from stockvision.evaluation.scoring import distribution_block, distribution_rows, score
from stockvision.evaluation.splits import WalkForwardSplitter
from stockvision.evaluation.walkforward import run_walk_forward
from stockvision.features import DatasetBuilder, build_features_and_labels

SPLITTER = WalkForwardSplitter(min_train_weeks=60, val_weeks=8, max_folds=3)


@pytest.fixture(scope="module")
def builder():
    daily = make_daily(n_symbols=12, n_weeks=100, seed=7)  # >= MIN_MARKET_NAMES names a week
    features, labels = build_features_and_labels(daily)
    return DatasetBuilder(features, labels, seq_len=8, horizon=4)


def test_train_calibrated_random_walk_and_market_inputs_run_walk_forward(builder):
    names = ["random_walk", "vol_random_walk", "har_vol"]
    base = run_walk_forward(builder, names, SPLITTER, seed=1)
    params = {
        "random_walk": {"calibration": "train"},
        "vol_random_walk": {"calibration": "train"},
        "har_vol": {"market_inputs": True},
    }
    other = run_walk_forward(builder, names, SPLITTER, seed=1, model_params=params)
    for name in names:
        a, b = base.model_predictions(name), other.model_predictions(name)
        assert len(a) == len(b) and np.isfinite(b["pred_scale"]).all()
        assert (b["pred_scale"] > 0).all()
        assert not np.allclose(a["pred_scale"], b["pred_scale"])  # the parameter reaches the fit
    rw = other.model_predictions("random_walk")
    assert (rw.groupby("fold")["pred_scale"].nunique() == 1).all()  # one width per fold
    card = score(other)
    skill = card.metrics["models"]["har_vol"]["distribution"]["crps_skill"]
    assert np.isfinite(skill)


def test_distribution_block_against_itself_has_zero_skill(builder):
    res = run_walk_forward(builder, ["random_walk", "har_vol"], SPLITTER, seed=1)
    rows = distribution_rows(res.model_predictions("har_vol"))
    block = distribution_block(rows, rows, 4)
    assert block["crps_skill"] == pytest.approx(0.0)
    assert block["interval_score_skill"] == pytest.approx(0.0)
    ref = distribution_rows(res.model_predictions("random_walk"))
    half = rows[rows["week_end"] >= rows["week_end"].median()]
    part = distribution_block(half, ref, 4)  # a sub-window is scored on the common rows only
    assert part["n_rows"] == len(half) and np.isfinite(part["crps_skill"])
