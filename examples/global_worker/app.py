"""global_worker's handlers; see the package docstring for the API."""

from __future__ import annotations

import hmac
import json
import logging
import time
from typing import Any
from urllib.parse import quote

from aiohttp import web
from botocore.exceptions import ClientError

from examples.common import aws, config
from examples.common.cache import TtlLru
from examples.common.errors import ApiError, unauthorized
from examples.common.naming import split_cell_index_name
from examples.common.upstream import Reply, Upstream, as_error
from examples.common.web import json_response, make_app as base_app, read_json

from . import rules as rulebook

log = logging.getLogger("global_worker")
RULES_TTL = 5.0


class Worker:
    def __init__(self) -> None:
        self.system_key = config.required("CELL_API_KEY")
        self.table = config.required("RULES_TABLE")
        self.cell = Upstream("cell", config.url("CELL_URL"), headers={"x-api-key": self.system_key}, timeout=15)
        self.dynamodb = aws.client("dynamodb")
        self.cache = TtlLru(int(config.number("GLOBAL_WORKER_CACHE_SIZE", 1024)),
                            config.number("GLOBAL_WORKER_CACHE_TTL", 10.0))
        self.rules_cache = TtlLru(1024, RULES_TTL)
        self.generation: dict[str, int] = {}  # bumped on every invalidation of an index
        self.stats = {"hits": 0, "misses": 0, "invalidations": 0}

    def invalidate(self, index: str) -> None:
        self.generation[index] = self.generation.get(index, 0) + 1
        if len(self.generation) > 10_000:  # keep it capped; a reset only costs a few cache misses
            self.generation.clear()
            self.cache.clear()
        self.cache.drop_where(lambda k: isinstance(k, tuple) and k[0] == index)
        self.stats["invalidations"] += 1

    async def rules(self, index: str) -> dict[str, Any]:
        cached = self.rules_cache.get(index)
        if cached is not None:
            return cached
        response = await aws.call(self.dynamodb.get_item, TableName=self.table, Key=aws.key(index_name=index))
        item = aws.from_item(response.get("Item")) or {}
        try:
            pins = json.loads(item.get("pins") or "[]")
        except (TypeError, ValueError):
            log.warning("ignoring unreadable rules of %s", index)
            pins = []
        found = {"pins": pins if isinstance(pins, list) else []}
        self.rules_cache.set(index, found)
        return found

    async def search(self, index: str, body: dict[str, Any], raw_body: bytes) -> tuple[int, Any]:
        """(status, answer): the cell's answer as bytes when no pin applies (passed through, never re-encoded),
        else parsed, with the pinned documents put first. ``raw_body`` is ``body`` as it came."""
        ids = rulebook.pinned_ids(await self.rules(index), body)
        path = f"/indexes/{quote(index, safe='')}/search"
        raw = await self.cell.send("POST", path, body=raw_body)
        if not ids and raw.status < 500 and raw.looks_like_json():
            return raw.status, raw.body
        reply = self.cell.parse("POST", path, raw)
        if not reply.ok or not ids:
            return reply.status, reply.body
        hits = reply.get("hits")
        if not isinstance(hits, list):
            raise ApiError(502, "upstream_bad_response", "The cell's search answer has no 'hits' list")
        present = {h.get("_id") for h in hits if isinstance(h, dict)}
        missing = [i for i in ids if i not in present]
        fetched: dict[str, dict[str, Any]] = {}
        if missing and not body.get("filter"):
            got = await self.cell.call("GET", f"/indexes/{quote(index, safe='')}/documents", json_body=missing)
            for doc in (got.get("results", []) if isinstance(got, dict) else []):
                if isinstance(doc, dict) and doc.get("_found"):
                    fetched[doc.get("_id")] = {k: v for k, v in doc.items() if k != "_found"}
        limit = body.get("limit") if isinstance(body.get("limit"), int) else 10
        return reply.status, {**reply.body, "hits": rulebook.apply_pins(hits, ids, fetched, limit)}

    async def ready(self) -> None:
        await aws.table_ready(self.dynamodb, self.table)


def answer(result: Any, status: int = 200) -> web.Response:
    """A search answer: bytes as they came from the cell, or a value to encode."""
    if isinstance(result, bytes):
        return web.Response(body=result, status=status, content_type="application/json")
    return json_response(result, status)


def make_app() -> web.Application:
    w = Worker()
    app = base_app("global_worker", {"rules table": w.ready})
    routes = web.RouteTableDef()

    def check(request: web.Request) -> str:
        given = request.headers.get("x-api-key", "")
        if not hmac.compare_digest(given.encode(), w.system_key.encode()):
            raise unauthorized("global_worker is internal: call it with the system key")
        index = request.match_info["index"]
        split_cell_index_name(index)  # 422 unless it is a cell index name
        return index

    @routes.post("/indexes/{index}/search")
    async def search(request: web.Request) -> web.Response:
        index = check(request)
        body = await read_json(request)
        if not isinstance(body, dict):
            raise ApiError(400, "invalid_argument", "Search body must be a JSON object")
        key = (index, json.dumps(body, sort_keys=True, separators=(",", ":")))
        cached = w.cache.get(key)
        if cached is not None:
            w.stats["hits"] += 1
            response = answer(cached)
            response.headers["x-hippodrome-cache"] = "hit"
            return response
        w.stats["misses"] += 1
        generation = w.generation.get(index, 0)
        status, result = await w.search(index, body, await request.read())
        if 200 <= status < 300 and w.generation.get(index, 0) == generation:
            w.cache.set(key, result)
        if status >= 500:
            raise as_error("cell", Reply(status, result))
        response = answer(result, status)
        response.headers["x-hippodrome-cache"] = "miss"
        return response

    @routes.put("/rules/{index}")
    async def put_rules(request: web.Request) -> web.Response:
        index = check(request)
        stored = rulebook.validate(await read_json(request))
        await aws.call(w.dynamodb.put_item, TableName=w.table, Item=aws.to_item(
            {"index_name": index, "pins": json.dumps(stored["pins"]), "updated": time.time_ns() // 1_000_000}))
        w.rules_cache.pop(index)
        w.invalidate(index)
        return json_response(stored)

    @routes.get("/rules/{index}")
    async def get_rules(request: web.Request) -> web.Response:
        index = check(request)
        w.rules_cache.pop(index)
        return json_response(await w.rules(index))

    @routes.delete("/rules/{index}")
    async def delete_rules(request: web.Request) -> web.Response:
        index = check(request)
        try:
            await aws.call(w.dynamodb.delete_item, TableName=w.table, Key=aws.key(index_name=index))
        except ClientError as e:
            raise ApiError(502, "aws_error", f"Deleting rules failed: {aws.error_code(e)}") from None
        w.rules_cache.pop(index)
        w.invalidate(index)
        return json_response({"deleted": True})

    @routes.post("/invalidate/{index}")
    async def invalidate(request: web.Request) -> web.Response:
        w.invalidate(check(request))
        return json_response({"invalidated": True})

    @routes.get("/stats")
    async def stats(request: web.Request) -> web.Response:
        return json_response({"cacheEntries": len(w.cache), **w.stats})

    app.add_routes(routes)

    async def close(_: web.Application) -> None:
        await w.cell.close()

    app.on_cleanup.append(close)
    return app
