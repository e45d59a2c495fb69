"""fake_aws's bootstrap against a real moto server (in-process, threaded, on a free loopback port), its calls sent
over loopback HTTP or handed to the server's app in-process (what fake_aws does: inprocess.py); checked from
outside with plain boto3 clients over HTTP either way."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid

import boto3
import pytest
import requests

from fakes.fake_aws.bootstrap import BOOTSTRAP_AGENT, bootstrap
from fakes.fake_aws.inprocess import call
from fakes.fake_aws.server import Readiness, make_moto_server
from hippodrome_k8s.core.errors import BootstrapError
from hippodrome_k8s.host.ports import free_port

MACHINE = {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}}
RESOURCES = {
    "region": "us-east-1",
    "tables": [{"name": "p-accounts", "hashKey": {"name": "id", "type": "S"}, "items": [{"id": "a1", "n": 3}],
                "globalSecondaryIndexes": [{"name": "by-n", "hashKey": {"name": "n", "type": "N"}}]}],
    "buckets": ["exports"],
    "queues": [{"name": "ingest"}, {"name": "jobs.fifo", "fifo": True}],
    "topics": [{"name": "events", "subscriptions": [{"queue": "ingest", "rawMessageDelivery": True}]}],
    "secrets": [{"name": "app/key", "value": "v1"}],
    "stateMachines": [{"name": "fork", "definition": MACHINE}],
}


@pytest.fixture(scope="module")
def moto():
    port = free_port()
    previous = os.environ.get("MOTO_PORT")
    os.environ["MOTO_PORT"] = str(port)  # moto's Step Functions interpreter calls back to localhost:$MOTO_PORT
    readiness = Readiness()
    server = make_moto_server("127.0.0.1", port, readiness)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{port}", readiness, server.app
    server.shutdown()
    server.server_close()
    if previous is None:
        os.environ.pop("MOTO_PORT", None)
    else:
        os.environ["MOTO_PORT"] = previous


@pytest.fixture(params=["http", "in-process"])
def via(request, moto):
    """How the bootstrap reaches moto: bootstrap()'s keyword arguments."""
    return {} if request.param == "http" else {"app": moto[2]}


def client(endpoint: str, name: str):
    return boto3.client(name, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_creates_everything_and_health_follows_readiness(moto, via):
    endpoint, readiness, _ = moto
    readiness.set(status="starting")
    assert requests.get(endpoint + "/healthz", timeout=5).status_code == 503  # listening is not ready
    assert bootstrap(endpoint, RESOURCES, log=lambda _: None, **via) == 7
    readiness.set(status="ready")
    assert requests.get(endpoint + "/healthz", timeout=5).json() == {"status": "ready"}
    item = client(endpoint, "dynamodb").get_item(TableName="p-accounts", Key={"id": {"S": "a1"}})["Item"]
    assert item["n"] == {"N": "3"}
    assert "exports" in [b["Name"] for b in client(endpoint, "s3").list_buckets()["Buckets"]]
    queues = client(endpoint, "sqs").list_queues()["QueueUrls"]
    assert any(q.endswith("/ingest") for q in queues) and any(q.endswith("/jobs.fifo") for q in queues)
    topic_arn = "arn:aws:sns:us-east-1:123456789012:events"
    subs = client(endpoint, "sns").list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]
    assert [s["Endpoint"] for s in subs] == ["arn:aws:sqs:us-east-1:123456789012:ingest"]
    assert client(endpoint, "secretsmanager").get_secret_value(SecretId="app/key")["SecretString"] == "v1"


def test_a_second_run_is_idempotent_and_updates_what_changed(moto, via):
    endpoint, _, _ = moto
    changed = json.loads(json.dumps(RESOURCES))
    changed["secrets"][0]["value"] = "v2"
    changed["stateMachines"][0]["definition"] = {"StartAt": "B", "States": {"B": {"Type": "Pass", "End": True}}}
    bootstrap(endpoint, RESOURCES, log=lambda _: None, **via)
    bootstrap(endpoint, changed, log=lambda _: None, **via)
    sfn = client(endpoint, "stepfunctions")
    arn = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"])["StartAt"] == "B"
    assert client(endpoint, "secretsmanager").get_secret_value(SecretId="app/key")["SecretString"] == "v2"
    topic_arn = "arn:aws:sns:us-east-1:123456789012:events"
    assert len(client(endpoint, "sns").list_subscriptions_by_topic(TopicArn=topic_arn)["Subscriptions"]) == 1


