"""ecom_indexer: the queue consumer and its two HTTP endpoints."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from aiohttp import web

from examples.common import aws, config
from examples.common.auth import system_headers
from examples.common.errors import invalid
from examples.common.naming import check_index_name
from examples.common.queue import Consumer, background
from examples.common.upstream import Upstream
from examples.common.web import json_response, make_app as base_app


def make_app() -> web.Application:
    system_key = config.required("CELL_API_KEY")
    proxy = Upstream("search_proxy", config.url("SEARCH_PROXY_URL"), timeout=30)
    counts = {"documents": 0, "documentErrors": 0}

    async def write_batch(message: dict[str, Any], attempt: int) -> None:
        account, index = message.get("accountId"), message.get("indexName")
        documents, tensor_fields = message.get("documents"), message.get("tensorFields", [])
        if not isinstance(account, str) or not account:
            raise invalid("accountId", "missing from the message")
        check_index_name(index if isinstance(index, str) else "", field="indexName")
        if not isinstance(documents, list) or not documents:
            raise invalid("documents", "missing from the message")
        result = await proxy.call("POST", f"/indexes/{quote(index, safe='')}/documents",
                                  headers=system_headers(system_key, account),
                                  json_body={"documents": documents, "tensorFields": tensor_fields or []})
        items = result.get("items", []) if isinstance(result, dict) else []
        errors = sum(1 for i in items if isinstance(i, dict) and int(i.get("status", 200) or 200) >= 400)
        counts["documents"] += len(documents) - errors
        counts["documentErrors"] += errors

    consumer = Consumer(aws.client("sqs"), config.required("INGEST_QUEUE_URL"), write_batch)
    app = base_app("ecom_indexer", {"ingest queue": consumer.ready})

    async def stats(request: web.Request) -> web.Response:
        return json_response({**consumer.stats, **counts})

    app.router.add_get("/stats", stats)
    app.cleanup_ctx.append(background(consumer.run))

    async def close(_: web.Application) -> None:
        await proxy.close()

    app.on_cleanup.append(close)
    return app
