"""The floor of one gateway hop: aiohttp's server and the examples' Upstream client, and nothing else.

    python bench/minimal_forwarder.py PORT UPSTREAM_URL

Every POST is sent on to the same path of UPSTREAM_URL with its body and ``x-api-key`` as they came, and the
answer is given back as it came: what search_proxy and global_worker do, without their checks, middlewares,
key lookups, rules and cache. Two of these in a chain in front of the cell measure what two hops cost at the
least with this framework (``bench_reference_stack.py`` prints it beside the real gateway). Loopback only.
"""

from __future__ import annotations

import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from examples.common.upstream import Upstream  # noqa: E402


def make_app(upstream_url: str) -> web.Application:
    upstream = Upstream("next", upstream_url, timeout=30)

    async def forward(request: web.Request) -> web.Response:
        raw = await upstream.send("POST", request.path, body=await request.read(),
                                  headers={"x-api-key": request.headers.get("x-api-key", "")})
        return web.Response(body=raw.body, status=raw.status, content_type=raw.content_type or None)

    async def close(_: web.Application) -> None:
        await upstream.close()

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_post("/{path:.*}", forward)
    app.on_cleanup.append(close)
    return app


if __name__ == "__main__":
    port, upstream_url = int(sys.argv[1]), sys.argv[2]
    web.run_app(make_app(upstream_url), host="127.0.0.1", port=port, access_log=None, print=None)
