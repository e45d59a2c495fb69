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
from collections.abc import Iterator, Mapping
from typing import Any

from hippodrome_k8s.core.errors import InvalidBody

MAX_DEPTH = 64

# A lone surrogate reaches Python only through a \uD800-\uDFFF escape or the bytes ED A0..BF (which
# json.loads decodes with surrogatepass); a body with neither needs no walk.
_MAYBE_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]")  # the regex is slow on long bodies: see maybe_surrogate
_SURROGATE = re.compile("[\ud800-\udfff]")
# What the depth scan looks at: whole strings (their brackets do not count) and brackets.
_TOKEN = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]')
# The quick depth check's: every byte but quotes and brackets; a pair with nothing inside.
_NOT_QUOTE_OR_BRACKET = bytes(c for c in range(256) if c not in b'"[]{}')
_INNERMOST_PAIRS = re.compile(rb'\[\]|\{\}')


def parse(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value of ``raw``; ``InvalidBody`` (400, naming the field) when it is not JSON, nested deeper
    than ``max_depth`` (found on the text, before any object is built), or holds a lone surrogate."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if suspicious_depth(data, max_depth):
        where = too_deep_at(data, max_depth)
        if where is not None:
            raise too_deep(where, max_depth)
    try:
        value = json.loads(data)
    except RecursionError:  # only with a max_depth near Python's recursion limit
        raise too_deep("body", max_depth) from None
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidBody(f"the body is not valid JSON: {e}", "body") from None
    if maybe_surrogate(data):
        check_surrogates(value)
    return value


def suspicious_depth(raw: bytes, max_depth: int = MAX_DEPTH) -> bool:
    """Whether ``raw`` may nest deeper than ``max_depth`` (then ``too_deep_at`` says where), in C-speed steps: escaped
    backslashes and quotes dropped, then all but quotes and brackets, then quoted runs (strings), leaving the brackets
    outside strings; innermost pairs are removed once per level, so a well-nested body of height h is gone after h
    passes. Anything left (too deep, an unpaired quote or bracket) is suspicious. A 100-document batch: ~25 us, where
    the token scan of ``too_deep_at`` takes ~200 us. (Only a body that is not JSON can read differently here than
    in that scan; ``json.loads`` refuses it, and a RecursionError is still a 400.)"""
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return False
    if b"\\" in raw:
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    runs = raw.translate(None, _NOT_QUOTE_OR_BRACKET).split(b'"')  # outside, inside, outside... a string
    if len(runs) % 2 == 0:
        return True  # an unpaired quote
    brackets = b"".join(runs[::2])
    for _ in range(max_depth):
        brackets, removed = _INNERMOST_PAIRS.subn(b"", brackets)
        if not brackets or not removed:
            break
    return bool(brackets)


def maybe_surrogate(raw: bytes) -> bool:
    """Whether ``raw`` may spell a lone surrogate; the substring tests first (a regex over a 15 kB body: ~45 us)."""
    return (b"\\u" in raw or b"\xed" in raw) and _MAYBE_SURROGATE.search(raw) is not None


def suspicious(raw: bytes, max_depth: int = MAX_DEPTH) -> bool:
    """Whether ``raw`` could break a limit (cheap, on the bytes): a relay that parses later checks only these."""
    return suspicious_depth(raw, max_depth) or maybe_surrogate(raw)


def too_deep_at(raw: bytes, max_depth: int = MAX_DEPTH) -> str | None:
    """The top-level field whose value is nested deeper than ``max_depth`` ("body" when the body itself is),
    or None when nothing is. A scan of the text: one step per string or bracket, no recursion."""
    depth, key, last_string = 0, "body", b""
    root_is_object = raw.lstrip()[:1] == b"{"
    for match in _TOKEN.finditer(raw):
        token = match.group()
        if token[:1] == b'"':
            last_string = token
        elif token in (b"[", b"{"):
            depth += 1
            if depth == 2 and root_is_object:  # a top-level field's value opens: its key came just before
                key = _key(last_string)
            if depth > max_depth:
                return key
        else:
            depth -= 1
    return None


def _key(token: bytes) -> str:
    try:
        key = json.loads(token)
    except ValueError:
        return "body"
    return key if isinstance(key, str) and not _SURROGATE.search(key) else "body"


def has_lone_surrogate(text: str) -> bool:
    """Whether ``text`` cannot be encoded: aiohttp turns header bytes that are not UTF-8 into lone surrogates."""
    return _SURROGATE.search(text) is not None


def bad_header(headers: Mapping[str, str]) -> InvalidBody | None:
    """The refusal of a request whose header values are not valid UTF-8 (a 400 naming the header), or None."""
    for name, value in headers.items():
        if has_lone_surrogate(value):
            return InvalidBody(f"header {name!r} is not valid UTF-8", name, "lone_surrogate")
    return None


def check_surrogates(value: Any) -> None:
    """Refuse a parsed value holding a lone surrogate in a string or a key: the first one found, by its field path."""
    for path, item, key in _walk(value):
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


def _walk(value: Any) -> Iterator[tuple[tuple[Any, ...], Any, Any]]:
    """(path, value, its key if a mapping holds it) for every value inside ``value``, without recursion."""
    stack: list[tuple[tuple[Any, ...], Any, Any]] = [((), value, None)]
    while stack:
        path, item, key = stack.pop()
        yield path, item, key
        if isinstance(item, dict):
            stack.extend((path + (k,), v, k) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((path + (i,), v, None) for i, v in enumerate(item))
