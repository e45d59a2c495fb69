"""exporters' handlers; see the package docstring for the API."""

from __future__ import annotations

import hmac
import json
import re
import time
import uuid
from typing import Any

from aiohttp import web
from botocore.exceptions import ClientError

from examples.common import aws, config, documents
from examples.common.auth import system_headers
from examples.common.errors import not_found, unauthorized
from examples.common.naming import check_index_name
from examples.common.upstream import Upstream
from examples.common.web import json_response, make_app as base_app, read_object, string_field

EXPORT_ID = re.compile(r"^[0-9a-f]{32}$")


def make_app() -> web.Application:
    bucket = config.required("EXPORTS_BUCKET")
    system_key = config.required("CELL_API_KEY")
    proxy = Upstream("search_proxy", config.url("SEARCH_PROXY_URL"), timeout=30)
    s3 = aws.client("s3")

    async def bucket_ready() -> None:
        await aws.call(s3.head_bucket, Bucket=bucket)

    app = base_app("exporters", {"bucket": bucket_ready})
    routes = web.RouteTableDef()

    @routes.post("/exports")
    async def create_export(request: web.Request) -> web.Response:
        body = await read_object(request)
        index = check_index_name(string_field(body, "index", max_length=64) or "", field="index")
        api_key = request.headers.get("x-api-key") or string_field(body, "apiKey", required=False)
        account = string_field(body, "account", required=False, max_length=40)
        if not api_key:
            raise unauthorized("send the customer's API key (x-api-key or apiKey), or the system key with 'account'")
        if account:  # the internal path: only a holder of the system key may act for an account
            if not (system_key and hmac.compare_digest(api_key.encode(), system_key.encode())):
                raise unauthorized("'account' may only be used with the system key")
            headers = system_headers(system_key, account)
        else:
            headers = {"x-api-key": api_key}
        lines: list[str] = []
        async for page in documents.pages(proxy, index, headers):
            lines += [json.dumps(doc, separators=(",", ":"), sort_keys=True) for doc in page]
        export_id = uuid.uuid4().hex
        key = f"exports/{export_id}.jsonl"
        payload = ("\n".join(lines) + ("\n" if lines else "")).encode()
        metadata = {"index": index, "documents": str(len(lines)), "account": account or "",
                    "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        await aws.call(s3.put_object, Bucket=bucket, Key=key, Body=payload, ContentType="application/x-ndjson",
                       Metadata=metadata)
        return json_response({"exportId": export_id, "bucket": bucket, "key": key, "index": index,
                              "documents": len(lines)}, 201)

    @routes.get("/exports/{export_id}")
    async def get_export(request: web.Request) -> web.Response:
        export_id = request.match_info["export_id"]
        if not EXPORT_ID.match(export_id):
            raise not_found("export_not_found", f"No export {export_id}")
        key = f"exports/{export_id}.jsonl"
        try:
            head: dict[str, Any] = await aws.call(s3.head_object, Bucket=bucket, Key=key)
        except ClientError as e:
            if aws.error_code(e) in ("404", "NoSuchKey", "NotFound"):
                raise not_found("export_not_found", f"No export {export_id}") from None
            raise
        meta = head.get("Metadata") or {}
        return json_response({"exportId": export_id, "bucket": bucket, "key": key, "index": meta.get("index"),
                              "accountId": meta.get("account") or None,
                              "documents": int(meta.get("documents") or 0), "bytes": head.get("ContentLength"),
                              "created": meta.get("created")})

    app.add_routes(routes)

    async def close(_: web.Application) -> None:
        await proxy.close()

    app.on_cleanup.append(close)
    return app
