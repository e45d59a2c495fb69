"""admin_worker: the fork API and the fork-tasks consumer."""

from __future__ import annotations

import json
import logging
import re
import uuid
from typing import Any
from urllib.parse import quote

from aiohttp import web
from botocore.exceptions import ClientError

from examples.common import aws, config, documents
from examples.common.auth import ApiKeys, system_headers
from examples.common.errors import ApiError, conflict, invalid, not_found
from examples.common.naming import check_index_name
from examples.common.queue import Consumer, background
from examples.common.upstream import Upstream
from examples.common.web import json_response, make_app as base_app, read_object, string_field

log = logging.getLogger("admin_worker")
JOB_ID = re.compile(r"^[0-9a-f]{32}$")
COPY_PAGE = 100  # below the cell's 128 documents per write


class Forks:
    def __init__(self) -> None:
        self.system_key = config.required("CELL_API_KEY")
        self.machine_arn = config.required("FORK_STATE_MACHINE_ARN")
        self.table = config.required("JOBS_TABLE")
        self.controller = Upstream("controller", config.url("CONTROLLER_URL"), timeout=20)
        self.proxy = Upstream("search_proxy", config.url("SEARCH_PROXY_URL"), timeout=30)
        self.dynamodb = aws.client("dynamodb")
        self.sfn = aws.client("stepfunctions")
        self.keys = ApiKeys(self.dynamodb, config.required("API_KEYS_TABLE"), self.system_key)
        self.consumer = Consumer(aws.client("sqs"), config.required("FORK_QUEUE_URL"), self.run_job)

    def execution_arn(self, job_id: str) -> str:
        return self.machine_arn.replace(":stateMachine:", ":execution:", 1) + ":" + job_id

    async def job(self, job_id: str) -> dict[str, Any] | None:
        response = await aws.call(self.dynamodb.get_item, TableName=self.table, Key=aws.key(job_id=job_id),
                                  ConsistentRead=True)
        return aws.from_item(response.get("Item"))

    async def update(self, job_id: str, **fields: Any) -> None:
        """SET the given fields; a None value REMOVEs the attribute."""
        sets = {k: v for k, v in fields.items() if v is not None}
        removes = [k for k, v in fields.items() if v is None]
        expression = "SET " + ", ".join(f"#{k} = :{k}" for k in sets)
        if removes:
            expression += " REMOVE " + ", ".join(f"#{k}" for k in removes)
        await aws.call(self.dynamodb.update_item, TableName=self.table, Key=aws.key(job_id=job_id),
                       UpdateExpression=expression, ExpressionAttributeNames={f"#{k}": k for k in fields},
                       ExpressionAttributeValues={f":{k}": v for k, v in aws.to_item(sets).items()})

    async def run_job(self, task: dict[str, Any], attempt: int) -> None:
        job_id, account = str(task.get("jobId", "")), str(task.get("accountId", ""))
        source, target = str(task.get("sourceIndex", "")), str(task.get("targetIndex", ""))
        if not JOB_ID.match(job_id) or not account:
            raise invalid("jobId", f"not a fork task: {task}")
        existing = await self.job(job_id) or {}
        if existing.get("status") in ("DONE", "FAILED"):
            return  # a duplicate delivery
        await self.update(job_id, status="RUNNING", attempts=attempt)
        try:
            copied = await self.copy(account, source, target)
        except ApiError as e:
            final = e.status < 500 or attempt >= self.consumer.max_receives
            await self.update(job_id, status="FAILED" if final else "RETRYING", error=e.message)
            raise
        await self.update(job_id, status="DONE", documents=copied, error=None)

    async def copy(self, account: str, source: str, target: str) -> int:
        headers = system_headers(self.system_key, account)
        settings = await self.proxy.call("GET", f"/indexes/{quote(source, safe='')}/settings", headers=headers)
        settings = settings if isinstance(settings, dict) else {}
        created = await self.controller.request("POST", f"/api/v2/indexes/{quote(target, safe='')}",
                                                json_body=settings, headers=headers)
        if not created.ok and created.status != 409:  # 409: a retry after the index was made
            raise ApiError(created.status if created.status < 500 else 502, str(created.get("code") or "fork_failed"),
                           f"creating {target}: {created.get('message')}")
        structured = settings.get("type") == "structured"
        copied = 0
        async for page in documents.pages(self.proxy, source, headers, page=COPY_PAGE):
            docs = await documents.with_facets(self.proxy, source, headers, [d["_id"] for d in page if "_id" in d])
            body: dict[str, Any] = {"documents": [documents.strip_reserved(d) for d in docs]}
            if not structured:
                body["tensorFields"] = documents.tensor_fields(docs)
            if body["documents"]:
                await self.proxy.call("POST", f"/indexes/{quote(target, safe='')}/documents", headers=headers,
                                      json_body=body)
                copied += len(body["documents"])
        return copied

    async def ready(self) -> None:
        await aws.table_ready(self.dynamodb, self.table)
        await self.consumer.ready()


