"""search_proxy's handlers; see the package docstring for the API."""

from __future__ import annotations

import logging
from urllib.parse import quote

from aiohttp import web

from examples.common import aws, config
from examples.common.auth import ACCOUNT_HEADER, KEY_HEADER, ApiKeys
from examples.common.errors import ApiError
from examples.common.naming import cell_index_name, check_index_name
from examples.common.upstream import Reply, Upstream
from examples.common.web import json_response, make_app as base_app, read_json

log = logging.getLogger("search_proxy")
_NO_BODY = object()


class Proxy:
    def __init__(self) -> None:
        system_key = config.required("CELL_API_KEY")
        internal = {"x-api-key": system_key}
        self.cell = Upstream("cell", config.url("CELL_URL"), headers=internal, timeout=30)
        self.global_worker = Upstream("global_worker", config.url("GLOBAL_WORKER_URL"), headers=internal, timeout=30)
        self.controller = Upstream("controller", config.url("CONTROLLER_URL"), timeout=10)
        self.keys = ApiKeys(aws.client("dynamodb"), config.required("API_KEYS_TABLE"), system_key)

    async def invalidate(self, cell_name: str) -> None:
        try:
            await self.global_worker.request("POST", f"/invalidate/{quote(cell_name, safe='')}", timeout=2)
        except ApiError as e:  # its cache also expires on its own within seconds
            log.warning("could not invalidate global_worker's cache for %s: %s", cell_name, e.message)


def unmap(reply: Reply, cell_name: str, name: str) -> web.Response:
    """The upstream's answer with the cell index name replaced by the customer's."""
    body = reply.body
    if isinstance(body, dict):
        body = dict(body)
        if body.get("index_name") == cell_name:
            body["index_name"] = name
        if isinstance(body.get("message"), str):
            body["message"] = body["message"].replace(cell_name, name)
    return json_response(body, reply.status)


def make_app() -> web.Application:
    p = Proxy()
    app = base_app("search_proxy", {"api keys table": p.keys.ready})
    routes = web.RouteTableDef()

    async def target(request: web.Request) -> tuple[str, str]:
        """(customer index name, cell index name) after authenticating the caller."""
        account = await p.keys.account(request)
        name = check_index_name(request.match_info["name"], field="index")
        return name, cell_index_name(account, name)

    async def body_of(request: web.Request) -> bytes | None:
        """The body as it came (checked: JSON within the limits, else 400 naming the field), or None."""
        if not request.can_read_body or await read_json(request, default=_NO_BODY) is _NO_BODY:
            return None
        return await request.read()  # aiohttp keeps what it read: the same bytes, not read twice

    async def forward(request: web.Request, upstream: Upstream, path: str, *, invalidate: bool = False
                      ) -> web.Response:
        """The request to ``upstream``, the body passed through as bytes; the answer too, unless it names the cell
        index (then the customer's name replaces it) or is not JSON (a 502)."""
        name, cell_name = await target(request)
        body = await body_of(request)
        upstream_path = path.format(cell=quote(cell_name, safe=""))
        raw = await upstream.send(request.method, upstream_path, body=body, params=dict(request.query))
        if raw.status >= 500:
            reply = upstream.parse(request.method, upstream_path, raw)
            raise ApiError(502, "upstream_error", f"{upstream.name} failed (HTTP {raw.status}): "
                                                  f"{str(reply.get('message', ''))[:300].replace(cell_name, name)}")
        if invalidate and raw.ok:
            await p.invalidate(cell_name)
        if raw.looks_like_json() and cell_name.encode() not in raw.body:
            return web.Response(body=raw.body, status=raw.status, content_type="application/json")
        return unmap(upstream.parse(request.method, upstream_path, raw), cell_name, name)

    @routes.get("/")
    async def root(request: web.Request) -> web.Response:
        info = await p.cell.call("GET", "/")
        return json_response({"message": "Welcome to Marqo (through Hippodrome's search_proxy)",
                              "version": info.get("version") if isinstance(info, dict) else None})

    @routes.get("/indexes")
    async def list_indexes(request: web.Request) -> web.Response:
        account = await p.keys.account(request)
        headers = {KEY_HEADER: request.headers.get(KEY_HEADER, "")}
        if request.headers.get(ACCOUNT_HEADER):
            headers[ACCOUNT_HEADER] = account
        listed = await p.controller.call("GET", "/api/v2/indexes", headers=headers)
        results = listed.get("results", []) if isinstance(listed, dict) else []
        return json_response({"results": [{"indexName": r.get("indexName")} for r in results if isinstance(r, dict)]})

    @routes.post("/indexes/{name}/search")
    async def search(request: web.Request) -> web.Response:
        return await forward(request, p.global_worker, "/indexes/{cell}/search")

    @routes.route("*", "/indexes/{name}/documents")
    async def documents(request: web.Request) -> web.Response:
        if request.method not in ("GET", "POST", "PATCH"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST", "PATCH"])
        return await forward(request, p.cell, "/indexes/{cell}/documents", invalidate=request.method != "GET")

    @routes.get("/indexes/{name}/documents/{doc_id}")
    async def document(request: web.Request) -> web.Response:
        return await forward(request, p.cell, "/indexes/{cell}/documents/" + quote(request.match_info["doc_id"], safe=""))

    @routes.post("/indexes/{name}/documents/delete-batch")
    async def delete_batch(request: web.Request) -> web.Response:
        return await forward(request, p.cell, "/indexes/{cell}/documents/delete-batch", invalidate=True)

    def to_cell(what: str):
        async def handler(request: web.Request) -> web.Response:
            return await forward(request, p.cell, "/indexes/{cell}/" + what)
        return handler

    for what in ("settings", "stats", "health"):
        routes.get(f"/indexes/{{name}}/{what}")(to_cell(what))
    for what in ("recommend", "embed"):
        routes.post(f"/indexes/{{name}}/{what}")(to_cell(what))

    @routes.route("*", "/indexes/{name}/rules")
    async def rules(request: web.Request) -> web.Response:
        if request.method not in ("GET", "PUT", "DELETE"):
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "PUT", "DELETE"])
        return await forward(request, p.global_worker, "/rules/{cell}")

    @routes.route("*", "/indexes/{name}")
    async def index(request: web.Request) -> web.Response:
        response = json_response(ApiError(405, "method_not_allowed",
                                          "Indexes are created and deleted through the controller "
                                          "(POST/DELETE /api/v2/indexes/{name})").body(), 405)
        response.headers["Allow"] = ""
        return response

    app.add_routes(routes)

    async def close(_: web.Application) -> None:
        for upstream in (p.cell, p.global_worker, p.controller):
            await upstream.close()

    app.on_cleanup.append(close)
    return app
