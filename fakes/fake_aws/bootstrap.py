"""Create the stack's declared AWS resources in moto: idempotently, in dependency order.

Step Functions execution is switched on first (moto keeps executing state machines in a separate
backend, so this must precede any state machine).  Then the first wave (tables, buckets, queues,
topics, secrets, state machines), then what needs it (table items, topic subscriptions).

How moto is reached: fake_aws hands each call to the moto app of its own process (``app=``,
inprocess.py): the same path a request from outside takes once past the HTTP server, without the
socket, urllib3 and werkzeug's HTTP server under the one GIL.  Serial: each moto service loads its
backend lazily on its first call, CPU-bound under the GIL (a quarter of a second of it is moto importing
its Step Functions interpreter), so threads only add switching.  Measured (``bench/bench_bootstrap.py
--rounds 15``, the reference stack's 12 resources, a fresh moto per run, medians, one run): in-process
0.89 s, serial over loopback HTTP 0.98 s, and 1.04 s for what the bootstrap did before (over HTTP, a
warm-up call per service, then each wave from a thread pool; removed since).

Re-creating is success; a changed state machine definition is updated, a secret whose declared
value changed (a seed-derived key after a seed change) is set to the declared value.  Declared table
items follow seeding.py: given the moto state dir, the bootstrap records which items it seeded and
on a later start deletes those no longer declared (printing what it removed) and keeps the changes
services made to the others.  A failure names the resource and the AWS error.

Every request carries ``hippodrome-bootstrap`` in its User-Agent, so the access log can leave the
bootstrap's own calls out.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import requests
from boto3.dynamodb.types import TypeSerializer
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from hippodrome_k8s.core.errors import BootstrapError

from . import seeding
from .inprocess import WsgiApp, call, serve_in_process

BOOTSTRAP_AGENT = "hippodrome-bootstrap"  # the access log leaves out requests carrying it (server.py)
MOTO_ACCOUNT_ID = "123456789012"
ROLE_ARN = f"arn:aws:iam::{MOTO_ACCOUNT_ID}:role/hippodrome-states"


@dataclass(frozen=True)
class Task:
    """One resource to create: what to call it in errors, and how to make it."""

    label: str  # e.g. "DynamoDB table dev-main-accounts"
    run: Callable[["Clients"], None]


class Clients:
    """A boto3 client per AWS service, made on its first use (the bootstrap is serial: a stack that declares no
    queue makes no SQS client). With ``app`` (the WSGI app serving ``endpoint`` in this process) their requests
    are handed to it instead of sent (inprocess.py)."""

    SERVICES = ("dynamodb", "s3", "sqs", "sns", "secretsmanager", "stepfunctions")

    def __init__(self, endpoint: str, region: str, app: WsgiApp | None = None):
        self.endpoint = endpoint
        self.region = region
        self._app = app
        self._config = Config(retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=5, read_timeout=30,
                              user_agent_extra=BOOTSTRAP_AGENT)
        self._session = boto3.session.Session(aws_access_key_id="testing", aws_secret_access_key="testing",
                                              region_name=region)
        self._clients: dict[str, Any] = {}

    def __getattr__(self, name: str) -> Any:
        if name not in self.SERVICES:
            raise AttributeError(name)
        client = self._clients.get(name)
        if client is None:
            client = self._clients[name] = self._session.client(name, endpoint_url=self.endpoint, config=self._config)
            if self._app is not None:
                serve_in_process(client, self._app)
        return client


def _error_code(e: ClientError) -> str:
    return e.response.get("Error", {}).get("Code", "")


# --- one function per kind of resource ---------------------------------------------------------


def create_table(table: dict[str, Any]) -> Task:
    def run(c: Clients) -> None:
        keys = [(table["hashKey"], "HASH")] + ([(table["rangeKey"], "RANGE")] if table.get("rangeKey") else [])
        attributes = {k["name"]: k["type"] for k, _ in keys}
        gsis = []
        for index in table.get("globalSecondaryIndexes", []):
            index_keys = [(index["hashKey"], "HASH")] + ([(index["rangeKey"], "RANGE")] if index.get("rangeKey") else [])
            attributes.update({k["name"]: k["type"] for k, _ in index_keys})
            gsis.append({
                "IndexName": index["name"],
                "KeySchema": [{"AttributeName": k["name"], "KeyType": t} for k, t in index_keys],
                "Projection": {"ProjectionType": "ALL"},
            })
        kwargs: dict[str, Any] = {
            "TableName": table["name"],
            "KeySchema": [{"AttributeName": k["name"], "KeyType": t} for k, t in keys],
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in attributes.items()],
            "BillingMode": "PAY_PER_REQUEST",
        }
        if gsis:
            kwargs["GlobalSecondaryIndexes"] = gsis
        try:
            c.dynamodb.create_table(**kwargs)
        except ClientError as e:
            if _error_code(e) != "ResourceInUseException":
                raise

    return Task(f"DynamoDB table {table['name']}", run)


def put_items(table: dict[str, Any]) -> Task:
    """Without a state dir: put every declared item (nothing is recorded)."""
    return seed_items(table["name"], puts=table.get("items", []))


def seed_items(name: str, *, deletes: Iterable[dict[str, Any]] = (), puts: Iterable[dict[str, Any]] = (),
               ensures: Iterable[dict[str, Any]] = (), hash_key: str | None = None) -> Task:
    """One table's part of a seeding.SeedPlan: delete, put (overwrite), ensure (put only if missing)."""
    serializer = TypeSerializer()

    def typed(values: dict[str, Any]) -> dict[str, Any]:
        return {k: serializer.serialize(v) for k, v in values.items()}

    def run(c: Clients) -> None:
        for key in deletes:
            try:
                c.dynamodb.delete_item(TableName=name, Key=typed(key))
            except ClientError as e:
                if _error_code(e) != "ResourceNotFoundException":  # the table went with its items
                    raise
        for item in puts:
            c.dynamodb.put_item(TableName=name, Item=typed(item))
        for item in ensures:
            try:
                c.dynamodb.put_item(TableName=name, Item=typed(item), ConditionExpression="attribute_not_exists(#k)",
                                    ExpressionAttributeNames={"#k": hash_key or next(iter(item))})
            except ClientError as e:
                if _error_code(e) != "ConditionalCheckFailedException":  # there: keep what services made of it
                    raise

    return Task(f"items of DynamoDB table {name}", run)


