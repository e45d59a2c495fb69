"""Which requests go to the journal: the pure decision, table-tested."""

from __future__ import annotations

import json

import pytest

from fakes.fake_aws.classify import Kind, classify, form_action, operation, sqs_receipts

R, S, D = Kind.RECORD, Kind.SKIP, Kind.SQS_DELETE


@pytest.mark.parametrize("backend, method, path, target, action, expected", [
    # DynamoDB (JSON protocol): writes kept, reads not
    ("dynamodb", "POST", "/", "DynamoDB_20120810.PutItem", None, R),
    ("dynamodb", "POST", "/", "DynamoDB_20120810.UpdateItem", None, R),
    ("dynamodb", "POST", "/", "DynamoDB_20120810.DeleteItem", None, R),
    ("dynamodb", "POST", "/", "DynamoDB_20120810.BatchWriteItem", None, R),
    ("dynamodb", "POST", "/", "DynamoDB_20120810.TransactWriteItems", None, R),
    ("dynamodb", "POST", "/", "DynamoDB_20120810.CreateTable", None, R),
    ("dynamodb", "POST", "/", "DynamoDB_20120810.GetItem", None, S),
    ("dynamodb", "POST", "/", "DynamoDB_20120810.Query", None, S),
    ("dynamodb", "POST", "/", "DynamoDB_20120810.Scan", None, S),
    ("dynamodb", "POST", "/", "DynamoDB_20120810.BatchGetItem", None, S),
    ("dynamodb", "POST", "/", "DynamoDB_20120810.TransactGetItems", None, S),
    ("dynamodb", "POST", "/", "DynamoDB_20120810.DescribeTable", None, S),
    # SQS, JSON and query protocol: sends kept, receives and visibility not, deletes with their receipts
    ("sqs", "POST", "/", "AmazonSQS.SendMessage", None, R),
    ("sqs", "POST", "/", "AmazonSQS.SendMessageBatch", None, R),
    ("sqs", "POST", "/", "AmazonSQS.PurgeQueue", None, R),
    ("sqs", "POST", "/", "AmazonSQS.ReceiveMessage", None, S),
    ("sqs", "POST", "/", "AmazonSQS.ChangeMessageVisibility", None, S),
    ("sqs", "POST", "/", "AmazonSQS.ChangeMessageVisibilityBatch", None, S),
    ("sqs", "POST", "/", "AmazonSQS.GetQueueAttributes", None, S),
    ("sqs", "POST", "/", "AmazonSQS.DeleteMessage", None, D),
    ("sqs", "POST", "/", "AmazonSQS.DeleteMessageBatch", None, D),
    ("sqs", "POST", "/123456789012/q", None, "DeleteMessage", D),
    ("sqs", "POST", "/123456789012/q", None, "ReceiveMessage", S),
    ("sqs", "POST", "/", "AmazonSQS.DeleteQueue", None, R),
    # SNS (query protocol)
    ("sns", "POST", "/", None, "Subscribe", R),
    ("sns", "POST", "/", None, "Publish", R),
    ("sns", "POST", "/", None, "ListSubscriptionsByTopic", S),
    ("sns", "GET", "/", None, "ListTopics", S),
    # Secrets Manager
    ("secretsmanager", "POST", "/", "secretsmanager.CreateSecret", None, R),
    ("secretsmanager", "POST", "/", "secretsmanager.PutSecretValue", None, R),
    ("secretsmanager", "POST", "/", "secretsmanager.GetSecretValue", None, S),
    ("secretsmanager", "POST", "/", "secretsmanager.GetRandomPassword", None, S),
    # Step Functions: definitions kept, executions not run again
    ("stepfunctions", "POST", "/", "AWSStepFunctions.CreateStateMachine", None, R),
    ("stepfunctions", "POST", "/", "AWSStepFunctions.UpdateStateMachine", None, R),
    ("stepfunctions", "POST", "/", "AWSStepFunctions.StartExecution", None, S),
    ("stepfunctions", "POST", "/", "AWSStepFunctions.StartSyncExecution", None, S),
    ("stepfunctions", "POST", "/", "AWSStepFunctions.StopExecution", None, S),
    ("stepfunctions", "POST", "/", "AWSStepFunctions.SendTaskSuccess", None, S),
    ("stepfunctions", "POST", "/", "AWSStepFunctions.DescribeExecution", None, S),
    # S3 (REST): the method says it
    ("s3", "PUT", "/bucket/key", None, None, R),
    ("s3", "POST", "/bucket/key", None, None, R),
    ("s3", "DELETE", "/bucket/key", None, None, R),
    ("s3", "GET", "/bucket/key", None, None, S),
    ("s3", "HEAD", "/bucket/key", None, None, S),
    # moto's own API: config and reset are state; the recorder, seed and reads are not
    ("moto_api", "POST", "/moto-api/config", None, None, R),
    ("moto_api", "POST", "/moto-api/reset", None, None, R),
    ("moto_api", "GET", "/moto-api/config", None, None, S),
    ("moto_api", "GET", "/moto-api/", None, None, S),
    ("moto_api", "POST", "/moto-api/seed", None, None, S),
    ("moto_api", "POST", "/moto-api/recorder/start-recording", None, None, S),
    # an operation nobody listed is kept: replaying a read is harmless, dropping a write is not
    ("kinesis", "POST", "/", "Kinesis_20131202.PutRecord", None, R),
])
def test_classify(backend, method, path, target, action, expected):
    assert classify(backend, method, path, target, action) is expected


