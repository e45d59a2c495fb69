"""The controller's handlers; see the package docstring for the API."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
import time
from typing import Any
from urllib.parse import quote

from aiohttp import web
from botocore.exceptions import ClientError

from examples.common import aws, config
from examples.common.auth import ApiKeys, Principal, key_hash
from examples.common.errors import ApiError, conflict, invalid, not_found
from examples.common.naming import cell_index_name, check_index_name
from examples.common.upstream import Upstream
from examples.common.web import json_response, make_app as base_app, read_object, string_field

log = logging.getLogger("controller")

# Settings only the cloud control plane understands: kept in the record, not sent to the cell.
CLOUD_ONLY = ("storageClass", "numberOfShards", "numberOfReplicas", "inferenceType", "numberOfInferences")
MAX_SCAN_PAGES = 20
# An index's settings are kept in its DynamoDB record (items hold at most 400 KB): a larger object is the
# caller's mistake (413 naming "settings"), refused before it reaches AWS.
MAX_SETTINGS_BYTES = 64 * 1024
MAX_ACCOUNT_BYTES = 4 * 1024


class Controller:
    def __init__(self) -> None:
        self.marqo_endpoint = config.url("MARQO_ENDPOINT")
        self.seed = config.optional("HIPPODROME_RANDOM_SEED", "0")
        self.accounts_table = config.required("ACCOUNTS_TABLE")
        self.indexes_table = config.required("INDEXES_TABLE")
        self.api_keys_table = config.required("API_KEYS_TABLE")
        system_key = config.required("CELL_API_KEY")
        self.cell = Upstream("cell", config.url("CELL_URL"), headers={"x-api-key": system_key}, timeout=15)
        gw = config.optional("GLOBAL_WORKER_URL")
        self.global_worker = Upstream("global_worker", gw, timeout=2) if gw else None
        self.dynamodb = aws.client("dynamodb")
        self.keys = ApiKeys(self.dynamodb, self.api_keys_table, system_key)

    # --- records ---------------------------------------------------------------------------------

    async def get_record(self, account: str, name: str) -> dict[str, Any] | None:
        response = await aws.call(self.dynamodb.get_item, TableName=self.indexes_table,
                                  Key=aws.key(account_id=account, index_name=name), ConsistentRead=True)
        return aws.from_item(response.get("Item"))

    async def set_status(self, account: str, name: str, status: str) -> None:
        await aws.call(self.dynamodb.update_item, TableName=self.indexes_table,
                       Key=aws.key(account_id=account, index_name=name),
                       UpdateExpression="SET #s = :s", ExpressionAttributeNames={"#s": "status"},
                       ExpressionAttributeValues={":s": {"S": status}})

    async def delete_record(self, account: str, name: str) -> None:
        await aws.call(self.dynamodb.delete_item, TableName=self.indexes_table,
                       Key=aws.key(account_id=account, index_name=name))

    async def list_records(self, account: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"TableName": self.indexes_table, "KeyConditionExpression": "account_id = :a",
                                  "ExpressionAttributeValues": {":a": {"S": account}}}
        for _ in range(MAX_SCAN_PAGES):
            response = await aws.call(self.dynamodb.query, **kwargs)
            items += [aws.from_item(i) or {} for i in response.get("Items", [])]
            if not response.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return items

    def describe(self, record: dict[str, Any]) -> dict[str, Any]:
        settings = settings_of(record)
        out = {
            "indexName": record.get("index_name"),
            "indexStatus": record.get("status", "READY"),
            "marqoEndpoint": self.marqo_endpoint,
            "Created": record.get("created"),
            "accountId": record.get("account_id"),
        }
        out.update({k: settings[k] for k in ("numberOfShards", "numberOfReplicas", "storageClass") if k in settings})
        return out

    # --- accounts --------------------------------------------------------------------------------

    async def scan_accounts(self, **equals: str) -> list[dict[str, Any]]:
        names = {f"#k{i}": k for i, k in enumerate(equals)}
        values = {f":v{i}": {"S": v} for i, v in enumerate(equals.values())}
        kwargs: dict[str, Any] = {
            "TableName": self.accounts_table,
            "FilterExpression": " AND ".join(f"#k{i} = :v{i}" for i in range(len(equals))),
            "ExpressionAttributeNames": names, "ExpressionAttributeValues": values}
        items: list[dict[str, Any]] = []
        for _ in range(MAX_SCAN_PAGES):
            response = await aws.call(self.dynamodb.scan, **kwargs)
            items += [aws.from_item(i) or {} for i in response.get("Items", [])]
            if not response.get("LastEvaluatedKey"):
                break
            kwargs["ExclusiveStartKey"] = response["LastEvaluatedKey"]
        return items

    def new_account_id(self, name: str) -> str:
        """12 digits, stable for (seed, name): the same seed gives the same ids every run."""
        digest = hashlib.sha256(f"{self.seed}:account:{name}".encode()).digest()
        return "".join(str(b % 10) for b in digest[:12])

    async def ready(self) -> None:
        for table in (self.accounts_table, self.api_keys_table, self.indexes_table):
            await aws.table_ready(self.dynamodb, table)


def settings_of(record: dict[str, Any]) -> dict[str, Any]:
    """Settings are stored as JSON text: DynamoDB maps cannot hold floats."""
    try:
        settings = json.loads(record.get("settings") or "{}")
    except (TypeError, ValueError):
        return {}
    return settings if isinstance(settings, dict) else {}


def _account(record: dict[str, Any]) -> dict[str, Any]:
    return {"accountId": record.get("account_id"), "name": record.get("name"), "owner": record.get("owner"),
            "systemAccountId": record.get("system_account_id"), "created": record.get("created")}


def make_app() -> web.Application:
    c = Controller()
    app = base_app("controller", {"tables": c.ready})
    routes = web.RouteTableDef()

    async def principal(request: web.Request) -> Principal:
        return await c.keys.principal(request)

    async def system_only(request: web.Request) -> None:
        if not (await principal(request)).system:
            raise ApiError(403, "forbidden", "Only the system key may manage accounts")

    @routes.get("/api/v2/indexes")
    async def list_indexes(request: web.Request) -> web.Response:
        account = (await principal(request)).require_account()
        records = await c.list_records(account)
        return json_response({"results": [c.describe(r) for r in records]})

    @routes.post("/api/v2/indexes/{name}")
    async def create_index(request: web.Request) -> web.Response:
        account = (await principal(request)).require_account()
        name = check_index_name(request.match_info["name"])
        settings = await read_object(request, default={}, max_bytes=MAX_SETTINGS_BYTES, field="settings")
        cell_name = cell_index_name(account, name)
        record = {"account_id": account, "index_name": name, "cell_index": cell_name, "status": "CREATING",
                  "settings": json.dumps(settings), "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        try:
            await aws.call(c.dynamodb.put_item, TableName=c.indexes_table, Item=aws.to_item(record),
                           ConditionExpression="attribute_not_exists(index_name)")
        except ClientError as e:
            if aws.error_code(e) == "ConditionalCheckFailedException":
                raise conflict("index_already_exists", f"Index {name} already exists") from None
            raise
        cell_settings = {k: v for k, v in settings.items() if k not in CLOUD_ONLY}
        try:
            reply = await c.cell.request("POST", f"/indexes/{quote(cell_name, safe='')}", json_body=cell_settings)
        except ApiError:
            await c.delete_record(account, name)
            raise
        if reply.status == 409:
            # The cell outlived our records (moto restarted; fake_cell persists): adopt its index.
            log.warning("index %s already existed in the cell: adopting it", cell_name)
        elif not reply.ok:
            await c.delete_record(account, name)
            message = reply.get("message") or f"the cell answered HTTP {reply.status}"
            if reply.status >= 500:
                raise ApiError(502, "upstream_error", f"The cell could not create the index: {message}")
            raise ApiError(reply.status, str(reply.get("code") or "invalid_argument"), message)
        await c.set_status(account, name, "READY")
        return json_response({"acknowledged": True, "index": name, "indexStatus": "READY"})

    async def record_or_404(request: web.Request) -> tuple[str, dict[str, Any]]:
        account = (await principal(request)).require_account()
        name = check_index_name(request.match_info["name"])
        record = await c.get_record(account, name)
        if record is None:
            raise not_found("index_not_found", f"Index {name} does not exist")
        return account, record

    @routes.get("/api/v2/indexes/{name}")
    async def get_index(request: web.Request) -> web.Response:
        _, record = await record_or_404(request)
        return json_response({**c.describe(record), "settings": settings_of(record)})

    @routes.get("/api/v2/indexes/{name}/status")
    async def index_status(request: web.Request) -> web.Response:
        account = (await principal(request)).require_account()
        name = check_index_name(request.match_info["name"])
        record = await c.get_record(account, name)
        # The marqo client polls for DELETED after a delete: a missing record is a deleted index.
        return json_response({"indexStatus": (record or {}).get("status", "DELETED")})

    @routes.delete("/api/v2/indexes/{name}")
    async def delete_index(request: web.Request) -> web.Response:
        account, record = await record_or_404(request)
        name = record.get("index_name", "")
        cell_name = record.get("cell_index") or cell_index_name(account, name)
        await c.set_status(account, name, "DELETING")
        reply = await c.cell.request("DELETE", f"/indexes/{quote(cell_name, safe='')}")
        if not reply.ok and reply.status != 404:
            await c.set_status(account, name, "READY")
            raise ApiError(502, "upstream_error", f"The cell could not delete the index: {reply.get('message')}")
        await c.delete_record(account, name)
        if c.global_worker is not None:
            try:
                await c.global_worker.request("DELETE", f"/rules/{quote(cell_name, safe='')}")
            except ApiError as e:
                log.warning("could not drop global_worker rules of %s: %s", cell_name, e.message)
        return json_response({"acknowledged": True})

    @routes.post("/api/v2/accounts")
    async def create_account(request: web.Request) -> web.Response:
        await system_only(request)
        body = await read_object(request, max_bytes=MAX_ACCOUNT_BYTES)
        name = string_field(body, "name", max_length=64)
        owner = string_field(body, "owner", required=False)
        if not name.replace("-", "").replace("_", "").isalnum():
            raise invalid("name", "letters, digits, '-' and '_' only")
        if await c.scan_accounts(name=name):
            raise conflict("account_already_exists", f"An account named {name!r} already exists")
        account_id = c.new_account_id(name)
        record = {"account_id": account_id, "name": name, "owner": owner,
                  "system_account_id": "sys-" + hashlib.sha256(f"{c.seed}:sys:{name}".encode()).hexdigest()[:16],
                  "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        try:
            await aws.call(c.dynamodb.put_item, TableName=c.accounts_table, Item=aws.to_item(record),
                           ConditionExpression="attribute_not_exists(account_id)")
        except ClientError as e:
            if aws.error_code(e) == "ConditionalCheckFailedException":
                raise conflict("account_already_exists", f"Account {account_id} already exists") from None
            raise
        api_key = "hk_" + secrets.token_urlsafe(30)
        await aws.call(c.dynamodb.put_item, TableName=c.api_keys_table, Item=aws.to_item(
            {"key_hash": key_hash(api_key), "account_id": account_id, "name": "default"}))
        return json_response({**_account(record), "apiKey": api_key}, 201)

    @routes.get("/api/v2/accounts")
    async def find_accounts(request: web.Request) -> web.Response:
        await system_only(request)
        owner = request.query.get("owner", "").strip()
        if not owner:
            raise invalid("owner", "query parameter 'owner' is required")
        return json_response({"results": [_account(a) for a in await c.scan_accounts(owner=owner)]})

    @routes.get("/api/v2/accounts/{account_id}")
    async def get_account(request: web.Request) -> web.Response:
        who = await principal(request)
        account_id = request.match_info["account_id"]
        if not who.system and who.account_id != account_id:
            raise not_found("account_not_found", f"Account {account_id} does not exist")
        response = await aws.call(c.dynamodb.get_item, TableName=c.accounts_table, Key=aws.key(account_id=account_id))
        record = aws.from_item(response.get("Item"))
        if record is None:
            raise not_found("account_not_found", f"Account {account_id} does not exist")
        indexes = [c.describe(r) for r in await c.list_records(account_id)]
        return json_response({**_account(record), "indexes": indexes})

    app.add_routes(routes)

    async def close(_: web.Application) -> None:
        await c.cell.close()
        if c.global_worker is not None:
            await c.global_worker.close()

    app.on_cleanup.append(close)
    return app