def make_app() -> web.Application:
    f = Forks()
    app = base_app("admin_worker", {"jobs table and fork queue": f.ready})
    routes = web.RouteTableDef()

    @routes.post("/forks")
    async def start_fork(request: web.Request) -> web.Response:
        account = await f.keys.account(request)
        body = await read_object(request)
        source = check_index_name(string_field(body, "sourceIndex", max_length=64) or "", field="sourceIndex")
        target = check_index_name(string_field(body, "targetIndex", max_length=64) or "", field="targetIndex")
        if source == target:
            raise invalid("targetIndex", "must differ from sourceIndex")
        headers = system_headers(f.system_key, account)
        await f.controller.call("GET", f"/api/v2/indexes/{quote(source, safe='')}", headers=headers)  # 404 passes
        existing = await f.controller.request("GET", f"/api/v2/indexes/{quote(target, safe='')}", headers=headers)
        if existing.ok:
            raise conflict("index_already_exists", f"Index {target} already exists")
        job_id = uuid.uuid4().hex
        task = {"jobId": job_id, "sourceIndex": source, "targetIndex": target, "accountId": account}
        try:
            started = await aws.call(f.sfn.start_execution, stateMachineArn=f.machine_arn, name=job_id,
                                     input=json.dumps(task))
        except ClientError as e:
            raise ApiError(502, "workflow_unavailable", f"Cannot start the fork workflow: {aws.error_code(e)}") from None
        return json_response({"jobId": job_id, "executionArn": started.get("executionArn"), "status": "QUEUED",
                              "sourceIndex": source, "targetIndex": target}, 202)

    @routes.get("/forks/{job_id}")
    async def get_fork(request: web.Request) -> web.Response:
        account = await f.keys.account(request)
        job_id = request.match_info["job_id"]
        if not JOB_ID.match(job_id):
            raise not_found("job_not_found", f"No fork job {job_id}")
        job = await f.job(job_id)
        if job is None:  # the workflow may not have recorded it yet: ask Step Functions
            try:
                execution = await aws.call(f.sfn.describe_execution, executionArn=f.execution_arn(job_id))
            except ClientError:
                raise not_found("job_not_found", f"No fork job {job_id}") from None
            try:
                job = {**json.loads(execution.get("input") or "{}"), "status": "QUEUED"}
            except ValueError:
                raise not_found("job_not_found", f"No fork job {job_id}") from None
            job = {"job_id": job_id, "account_id": job.get("accountId"), "source_index": job.get("sourceIndex"),
                   "target_index": job.get("targetIndex"), "status": "QUEUED"}
        if job.get("account_id") != account:
            raise not_found("job_not_found", f"No fork job {job_id}")
        return json_response({"jobId": job_id, "status": job.get("status"), "sourceIndex": job.get("source_index"),
                              "targetIndex": job.get("target_index"), "documents": job.get("documents"),
                              "error": job.get("error")})

    @routes.get("/stats")
    async def stats(request: web.Request) -> web.Response:
        return json_response(f.consumer.stats)

    app.add_routes(routes)
    app.cleanup_ctx.append(background(f.consumer.run))

    async def close(_: web.Application) -> None:
        await f.controller.close()
        await f.proxy.close()

    app.on_cleanup.append(close)
    return app
