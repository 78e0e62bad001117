"""Monitoring-driven retraining: which degraded tokens force the next run to retrain."""

from __future__ import annotations

import json

from stockvision.config import get_settings
from stockvision.pipeline import flow, steps


def _mark_degraded(settings, token: str) -> None:
    """What monitoring/report.py writes when it marks the champion degraded."""
    path = settings.subdir("monitoring") / "degraded.json"
    path.write_text(json.dumps({"token": token, "reasons": ["drift: ret_1w"], "at": "2026-01-05"}))


def _train_fingerprint(settings, snapshot_digest: str = "snap") -> str:
    step = next(s for s in flow.build_steps(settings) if s.name == "train")
    return step.fingerprint({"snapshot": {"digest": snapshot_digest}})


def test_a_new_degraded_token_changes_the_train_fingerprint():
    settings = get_settings()
    clean = _train_fingerprint(settings)
    assert steps.retrain_token(settings) is None
    _mark_degraded(settings, "t1")
    assert steps.retrain_token(settings) == "t1"
    assert _train_fingerprint(settings) != clean
    _mark_degraded(settings, "t2")
    assert _train_fingerprint(settings) != clean
    (settings.subdir("monitoring") / "degraded.json").unlink()  # monitoring found it healthy again
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
    steps._ack_path(settings).write_text(json.dumps({"token": "t1"}))
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
