"""One exception for every error a service answers, rendered as Marqo's JSON error envelope.

Why Marqo's shape (``{"message", "code", "type", "link"}``): the official ``marqo`` client
parses it, and one shape everywhere means a caller never has to guess.  Validation errors add
``field`` so the caller knows exactly what to fix.

    ApiError(status, code, message, field=None)
    ├── invalid(field, message)        422  a field of a well-formed body is wrong
    ├── bad_request(message)           400  the body is not JSON / not an object / too deep / not Unicode
    ├── unauthorized(message)          401
    ├── not_found(code, message)       404
    ├── conflict(code, message)        409  duplicate creation
    └── bad_gateway(code, message)     502  a dependency is down, timed out or answered garbage
"""

from __future__ import annotations

from typing import Any

_TYPES = {400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "invalid_request",
          405: "invalid_request", 409: "invalid_request", 413: "invalid_request", 414: "invalid_request",
          431: "invalid_request",
          422: "invalid_request", 502: "bad_gateway", 503: "unavailable"}


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"message": self.message, "code": self.code,
                               "type": _TYPES.get(self.status, "internal"), "link": ""}
        if self.field is not None:
            out["field"] = self.field
        return out


def invalid(field: str, message: str) -> ApiError:
    return ApiError(422, "invalid_argument", f"Invalid value for '{field}': {message}", field)


def bad_request(message: str, field: str | None = None) -> ApiError:
    return ApiError(400, "invalid_argument", message, field)


def unauthorized(message: str = "Missing or unknown API key: send it in the x-api-key header") -> ApiError:
    return ApiError(401, "unauthorized", message)


def not_found(code: str, message: str) -> ApiError:
    return ApiError(404, code, message)


def conflict(code: str, message: str) -> ApiError:
    return ApiError(409, code, message)


def bad_gateway(code: str, message: str) -> ApiError:
    return ApiError(502, code, message)
