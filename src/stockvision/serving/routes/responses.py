"""Documented error answers shared by the routes (OpenAPI ``responses``) and the JSON shortcut."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response

from stockvision.serving.api_schemas import ErrorResponse

ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    202: {"model": ErrorResponse, "description": "Data is being fetched; poll the status URL"},
    404: {"model": ErrorResponse, "description": "Unknown symbol (with the closest valid symbols)"},
    422: {"model": ErrorResponse, "description": "Invalid input or too little history"},
    429: {"model": ErrorResponse, "description": "Rate limit exceeded (see Retry-After)"},
    503: {"model": ErrorResponse, "description": "No model loaded or data unavailable"},
}
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    k: v for k, v in ERROR_RESPONSES.items() if k in (422, 429, 503)
}
#: routes that read a JSON body: it may be malformed or too large
BODY_RESPONSES: dict[int | str, dict[str, Any]] = {
    **COMMON_RESPONSES,
    400: {"model": ErrorResponse, "description": "The body is not valid JSON"},
    413: {"model": ErrorResponse, "description": "The body is larger than the limit"},
}
ADMIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Missing or wrong X-API-Key"},
    403: {"model": ErrorResponse, "description": "Admin endpoints disabled (no SV_API_KEY set)"},
    409: {"model": ErrorResponse, "description": "A pipeline run is already in progress"},
    429: ERROR_RESPONSES[429],
}


def json_response(content: str | bytes) -> Response:
    """Already-validated JSON (skips FastAPI's second serialisation pass)."""
    return Response(content=content, media_type="application/json")
