"""JSON request bodies within documented limits: at most 64 nested levels, no lone surrogate, no more bytes than asked.

Why: ``json.loads`` recurses once per level, so 1,000 nested ``[`` was a ``RecursionError`` (500); a
``"\\ud800"`` in a document id parsed fine and failed later when encoded (500, or a 502 from the cell);
a 10 MB settings object reached DynamoDB's item limit (502). Each is the caller's mistake: 400 (or 413)
naming the field, decided here before a handler sees the value (the depth on the text, before any
object is built). Pure, no I/O.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .errors import ApiError, bad_request

MAX_DEPTH = 64
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")  # how a lone surrogate gets into Python
_SURROGATE = re.compile("[\ud800-\udfff]")
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')  # whole strings (their brackets do not count), brackets


def bad_header(headers: Any) -> ApiError | None:
    """A 400 naming the first header whose value is not UTF-8 (aiohttp hands such bytes on as lone surrogates,
    which failed later as a 500, e.g. an ``x-api-key`` being hashed), or None."""
    for name, value in headers.items():
        if _SURROGATE.search(value):
            return bad_request(f"header {name!r} is not valid UTF-8", name)
    return None


def too_large(field: str, limit: int) -> ApiError:
    return ApiError(413, "request_too_large", f"'{field}' is larger than {limit} bytes (the limit of this call)", field)


def parse(raw: bytes, *, max_bytes: int | None = None, field: str = "body") -> Any:
    """The JSON value of ``raw``, or an ``ApiError``: 413 over ``max_bytes``; 400 when it is not JSON, nested
    deeper than 64 levels, or holds a lone surrogate (``field`` names the body in messages)."""
    if max_bytes is not None and len(raw) > max_bytes:
        raise too_large(field, max_bytes)
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:
        where = _too_deep_at(raw)
        if where is not None:
            name = field if where == "" else (where if field == "body" else f"{field}.{where}")
            raise bad_request(f"'{name}' is nested deeper than {MAX_DEPTH} levels", name)
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise bad_request(f"Request body is not valid JSON: {e}") from None
    if _MAYBE_SURROGATE.search(raw):
        _check_surrogates(value, "" if field == "body" else field)
    return value


def _too_deep_at(raw: bytes) -> str | None:
    """The top-level key whose value is nested too deep ("" for the body itself), None when nothing is."""
    depth, key, last_string = 0, "", b""
    root_is_object = raw.lstrip()[:1] == b"{"
    for match in _TOKEN.finditer(raw):
        token = match.group()
        if token[:1] == b'"':
            last_string = token
        elif token in (b"[", b"{"):
            depth += 1
            if depth == 2 and root_is_object:
                try:
                    key = json.loads(last_string)
                except ValueError:
                    key = ""
                key = key if isinstance(key, str) and not _SURROGATE.search(key) else ""
            if depth > MAX_DEPTH:
                return key
        else:
            depth -= 1
    return None


def _check_surrogates(value: Any, root: str) -> None:
    stack: list[tuple[str, Any]] = [(root, value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str) and _SURROGATE.search(item):
            raise _surrogate(path or "body", "the value")
        if isinstance(item, (dict, list)):
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str) and _SURROGATE.search(key):
                    raise _surrogate(path or "body", "a key")
                stack.append((f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key), child))


def _surrogate(field: str, what: str) -> ApiError:
    return bad_request(f"{what} of '{field}' holds a lone UTF-16 surrogate (such as \\ud800), which is not valid "
                       "Unicode", field)
