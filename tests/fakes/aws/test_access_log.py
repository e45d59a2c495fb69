"""moto's access log keeps services' calls (SQS polls included) and leaves out probes and the bootstrap."""

from __future__ import annotations

import re

import requests

ACCESS_LINE = re.compile(r'"(GET|POST|PUT|DELETE|HEAD) (\S+) HTTP/1\.[01]"')
RESOURCES = {"region": "us-east-1", "tables": [{"name": "t", "hashKey": {"name": "id", "type": "S"}, "items": [{"id": "s"}]}],
             "queues": [{"name": "q"}], "buckets": ["b-log"], "secrets": [{"name": "s", "value": "v"}],
             "stateMachines": [{"name": "m", "definition": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}}]}


def _access_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if ACCESS_LINE.search(line)]


def test_probes_and_the_bootstrap_stay_out_real_calls_stay_in(make_aws):
    aws = make_aws(resources=RESOURCES).start()
    for _ in range(5):
        assert requests.get(aws.url + "/healthz", timeout=5).status_code == 200
        assert requests.get(aws.url + "/moto-api/", timeout=5).status_code == 200
    assert _access_lines(aws.output()) == []  # the bootstrap made about 20 calls, the probes 10: none logged
    assert "bootstrap created 5 resources" in aws.output()

    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName="q")["QueueUrl"]
    sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)  # a service's poll
    aws.client("dynamodb").put_item(TableName="t", Item={"id": {"S": "x"}})
    aws.client("s3").put_object(Bucket="b-log", Key="k", Body=b"1")
    aws.client("s3").get_object(Bucket="b-log", Key="k")
    lines = _access_lines(aws.output())
    assert len(lines) == 5, lines
    assert [ACCESS_LINE.search(line).groups() for line in lines][-2:] == [("PUT", "/b-log/k"), ("GET", "/b-log/k")]
