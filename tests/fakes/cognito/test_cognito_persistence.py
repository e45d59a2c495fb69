"""Declared config at startup, persistence across restart and kill -9, determinism."""

from __future__ import annotations

import requests
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

# the ids declared by conftest.DECLARED (not imported: several conftest.py files share that module name)
POOL_ID = "us-east-1_AbCdEfGhI"
CLIENT_ID = "abcdefghij0123456789klmnop"


def _jwk(server) -> dict:
    return requests.get(f"{server.url}/{POOL_ID}/.well-known/jwks.json", timeout=5).json()["keys"][0]


def _login(cognito, username: str, password: str) -> dict:
    return cognito.initiate_auth(ClientId=CLIENT_ID, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": username, "PASSWORD": password})


def test_declared_config_is_created_with_the_given_ids(make_fake):
    server = make_fake().start()
    cognito = server.client()
    assert cognito.describe_user_pool(UserPoolId=POOL_ID)["UserPool"]["Name"] == "main"
    client = cognito.describe_user_pool_client(UserPoolId=POOL_ID, ClientId=CLIENT_ID)["UserPoolClient"]
    assert client["ClientName"] == "web"
    groups = {g["GroupName"]: g for g in cognito.list_groups(UserPoolId=POOL_ID)["Groups"]}
    assert groups["admins"]["Description"] == "Administrators" and "readers" in groups
    user = cognito.admin_get_user(UserPoolId=POOL_ID, Username="alice@example.com")
    assert user["UserStatus"] == "CONFIRMED"
    assert [g["GroupName"] for g in cognito.admin_list_groups_for_user(
        UserPoolId=POOL_ID, Username="alice@example.com")["Groups"]] == ["admins"]
    assert "AuthenticationResult" in _login(cognito, "alice@example.com", "Passw0rd!")


def test_state_survives_restart_and_kill9(make_fake):
    server = make_fake().start()
    cognito = server.client()
    pool_id = cognito.create_user_pool(PoolName="later")["UserPool"]["Id"]
    cognito.admin_create_user(UserPoolId=POOL_ID, Username="bob", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=POOL_ID, Username="bob", Password="Passw0rd!", Permanent=True)
    cognito.admin_add_user_to_group(UserPoolId=POOL_ID, Username="bob", GroupName="readers")
    # the declared user's password is reset to the declared one on every start
    cognito.admin_set_user_password(UserPoolId=POOL_ID, Username="alice@example.com", Password="Changed-1!", Permanent=True)
    refresh = _login(cognito, "bob", "Passw0rd!")["AuthenticationResult"]["RefreshToken"]
    key_before = _jwk(server)
    server.stop()
    server.start()
    cognito = server.client()
    assert cognito.describe_user_pool(UserPoolId=pool_id)["UserPool"]["Name"] == "later"
    assert "AuthenticationResult" in _login(cognito, "alice@example.com", "Passw0rd!")
    assert _jwk(server) == key_before
    again = cognito.initiate_auth(ClientId=CLIENT_ID, AuthFlow="REFRESH_TOKEN_AUTH",
                                  AuthParameters={"REFRESH_TOKEN": refresh})["AuthenticationResult"]
    assert again["IdToken"]
    cognito.admin_create_user(UserPoolId=POOL_ID, Username="carol", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=POOL_ID, Username="carol", Password="Passw0rd!", Permanent=True)
    server.kill9()
    server.start()
    cognito = server.client()
    assert "AuthenticationResult" in _login(cognito, "carol", "Passw0rd!")
    assert [g["GroupName"] for g in cognito.admin_list_groups_for_user(UserPoolId=POOL_ID, Username="bob")["Groups"]] == ["readers"]
    assert len(list((server.state_dir).glob("fake_cognito*"))) >= 1
    assert all(p.name.startswith("fake_cognito") for p in server.state_dir.iterdir())
    server.stop()
    stored = b"".join(p.read_bytes() for p in server.state_dir.iterdir())
    assert b"Passw0rd!" not in stored  # passwords are hashed
    assert bytes.fromhex("2a864886f70d010101") not in stored  # no clear PKCS#8 RSA key (rsaEncryption OID)


def test_same_seed_and_secret_give_same_keys_and_ids(make_fake):
    first = make_fake(seed="7", secret="s3cret").start()
    second = make_fake(seed="7", secret="s3cret").start()  # separate state dir: derived, not copied
    other_seed = make_fake(seed="8", secret="s3cret").start()
    other_secret = make_fake(seed="7", secret="different").start()
    created = []
    for server in (first, second, other_seed):
        cognito = server.client()
        pool = cognito.create_user_pool(PoolName="api-made")["UserPool"]["Id"]
        client = cognito.create_user_pool_client(UserPoolId=pool, ClientName="app")["UserPoolClient"]["ClientId"]
        cognito.admin_create_user(UserPoolId=pool, Username="u1", MessageAction="SUPPRESS")
        sub = {a["Name"]: a["Value"] for a in cognito.admin_get_user(UserPoolId=pool, Username="u1")["UserAttributes"]}["sub"]
        created.append((pool, client, sub))
    assert created[0] == created[1]
    assert created[2][0] != created[0][0] and created[2][1] != created[0][1] and created[2][2] != created[0][2]
    assert _jwk(first) == _jwk(second)
    assert _jwk(other_seed)["n"] != _jwk(first)["n"]
    assert _jwk(other_secret)["n"] != _jwk(first)["n"]
    # the declared ids are taken as given whatever the seed
    assert other_seed.client().describe_user_pool(UserPoolId=POOL_ID)["UserPool"]["Id"] == POOL_ID


def test_random_seed_and_default_secret_warn(make_fake):
    server = make_fake(seed=None, secret=None, declared=None).start()
    assert server.client().list_user_pools(MaxResults=10)["UserPools"] == []
    log = server.log.read_text()
    assert "HIPPODROME_ENCRYPTION_SECRET is not set" in log and "HIPPODROME_RANDOM_SEED is not set" in log


def test_declared_password_outside_the_policy_is_set_with_a_warning(make_fake):
    declared = {"userPools": [{"name": "main", "id": POOL_ID, "clients": [{"name": "web", "id": CLIENT_ID}],
                               "groups": [{"name": "g", "description": None}],
                               "users": [{"username": "weak", "password": "password123"}]}]}
    server = make_fake(declared=declared).start()
    assert "AuthenticationResult" in _login(server.client(), "weak", "password123")
    assert "declared user weak" in server.log.read_text()


def test_a_pools_key_is_the_same_from_gmpy2_and_from_pythons_pow_and_across_releases(monkeypatch):
    # Tokens a test run saved verify against the JWKS of a later run, on any machine: the derivation
    # may speed up (gmpy2 where it has a wheel), never change.
    from fakes.fake_cognito import keys

    pinned = "YoHYokhQbTd6fDAjTwS5MFkzOTeb30v6CQpFTyxSm5A"  # what keys.py derived before gmpy2 (pure Python)
    fast = keys.derive_private_key("s", "x", "pool")
    monkeypatch.setattr(keys, "_powmod", pow)
    plain = keys.derive_private_key("s", "x", "pool")
    assert keys.key_id(fast) == keys.key_id(plain) == pinned
    assert fast.private_numbers() == plain.private_numbers()
    message = b"header.payload"
    signature = fast.sign(message, padding.PKCS1v15(), hashes.SHA256())
    plain.public_key().verify(signature, message, padding.PKCS1v15(), hashes.SHA256())  # a real, working key pair
