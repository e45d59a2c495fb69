"""An HTTP client for one dependency: default timeouts, JSON only, failures mapped to 502.

``Upstream(name, base_url)`` wraps one ``aiohttp.ClientSession`` (made lazily, inside the
running loop; close it on app cleanup).  ``request()`` returns the status and the parsed
JSON of any answer, so a gateway can pass a 4xx through unchanged; it raises
``ApiError(502)`` when the dependency is unreachable, times out, or answers something that
is not JSON.  ``call()`` is the strict variant for when only success is useful: a 4xx is
re-raised with the upstream's status and message, a 5xx becomes 502.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from .errors import ApiError, bad_gateway

log = logging.getLogger("examples.upstream")

DEFAULT_TIMEOUT = 10.0
CONNECT_TIMEOUT = 3.0
_NO_BODY = object()


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def get(self, key: str, default: Any = None) -> Any:
        return self.body.get(key, default) if isinstance(self.body, dict) else default


class Upstream:
    def __init__(self, name: str, base_url: str, *, headers: Mapping[str, str] | None = None,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.headers = dict(headers or {})
        self.timeout = timeout
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=64))
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(self, method: str, path: str, *, json_body: Any = _NO_BODY,
                      params: Mapping[str, str] | None = None, headers: Mapping[str, str] | None = None,
                      timeout: float | None = None) -> Reply:
        url = f"{self.base_url}{path}"
        total = timeout or self.timeout
        kwargs: dict[str, Any] = {
            "headers": {**self.headers, **(headers or {})},
            "params": params,
            "timeout": aiohttp.ClientTimeout(total=total, connect=min(CONNECT_TIMEOUT, total)),
        }
        if json_body is not _NO_BODY:
            kwargs["data"] = json.dumps(json_body)
            kwargs["headers"]["Content-Type"] = "application/json"
        try:
            async with self._client().request(method, url, **kwargs) as response:
                raw = await response.read()
                status = response.status
        except asyncio.TimeoutError:
            raise bad_gateway("upstream_timeout", f"{self.name} did not answer {method} {path} "
                                                  f"within {total:g}s") from None
        except aiohttp.ClientError as e:
            raise bad_gateway("upstream_unavailable", f"{self.name} is unreachable at {self.base_url}: "
                                                      f"{type(e).__name__}") from None
        if status == 204:
            return Reply(status, None)
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            log.warning("%s answered %s %s with %d and a non-JSON body: %r", self.name, method, path,
                        status, raw[:200])
            raise bad_gateway("upstream_bad_response",
                              f"{self.name} answered {method} {path} with HTTP {status} and a body "
                              "that is not JSON") from None
        return Reply(status, body)

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
