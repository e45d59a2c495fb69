"""The log API: ``/api/logs`` (every service, interleaved) and ``/api/logs/<service>``.

    GET /api/logs/<svc>?n=200            the last n lines (``lines`` is the older name of ``n``)
    GET /api/logs/<svc>?since=SEQ        the lines after SEQ (each line's ``seq``; ``next`` is the last one)
    GET /api/logs/<svc>?follow=1         a stream (Server-Sent Events ``log``): the last n lines, then new ones
    GET /api/logs/<svc>/file             the whole file of this run, as text

Lines come from the engine's in-memory book (numbered across services, so the interleaved view is
in the order they were written); the file holds the whole run. An engine without logs here (the
in-cluster dashboard: `hippodrome k8s logs`) answers 404 with what to use instead.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from hippodrome_k8s.dashboard.events import ALL, EventHub

MAX_LINES = 5000
NO_LOGS = "this engine's dashboard has no logs; use `hippodrome k8s logs SERVICE`"


def add_routes(app: web.Application, source: Any, hub: EventHub, int_param) -> None:  # type: ignore[no-untyped-def]
    entries = getattr(source, "log_entries", None)

    async def logs(request: web.Request) -> web.StreamResponse:
        name = request.match_info.get("service")
        if name is not None and name not in source.status_json():
            raise web.HTTPNotFound(reason=f"no service named {name!r}")
        n = int_param(request, "n", int_param(request, "lines", 50, 1, MAX_LINES), 0, MAX_LINES)
        since = int_param(request, "since", 0, 0, 2**62)
        if entries is None:
            if name is None:
                raise web.HTTPNotFound(reason=NO_LOGS)
            return web.json_response({"service": name, "lines": [], "entries": [], "next": since, "note": NO_LOGS})
        if request.query.get("follow") in ("1", "true"):
            return await hub.stream(request, state=False, logs=name or ALL, history=n)
        found = entries(name, since, n)
        return web.json_response({"service": name, "lines": [x["text"] for x in found], "entries": found,
                                  "next": found[-1]["seq"] if found else since},
                                 headers={"Cache-Control": "no-store"})

    async def whole_file(request: web.Request) -> web.StreamResponse:
        name = request.match_info["service"]
        if name not in source.status_json():
            raise web.HTTPNotFound(reason=f"no service named {name!r}")
        path = getattr(source, "log_file", lambda _: None)(name)
        if path is None or not path.exists():
            raise web.HTTPNotFound(reason=NO_LOGS if entries is None else f"no log file for {name!r} in this run")
        return web.FileResponse(path, headers={"Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store",
                                               "X-Content-Type-Options": "nosniff"})

    app.router.add_get("/api/logs", logs)
    app.router.add_get("/api/logs/{service}", logs)
    app.router.add_get("/api/logs/{service}/file", whole_file)
