"""exporters and admin_worker: export to S3 and fork through the Step Functions workflow."""

from __future__ import annotations

import time
import uuid

import boto3
import pytest
import requests

from conftest import Stack, assert_json_error, dead_url

DOCS = [{"_id": f"e{i}", "title": f"green lamp {i}", "price": i} for i in range(130)]


@pytest.fixture(scope="module")
def source(stack: Stack) -> str:
    stack.ensure("controller", "global_worker", "search_proxy", "exporters", "admin_worker")
    name = "src-" + uuid.uuid4().hex[:6]
    h = {"x-api-key": stack.demo_key}
    assert requests.post(f"{stack.url('controller')}/api/v2/indexes/{name}", headers=h, timeout=10).status_code == 200
    for start in (0, 100):
        r = requests.post(f"{stack.url('search_proxy')}/indexes/{name}/documents", headers=h, timeout=10,
                          json={"documents": DOCS[start:start + 100], "tensorFields": ["title"]})
        assert r.status_code == 200 and not r.json()["errors"], r.text
    return name


def s3(stack: Stack):
    env = stack.env("exporters")
    return boto3.client("s3", endpoint_url=env["AWS_ENDPOINT_URL"], region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def test_export_writes_json_lines(stack: Stack, source: str) -> None:
    exporters = stack.url("exporters")
    r = requests.post(exporters + "/exports", json={"index": source}, headers={"x-api-key": stack.demo_key},
                      timeout=30)
    assert r.status_code == 201, r.text
    export = r.json()
    assert export["documents"] == 130
    lines = s3(stack).get_object(Bucket=export["bucket"], Key=export["key"])["Body"].read().decode().splitlines()
    assert len(lines) == 130 and '"_id":"e7"' in "".join(lines) and "_score" not in lines[0]
    got = requests.get(f"{exporters}/exports/{export['exportId']}", timeout=5).json()
    assert got["documents"] == 130 and got["index"] == source
    # the internal path: an account id with the system key; without it, refused
    by_account = requests.post(exporters + "/exports", json={"index": source, "account": stack.demo_account},
                               headers={"x-api-key": stack.system_key}, timeout=30)
    assert by_account.status_code == 201 and by_account.json()["documents"] == 130
    anonymous = requests.post(exporters + "/exports", json={"index": source, "account": stack.demo_account}, timeout=30)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "unauthorized"
    customer = requests.post(exporters + "/exports", json={"index": source, "account": stack.demo_account},
                             headers={"x-api-key": stack.demo_key}, timeout=30)
    assert customer.status_code == 401


def test_export_errors(stack: Stack, source: str) -> None:
    exporters = stack.url("exporters")
    assert_json_error(requests.post(exporters + "/exports", json={"index": source}, timeout=5), 401)  # no key at all
    assert_json_error(requests.post(exporters + "/exports", json={}, timeout=5), 422, "index")
    assert_json_error(requests.post(exporters + "/exports", data="nope", timeout=5), 400)
    assert_json_error(requests.post(exporters + "/exports", json={"index": "missing-one"},
                                    headers={"x-api-key": stack.demo_key}, timeout=10), 404)
    assert_json_error(requests.post(exporters + "/exports", json={"index": source}, headers={"x-api-key": "bad"},
                                    timeout=10), 401)
    assert_json_error(requests.get(exporters + "/exports/" + "0" * 32, timeout=5), 404)
    assert_json_error(requests.delete(exporters + "/exports", timeout=5), 405)
    broken = stack.start_extra("exporters", SEARCH_PROXY_URL=dead_url())
    assert_json_error(requests.post(broken.url + "/exports", json={"index": source},
                                    headers={"x-api-key": stack.demo_key}, timeout=10), 502)
    broken.stop()


def test_fork_copies_documents_through_the_workflow(stack: Stack, source: str) -> None:
    worker, h = stack.url("admin_worker"), {"x-api-key": stack.demo_key}
    target = source + "-fork"
    r = requests.post(worker + "/forks", json={"sourceIndex": source, "targetIndex": target}, headers=h, timeout=10)
    assert r.status_code == 202, r.text
    job_id = r.json()["jobId"]
    deadline = time.monotonic() + 30
    job = {}
    while time.monotonic() < deadline:
        job = requests.get(f"{worker}/forks/{job_id}", headers=h, timeout=5).json()
        if job.get("status") in ("DONE", "FAILED"):
            break
        time.sleep(0.2)
    assert job.get("status") == "DONE", (job, requests.get(worker + "/stats", timeout=5).json())
    assert job["documents"] == 130
    proxy = stack.url("search_proxy")
    stats = requests.get(f"{proxy}/indexes/{target}/stats", headers=h, timeout=5).json()
    assert stats["numberOfDocuments"] == 130
    # tensor fields survived the copy: a tensor search finds a lamp
    hits = requests.post(f"{proxy}/indexes/{target}/search", json={"q": "green lamp 7"}, headers=h, timeout=10)
    assert hits.status_code == 200 and hits.json()["hits"], hits.text
    # another account cannot see the job; a second fork to the same target is a 409
    other = requests.post(f"{stack.url('controller')}/api/v2/accounts", json={"name": "o-" + uuid.uuid4().hex[:6]},
                          headers={"x-api-key": stack.system_key}, timeout=10).json()["apiKey"]
    assert_json_error(requests.get(f"{worker}/forks/{job_id}", headers={"x-api-key": other}, timeout=5), 404)
    assert_json_error(requests.post(worker + "/forks", json={"sourceIndex": source, "targetIndex": target},
                                    headers=h, timeout=10), 409)


def test_fork_errors(stack: Stack, source: str) -> None:
    worker, h = stack.url("admin_worker"), {"x-api-key": stack.demo_key}
    assert_json_error(requests.post(worker + "/forks", json={"sourceIndex": source}, headers=h, timeout=5), 422,
                      "targetIndex")
    assert_json_error(requests.post(worker + "/forks", json={"sourceIndex": source, "targetIndex": source},
                                    headers=h, timeout=5), 422, "targetIndex")
    assert_json_error(requests.post(worker + "/forks", json={"sourceIndex": "nope", "targetIndex": "x"},
                                    headers=h, timeout=10), 404)
    assert_json_error(requests.post(worker + "/forks", json={"sourceIndex": source, "targetIndex": "x"}, timeout=5),
                      401)
    assert_json_error(requests.get(worker + "/forks/" + "a" * 32, headers=h, timeout=5), 404)
    broken = stack.start_extra("admin_worker", CONTROLLER_URL=dead_url())
    assert_json_error(requests.post(broken.url + "/forks", json={"sourceIndex": source, "targetIndex": "y"},
                                    headers=h, timeout=10), 502)
    broken.stop()