def create_bucket(name: str) -> Task:
    def run(c: Clients) -> None:
        kwargs: dict[str, Any] = {"Bucket": name}
        if c.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": c.region}
        try:
            c.s3.create_bucket(**kwargs)
        except ClientError as e:
            if _error_code(e) not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    return Task(f"S3 bucket {name}", run)


def create_queue(queue: dict[str, Any]) -> Task:
    def run(c: Clients) -> None:
        attributes = dict(queue.get("attributes", {}))
        name = queue["name"]
        if queue.get("fifo"):
            attributes["FifoQueue"] = "true"
        c.sqs.create_queue(QueueName=name, Attributes=attributes)

    return Task(f"SQS queue {queue['name']}", run)


def create_topic(topic: dict[str, Any]) -> Task:
    return Task(f"SNS topic {topic['name']}", lambda c: c.sns.create_topic(Name=topic["name"]))


def subscribe(topic: dict[str, Any], subscription: dict[str, Any]) -> Task:
    def run(c: Clients) -> None:
        topic_arn = f"arn:aws:sns:{c.region}:{MOTO_ACCOUNT_ID}:{topic['name']}"
        queue_arn = f"arn:aws:sqs:{c.region}:{MOTO_ACCOUNT_ID}:{subscription['queue']}"
        existing = c.sns.list_subscriptions_by_topic(TopicArn=topic_arn).get("Subscriptions", [])
        if any(s.get("Endpoint") == queue_arn for s in existing):
            return
        attributes = {"RawMessageDelivery": "true"} if subscription.get("rawMessageDelivery", True) else {}
        c.sns.subscribe(TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes=attributes)

    return Task(f"SNS subscription {topic['name']} -> {subscription['queue']}", run)


def create_secret(secret: dict[str, Any]) -> Task:
    def run(c: Clients) -> None:
        try:
            c.secretsmanager.create_secret(Name=secret["name"], SecretString=secret["value"])
        except ClientError as e:
            if _error_code(e) != "ResourceExistsException":
                raise
            current = c.secretsmanager.get_secret_value(SecretId=secret["name"]).get("SecretString")
            if current != secret["value"]:  # e.g. a seed-derived key after a seed change
                c.secretsmanager.put_secret_value(SecretId=secret["name"], SecretString=secret["value"])

    return Task(f"Secrets Manager secret {secret['name']}", run)


def create_state_machine(machine: dict[str, Any]) -> Task:
    def run(c: Clients) -> None:
        definition = json.dumps(machine["definition"])
        # moto returns the SAME arn for a re-create and keeps the old definition: update explicitly.
        arn = c.stepfunctions.create_state_machine(name=machine["name"], definition=definition, roleArn=ROLE_ARN)["stateMachineArn"]
        current = c.stepfunctions.describe_state_machine(stateMachineArn=arn).get("definition")
        if current != definition:
            c.stepfunctions.update_state_machine(stateMachineArn=arn, definition=definition)

    return Task(f"Step Functions state machine {machine['name']}", run)


# --- the plan and its execution ------------------------------------------------------------------