def test_the_state_machine_really_executes(moto, via):
    endpoint, _, _ = moto
    bootstrap(endpoint, RESOURCES, log=lambda _: None, **via)
    sfn = client(endpoint, "stepfunctions")
    arn = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=arn, input=json.dumps({"x": 1}))["executionArn"]
    for _ in range(100):
        described = sfn.describe_execution(executionArn=execution)
        if described["status"] != "RUNNING":
            break
        time.sleep(0.05)
    assert described["status"] == "SUCCEEDED"


def test_a_failure_names_the_resource_and_the_aws_error(moto, via):
    endpoint, _, _ = moto
    bad = {"region": "us-east-1", "tables": [{"name": "p-bad", "hashKey": {"name": "id", "type": "S"},
                                             "items": [{"other": "no hash key"}]}]}
    with pytest.raises(BootstrapError) as caught:
        bootstrap(endpoint, bad, log=lambda _: None, **via)
    message = str(caught.value)
    assert "items of DynamoDB table p-bad" in message
    assert "ValidationException" in message


def test_only_the_declared_services_get_a_client(moto, via, monkeypatch):
    """Clients are made on first use: a stack that declares only a table makes only a DynamoDB client (a boto3
    client costs tens of ms of CPU at moto's start, on the stack's critical path)."""
    made: list[str] = []
    real_client = boto3.session.Session.client

    def recording(self, service_name, *args, **kwargs):
        made.append(service_name)
        return real_client(self, service_name, *args, **kwargs)

    monkeypatch.setattr(boto3.session.Session, "client", recording)
    table = f"only-{uuid.uuid4().hex[:8]}"
    resources = {"region": "us-east-1", "tables": [{"name": table, "hashKey": {"name": "id", "type": "S"}}]}
    assert bootstrap(moto[0], resources, log=lambda _: None, **via) == 1
    assert made == ["dynamodb"]
    monkeypatch.undo()
    assert table in client(moto[0], "dynamodb").list_tables()["TableNames"]


def test_a_request_served_in_process_passes_the_same_edge_and_checks_as_one_over_http(moto):
    endpoint, readiness, app = moto
    readiness.set(status="ready")
    status, _, body = call(app, "GET", endpoint + "/healthz", {})
    assert (status, json.loads(body)) == (200, {"status": "ready"})
    # the edge: moto answers only by a loopback Host, in-process as over the network
    status, _, body = call(app, "GET", "http://evil.example/moto-api/", {"User-Agent": BOOTSTRAP_AGENT})
    over_http = requests.get(endpoint + "/moto-api/", headers={"Host": "evil.example"}, timeout=5)
    assert status == over_http.status_code == 403 and json.loads(body) == over_http.json()
    # the JSON limits: a body nested too deep is a 400 naming it, before moto parses it
    deep = '{"TableName": ' + "[" * 70 + "]" * 70 + "}"
    headers = {"X-Amz-Target": "DynamoDB_20120810.DescribeTable", "Content-Type": "application/x-amz-json-1.0"}
    status, _, body = call(app, "POST", endpoint + "/", headers, deep)
    over_http = requests.post(endpoint + "/", data=deep, headers=headers, timeout=5)
    assert status == over_http.status_code == 400 and json.loads(body) == over_http.json()


def test_an_execution_started_without_a_name_is_named_with_a_uuid_as_aws_does(moto):
    endpoint, _, _ = moto
    bootstrap(endpoint, RESOURCES, log=lambda _: None)
    sfn = client(endpoint, "stepfunctions")
    arn = sfn.list_state_machines()["stateMachines"][0]["stateMachineArn"]
    first = sfn.start_execution(stateMachineArn=arn)["executionArn"]
    second = sfn.start_execution(stateMachineArn=arn, input="{}")["executionArn"]  # moto refused this one
    names = [execution.rsplit(":", 1)[1] for execution in (first, second)]
    assert names[0] != names[1] and all(str(uuid.UUID(name)) == name for name in names)
    assert sfn.describe_execution(executionArn=second)["name"] == names[1]
    named = sfn.start_execution(stateMachineArn=arn, name="mine")["executionArn"]
    assert named.endswith(":execution:fork:mine")  # a name given is kept
