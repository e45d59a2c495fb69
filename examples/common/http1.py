"""A lean HTTP/1.1 client for one service-to-service hop: keep-alive connections, one write per request.

``Connections(base_url, limit=64)`` keeps the idle keep-alive connections to one upstream and sends
``request(method, target, headers, body, timeout=, connect_timeout=)``, answering an :class:`Answer`
(status, lower-cased headers, body bytes). The request goes out as one write (head and body
together); the answer is read by ``Content-Length``, by chunks, or to the end of the connection.

Why not aiohttp's client: one gateway hop through it cost about 0.5 ms of CPU on this project's
2-core machines (request and response objects, tracing hooks, cookie and redirect machinery, head and
body written separately); with this, about 0.2 ms (``bench/bench_reference_stack.py`` shows the
gateway's ratio). It does only what a hop between the stack's own services needs: no redirects, no
cookies, no compression, no proxies, no HTTP/2.

Failures: a timeout raises ``TimeoutError``; a connection that cannot be made, breaks, or answers
something that is not HTTP/1.x raises :class:`Broken` (with the cause chained). A connection is
reused only after an answer read to its end; on any failure it is closed. An idle connection the
server has since closed (a restarted service) is noticed and dropped before use; if the server closes
one just as it is reused, an idempotent request is sent once more on a new connection (as aiohttp does).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"})
HEAD_LIMIT = 64 * 1024  # the most the status line and headers of an answer may take
USER_AGENT = "hippodrome-examples"


class Broken(Exception):
    """The upstream could not be reached, hung up, or answered something that is not HTTP/1.x."""


@dataclass(frozen=True)
class Answer:
    status: int
    headers: Mapping[str, str]  # names lower-cased; repeated headers joined with ", "
    body: bytes

    @property
    def content_type(self) -> str:
        """The media type without parameters, lower-cased (``application/json``), or ``""``."""
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()


@dataclass
class _Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    reused: bool = False

    def usable(self) -> bool:
        return not (self.reader.at_eof() or self.reader.exception() is not None or self.writer.is_closing())

    def close(self) -> None:
        self.writer.close()


class Connections:
    def __init__(self, base_url: str, *, limit: int = 64) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        self._ssl = ssl.create_default_context() if parts.scheme == "https" else None
        default_port = self.port == (443 if parts.scheme == "https" else 80)
        host = f"[{self.host}]" if ":" in self.host else self.host
        self._host_header = host if default_port else f"{host}:{self.port}"
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(limit)

    async def request(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None, *,
                      timeout: float, connect_timeout: float) -> Answer:
        """``target``: the path and query, already percent-encoded, appended to the base URL's path."""
        message = self._message(method, (self.prefix + target) or "/", headers, body)
        async with self._slots, asyncio.timeout(timeout):
            connection = await self._take(connect_timeout)
            try:
                answer = await self._exchange(connection, method, message)
            except Broken:
                if not (connection.reused and method in IDEMPOTENT):
                    raise
                connection = await self._open(connect_timeout)  # the server closed it as we reused it
                answer = await self._exchange(connection, method, message)
            return answer

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()

    def _message(self, method: str, target: str, headers: Mapping[str, str], body: bytes | None) -> bytes:
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self._host_header}", f"User-Agent: {USER_AGENT}"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        head = "\r\n".join(lines)
        breaks = len(lines) - 1
        if head.count("\n") != breaks or head.count("\r") != breaks or " " in target:
            raise ValueError(f"a request target or header holds a line break or the target a space: {method} {target!r}")
        return (head + "\r\n\r\n").encode() + (body or b"")

    async def _take(self, connect_timeout: float) -> _Connection:
        while self._idle:
            connection = self._idle.pop()
            if connection.usable():
                connection.reused = True
                return connection
            connection.close()
        return await self._open(connect_timeout)

    async def _open(self, connect_timeout: float) -> _Connection:
        try:
            async with asyncio.timeout(connect_timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self._ssl, limit=HEAD_LIMIT)
        except OSError as e:
            raise Broken(f"cannot connect to {self.host}:{self.port}: {e.strerror or e}") from e
        return _Connection(reader, writer)

    async def _exchange(self, connection: _Connection, method: str, message: bytes) -> Answer:
        """Send ``message`` and read the answer; the connection goes back to the pool only when the answer was
        read to its end and the server keeps it open; on any failure or cancellation it is closed."""
        try:
            connection.writer.write(message)
            answer, keep = await read_answer(connection.reader, method)
        except BaseException as e:
            connection.close()
            if isinstance(e, (OSError, EOFError, ValueError, asyncio.LimitOverrunError)):
                raise Broken(f"{self.host}:{self.port} broke off the answer: {type(e).__name__}: {e}") from e
            raise
        if keep:
            connection.reused = False
            self._idle.append(connection)
        else:
            connection.close()
        return answer


async def read_answer(reader: asyncio.StreamReader, method: str) -> tuple[Answer, bool]:
    """One answer from ``reader``: (answer, whether the connection may carry another request).
    Raises ``EOFError`` (``IncompleteReadError``) when the server hangs up, ``ValueError`` when it is not HTTP/1.x."""
    while True:
        head = await reader.readuntil(b"\r\n\r\n")
        version, status, headers = parse_head(head)
        if not (100 <= status < 200) or status == 101:
            break  # an interim answer (100 Continue, 103 Early Hints) is followed by the real one
    keep = version == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
    if method == "HEAD" or status in (101, 204, 304):
        return Answer(status, headers, b""), keep and status != 101
    if "chunked" in headers.get("transfer-encoding", "").lower():
        return Answer(status, headers, await read_chunks(reader)), keep
    length = headers.get("content-length")
    if length is not None:
        if not length.isdigit():
            raise ValueError(f"Content-Length is not a number: {length!r}")
        return Answer(status, headers, await reader.readexactly(int(length))), keep
    return Answer(status, headers, await reader.read()), False  # the body ends with the connection


def parse_head(head: bytes) -> tuple[str, int, dict[str, str]]:
    """(version, status, headers) of an answer's head (status line and headers, ending with an empty line)."""
    status_line, *lines = head[:-4].decode("latin-1").split("\r\n")
    version, _, rest = status_line.partition(" ")
    code = rest[:3]
    if not version.startswith("HTTP/1.") or len(code) != 3 or not code.isdigit():
        raise ValueError(f"not an HTTP/1.x status line: {status_line[:80]!r}")
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise ValueError(f"malformed header line: {line[:80]!r}")
        name, value = name.lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return version, int(code), headers


async def read_chunks(reader: asyncio.StreamReader) -> bytes:
    """A chunked body, its trailers read and dropped."""
    parts = []
    while True:
        size_line = await reader.readuntil(b"\r\n")
        size = int(size_line.split(b";", 1)[0].strip(), 16)  # ValueError when it is not hex
        if size == 0:
            while await reader.readuntil(b"\r\n") != b"\r\n":
                pass
            return b"".join(parts)
        chunk = await reader.readexactly(size + 2)
        if chunk[-2:] != b"\r\n":
            raise ValueError("a chunk does not end with CRLF")
        parts.append(chunk[:-2])
