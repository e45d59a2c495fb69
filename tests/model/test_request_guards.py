"""The pure request guards every service shares: JSON bodies within limits, and the Origin/Host allow-lists."""

from __future__ import annotations

import json
import random

import pytest

from hippodrome_k8s.core import jsonbody
from hippodrome_k8s.core.errors import InvalidBody
from hippodrome_k8s.core.loader import load_stack_data
from hippodrome_k8s.core.origins import (HOSTS_ENV, ORIGINS_ENV, POD_IP_ENV, Policy, host_name, normalize_origin,
                                         policy_from_env)
from hippodrome_k8s.core.resolver import ClusterAddressing, ResolveOptions, resolve


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# --- JSON bodies ---------------------------------------------------------------------------------


def test_a_body_within_the_limits_is_parsed():
    body = {"documents": [{"_id": "1", "title": "red shoes \U0001F460"}], "deep": json.loads(nested(60))}
    assert jsonbody.parse(json.dumps(body).encode()) == body
    assert jsonbody.parse(nested(jsonbody.MAX_DEPTH)) == json.loads(nested(jsonbody.MAX_DEPTH))


@pytest.mark.parametrize("depth", [jsonbody.MAX_DEPTH + 1, 900, 1_000, 100_000])
def test_a_body_nested_deeper_than_the_limit_is_refused_not_a_recursion_error(depth):
    with pytest.raises(InvalidBody) as caught:
        jsonbody.parse(nested(depth))
    assert caught.value.status == 400 and "deeper than 64" in caught.value.message


def test_the_too_deep_field_is_named():
    body = json.dumps({"filter": {"a": json.loads(nested(70))}}).encode()
    with pytest.raises(InvalidBody) as caught:
        jsonbody.parse(body)
    assert caught.value.field == "filter" and caught.value.kind == "too_deep"


def test_the_quick_depth_check_agrees_with_the_token_scan_on_json():
    """suspicious_depth (C-speed passes) decides whether parse runs too_deep_at (a Python scan): on any JSON they
    agree, brackets and quotes inside strings included; a big batch of shallow documents is not suspicious."""
    rng = random.Random(7)
    strings = ["a[{", 'x\\"]', "\\", 'q"{', "}]", "", '\\\\"[', "\u00e9[", "\ud83d\ude00{"]

    def value(depth: int) -> str:
        if depth == 0 or rng.random() < 0.3:
            return rng.choice([json.dumps(rng.choice(strings)), "1", "[]", "{}", "null"])
        if rng.random() < 0.5:
            return "[" + ",".join(value(depth - 1) for _ in range(rng.randint(1, 3))) + "]"
        return "{" + ",".join(f"{json.dumps(rng.choice(strings) + str(i))}:{value(depth - 1)}"
                              for i in range(rng.randint(1, 3))) + "}"

    checked = deep = 0
    for _ in range(3000):
        raw = value(rng.randint(1, 9)).encode()
        json.loads(raw)
        for max_depth in (1, 2, 3, 5):
            too_deep = jsonbody.too_deep_at(raw, max_depth) is not None
            assert jsonbody.suspicious_depth(raw, max_depth) == too_deep, (raw, max_depth)
            checked, deep = checked + 1, deep + too_deep
    assert checked == 12_000 and 1_000 < deep < 11_000  # both outcomes were exercised
    batch = json.dumps({"documents": [{"_id": str(i), "t": "[{" * 3, "n": [[i]]} for i in range(500)]}).encode()
    assert not jsonbody.suspicious_depth(batch) and jsonbody.too_deep_at(batch) is None


@pytest.mark.parametrize("raw", [b'\\"' + b"[" * 100_000, b'["\\\\"' + b"[" * 100_000, b'"' + b"[" * 100_000,
                                 b"[" * 100_000 + b'"', b"[]" * 40 + b"]" + b"[" * 100_000])
def test_a_deep_body_that_is_not_json_either_is_still_a_400(raw):
    with pytest.raises(InvalidBody) as caught:
        jsonbody.parse(raw)
    assert caught.value.status == 400


@pytest.mark.parametrize("raw,field", [
    (b'{"documents": [{"_id": "\\ud800", "t": "x"}]}', "documents[0]._id"),
    (b'{"Username": "\\uDFFF"}', "Username"),
    (b'{"q": "ok", "filter": "a\\udbff"}', "filter"),
    (b'{"Username": "\xed\xa0\x80"}', "Username"),  # the surrogate's bytes, which json.loads lets through
    (b'{"attrs": {"\\ud800key": "v"}}', "attrs"),
])
def test_a_lone_surrogate_is_refused_with_its_field_named(raw, field):
    with pytest.raises(InvalidBody) as caught:
        jsonbody.parse(raw)
    assert caught.value.field == field and "lone UTF-16 surrogate" in caught.value.message
    caught.value.message.encode("utf-8")  # the message itself can be sent


def test_a_surrogate_pair_is_a_character_not_an_error():
    assert jsonbody.parse(b'{"t": "\\ud83d\\ude00"}') == {"t": "\U0001F600"}


