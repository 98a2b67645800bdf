"""Each platform's error body, so clients see the same failures they would in production."""

from __future__ import annotations

from http import HTTPStatus

import orjson
from starlette.responses import Response

HUMANITIX, EVENTBRITE = "humanitix", "eventbrite"

# Eventbrite's error codes by HTTP status.
EB_CODES = {
    400: "ARGUMENTS_ERROR",
    401: "INVALID_AUTH",
    403: "NOT_AUTHORIZED",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    429: "HIT_RATE_LIMIT",
    500: "INTERNAL_ERROR",
    502: "BAD_GATEWAY",
    503: "SERVICE_UNAVAILABLE",
    504: "GATEWAY_TIMEOUT",
}


class ApiError(Exception):
    """Raised by a handler; the platform's endpoint wrapper turns it into the error body."""

    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def json_response(
    body: bytes, status: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def humanitix_error(status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    """Humanitix: ``{"statusCode": 401, "error": "Unauthorized", "message": "..."}``."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    body = {"statusCode": status, "error": phrase, "message": message}
    return json_response(orjson.dumps(body), status, headers)


def eventbrite_error(
    status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    """Eventbrite: ``{"status_code": 401, "error": "INVALID_AUTH", "error_description": ...}``."""
    body = {
        "status_code": status,
        "error": code or EB_CODES.get(status, "INTERNAL_ERROR"),
        "error_description": message,
    }
    return json_response(orjson.dumps(body), status, headers)


def platform_error(
    platform: str, status: int, message: str, headers: dict[str, str] | None = None
) -> Response:
    if platform == HUMANITIX:
        return humanitix_error(status, message, headers)
    return eventbrite_error(status, message, headers=headers)
