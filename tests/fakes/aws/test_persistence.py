"""moto's state survives its process: kill -9 loses no acknowledged write, SIGTERM compacts.

Real ``python -m fakes.fake_aws`` processes on free ports, driven with boto3.  "Exactly once" is
checked where a duplicate would show: an ADD counter, SQS message ids, the one message a Step
Functions execution sent (a re-run execution would send a second).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

ACCOUNT = "123456789012"
REGION = "us-east-1"
MACHINE = {"StartAt": "Put", "States": {
    "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
            "Parameters": {"TableName": "t-items", "Item": {"id": {"S.$": "$.id"}, "by": {"S": "execution"}}},
            "ResultPath": None, "Next": "Send"},
    "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
             "Parameters": {"QueueUrl": f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/work", "MessageBody.$": "$"},
             "End": True}}}
RESOURCES = {
    "region": REGION,
    "tables": [{"name": "t-items", "hashKey": {"name": "id", "type": "S"}, "items": [{"id": "seeded", "n": 1}]}],
    "buckets": ["exports"],
    "queues": [{"name": "work"}, {"name": "events"}],
    "topics": [{"name": "news"}],
    "secrets": [{"name": "app/key", "value": "declared"}],
    "stateMachines": [{"name": "record", "definition": MACHINE}],
}
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:news"
MACHINE_ARN = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:record"
ODD_KEY = "dir/with space/ü%2F+x.txt"  # percent, plus, space, non-ASCII: the path must replay as it came


def _drain(sqs, queue: str) -> list[dict]:
    """Every visible message, each once (received ones stay invisible for the rest of the test)."""
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    seen: list[dict] = []
    while True:
        batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=300).get("Messages", [])
        if not batch:
            return seen
        seen += batch


def _item(ddb, key: str) -> dict | None:
    return ddb.get_item(TableName="t-items", Key={"id": {"S": key}}, ConsistentRead=True).get("Item")


def _wait_execution(sfn, arn: str) -> str:
    for _ in range(200):
        status = sfn.describe_execution(executionArn=arn)["status"]
        if status != "RUNNING":
            return status
        time.sleep(0.05)
    return status


def make_writes(aws) -> dict:
    """One or more acknowledged writes of every kind; returns what must be there afterwards."""
    ddb, sqs, s3 = aws.client("dynamodb"), aws.client("sqs"), aws.client("s3")
    sns, secrets, sfn = aws.client("sns"), aws.client("secretsmanager"), aws.client("stepfunctions")
    made: dict = {}

    # DynamoDB: put, update (ADD: a replayed-twice update would show 3), delete, batch
    ddb.put_item(TableName="t-items", Item={"id": {"S": "a"}, "n": {"N": "1"}})
    ddb.update_item(TableName="t-items", Key={"id": {"S": "a"}}, UpdateExpression="ADD n :one",
                    ExpressionAttributeValues={":one": {"N": "1"}})
    ddb.put_item(TableName="t-items", Item={"id": {"S": "b"}})
    ddb.delete_item(TableName="t-items", Key={"id": {"S": "b"}})
    ddb.batch_write_item(RequestItems={"t-items": [{"PutRequest": {"Item": {"id": {"S": f"batch{i}"}}}} for i in range(3)]})

    # SQS: sends; one received and deleted, one deleted in a batch, one received and left in flight
    events = sqs.get_queue_url(QueueName="events")["QueueUrl"]
    sent = {sqs.send_message(QueueUrl=events, MessageBody=f"m{i}")["MessageId"]: f"m{i}" for i in range(4)}
    batch = sqs.send_message_batch(QueueUrl=events, Entries=[{"Id": str(i), "MessageBody": f"b{i}"} for i in range(2)])
    sent.update({e["MessageId"]: f"b{e['Id']}" for e in batch["Successful"]})
    received = sqs.receive_message(QueueUrl=events, MaxNumberOfMessages=3, VisibilityTimeout=300)["Messages"]
    assert len(received) == 3
    sqs.delete_message(QueueUrl=events, ReceiptHandle=received[0]["ReceiptHandle"])
    sqs.delete_message_batch(QueueUrl=events, Entries=[{"Id": "x", "ReceiptHandle": received[1]["ReceiptHandle"]}])
    deleted = {received[0]["MessageId"], received[1]["MessageId"]}
    made["messages"] = {i: body for i, body in sent.items() if i not in deleted}
    made["in_flight"] = received[2]["MessageId"]  # received, not deleted: not acknowledged as consumed

    # S3: put, an awkward key, delete, versions, a multipart upload (its upload id must be the same on replay)
    s3.put_object(Bucket="exports", Key="keep.txt", Body=b"kept")
    s3.put_object(Bucket="exports", Key=ODD_KEY, Body="ünïcode".encode())
    s3.put_object(Bucket="exports", Key="gone.txt", Body=b"x")
    s3.delete_object(Bucket="exports", Key="gone.txt")
    s3.create_bucket(Bucket="versioned")
    s3.put_bucket_versioning(Bucket="versioned", VersioningConfiguration={"Status": "Enabled"})
    made["versions"] = [s3.put_object(Bucket="versioned", Key="doc", Body=body)["VersionId"] for body in (b"v1", b"v2")]
    made["big"] = [bytes(range(256)) * (20 << 10), b"tail"]  # 5 MB + 4: kept in a temporary file by moto
    upload = s3.create_multipart_upload(Bucket="exports", Key="big.bin")["UploadId"]
    parts = [{"PartNumber": n, "ETag": s3.upload_part(Bucket="exports", Key="big.bin", UploadId=upload, PartNumber=n,
                                                       Body=body)["ETag"]} for n, body in enumerate(made["big"], 1)]
    s3.complete_multipart_upload(Bucket="exports", Key="big.bin", UploadId=upload, MultipartUpload={"Parts": parts})

    # Secrets Manager: create, then a new value
    made["secret_arn"] = secrets.create_secret(Name="user/token", SecretString="v1")["ARN"]
    made["secret_version"] = secrets.put_secret_value(SecretId="user/token", SecretString="v2")["VersionId"]

    # SNS: a subscription (its ARN must not change), then a publish it delivers to the queue
    made["subscription"] = sns.subscribe(TopicArn=TOPIC_ARN, Protocol="sqs", Endpoint=f"arn:aws:sqs:{REGION}:{ACCOUNT}:events",
                                         Attributes={"RawMessageDelivery": "true"}, ReturnSubscriptionArn=True)["SubscriptionArn"]
    sns.publish(TopicArn=TOPIC_ARN, Message="published")

    # Step Functions: a user's state machine, and one execution of the declared one
    made["user_machine"] = sfn.create_state_machine(
        name="user-made", roleArn=f"arn:aws:iam::{ACCOUNT}:role/r",
        definition=json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    execution = sfn.start_execution(stateMachineArn=MACHINE_ARN, input=json.dumps({"id": "from-execution"}))["executionArn"]
    assert _wait_execution(sfn, execution) == "SUCCEEDED"
    return made


def check_writes(aws, made: dict) -> None:
    """Every acknowledged write is there, exactly once, with the ids it was acknowledged with."""
    ddb, sqs, s3 = aws.client("dynamodb"), aws.client("sqs"), aws.client("s3")
    sns, secrets, sfn = aws.client("sns"), aws.client("secretsmanager"), aws.client("stepfunctions")

    assert _item(ddb, "a") == {"id": {"S": "a"}, "n": {"N": "2"}}
    assert _item(ddb, "b") is None
    assert all(_item(ddb, f"batch{i}") for i in range(3))
    assert _item(ddb, "from-execution")["by"] == {"S": "execution"}
    assert _item(ddb, "seeded")["n"] == {"N": "1"}

    remaining = _drain(sqs, "events")
    ids = [m["MessageId"] for m in remaining]
    assert len(ids) == len(set(ids))  # each once
    assert {m["MessageId"]: m["Body"] for m in remaining if m["Body"] != "published"} == {
        **made["messages"], made["in_flight"]: made["messages"][made["in_flight"]]}  # same ids, same bodies
    assert [m["Body"] for m in remaining].count("published") == 1
    work = _drain(sqs, "work")
    assert [json.loads(m["Body"]) for m in work] == [{"id": "from-execution"}]  # the execution was not run again

    assert s3.get_object(Bucket="exports", Key="keep.txt")["Body"].read() == b"kept"
    assert s3.get_object(Bucket="exports", Key=ODD_KEY)["Body"].read() == "ünïcode".encode()
    assert "gone.txt" not in [o["Key"] for o in s3.list_objects_v2(Bucket="exports").get("Contents", [])]
    versions = s3.list_object_versions(Bucket="versioned", Prefix="doc")["Versions"]
    assert sorted(v["VersionId"] for v in versions) == sorted(made["versions"])
    assert s3.get_object(Bucket="versioned", Key="doc", VersionId=made["versions"][0])["Body"].read() == b"v1"
    body = s3.get_object(Bucket="exports", Key="big.bin")["Body"].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(b"".join(made["big"])).digest()

    value = secrets.get_secret_value(SecretId="user/token")
    assert value["SecretString"] == "v2" and value["VersionId"] == made["secret_version"]
    assert secrets.describe_secret(SecretId="user/token")["ARN"] == made["secret_arn"]

    subscriptions = sns.list_subscriptions_by_topic(TopicArn=TOPIC_ARN)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in subscriptions] == [made["subscription"]]

    described = sfn.describe_state_machine(stateMachineArn=made["user_machine"])
    assert json.loads(described["definition"])["States"]["P"]["Type"] == "Pass"
    assert json.loads(sfn.describe_state_machine(stateMachineArn=MACHINE_ARN)["definition"]) == MACHINE


@pytest.mark.parametrize("ending, compact_every, restored", [
    ("kill9", "500", "journal"),  # everything replayed from the journal
    ("kill9", "4", "snapshots"),  # background snapshots by forked children, then the journal's tail
    ("sigterm", "500", "snapshot"),  # the clean stop's snapshot alone
])
def test_every_kind_of_acknowledged_write_survives_exactly_once(make_aws, ending, compact_every, restored):
    aws = make_aws(resources=RESOURCES, FAKE_AWS_COMPACT_EVERY=compact_every).start()
    made = make_writes(aws)
    if ending == "kill9":
        aws.kill9()
    else:
        assert aws.stop() == 0
    aws.start()
    check_writes(aws, made)
    state = aws.health()["state"]
    assert state["failed"] == 0
    assert state["snapshot"] is (restored != "journal")
    if restored == "journal":
        assert state["replayed"] > 0
    if restored == "snapshot":
        assert state["replayed"] == 0
    assert "compaction failed" not in aws.output()


def test_a_clean_stop_compacts_and_the_next_start_replays_nothing(make_aws):
    aws = make_aws(resources=RESOURCES).start()
    ddb = aws.client("dynamodb")
    for i in range(30):
        ddb.put_item(TableName="t-items", Item={"id": {"S": f"k{i}"}})
    large = bytes(range(256)) * (24 << 10)  # 6 MB: moto keeps it in a temporary file, not in memory
    aws.client("s3").put_object(Bucket="exports", Key="large.bin", Body=large)
    journal = sum(p.stat().st_size for p in aws.moto_dir.glob("journal-*.jsonl"))
    assert journal > 0
    assert aws.stop() == 0
    assert "state saved" in aws.output()
    assert (aws.moto_dir / "snapshot.pickle").exists()
    assert [p for p in aws.moto_dir.glob("journal-*.jsonl") if p.stat().st_size] == []

    aws.start()
    assert aws.health()["state"] == {**aws.health()["state"], "snapshot": True, "replayed": 0}
    assert len(aws.client("dynamodb").scan(TableName="t-items")["Items"]) == 31  # 30 + the seeded one
    assert aws.client("s3").get_object(Bucket="exports", Key="large.bin")["Body"].read() == large
    # a stop with nothing but the bootstrap's idempotent calls still leaves one snapshot and no journal
    assert aws.stop() == 0
    assert sorted(p.name for p in aws.moto_dir.iterdir() if not p.name.startswith("journal-") or p.stat().st_size) == \
        ["lock", "seeded.json", "snapshot.pickle"]


def test_background_compaction_bounds_the_replay_and_loses_nothing_under_concurrent_writes(make_aws):
    aws = make_aws(resources={"region": REGION, "tables": RESOURCES["tables"], "queues": [{"name": "events"}],
                              "buckets": ["exports"]}, FAKE_AWS_COMPACT_EVERY="25").start()
    large = bytes(range(256)) * (24 << 10)  # in a temporary file inside moto: the forked child reads it safely
    aws.client("s3").put_object(Bucket="exports", Key="large.bin", Body=large)

    def write(n: int) -> str:
        ddb, sqs = aws.client("dynamodb"), aws.client("sqs")
        ddb.put_item(TableName="t-items", Item={"id": {"S": f"w{n}"}, "n": {"N": str(n)}})
        return sqs.send_message(QueueUrl=sqs.get_queue_url(QueueName="events")["QueueUrl"], MessageBody=str(n))["MessageId"]

    with ThreadPoolExecutor(4) as pool:
        message_ids = set(pool.map(write, range(120)))
    assert len(message_ids) == 120
    assert "compaction failed" not in aws.output() and "compaction child" not in aws.output()
    aws.kill9()  # the compaction child, if one is running, finishes; the next start waits for it
    aws.start()
    state = aws.health()["state"]
    assert state["snapshot"] is True and state["replayed"] < 241  # 241 writes: some were compacted away
    ddb = aws.client("dynamodb")
    assert {i["id"]["S"] for i in ddb.scan(TableName="t-items")["Items"]} == {"seeded", *(f"w{n}" for n in range(120))}
    assert {m["MessageId"] for m in _drain(aws.client("sqs"), "events")} == message_ids
    assert aws.client("s3").get_object(Bucket="exports", Key="large.bin")["Body"].read() == large


def test_a_second_process_on_the_same_state_is_refused_with_the_reason(make_aws, tmp_path):
    first = make_aws(state_dir=tmp_path / "shared").start()
    second = make_aws(state_dir=tmp_path / "shared", FAKE_AWS_LOCK_TIMEOUT="1")
    with pytest.raises(RuntimeError) as caught:
        second.start(timeout=30)
    assert "in use by another fake_aws" in str(caught.value)
    assert f"pid {first.proc.pid}" in str(caught.value)


def test_memory_only_when_asked(make_aws):
    aws = make_aws(resources=RESOURCES, FAKE_AWS_PERSIST="false").start()
    aws.client("dynamodb").put_item(TableName="t-items", Item={"id": {"S": "volatile"}})
    aws.stop()
    assert not aws.moto_dir.exists()
    aws.start()
    assert _item(aws.client("dynamodb"), "volatile") is None
    assert "not persisted" in aws.output()


@pytest.mark.parametrize("env, message", [
    ({"FAKE_AWS_PERSIST": "maybe"}, "FAKE_AWS_PERSIST must be true or false"),
    ({"FAKE_AWS_COMPACT_EVERY": "-1"}, "FAKE_AWS_COMPACT_EVERY must be an integer >= 0"),
    ({"FAKE_AWS_LOCK_TIMEOUT": "soon"}, "FAKE_AWS_LOCK_TIMEOUT must be a positive number of seconds"),
    ({"PORT": "http"}, "PORT must be an integer"),
    ({"HIPPODROME_AWS_RESOURCES": "[1"}, "HIPPODROME_AWS_RESOURCES is not valid JSON"),
])
def test_bad_settings_exit_2_naming_the_variable(make_aws, env, message):
    aws = make_aws(**env)
    with pytest.raises(RuntimeError) as caught:
        aws.start(timeout=30)
    assert aws.proc.returncode == 2
    assert message in str(caught.value)


def test_a_damaged_journal_line_is_a_clear_error_and_a_cut_last_line_is_ignored(make_aws):
    aws = make_aws(resources=RESOURCES).start()
    aws.client("dynamodb").put_item(TableName="t-items", Item={"id": {"S": "before"}})
    aws.kill9()
    segment = max(aws.moto_dir.glob("journal-*.jsonl"))
    with open(segment, "ab") as f:
        f.write(b'{"method": "POST", "url": "http://x/", "hea')  # a write the process died inside: never answered
    aws.start()
    assert _item(aws.client("dynamodb"), "before") is not None
    assert "cut short" in aws.output()
    aws.kill9()
    segment = max(p for p in aws.moto_dir.glob("journal-*.jsonl"))
    segment.write_bytes(b"not json\n" + segment.read_bytes())
    with pytest.raises(RuntimeError) as caught:
        aws.start(timeout=30)
    assert f"{segment.name}:1 is damaged" in str(caught.value) and "hippodrome reset" in str(caught.value)


def test_writes_in_flight_at_sigterm_are_kept_or_refused_never_half_done(make_aws):
    aws = make_aws(resources=RESOURCES).start()
    stop = threading.Event()
    acknowledged: list[str] = []

    def writer() -> None:
        ddb = aws.client("dynamodb")
        n = 0
        while not stop.is_set():
            try:
                ddb.put_item(TableName="t-items", Item={"id": {"S": f"late{n}"}})
                acknowledged.append(f"late{n}")
            except Exception:  # refused (503) or connection closed: not acknowledged
                pass
            n += 1

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.5)
    assert aws.stop() == 0
    stop.set()
    thread.join()
    aws.start()
    ddb = aws.client("dynamodb")
    assert acknowledged and all(_item(ddb, key) for key in acknowledged)


def test_an_execution_running_at_a_stop_is_aborted_not_resumed(make_aws):
    machine = {"StartAt": "Wait", "States": {
        "Wait": {"Type": "Wait", "Seconds": 30, "Next": "Put"},
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": "t-items", "Item": {"id": {"S": "after-wait"}}}, "End": True}}}
    aws = make_aws(resources={"region": REGION, "tables": RESOURCES["tables"],
                              "stateMachines": [{"name": "slow", "definition": machine}]}).start()
    arn = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:slow"
    execution = aws.client("stepfunctions").start_execution(stateMachineArn=arn, input="{}")["executionArn"]
    assert aws.client("stepfunctions").describe_execution(executionArn=execution)["status"] == "RUNNING"
    assert aws.stop() == 0
    aws.start()
    described = aws.client("stepfunctions").describe_execution(executionArn=execution)
    assert (described["status"], described.get("error")) == ("ABORTED", "Hippodrome.MotoRestarted")
    assert aws.health()["state"]["aborted"] == 1
    assert _item(aws.client("dynamodb"), "after-wait") is None


def test_moto_api_reset_is_kept_too(make_aws):
    aws = make_aws(resources=RESOURCES).start()
    aws.client("dynamodb").put_item(TableName="t-items", Item={"id": {"S": "before-reset"}})
    assert requests.post(aws.url + "/moto-api/reset", timeout=10).status_code == 200
    aws.kill9()
    aws.start()
    ddb = aws.client("dynamodb")
    assert _item(ddb, "before-reset") is None  # the reset was an acknowledged write as well
    assert _item(ddb, "seeded") is not None  # the bootstrap made the declared resources again
