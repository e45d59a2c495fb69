"""The one error type of fake_cell, carrying Marqo's error envelope.

Why: every failure, from a bad filter deep in the parser to an unknown path, must reach the
client as `{"message", "code", "type", "link"}` with the status Marqo uses, because the
`marqo` client builds its exceptions from exactly those fields. Lower layers raise CellError;
the server turns it (and anything unexpected, as a 500) into that JSON body.
"""

from __future__ import annotations

from typing import Any

LINK = ""


class CellError(Exception):
    def __init__(self, status: int, code: str, message: str, error_type: str | None = None,
                 extra: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.type = error_type or ("internal" if status >= 500 else "invalid_request")
        self.extra = extra  # fields Marqo's body has beside the four (e.g. FastAPI's `detail`)

    def body(self) -> dict[str, Any]:
        out = {"message": self.message, "code": self.code, "type": self.type, "link": LINK}
        if self.extra:
            out.update(self.extra)
        return out


def invalid(message: str, field: str | None = None) -> CellError:
    return CellError(400, "invalid_argument", message, extra={"field": field} if field else None)


def index_not_found(name: str) -> CellError:
    return CellError(404, "index_not_found", f"Index {name} does not exist")


def index_exists(name: str) -> CellError:
    return CellError(409, "index_already_exists", f"Index {name} already exists")


def document_not_found(doc_id: str) -> CellError:
    return CellError(404, "document_not_found", f"Document with ID {doc_id} not found")


def unauthorized(message: str = "Invalid or missing API key (header x-api-key)") -> CellError:
    return CellError(401, "unauthorized", message)


def bad_request(message: str) -> CellError:
    return CellError(400, "bad_request", message)


def batch_apis_disabled() -> CellError:
    """Marqo answers its internal batch endpoints with a 403 unless MARQO_ENABLE_BATCH_APIS is true
    (FastAPI's HTTPException: the body has `detail`; the envelope adds the usual four fields)."""
    detail = "This API endpoint is disabled. Please set MARQO_ENABLE_BATCH_API to true to enable it."
    return CellError(403, "batch_apis_disabled", f"{detail} (fake_cell: FAKE_CELL_ENABLE_BATCH_APIS=true)",
                     extra={"detail": detail})
