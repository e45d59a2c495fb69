"""examples.common.http1 and Upstream over it, against real servers on loopback: aiohttp's (what every
service runs) and, for answers aiohttp never sends, a raw asyncio server that writes given bytes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from examples.common import http1
from examples.common.errors import ApiError
from examples.common.upstream import Upstream
from hd_testing import free_ports

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Served:
    """An aiohttp server on a free port that records each request's client port, method, path, headers, body."""

    def __init__(self, handler: Handler | None = None) -> None:
        self.port = free_ports(1)[0]
        self.url = f"http://127.0.0.1:{self.port}"
        self.seen: list[dict] = []
        self.handler = handler
        self.runner: web.AppRunner | None = None

    async def _record(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.seen.append({"peer": request.transport.get_extra_info("peername")[1], "method": request.method,
                          "path": request.path_qs, "raw_path": request.raw_path, "headers": dict(request.headers),
                          "body": body})
        if self.handler is not None:
            return await self.handler(request)
        return web.json_response({"n": len(self.seen), "echo": body.decode()})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._record)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()

    def peers(self) -> set[int]:
        return {s["peer"] for s in self.seen}


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    server = Served()
    await server.start()
    yield server
    await server.stop()


class RawServer:
    """Answers each connection's requests with scripted bytes: ``script(n)`` for the n-th request overall
    (``None``: close the connection without answering); ``close_after``: close it after each answer."""

    def __init__(self, script: Callable[[int], bytes | None], close_after: bool = False) -> None:
        self.script = script
        self.close_after = close_after
        self.requests = 0
        self.connections = 0
        self.server: asyncio.Server | None = None
        self.open: dict[asyncio.Task, asyncio.StreamWriter] = {}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open[asyncio.current_task()] = writer  # type: ignore[index]
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                await reader.readexactly(length)
                self.requests += 1
                answer = self.script(self.requests)
                if answer is None:
                    break
                writer.write(answer)
                await writer.drain()
                if self.close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()
        await writer.wait_closed()

    async def __aenter__(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.open.values():
            writer.close()
        await asyncio.gather(*self.open, return_exceptions=True)


def ok(body: bytes, *extra: str) -> bytes:
    head = "\r\n".join(["HTTP/1.1 200 OK", "Content-Type: application/json", *extra])
    return f"{head}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body


async def call(pool: http1.Connections, method: str = "GET", target: str = "/x", body: bytes | None = None,
               headers: dict | None = None, timeout: float = 5) -> http1.Answer:
    return await pool.request(method, target, headers or {}, body, timeout=timeout, connect_timeout=2)


async def test_requests_share_one_keep_alive_connection_and_arrive_whole(served: Served) -> None:
    pool = http1.Connections(served.url)
    body = json.dumps({"q": "red shoe", "limit": 10}).encode()
    answers = [await call(pool, "POST", "/indexes/a/search", body, {"x-api-key": "k", "Content-Type": "application/json"})
               for _ in range(5)]
    await pool.close()
    assert [a.status for a in answers] == [200] * 5
    assert [json.loads(a.body)["n"] for a in answers] == [1, 2, 3, 4, 5]
    assert answers[0].content_type == "application/json"
    assert len(served.peers()) == 1  # one connection carried all five
    first = served.seen[0]
    assert (first["method"], first["path"], first["body"]) == ("POST", "/indexes/a/search", body)
    assert first["headers"]["x-api-key"] == "k" and first["headers"]["Host"] == f"127.0.0.1:{served.port}"


async def test_an_idle_connection_the_server_closed_is_not_used(served: Served) -> None:
    pool = http1.Connections(served.url)
    assert (await call(pool, "POST", body=b"{}")).status == 200
    await served.stop()  # a restarted service: its connections close
    await served.start()
    await asyncio.sleep(0.05)
    assert (await call(pool, "POST", body=b"{}")).status == 200  # not retried: a POST is sent once
    await pool.close()
    assert len(served.peers()) == 2


async def test_a_connection_closed_as_it_is_reused_is_retried_only_for_idempotent_methods() -> None:
    # request 1 answered; request 2 arrives on the kept connection, which the server then closes unanswered
    async with RawServer(lambda n: None if n in (2, 5) else ok(b'{"n":%d}' % n)) as url:
        pool = http1.Connections(url)
        await call(pool, "GET")
        assert (await call(pool, "GET")).body == b'{"n":3}'  # 2 was dropped, 3 is the retry on a new connection
        await call(pool, "POST", body=b"{}")  # 4
        with pytest.raises(http1.Broken, match="broke off"):
            await call(pool, "POST", body=b"{}")  # 5 dropped: a POST is not sent twice
        await pool.close()


async def test_a_chunked_answer_is_joined_and_the_connection_kept(served: Served) -> None:
    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for part in (b'{"parts":', b'[1,2', b",3]}"):
            await response.write(part)
        await response.write_eof()
        return response

    served.handler = chunked
    pool = http1.Connections(served.url)
    first, second = await call(pool), await call(pool)
    await pool.close()
    assert first.headers["transfer-encoding"] == "chunked"
    assert json.loads(first.body) == json.loads(second.body) == {"parts": [1, 2, 3]}
    assert len(served.peers()) == 1


async def test_an_answer_without_length_ends_with_its_connection() -> None:
    async with RawServer(lambda n: b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end", close_after=True) as url:
        pool = http1.Connections(url)
        answers = [await call(pool), await call(pool)]
        await pool.close()
    assert [a.body for a in answers] == [b"to the end"] * 2

    server = RawServer(lambda n: ok(b"[%d]" % n, "Connection: close"))  # said, though the socket stays open
    async with server as url:
        pool = http1.Connections(url)
        answers = [await call(pool), await call(pool)]
        await pool.close()
    assert [a.body for a in answers] == [b"[1]", b"[2]"] and server.connections == 2


async def test_head_204_and_interim_answers_carry_no_body(served: Served) -> None:
    async def empty(request: web.Request) -> web.StreamResponse:
        return web.Response(status=204) if request.method == "DELETE" else web.json_response({"big": "x" * 100})

    served.handler = empty
    pool = http1.Connections(served.url)
    head, deleted, got = await call(pool, "HEAD"), await call(pool, "DELETE"), await call(pool, "GET")
    await pool.close()
    assert (head.status, head.body, int(head.headers["content-length"]) > 100) == (200, b"", True)
    assert (deleted.status, deleted.body) == (204, b"")
    assert json.loads(got.body) == {"big": "x" * 100}
    assert len(served.peers()) == 1

    async with RawServer(lambda n: b"HTTP/1.1 100 Continue\r\n\r\n" + ok(b"[1]")) as url:
        pool = http1.Connections(url)
        assert [(a.status, a.body) for a in (await call(pool), await call(pool))] == [(200, b"[1]")] * 2
        await pool.close()


async def test_a_timed_out_answer_never_reaches_the_next_request(served: Served) -> None:
    async def slow_then_fast(request: web.Request) -> web.StreamResponse:
        if request.path == "/slow":
            await asyncio.sleep(0.5)
        return web.json_response({"path": request.path})

    served.handler = slow_then_fast
    pool = http1.Connections(served.url)
    with pytest.raises(TimeoutError):
        await call(pool, target="/slow", timeout=0.1)
    assert json.loads((await call(pool, target="/fast")).body) == {"path": "/fast"}
    await asyncio.sleep(0.5)
    assert json.loads((await call(pool, target="/fast")).body) == {"path": "/fast"}
    await pool.close()


async def test_unreachable_and_garbage_are_broken() -> None:
    pool = http1.Connections(f"http://127.0.0.1:{free_ports(1)[0]}")
    with pytest.raises(http1.Broken, match="cannot connect") as refused:
        await call(pool)
    assert isinstance(refused.value.__cause__, ConnectionRefusedError)
    for garbage in (b"hello\r\n\r\n", b"HTTP/1.1 200 OK\r\nno colon here\r\n\r\n",
                    b"HTTP/1.1 200 OK\r\nContent-Length: ten\r\n\r\n",
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"):
        async with RawServer(lambda n, g=garbage: g, close_after=True) as url:
            pool = http1.Connections(url)
            with pytest.raises(http1.Broken) as broken:
                await call(pool)
            assert isinstance(broken.value.__cause__, ValueError), garbage
            await pool.close()
    async with RawServer(lambda n: b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", close_after=True) as url:
        pool = http1.Connections(url)
        with pytest.raises(http1.Broken):
            await call(pool, timeout=2)  # a 10-byte body cut after 5: the server hangs up
        await pool.close()


async def test_a_line_break_in_a_header_or_a_space_in_the_target_is_refused_before_sending(served: Served) -> None:
    pool = http1.Connections(served.url)
    for target, headers in (("/x", {"x-api-key": "k\r\nInjected: yes"}), ("/x", {"a\nb": "v"}), ("/a b", {})):
        with pytest.raises(ValueError, match="line break|space"):
            await call(pool, target=target, headers=headers)
    await pool.close()
    assert served.seen == []


async def test_at_most_limit_connections_at_once(served: Served) -> None:
    active, most = 0, 0

    async def held(request: web.Request) -> web.StreamResponse:
        nonlocal active, most
        active += 1
        most = max(most, active)
        await asyncio.sleep(0.05)
        active -= 1
        return web.json_response({})

    served.handler = held
    pool = http1.Connections(served.url, limit=4)
    answers = await asyncio.gather(*(call(pool) for _ in range(12)))
    await pool.close()
    assert [a.status for a in answers] == [200] * 12
    assert most == 4 and len(served.peers()) == 4


async def test_upstream_quotes_the_path_encodes_params_and_maps_failures_to_502(served: Served) -> None:
    upstream = Upstream("cell", served.url + "/base/", headers={"x-api-key": "system"}, timeout=0.3)
    reply = await upstream.request("GET", "/indexes/a b/é%2Fx", params={"q": "red shoe&more"},
                                   headers={"x-trace": "1"})
    assert reply.ok and reply.body["n"] == 1
    seen = served.seen[0]
    assert seen["raw_path"] == "/base/indexes/a%20b/%C3%A9%2Fx?q=red%20shoe%26more"
    assert seen["headers"]["x-api-key"] == "system" and seen["headers"]["x-trace"] == "1"
    assert (await upstream.call("POST", "/echo", json_body={"a": [1]}))["echo"] == '{"a": [1]}'
    assert served.seen[1]["headers"]["Content-Type"] == "application/json"

    async def hang(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(1)
        return web.json_response({})

    served.handler = hang
    with pytest.raises(ApiError) as timed_out:
        await upstream.call("GET", "/slow")
    assert (timed_out.value.status, timed_out.value.code) == (502, "upstream_timeout")
    await upstream.close()

    gone = Upstream("cell", f"http://127.0.0.1:{free_ports(1)[0]}")
    with pytest.raises(ApiError) as unreachable:
        await gone.send("GET", "/")
    assert (unreachable.value.status, unreachable.value.code) == (502, "upstream_unavailable")
    assert "ConnectionRefusedError" in unreachable.value.message
    await gone.close()


async def test_a_client_failure_that_escapes_a_handler_is_a_json_502():
    """examples.common.web's error middleware: a handler that lets http1's failure through answers 502 JSON."""
    from examples.common.web import make_app

    dead = http1.Connections(f"http://127.0.0.1:{free_ports(1)[0]}")

    async def careless(request: web.Request) -> web.StreamResponse:
        await call(dead)
        return web.json_response({})

    app = make_app("careless")
    app.router.add_get("/call", careless)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_ports(1)[0]
    await web.TCPSite(runner, "127.0.0.1", port).start()
    client = http1.Connections(f"http://127.0.0.1:{port}")
    try:
        answer = await call(client, target="/call")
    finally:
        await client.close()
        await runner.cleanup()
    assert answer.status == 502 and answer.content_type == "application/json"
    assert json.loads(answer.body)["code"] == "upstream_unavailable"
