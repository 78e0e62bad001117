"""Property-based fuzzing of the documented API (schemathesis 4) with every check it has.

Every operation of ``/openapi.json`` gets valid (positive) and invalid (negative) generated requests, with
the rate limits raised so they do not hide answers; every schemathesis check runs on every response (no
5xx, no undocumented status code, bodies and headers as documented, invalid data rejected, valid data
accepted). Bounded to a few examples per operation and mode.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

pytestmark = pytest.mark.integration

EXAMPLES_PER_OPERATION = 8


def test_every_generated_request_passes_every_check(api_settings):
    from fastapi.testclient import TestClient

    from stockvision.serving.app import create_app

    settings = api_settings.model_copy(
        update={"ops_rate_limit_per_minute": 10**9, "ui_rate_limit_per_minute": 10**9}
    )
    app = create_app(settings, start_background=False, mount_chat_ui=False)
    with TestClient(app):  # runs the lifespan: models and data loaded
        schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 12
        seen: dict[str, set[int]] = {}
        for operation in operations:
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                try:
                    _fuzz(operation, mode, seen)()
                except Unsatisfiable:  # nothing to make invalid (e.g. no parameters at all)
                    assert mode is GenerationMode.NEGATIVE
        assert all(code < 500 for codes in seen.values() for code in codes)
        assert 200 in seen["POST /api/v1/predict/batch"]
        assert any(c in (404, 422) for c in seen["POST /api/v1/predict/{symbol}"])


def _fuzz(operation, mode, seen: dict[str, set[int]]):
    """A hypothesis test sending generated requests to one operation."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case) -> None:
        if "retrain" in case.path:  # never start a real pipeline run
            case.headers = {**(case.headers or {}), "X-API-Key": "not-the-key"}
        response = case.call()
        seen.setdefault(operation.label, set()).add(response.status_code)
        assert "Traceback" not in response.text
        case.validate_response(response)  # every check: status codes, schemas, headers...

    return run
