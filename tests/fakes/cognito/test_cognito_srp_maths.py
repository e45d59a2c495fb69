"""srp.py, the SRP maths, against the client libraries: pycognito live, and a vector from
amazon-cognito-identity-js 6.3.21 (its AuthenticationHelper with a fixed secret a, run once in Node;
the end-to-end Node tests in test_cognito_srp.py run the library live against the server)."""

from __future__ import annotations

import hashlib
import random
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pycognito import aws_srp

from fakes.fake_cognito import srp

POOL_ID = "us-east-1_AbCdEfGhI"
SALT = 0xA1B2C3D4E5F60718293A4B5C6D7E8F90
SMALL_A = int("1f" * 32, 16)
SMALL_B = int("2e" * 32, 16)
# amazon-cognito-identity-js 6.3.21, AuthenticationHelper('AbCdEfGhI') with smallAValue = SMALL_A,
# getPasswordAuthenticationKey('alice', 'Passw0rd!', B = server_public(verifier, SMALL_B), SALT),
# then the PASSWORD_CLAIM_SIGNATURE over JS_BLOCK and JS_TIMESTAMP as CognitoUser computes it.
JS_K = "538282c4354742d7cbbde2359fcf67f9f5b3a6b08791e5011b43b8a5b66d9ee6"
JS_A_SHA256 = "b8180caa9209f3599039279ff3ffe1329c2e7c483ec03f7fad5e2f15bcc4c8d3"  # of A's hex
JS_KEY = "31848429427f623cfe92e8ceb1662552"
JS_BLOCK = "c2VjcmV0LWJsb2NrLWJ5dGVz"
JS_TIMESTAMP = "Wed Dec 2 01:10:09 UTC 2026"
JS_SIGNATURE = "bShEOxZZZsDDN1rpbV91vZR1Ivq+yRXj9eNd9HJe6CA="


def test_group_parameters_are_the_libraries():
    assert srp.N == int(aws_srp.N_HEX, 16) and srp.G == int(aws_srp.G_HEX, 16) == 2
    assert srp.N.bit_length() == 3072
    assert format(srp.K, "x") == JS_K
    assert srp.K == int(aws_srp.hex_hash("00" + aws_srp.N_HEX + "0" + aws_srp.G_HEX), 16)
    assert srp.INFO == bytes(aws_srp.INFO_BITS) == b"Caldera Derived Key"


@pytest.mark.parametrize("value, padded", [(0x14, "14"), (0xEC, "00ec"), (0x1EC, "01ec"), (0x80, "0080"), (1, "01")])
def test_pad_hex_is_the_twos_complement_form(value, padded):
    assert srp.pad_hex(value) == padded == aws_srp.pad_hex(value)


@given(st.integers(min_value=1, max_value=2**3100))
@settings(max_examples=200, deadline=None)
def test_pad_hex_matches_pycognito(value):
    assert srp.pad_hex(value) == aws_srp.pad_hex(value)


def test_the_javascript_librarys_vector():
    v = srp.verifier(POOL_ID, "alice", "Passw0rd!", SALT)
    b_public = srp.server_public(v, SMALL_B)
    a_public = pow(srp.G, SMALL_A, srp.N)
    assert hashlib.sha256(format(a_public, "x").encode()).hexdigest() == JS_A_SHA256
    server = srp.server_key(a_public, b_public, SMALL_B, v)
    assert server is not None and server.hex() == JS_KEY
    assert srp.client_key(POOL_ID, "alice", "Passw0rd!", SALT, SMALL_A, b_public).hex() == JS_KEY
    assert srp.claim_signature(server, POOL_ID, "alice", JS_BLOCK, JS_TIMESTAMP) == JS_SIGNATURE
    wrong = srp.client_key(POOL_ID, "alice", "Passw0rd?", SALT, SMALL_A, b_public)
    assert wrong != server


def test_pycognito_derives_the_servers_key():
    rng = random.Random(17)
    for username, password in [("alice", "Passw0rd!"), ("3f1c-uuid-like", "p\u00e4ss w\u00f6rd \u2713"), ("b", "")]:
        salt = srp.new_salt(rng.randbytes)
        v = srp.verifier(POOL_ID, username, password, salt)
        b = rng.getrandbits(256)
        b_public = srp.server_public(v, b)
        client = aws_srp.AWSSRP(username, password, POOL_ID, "client", client=object())
        expected = client.get_password_authentication_key(username, password, b_public, format(salt, "x"))
        assert srp.server_key(client.large_a_value, b_public, b, v) == expected
        assert srp.client_key(POOL_ID, username, password, salt, client.small_a_value, b_public) == expected
        wrong = client.get_password_authentication_key(username, password + "x", b_public, format(salt, "x"))
        assert srp.server_key(client.large_a_value, b_public, b, v) != wrong


def test_salts_never_start_with_a_zero_digit():
    """Clients re-read SALT as a number: a leading 0 would be dropped and x would differ."""
    zeros = iter([bytes(16), b"\x0f" + bytes(15), b"\x10" + bytes(15)])
    assert format(srp.new_salt(lambda n: next(zeros)), "x") == "10" + "0" * 30
    assert all(not format(srp.new_salt(), "x").startswith("0") for _ in range(200))


def test_server_refuses_a_zero_a():
    v = srp.verifier(POOL_ID, "alice", "pw", SALT)
    b_public = srp.server_public(v, SMALL_B)
    assert srp.server_key(0, b_public, SMALL_B, v) is None
    assert srp.server_key(srp.N, b_public, SMALL_B, v) is None
    assert srp.server_key(2 * srp.N, b_public, SMALL_B, v) is None


def test_timestamp_format_is_cognitos():
    when = datetime(2026, 12, 2, 1, 10, 9, tzinfo=timezone.utc)
    assert srp.format_timestamp(when) == JS_TIMESTAMP
    assert srp.format_timestamp(when) == aws_srp.AWSSRP.get_cognito_formatted_timestamp(when.replace(tzinfo=None))
    assert srp.parse_timestamp(JS_TIMESTAMP) == when
    assert srp.parse_timestamp("Sat Dec 12 23:59:59 UTC 2026") == datetime(2026, 12, 12, 23, 59, 59, tzinfo=timezone.utc)
    for bad in ("Wed Dec 02 01:10:09 UTC 2026",  # day zero-padded
                "Thu Dec 2 01:10:09 UTC 2026",   # wrong weekday
                "Wed Dec 2 1:10:09 UTC 2026", "Wed Dec 2 01:10:09 GMT 2026", "Mon Feb 30 01:10:09 UTC 2026", ""):
        assert srp.parse_timestamp(bad) is None, bad


def test_parse_hex():
    assert srp.parse_hex("ff") == 255 and srp.parse_hex("00A1") == 0xA1
    for bad in ("", "xyz", "0x12", "12 34", "f" * 3000):
        assert srp.parse_hex(bad) is None
