"""Request bodies as JSON, within limits every service documents: the one parser of the fakes and the dashboard.

Why: ``json.loads`` recurses once per nesting level, so a body of 1,000 ``[`` raised ``RecursionError``
(a 500) in every service that parsed it; and JSON may spell a lone UTF-16 surrogate (``"\\ud800"``), a
string Python holds but cannot encode, so it failed later (``UnicodeEncodeError`` in SQLite, a log line,
an upstream call) as a 500 too. Both are bad input: refused here, with the field named, before any
handler sees the value.

Limits: at most ``MAX_DEPTH`` (64) nested arrays/objects; no lone surrogate in any string or key.
Pure: bytes in, a value or ``InvalidBody`` out.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

from hippodrome_k8s.core.errors import InvalidBody

MAX_DEPTH = 64

# A lone surrogate reaches Python only through a \uD800-\uDFFF escape or the bytes ED A0..BF (which
# json.loads decodes with surrogatepass); a body with neither needs no walk.
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def parse(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``raw``; ``InvalidBody`` (400, naming the field) when it is not JSON, nested deeper
    than ``max_depth``, or holds a lone surrogate."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    try:
        value = json.loads(data)
    except RecursionError:
        raise too_deep("body", max_depth) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidBody(f"the body is not valid JSON: {e}", "body") from None
    check(value, max_depth, depth_possible=data.count(b"[") + data.count(b"{") > max_depth,
          surrogate_possible=_MAYBE_SURROGATE.search(data) is not None)
    return value


def suspicious(raw: bytes, max_depth: int = MAX_DEPTH) -> bool:
    """Whether ``raw`` could break a limit (cheap, on the bytes): a relay that parses later checks only these."""
    return raw.count(b"[") + raw.count(b"{") > max_depth or _MAYBE_SURROGATE.search(raw) is not None


def check(value: Any, max_depth: int = MAX_DEPTH, *, depth_possible: bool = True,
          surrogate_possible: bool = True) -> None:
    """Refuse a parsed value nested deeper than ``max_depth`` or holding a lone surrogate (the first one found,
    by its field path). The flags skip what the raw text already rules out."""
    if not (depth_possible or surrogate_possible):
        return
    for path, depth, item, key in _walk(value):
        if depth_possible and depth > max_depth:
            raise too_deep(field_path(path[:1]), max_depth)
        if surrogate_possible:
            if isinstance(key, str) and _SURROGATE.search(key):
                raise lone_surrogate(field_path(path[:-1]), "a key")
            if isinstance(item, str) and _SURROGATE.search(item):
                raise lone_surrogate(field_path(path), "the value")


def too_deep(field: str, max_depth: int) -> InvalidBody:
    """Names the top-level field that holds the deep part (the full path would be 64 ``[0]`` long)."""
    return InvalidBody(f"'{field}' is nested deeper than {max_depth} levels (the limit for a JSON body)", field,
                       "too_deep")


def lone_surrogate(field: str, what: str) -> InvalidBody:
    return InvalidBody(f"{what} of '{field}' holds a lone UTF-16 surrogate (such as \\ud800), which is not "
                       "valid Unicode", field, "lone_surrogate")


def field_path(path: tuple[Any, ...]) -> str:
    """``("documents", 0, "_id")`` -> ``documents[0]._id``; the empty path is the body itself."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _walk(value: Any) -> Iterator[tuple[tuple[Any, ...], int, Any, Any]]:
    """(path, depth of the containers around it, value, its key if a mapping holds it), without recursion.
    A container counts as one level: ``[]`` has depth 1."""
    stack: list[tuple[tuple[Any, ...], int, Any, Any]] = [((), 0, value, None)]
    while stack:
        path, depth, item, key = stack.pop()
        if isinstance(item, dict):
            depth += 1
            yield path, depth, item, key
            stack.extend((path + (k,), depth, v, k) for k, v in item.items())
        elif isinstance(item, list):
            depth += 1
            yield path, depth, item, key
            stack.extend((path + (i,), depth, v, None) for i, v in enumerate(item))
        else:
            yield path, depth, item, key
