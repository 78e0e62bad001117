"""Monitoring-driven retraining: which degraded tokens force the next run to retrain."""

from __future__ import annotations

import json

from stockvision.config import get_settings
from stockvision.monitoring.state import MonitoringState
from stockvision.pipeline import flow, steps
from stockvision.pipeline.outputs import SnapshotOutput


def _state(settings) -> MonitoringState:
    return MonitoringState(settings.subdir("monitoring"))


def _mark_degraded(settings, token: str) -> None:
    """A degradation flag with a given token (what monitoring writes through MonitoringState)."""
    _state(settings).mark_degraded([f"drift: ret_1w ({token})"])
    data = json.loads(_state(settings).degraded_path.read_text())
    _state(settings).degraded_path.write_text(json.dumps({**data, "token": token}))


def _train_fingerprint(settings, snapshot_digest: str = "snap") -> str:
    step = next(s for s in flow.build_steps(settings) if s.name == "train")
    snap = SnapshotOutput(snapshot_digest, "snapshots/x.parquet", "2020-01-03", "2020-06-26", [], 0)
    return step.fingerprint({"snapshot": snap})


def test_a_new_degraded_token_changes_the_train_fingerprint():
    settings = get_settings()
    clean = _train_fingerprint(settings)
    assert steps.retrain_token(settings) is None
    _mark_degraded(settings, "t1")
    assert steps.retrain_token(settings) == "t1"
    assert _train_fingerprint(settings) != clean
    _mark_degraded(settings, "t2")
    assert _train_fingerprint(settings) != clean
    _state(settings).clear_degraded()  # monitoring found it healthy again
    assert _train_fingerprint(settings) == clean


def test_a_token_issued_right_after_a_retrain_is_acknowledged():
    settings = get_settings()
    state = settings.subdir("pipeline") / "state.json"
    state.write_text(
        json.dumps(
            {
                "train": {"succeeded_at": "2026-01-05T00:10:00+00:00"},
                "monitor": {"succeeded_at": "2026-01-05T00:00:00+00:00"},
            }
        )
    )
    assert flow._retrained_since_last_monitor(settings)
    _mark_degraded(settings, "t1")
    # what steps.monitor does after run_monitoring when the models were retrained in this run
    _state(settings).acknowledge("t1")
    assert steps.retrain_token(settings) is None
    # a later degradation (models not retrained since) forces the retrain
    state.write_text(
        json.dumps(
            {
                "train": {"succeeded_at": "2026-01-05T00:10:00+00:00"},
                "monitor": {"succeeded_at": "2026-01-12T00:00:00+00:00"},
            }
        )
    )
    assert not flow._retrained_since_last_monitor(settings)
    _mark_degraded(settings, "t2")
    assert steps.retrain_token(settings) == "t2"


def test_unknown_model_names_fail_fast_with_the_choices():
    import pytest

    from stockvision.errors import StockVisionError

    with pytest.raises(StockVisionError, match="Unknown model 'lstmm'") as info:
        steps.check_model_names(["ridge", "lstmm"])
    assert "lstm" in info.value.hint