def item_tasks(resources: dict[str, Any], seed_plan: seeding.SeedPlan) -> list[Task]:
    """One task per table the seed plan touches (declared or only recorded)."""
    hash_keys = {t["name"]: t["hashKey"]["name"] for t in resources.get("tables", [])}
    work: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for kind, pairs in (("deletes", seed_plan.delete), ("puts", seed_plan.put), ("ensures", seed_plan.ensure)):
        for table, values in pairs:
            work.setdefault(table, {"deletes": [], "puts": [], "ensures": []})[kind].append(values)
    return [seed_items(table, hash_key=hash_keys.get(table), **lists) for table, lists in work.items()]


def plan(resources: dict[str, Any], seed_plan: seeding.SeedPlan | None = None) -> tuple[list[Task], list[Task]]:
    """(first wave of creates, second wave that needs the first).  Without a seed plan every declared item
    is put."""
    first: list[Task] = [create_table(t) for t in resources.get("tables", [])]
    second: list[Task] = []
    if seed_plan is None:
        second += [put_items(t) for t in resources.get("tables", []) if t.get("items")]
    elif seed_plan.delete or seed_plan.put or seed_plan.ensure:
        second += item_tasks(resources, seed_plan)
    first += [create_bucket(b) for b in resources.get("buckets", [])]
    first += [create_queue(q) for q in resources.get("queues", [])]
    first += [create_topic(t) for t in resources.get("topics", [])]
    second += [subscribe(t, s) for t in resources.get("topics", []) for s in t.get("subscriptions", [])]
    first += [create_secret(s) for s in resources.get("secrets", [])]
    first += [create_state_machine(m) for m in resources.get("stateMachines", [])]
    return first, second


def enable_step_function_execution(endpoint: str, app: WsgiApp | None = None) -> None:
    """Must run before any state machine is created: moto keeps executing ones in a separate backend."""
    url, body = f"{endpoint}/moto-api/config", {"stepfunctions": {"execute_state_machine": True}}
    if app is not None:
        status, _, answer = call(app, "POST", url, {"User-Agent": BOOTSTRAP_AGENT, "Content-Type": "application/json"},
                                 json.dumps(body))
        if status >= 400:
            raise BootstrapError(f"could not switch on Step Functions execution in moto: HTTP {status}: "
                                 f"{answer[:300].decode('utf-8', 'replace')}")
        return
    try:
        response = requests.post(url, json=body, headers={"User-Agent": BOOTSTRAP_AGENT}, timeout=10)
        response.raise_for_status()
    except requests.RequestException as e:
        raise BootstrapError(f"could not switch on Step Functions execution in moto: {e}") from None


def _run(task: Task, clients: Clients) -> str | None:
    try:
        task.run(clients)
        return None
    except ClientError as e:
        error = e.response.get("Error", {})
        return f"{task.label}: {error.get('Code', 'ClientError')}: {error.get('Message', str(e))}"
    except (BotoCoreError, requests.RequestException, KeyError, TypeError, ValueError) as e:
        return f"{task.label}: {type(e).__name__}: {e}"


def bootstrap(endpoint: str, resources: dict[str, Any], *, app: WsgiApp | None = None,
              log: Callable[[str], None] = print, state_dir: Path | None = None, seed: str | None = None) -> int:
    """Create everything declared; returns the number of resources.  Raises BootstrapError naming every failure.

    ``app``: the WSGI app serving ``endpoint`` in this process (fake_aws's own): the calls are handed to it
    rather than sent over loopback (inprocess.py); without it they go to ``endpoint`` over HTTP.
    With ``state_dir`` (moto's state dir) the seeded items are tracked there (see seeding.py);
    ``seed`` is only used to say that the seed changed."""
    seed_plan = recorded_seed = None
    if state_dir is not None:
        try:
            recorded_seed, recorded = seeding.read_manifest(state_dir)
        except ValueError as e:
            raise BootstrapError(str(e)) from None
        seed_plan = seeding.plan_seed_items(recorded, resources.get("tables", []))
    first, second = plan(resources, seed_plan)
    if resources.get("stateMachines"):
        enable_step_function_execution(endpoint, app)
    clients = Clients(endpoint, resources.get("region", "us-east-1"), app)
    failures: list[str] = []
    for wave in (first, second):
        failures += [r for r in (_run(t, clients) for t in wave) if r]
        if failures:
            break
    if failures:
        raise BootstrapError("AWS bootstrap failed:\n  " + "\n  ".join(failures))
    if state_dir is not None and seed_plan is not None:
        seeding.write_manifest(state_dir, seed, seed_plan.manifest)
        removal = seeding.describe_removal(seed_plan, recorded_seed, seed)
        if removal:
            log(removal)
    for task in first + second:
        log(f"created {task.label}")
    return len(first)