@pytest.mark.parametrize("target, action, expected", [
    ("DynamoDB_20120810.PutItem", None, "PutItem"),
    ("AmazonSQS.SendMessage", "ignored", "SendMessage"),
    (None, "Publish", "Publish"),
    (None, None, None),
    ("", "", None),
])
def test_operation(target, action, expected):
    assert operation(target, action) == expected


@pytest.mark.parametrize("query, content_type, body, expected", [
    ("Action=ListTopics&Version=2010-03-31", "", b"", "ListTopics"),
    ("", "application/x-www-form-urlencoded; charset=utf-8", b"Action=Subscribe&TopicArn=a", "Subscribe"),
    ("", "application/x-amz-json-1.0", b"Action=NotForm", None),
    ("", "application/x-www-form-urlencoded", b"", None),
])
def test_form_action(query, content_type, body, expected):
    assert form_action(query, content_type, body) == expected


JSON = "application/x-amz-json-1.0"
FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("path, content_type, body, expected", [
    ("/", JSON, json.dumps({"QueueUrl": "http://h:1/123456789012/events", "ReceiptHandle": "r1"}).encode(),
     ("events", ["r1"])),
    ("/", JSON, json.dumps({"QueueUrl": "http://h:1/123456789012/jobs.fifo",
                            "Entries": [{"Id": "a", "ReceiptHandle": "r1"}, {"Id": "b", "ReceiptHandle": "r2"}]}).encode(),
     ("jobs.fifo", ["r1", "r2"])),
    ("/123456789012/q", FORM, b"Action=DeleteMessage&ReceiptHandle=r%2B1", ("q", ["r+1"])),
    ("/123456789012/q", FORM, b"Action=DeleteMessageBatch&DeleteMessageBatchRequestEntry.2.ReceiptHandle=r2"
                              b"&DeleteMessageBatchRequestEntry.1.ReceiptHandle=r1&DeleteMessageBatchRequestEntry.1.Id=a",
     ("q", ["r1", "r2"])),
    ("/", FORM, b"Action=DeleteMessage&QueueUrl=http%3A%2F%2Fh%2F1%2Fq2&ReceiptHandle=r", ("q2", ["r"])),
    ("/", JSON, b"not json", (None, [])),
    ("/", JSON, b"[1]", (None, [])),
])
def test_sqs_receipts(path, content_type, body, expected):
    assert sqs_receipts(path, content_type, body) == expected