@pytest.mark.parametrize("raw", [b"{not json", b"\xff\xfe\x00", b""])
def test_not_json_is_invalid_body(raw):
    with pytest.raises(InvalidBody) as caught:
        jsonbody.parse(raw)
    assert caught.value.field == "body"


# --- Origin and Host -------------------------------------------------------------------------------

POLICY = Policy.of(["http://127.0.0.1:9008", "http://localhost:9008", "https://app.example.com"], ["127.0.0.1", "app.example.com"])


@pytest.mark.parametrize("origin,host,allowed", [
    (None, "127.0.0.1:9003", True),  # curl, boto3, marqo: no Origin
    ("http://127.0.0.1:9008", "127.0.0.1:9012", True),  # the console calling fake_cognito
    ("http://LOCALHOST:9008", "localhost:9012", True),
    ("https://app.example.com", "127.0.0.1:9003", True),  # spec.allowedOrigins
    ("http://127.0.0.1:9003", "127.0.0.1:9003", True),  # same origin
    ("http://evil.example", "127.0.0.1:9003", False),
    ("null", "127.0.0.1:9003", False),
    ("http://127.0.0.1:9999", "127.0.0.1:9003", False),  # another local port is another origin
    (None, "evil.example:9008", False),  # DNS rebinding
    ("http://evil.example:9008", "evil.example:9008", False),
    (None, "app.example.com", True),  # the host of an allowed origin
    (None, "[::1]:9003", True),
])
def test_the_policy(origin, host, allowed):
    assert (POLICY.refusal("/api/x", host, origin) is None) is allowed


def test_healthz_is_exempt_from_the_host_check_only():
    assert POLICY.refusal("/healthz", "10.244.0.7:9003", None) is None
    assert POLICY.refusal("/healthz", "10.244.0.7:9003", "http://evil.example") is not None


def test_cors_answers_name_the_origin_never_a_wildcard():
    assert POLICY.cors_headers("http://localhost:9008", "127.0.0.1:9012") == {
        "Access-Control-Allow-Origin": "http://localhost:9008", "Vary": "Origin"}
    assert POLICY.cors_headers("http://evil.example", "127.0.0.1:9012") == {}


def test_normalizing():
    assert normalize_origin("HTTP://LocalHost:80/") == "http://localhost"
    assert host_name("[::1]:9003") == "[::1]" and host_name("LOCALHOST.:9") == "localhost"


def test_policy_from_env_adds_the_pods_address():
    policy = policy_from_env({ORIGINS_ENV: "http://127.0.0.1:9008", HOSTS_ENV: "dev-moto.ns.svc", POD_IP_ENV: "10.0.0.5"})
    assert policy.refusal("/", "10.0.0.5:9003", None) is None
    assert policy.refusal("/", "dev-moto.ns.svc:9003", None) is None
    assert policy.refusal("/", "dev-other.ns.svc:9003", None) is not None
    assert policy_from_env({}).refusal("/", "127.0.0.1:1", "http://127.0.0.1:2") is not None


STACK = {
    "apiVersion": "hippodrome.dev/v1alpha1", "kind": "HippodromeStack", "metadata": {"name": "dev"},
    "spec": {"seed": "1", "allowedOrigins": ["https://app.example.com:3000"], "services": [
        {"name": "moto", "port": 9003, "layer": 0, "run": {"command": ["x"]}},
        {"name": "console", "port": 9008, "layer": 1, "run": {"command": ["x"]}}]},
}


def test_the_resolver_renders_the_lists_into_every_services_env():
    plan = resolve(load_stack_data(STACK), ResolveOptions())
    env = plan.service("moto").env
    origins = env[ORIGINS_ENV].split(",")
    assert {"http://127.0.0.1:9000", "http://localhost:9008", "http://127.0.0.1:9003",
            "https://app.example.com:3000"} <= set(origins)
    assert "*" not in origins
    assert env[HOSTS_ENV].split(",") == ["127.0.0.1", "localhost", "[::1]", "app.example.com"]


def test_on_kubernetes_the_cluster_dns_names_are_allowed_hosts():
    plan = resolve(load_stack_data(STACK), ResolveOptions(addressing=ClusterAddressing("team")))
    hosts = plan.service("moto").env[HOSTS_ENV].split(",")
    assert {"dev-moto", "dev-moto.team", "dev-moto.team.svc", "dev-moto.team.svc.cluster.local"} <= set(hosts)
    assert "dev-console" not in hosts


def test_a_wildcard_or_a_path_is_not_an_origin():
    from hippodrome_k8s.core.errors import StackFileError

    for bad in ("*", "http://x/path", "null"):
        doc = json.loads(json.dumps(STACK))
        doc["spec"]["allowedOrigins"] = [bad]
        with pytest.raises(StackFileError) as caught:
            load_stack_data(doc)
        assert caught.value.problems[0].path == "spec.allowedOrigins[0]"
