"""admin_server's handlers; see the package docstring for the API."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any
from urllib.parse import quote

from aiohttp import web
from botocore.exceptions import ClientError

from examples.common import aws, config
from examples.common.auth import system_headers
from examples.common.errors import ApiError, invalid
from examples.common.naming import check_index_name
from examples.common.upstream import Upstream
from examples.common.web import json_response, make_app as base_app, read_object, string_field

from .tokens import User, Verifier

log = logging.getLogger("admin_server")
MAX_DOCUMENTS = 10_000
BATCH_DOCUMENTS = 100
BATCH_BYTES = 200_000  # SQS allows 256 KiB per message


class Admin:
    def __init__(self) -> None:
        self.verifier = Verifier(config.url("COGNITO_JWKS_URL"), config.required("COGNITO_ISSUER"),
                                 config.required("COGNITO_CLIENT_ID"))
        self.jwks = Upstream("cognito", config.url("COGNITO_JWKS_URL"), timeout=3)
        self.system_key = config.required("CELL_API_KEY")
        self.controller = Upstream("controller", config.url("CONTROLLER_URL"), timeout=20)
        self.queue_url = config.required("INGEST_QUEUE_URL")
        self.topic_arn = config.required("EVENTS_TOPIC_ARN")
        self.sqs = aws.client("sqs")
        self.sns = aws.client("sns")

    async def account_of(self, user: User) -> dict[str, Any] | None:
        found = await self.controller.call("GET", "/api/v2/accounts", params={"owner": user.name},
                                           headers={"x-api-key": self.system_key})
        results = found.get("results", []) if isinstance(found, dict) else []
        return results[0] if results and isinstance(results[0], dict) else None

    async def require_account(self, user: User) -> str:
        account = await self.account_of(user)
        if account is None or not account.get("accountId"):
            raise ApiError(404, "account_not_found", f"{user.name} has no account yet: POST /api/onboard first")
        return str(account["accountId"])

    def as_account(self, account_id: str) -> dict[str, str]:
        return system_headers(self.system_key, account_id)

    async def ready_jwks(self) -> None:
        await self.jwks.call("GET", "")

    async def ready_queue(self) -> None:
        await aws.call(self.sqs.get_queue_attributes, QueueUrl=self.queue_url, AttributeNames=["QueueArn"])


def batches(documents: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split documents into SQS-sized batches (by count and by encoded size)."""
    out: list[list[dict[str, Any]]] = [[]]
    size = 0
    for doc in documents:
        doc_size = len(json.dumps(doc))
        if doc_size > BATCH_BYTES:
            raise invalid("documents", f"document {doc.get('_id', '?')} is larger than {BATCH_BYTES} bytes")
        if out[-1] and (len(out[-1]) >= BATCH_DOCUMENTS or size + doc_size > BATCH_BYTES):
            out.append([])
            size = 0
        out[-1].append(doc)
        size += doc_size
    return out


def make_app() -> web.Application:
    a = Admin()
    app = base_app("admin_server", {"cognito jwks": a.ready_jwks, "ingest queue": a.ready_queue})
    routes = web.RouteTableDef()

    @routes.get("/api/me")
    async def me(request: web.Request) -> web.Response:
        user = await a.verifier.user(request)
        return json_response({"user": user.name, "groups": list(user.groups), "account": await a.account_of(user)})

    @routes.post("/api/onboard")
    async def onboard(request: web.Request) -> web.Response:
        user = await a.verifier.user(request)
        body = await read_object(request)
        index = check_index_name(string_field(body, "indexName", max_length=64) or "")
        settings = body.get("settings", {})
        if not isinstance(settings, dict):
            raise invalid("settings", "must be an object of Marqo index settings")
        account = await a.account_of(user)
        api_key = None
        if account is None:
            default_name = re.sub(r"[^A-Za-z0-9_-]", "-", user.name.split("@")[0])[:40] or "account"
            name = string_field(body, "accountName", required=False, max_length=64) or default_name
            account = await a.controller.call("POST", "/api/v2/accounts", json_body={"name": name, "owner": user.name},
                                              headers={"x-api-key": a.system_key})
            api_key = account.get("apiKey")
        account_id = str(account.get("accountId"))
        created = await a.controller.call("POST", f"/api/v2/indexes/{quote(index, safe='')}", json_body=settings,
                                          headers=a.as_account(account_id))
        out = {"accountId": account_id, "indexName": index, "indexStatus": created.get("indexStatus", "READY")}
        if api_key:
            out["apiKey"] = api_key
        return json_response(out, 201)

    @routes.get("/api/indexes")
    async def list_indexes(request: web.Request) -> web.Response:
        user = await a.verifier.user(request)
        account_id = await a.require_account(user)
        listed = await a.controller.call("GET", "/api/v2/indexes", headers=a.as_account(account_id))
        return json_response({"accountId": account_id, "results": listed.get("results", [])})

    @routes.post("/api/indexes/{name}/import")
    async def import_documents(request: web.Request) -> web.Response:
        user = await a.verifier.user(request)
        index = check_index_name(request.match_info["name"], field="index")
        body = await read_object(request)
        documents = body.get("documents")
        if not isinstance(documents, list) or not documents:
            raise invalid("documents", "a non-empty list of documents is required")
        if len(documents) > MAX_DOCUMENTS:
            raise invalid("documents", f"at most {MAX_DOCUMENTS} documents per import")
        for n, doc in enumerate(documents):
            if not isinstance(doc, dict):
                raise invalid(f"documents[{n}]", "each document must be a JSON object")
            if "_id" in doc and (not isinstance(doc["_id"], str) or not doc["_id"]):
                raise invalid(f"documents[{n}]._id", "must be a non-empty string")
        tensor_fields = body.get("tensorFields", [])
        if not isinstance(tensor_fields, list) or not all(isinstance(f, str) for f in tensor_fields):
            raise invalid("tensorFields", "must be a list of field names")
        account_id = await a.require_account(user)
        # The index must exist (404 from the controller passes through).
        await a.controller.call("GET", f"/api/v2/indexes/{quote(index, safe='')}", headers=a.as_account(account_id))
        import_id = uuid.uuid4().hex
        parts = batches(documents)
        for part in parts:
            message = {"importId": import_id, "accountId": account_id, "indexName": index, "documents": part,
                       "tensorFields": tensor_fields}
            await aws.call(a.sqs.send_message, QueueUrl=a.queue_url, MessageBody=json.dumps(message))
        event = {"event": "documents.import.queued", "importId": import_id, "accountId": account_id,
                 "indexName": index, "documents": len(documents), "batches": len(parts)}
        published = True
        try:
            await aws.call(a.sns.publish, TopicArn=a.topic_arn, Message=json.dumps(event))
        except (ApiError, ClientError) as e:  # the documents are queued: report, don't fail the import
            published = False
            log.warning("could not publish %s: %s", event, getattr(e, "message", e))
        return json_response({"importId": import_id, "indexName": index, "documents": len(documents),
                              "batches": len(parts), "eventPublished": published}, 202)

    app.add_routes(routes)

    async def close(_: web.Application) -> None:
        await a.controller.close()
        await a.jwks.close()

    app.on_cleanup.append(close)
    return app
