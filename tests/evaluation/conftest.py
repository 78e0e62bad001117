"""Fixtures of the evaluation tests."""

from __future__ import annotations

import pytest
from eval_synth import make_daily, make_result

from stockvision.evaluation.walkforward import EvaluationResult


@pytest.fixture(scope="module")
def synthetic_result() -> EvaluationResult:
    return make_result(make_daily())
