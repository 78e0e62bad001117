"""The HTTP status of every error code, in one table.

Errors themselves live in :mod:`stockvision.errors` (one hierarchy for every layer); only the API needs
to know which status each ``code`` answers with. A code missing here answers 400 when it is a user error
and 500 when it is a system fault, so a new error class can never leak as an undocumented status.
"""

from __future__ import annotations

from stockvision.errors import StockVisionError

HTTP_STATUS: dict[str, int] = {
    "unknown_symbol": 404,
    "no_data": 404,
    "not_in_demo": 404,
    "not_found": 404,
    "unknown_group": 404,
    "insufficient_history": 422,
    "invalid_request": 422,
    "invalid_data": 422,
    "invalid_feature_input": 422,
    "bad_upload": 400,
    "bad_config": 400,
    "source_error": 400,
    "data_pending": 202,
    "pipeline_busy": 409,
    "simulated_mix": 409,
    "rate_limited": 429,
    "data_unavailable": 503,
    "source_unavailable": 503,
    "model_unavailable": 503,
    "model_load_failed": 503,
    "registry_error": 503,
    "engine_unavailable": 503,
    "no_data_in_store": 503,
    "schema_version": 503,
    "step_failed": 500,
    "stream_unavailable": 503,
    "alert_not_found": 404,
    "not_fitted": 500,
}


def http_status(exc: StockVisionError) -> int:
    """The status ``exc`` answers with (see :data:`HTTP_STATUS`)."""
    status = HTTP_STATUS.get(exc.code)
    if status is not None:
        return status
    return 400 if exc.user_error else 500
