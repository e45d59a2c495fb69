"""Issue 14 against a running fake_aws: a web page cannot drive moto, and bad input is a 4xx in JSON.

The drive-by requests are the ones that worked before: from ``Origin: http://evil.example`` with a dummy
``Authorization`` header, GetSecretValue returned the system API key, SQS SendMessage queued a message and
DynamoDB PutItem created an item. Each now gets 403 and changes nothing.
"""

from __future__ import annotations

import json

import pytest
import requests

EVIL = "http://evil.example"
RESOURCES = {"region": "us-east-1", "tables": [{"name": "api_keys", "hashKey": {"name": "key_hash", "type": "S"}}],
             "queues": [{"name": "ingest"}], "secrets": [{"name": "hippodrome/cell-api-key", "value": "system-key"}]}
DUMMY_AUTH = ("AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, "
              "SignedHeaders=host;x-amz-date, Signature=0000")


@pytest.fixture
def aws(module_aws):
    return module_aws


def aws_json(aws, service: str, target: str, body: dict | str, **headers: str) -> requests.Response:
    return requests.post(aws.url + "/", data=body if isinstance(body, str) else json.dumps(body), timeout=10,
                         headers={"Content-Type": "application/x-amz-json-1.1" if service != "dynamodb" else
                                  "application/x-amz-json-1.0", "X-Amz-Target": target,
                                  "Authorization": DUMMY_AUTH.format(service=service), **headers})


def assert_json_error(response: requests.Response, status: int, kind: str, needle: str = "") -> None:
    assert response.status_code == status, response.text
    assert "json" in response.headers["Content-Type"], response.headers
    body = response.json()
    assert body["__type"] == kind and needle in body["message"], body


def test_a_foreign_origin_cannot_read_the_system_api_key(aws):
    response = aws_json(aws, "secretsmanager", "secretsmanager.GetSecretValue", {"SecretId": "hippodrome/cell-api-key"},
                        Origin=EVIL)
    assert_json_error(response, 403, "AccessDeniedException", EVIL)
    assert "system-key" not in response.text and "Access-Control-Allow-Origin" not in response.headers


def test_a_foreign_origin_cannot_queue_a_message(aws):
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName="ingest")["QueueUrl"]
    response = aws_json(aws, "sqs", "AmazonSQS.SendMessage", {"QueueUrl": url, "MessageBody": "{}"}, Origin=EVIL)
    assert_json_error(response, 403, "AccessDeniedException")
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []


def test_a_foreign_origin_cannot_create_an_api_key(aws):
    item = {"key_hash": {"S": "evil-hash"}, "account_id": {"S": "system"}}
    response = aws_json(aws, "dynamodb", "DynamoDB_20120810.PutItem", {"TableName": "api_keys", "Item": item},
                        Origin=EVIL)
    assert_json_error(response, 403, "AccessDeniedException")
    assert "Item" not in aws.client("dynamodb").get_item(TableName="api_keys", Key={"key_hash": {"S": "evil-hash"}})


def test_a_foreign_origins_preflight_is_refused(aws):
    response = requests.options(aws.url + "/", timeout=10, headers={
        "Origin": EVIL, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,x-amz-target"})
    assert_json_error(response, 403, "AccessDeniedException")
    assert not any(k.lower().startswith("access-control") for k in response.headers)


def test_the_stacks_own_origin_is_answered_with_that_origin_never_a_wildcard(aws):
    preflight = requests.options(aws.url + "/", timeout=10, headers={
        "Origin": aws.console_origin, "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "x-amz-target"})
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == aws.console_origin
    listed = aws_json(aws, "sqs", "AmazonSQS.ListQueues", {}, Origin=aws.console_origin)
    assert listed.status_code == 200 and listed.headers["Access-Control-Allow-Origin"] == aws.console_origin
    assert listed.headers["Vary"] == "Origin"
    plain = requests.get(aws.url + "/", timeout=10)  # S3 ListBuckets, no Origin: moto's own CORS headers are gone
    assert plain.status_code == 200 and "Access-Control-Allow-Origin" not in plain.headers


def test_a_foreign_host_is_refused_but_healthz_answers_probes(aws):
    response = aws_json(aws, "secretsmanager", "secretsmanager.GetSecretValue", {"SecretId": "hippodrome/cell-api-key"},
                        Host="evil.example:9003")
    assert_json_error(response, 403, "AccessDeniedException", "evil.example")
    assert requests.get(aws.url + "/healthz", headers={"Host": "10.244.0.7:9003"}, timeout=10).status_code == 200


def test_boto3_without_origin_still_works(aws):
    secret = aws.client("secretsmanager").get_secret_value(SecretId="hippodrome/cell-api-key")
    assert secret["SecretString"] == "system-key"


@pytest.mark.parametrize("depth", [900, 1_000, 5_000])
def test_json_nested_too_deep_is_a_400_before_moto_parses_it(aws, depth):
    body = '{"TableName": "api_keys", "Item": ' + "[" * depth + "]" * depth + "}"
    assert_json_error(aws_json(aws, "dynamodb", "DynamoDB_20120810.PutItem", body), 400, "SerializationException",
                      "deeper than 64")


def test_a_lone_surrogate_is_a_400_naming_the_field(aws):
    body = '{"TableName": "api_keys", "Item": {"key_hash": {"S": "\\ud800"}}}'
    assert_json_error(aws_json(aws, "dynamodb", "DynamoDB_20120810.PutItem", body), 400, "ValidationException",
                      "Item.key_hash.S")


def test_the_http_servers_own_refusals_are_json_with_their_status(aws):
    assert_json_error(requests.get(aws.url + "/" + "a" * 100_000, timeout=10), 414, "RequestURITooLong")
    assert_json_error(requests.request("BREW", aws.url + "/", timeout=10), 405, "MethodNotAllowedException")


def test_an_action_moto_does_not_implement_is_a_400_in_json_not_a_500_page(aws):
    response = aws_json(aws, "sqs", "AmazonSQS.NoSuchAction", {})
    assert_json_error(response, 400, "UnknownOperationException", "NoSuchAction")
