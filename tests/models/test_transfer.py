"""Parent-child transfer learning: warm start, freezing, and the experiment's report."""

from __future__ import annotations

import numpy as np
import torch

from stockvision.models import SequencePatternModel, run_transfer_experiment
from stockvision.models._windows import subset_window, symbols_of
from stockvision.models.transfer import fine_tune

FAST = {"max_epochs": 2, "lr": 5e-3, "batch_size": 64, "num_threads": 1, "hidden": (16, 8)}


def test_fine_tuned_child_starts_from_parent_and_keeps_frozen_layer(feature_windows, tmp_path):
    train, val, test = feature_windows
    parent = SequencePatternModel(**FAST).fit(train, val)
    sym = lambda w: subset_window(w, symbols_of(w) == "S03")  # noqa: E731
    child = fine_tune(parent, sym(train), sym(val), lr=1e-3, max_epochs=2, freeze_first_layer=True)
    p_sd, c_sd = parent.module_.state_dict(), child.module_.state_dict()
    for key in p_sd:
        same = torch.equal(p_sd[key], c_sd[key])
        assert same if key.startswith("layers.0.") else True
    assert any(not torch.equal(p_sd[k], c_sd[k]) for k in p_sd if not k.startswith("layers.0."))
    assert child.transformer_ is parent.transformer_  # parent's feature scaling is reused
    assert child.lr == 1e-3 and child.warm_started_from_ == "lstm"
    loaded = SequencePatternModel.load(child.save(tmp_path / "child"))
    assert np.array_equal(loaded.predict_proba(sym(test)), child.predict_proba(sym(test)))
    assert loaded.warm_started_from_ == "lstm"


def test_transfer_experiment_reports_times_and_scores(feature_windows):
    train, val, test = feature_windows
    out = run_transfer_experiment(
        train, val, test, ["S00", "S01"],
        parent_params=FAST, scratch_params=FAST, child_epochs=2,
    )  # fmt: skip
    assert set(out) == {"parent", "children", "summary"}
    assert set(out["children"]) == {"S00", "S01"}
    for child in out["children"].values():
        for kind in ("fine_tuned", "scratch"):
            assert child[kind]["seconds"] > 0
            assert 0.0 <= child[kind]["accuracy"] <= 1.0
            assert np.isfinite(child[kind]["log_loss"])
            assert child[kind]["n_test"] == 20  # 24 test weeks, the last 4 unlabelled
    s = out["summary"]
    assert s["time_saved_seconds"] == s["scratch_seconds_total"] - s["fine_tuned_seconds_total"]
    assert np.isfinite(s["fine_tuned_accuracy_mean"]) and np.isfinite(s["scratch_log_loss_mean"])
