"""An HTTP client for one dependency: default timeouts, JSON only, failures mapped to 502.

``Upstream(name, base_url)`` keeps keep-alive connections to one dependency (:mod:`.http1`, a
lean HTTP/1.1 client: a gateway hop through aiohttp's client cost twice as much; close it on app
cleanup).  ``request()`` returns the status and the parsed JSON of any answer, so a gateway
can pass a 4xx through unchanged; it raises ``ApiError(502)`` when the dependency is
unreachable, times out, or answers something that is not JSON.  ``call()`` is the strict
variant for when only success is useful: a 4xx is re-raised with the upstream's status and
message, a 5xx becomes 502.  ``send()`` is ``request()`` for a gateway that passes bodies
through as they are: the request body goes as the bytes it was given and the answer comes
back as bytes (``Raw``), parsed only if the gateway needs to look inside.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from . import http1
from .errors import ApiError, bad_gateway

log = logging.getLogger("examples.upstream")

DEFAULT_TIMEOUT = 10.0
CONNECT_TIMEOUT = 3.0
_NO_BODY = object()
_PATH_SAFE = "/%:@!$&'()*+,;=~"  # a path's own characters and escapes stay; spaces and non-ASCII are escaped


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default) if isinstance(self.body, dict) else default


@dataclass(frozen=True)
class Raw:
    """An upstream's answer as it came: status, body bytes, content type."""

    status: int
    body: bytes
    content_type: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def looks_like_json(self) -> bool:
        """Declared JSON and starting like a JSON object or array: what passes through unparsed."""
        return self.content_type == "application/json" and self.body.lstrip()[:1] in (b"{", b"[")


class Upstream:
    def __init__(self, name: str, base_url: str, *, headers: Mapping[str, str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout = timeout
        self._connections: http1.Connections | None = None

    def _pool(self) -> http1.Connections:
        """Keep-alive connections to the upstream, up to 64 at once (the most a service here has in flight);
        made on first use, inside the running loop."""
        if self._connections is None:
            self._connections = http1.Connections(self.base_url, limit=64)
        return self._connections

    async def close(self) -> None:
        if self._connections is not None:
            await self._connections.close()
            self._connections = None

    async def send(self, method: str, path: str, *, body: bytes | None = None,
                   params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
                   timeout: float | None = None) -> Raw:
        """One request with ``body`` sent as it is (JSON bytes); the answer unparsed. 502 when unreachable."""
        sent = {**self.headers, **headers} if headers else self.headers
        if body is not None:
            sent = {**sent, "Content-Type": "application/json"}
        target = quote(path, safe=_PATH_SAFE) + (f"?{urlencode(params, quote_via=quote)}" if params else "")
        total = timeout or self.timeout
        try:
            answer = await self._pool().request(method, target, sent, body, timeout=total,
                                                connect_timeout=min(CONNECT_TIMEOUT, total))
        except TimeoutError:
            raise bad_gateway("upstream_timeout", f"{self.name} did not answer {method} {path} "
                                                  f"within {total:g}s") from None
        except http1.Broken as e:
            raise bad_gateway("upstream_unavailable", f"{self.name} is unreachable at {self.base_url}: "
                                                      f"{type(e.__cause__ or e).__name__}") from None
        return Raw(answer.status, answer.body, answer.content_type)

    def parse(self, method: str, path: str, raw: Raw) -> Reply:
        """``raw`` with its JSON parsed; 502 when the body is not JSON."""
        if raw.status == 204:
            return Reply(raw.status, None)
        try:
            body = json.loads(raw.body)
        except (ValueError, UnicodeDecodeError):
            log.warning("%s answered %s %s with %d and a non-JSON body: %r", self.name, method, path,
                        raw.status, raw.body[:200])
            raise bad_gateway("upstream_bad_response",
                              f"{self.name} answered {method} {path} with HTTP {raw.status} and a body "
                              "that is not JSON") from None
        return Reply(raw.status, body)

    async def request(self, method: str, path: str, *, json_body: Any = _NO_BODY,
                      params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
                      timeout: float | None = None) -> Reply:
        body = None if json_body is _NO_BODY else json.dumps(json_body).encode()
        raw = await self.send(method, path, body=body, params=params, headers=headers, timeout=timeout)
        return self.parse(method, path, raw)

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        reply = await self.request(method, path, **kwargs)
        if reply.ok:
            return reply.body
        raise as_error(self.name, reply)


def as_error(name: str, reply: Reply) -> ApiError:
    """The error to answer for an upstream's non-2xx reply: 4xx passes through, 5xx is a 502."""
    message = reply.get("message") or f"{name} answered HTTP {reply.status}"
    if not isinstance(message, str):
        message = json.dumps(message)
    if reply.status >= 500:
        return bad_gateway("upstream_error", f"{name} failed (HTTP {reply.status}): {message}")
    return ApiError(reply.status, str(reply.get("code") or "upstream_rejected"), message)
