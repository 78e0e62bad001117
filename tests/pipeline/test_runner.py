"""The pipeline runner: order, retries with backoff, skip on unchanged inputs, failure naming the step."""

from __future__ import annotations

import json

import pytest

from stockvision.errors import StockVisionError
from stockvision.pipeline.runner import PipelineRunner, Step, StepFailedError, digest


def _steps(calls: list[str], data: dict) -> list[Step]:
    def fetch(ctx):
        calls.append("fetch")
        return {"digest": digest(data["rows"])}

    def train(ctx):
        calls.append("train")
        return {"trained_on": ctx["fetch"]["digest"]}

    return [
        Step("fetch", fetch),  # no fingerprint: always runs
        Step("train", train, fingerprint=lambda ctx: ctx["fetch"]["digest"]),
    ]


def test_second_run_on_unchanged_inputs_skips(tmp_path):
    calls: list[str] = []
    data = {"rows": [1, 2, 3]}
    runner = PipelineRunner(_steps(calls, data), tmp_path, sleep=lambda s: None)
    first = runner.run()
    second = runner.run()
    assert calls == ["fetch", "train", "fetch"]
    assert [s.status for s in first.steps] == ["succeeded", "succeeded"]
    assert [s.status for s in second.steps] == ["succeeded", "skipped"]
    assert second.outputs["train"] == first.outputs["train"]
    data["rows"].append(4)
    third = runner.run()
    assert [s.status for s in third.steps] == ["succeeded", "succeeded"]
    log = [json.loads(x) for x in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert len(log) == 3 and all(entry["status"] == "succeeded" for entry in log)


def test_retries_with_exponential_backoff_then_succeeds(tmp_path):
    sleeps: list[float] = []
    attempts = {"n": 0}

    def flaky(ctx):
        attempts["n"] += 1
        if attempts["n"] < 3:
            raise ConnectionError("network down")
        return {"ok": True}

    runner = PipelineRunner(
        [Step("fetch", flaky)], tmp_path, backoff_seconds=1.0, sleep=sleeps.append
    )
    result = runner.run()
    assert result.steps[0].attempts == 3
    assert sleeps == [1.0, 2.0]


def test_failure_names_the_step_and_stops(tmp_path):
    calls: list[str] = []

    def broken(ctx):
        raise ConnectionError("registry unreachable")

    def after(ctx):
        calls.append("after")

    runner = PipelineRunner(
        [Step("register", broken), Step("promote", after)], tmp_path, sleep=lambda s: None
    )
    with pytest.raises(StepFailedError) as info:
        runner.run()
    assert info.value.step == "register"
    assert "registry unreachable" in str(info.value) and "3 attempt" in str(info.value)
    assert calls == []
    log = [json.loads(x) for x in (tmp_path / "runs.jsonl").read_text().splitlines()]
    assert log[-1]["status"] == "failed"


def test_user_errors_are_not_retried(tmp_path):
    attempts = {"n": 0}

    def bad_input(ctx):
        attempts["n"] += 1
        raise StockVisionError("CSV has no close column")

    runner = PipelineRunner([Step("fetch", bad_input)], tmp_path, sleep=lambda s: None)
    with pytest.raises(StepFailedError):
        runner.run()
    assert attempts["n"] == 1


def test_force_reruns_and_invalidate_forgets(tmp_path):
    calls: list[str] = []
    runner = PipelineRunner(_steps(calls, {"rows": [1]}), tmp_path, sleep=lambda s: None)
    runner.run()
    runner.run(force=True)
    assert calls.count("train") == 2
    runner.invalidate("train")
    runner.run()
    assert calls.count("train") == 3
