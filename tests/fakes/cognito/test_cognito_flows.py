"""The user-pool API through real boto3: admin users, sign-in flows, groups, errors."""

from __future__ import annotations

import uuid

import jwt
import pytest
from botocore.exceptions import ClientError


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


def _login(cognito, client_id: str, username: str, password: str) -> dict:
    return cognito.initiate_auth(ClientId=client_id, AuthFlow="USER_PASSWORD_AUTH",
                                 AuthParameters={"USERNAME": username, "PASSWORD": password})


@pytest.fixture
def pool(cognito):
    name = f"pool-{uuid.uuid4().hex[:8]}"
    pool = cognito.create_user_pool(PoolName=name)["UserPool"]
    client = cognito.create_user_pool_client(UserPoolId=pool["Id"], ClientName="app")["UserPoolClient"]
    return {"id": pool["Id"], "name": name, "client_id": client["ClientId"]}


def test_pool_and_client_ids_are_shaped_like_cognito(cognito, pool):
    assert pool["id"].startswith("us-east-1_") and len(pool["id"].split("_")[1]) == 9
    assert len(pool["client_id"]) == 26 and pool["client_id"].isalnum() and pool["client_id"].islower()
    described = cognito.describe_user_pool(UserPoolId=pool["id"])["UserPool"]
    assert described["Name"] == pool["name"]
    client = cognito.describe_user_pool_client(UserPoolId=pool["id"], ClientId=pool["client_id"])["UserPoolClient"]
    assert client["ClientName"] == "app"
    listed = cognito.list_user_pool_clients(UserPoolId=pool["id"], MaxResults=10)["UserPoolClients"]
    assert [c["ClientId"] for c in listed] == [pool["client_id"]]
    assert pool["id"] in [p["Id"] for p in cognito.list_user_pools(MaxResults=60)["UserPools"]]


def test_same_pool_name_twice_gets_a_distinct_id(cognito, pool):
    again = cognito.create_user_pool(PoolName=pool["name"])["UserPool"]["Id"]
    assert again != pool["id"]
    cognito.delete_user_pool(UserPoolId=again)
    with pytest.raises(ClientError) as exc:
        cognito.describe_user_pool(UserPoolId=again)
    assert _code(exc) == "ResourceNotFoundException"


def test_admin_create_user_then_new_password_challenge(cognito, pool):
    created = cognito.admin_create_user(
        UserPoolId=pool["id"], Username="bob", TemporaryPassword="Temp0rary!", MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": "bob@example.com"}])["User"]
    assert created["UserStatus"] == "FORCE_CHANGE_PASSWORD"
    challenge = _login(cognito, pool["client_id"], "bob", "Temp0rary!")
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED" and challenge["Session"]
    result = cognito.respond_to_auth_challenge(
        ClientId=pool["client_id"], ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "bob", "NEW_PASSWORD": "Brand-new1"})["AuthenticationResult"]
    assert result["RefreshToken"] and result["TokenType"] == "Bearer" and result["ExpiresIn"] == 3600
    assert cognito.admin_get_user(UserPoolId=pool["id"], Username="bob")["UserStatus"] == "CONFIRMED"
    assert "AuthenticationResult" in _login(cognito, pool["client_id"], "bob", "Brand-new1")
    with pytest.raises(ClientError) as exc:  # a session is single-use
        cognito.respond_to_auth_challenge(
            ClientId=pool["client_id"], ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
            ChallengeResponses={"USERNAME": "bob", "NEW_PASSWORD": "Brand-new2"})
    assert _code(exc) == "NotAuthorizedException"


def test_admin_flow_set_password_login_refresh_get_user_sign_out(cognito, pool):
    cognito.admin_create_user(UserPoolId=pool["id"], Username="carol", MessageAction="SUPPRESS",
                              UserAttributes=[{"Name": "email", "Value": "carol@example.com"}])
    cognito.admin_set_user_password(UserPoolId=pool["id"], Username="carol", Password="Passw0rd!", Permanent=True)
    auth = cognito.admin_initiate_auth(UserPoolId=pool["id"], ClientId=pool["client_id"],
                                       AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": "carol", "PASSWORD": "Passw0rd!"})["AuthenticationResult"]
    me = cognito.get_user(AccessToken=auth["AccessToken"])
    assert me["Username"] == "carol"
    assert {"Name": "email", "Value": "carol@example.com"} in me["UserAttributes"]
    refreshed = cognito.initiate_auth(ClientId=pool["client_id"], AuthFlow="REFRESH_TOKEN_AUTH",
                                      AuthParameters={"REFRESH_TOKEN": auth["RefreshToken"]})["AuthenticationResult"]
    assert "RefreshToken" not in refreshed
    old, new = (jwt.decode(t, options={"verify_signature": False}) for t in (auth["IdToken"], refreshed["IdToken"]))
    assert new["origin_jti"] == old["origin_jti"] and new["jti"] != old["jti"] and new["sub"] == old["sub"]
    cognito.global_sign_out(AccessToken=refreshed["AccessToken"])
    for call in (lambda: cognito.get_user(AccessToken=auth["AccessToken"]),
                 lambda: cognito.initiate_auth(ClientId=pool["client_id"], AuthFlow="REFRESH_TOKEN",
                                               AuthParameters={"REFRESH_TOKEN": auth["RefreshToken"]})):
        with pytest.raises(ClientError) as exc:
            call()
        assert _code(exc) == "NotAuthorizedException"
    # a temporary (non-permanent) password forces the challenge again
    cognito.admin_set_user_password(UserPoolId=pool["id"], Username="carol", Password="Temp0rary!", Permanent=False)
    assert _login(cognito, pool["client_id"], "carol", "Temp0rary!")["ChallengeName"] == "NEW_PASSWORD_REQUIRED"


def test_groups_show_up_in_tokens_and_listings(cognito, pool):
    cognito.create_group(UserPoolId=pool["id"], GroupName="ops", Description="Operators", Precedence=1)
    cognito.create_group(UserPoolId=pool["id"], GroupName="devs")
    with pytest.raises(ClientError) as exc:
        cognito.create_group(UserPoolId=pool["id"], GroupName="ops")
    assert _code(exc) == "GroupExistsException"
    cognito.admin_create_user(UserPoolId=pool["id"], Username="dan", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool["id"], Username="dan", Password="Passw0rd!", Permanent=True)
    for group in ("devs", "ops"):
        cognito.admin_add_user_to_group(UserPoolId=pool["id"], Username="dan", GroupName=group)
    groups = cognito.admin_list_groups_for_user(UserPoolId=pool["id"], Username="dan")["Groups"]
    assert [g["GroupName"] for g in groups] == ["ops", "devs"]  # by precedence
    assert [u["Username"] for u in cognito.list_users_in_group(UserPoolId=pool["id"], GroupName="ops")["Users"]] == ["dan"]
    assert {g["GroupName"] for g in cognito.list_groups(UserPoolId=pool["id"])["Groups"]} == {"ops", "devs"}
    tokens = _login(cognito, pool["client_id"], "dan", "Passw0rd!")["AuthenticationResult"]
    for token in (tokens["IdToken"], tokens["AccessToken"]):
        assert jwt.decode(token, options={"verify_signature": False})["cognito:groups"] == ["ops", "devs"]
    cognito.admin_remove_user_from_group(UserPoolId=pool["id"], Username="dan", GroupName="ops")
    tokens = _login(cognito, pool["client_id"], "dan", "Passw0rd!")["AuthenticationResult"]
    assert jwt.decode(tokens["IdToken"], options={"verify_signature": False})["cognito:groups"] == ["devs"]


def test_list_users_filter(cognito, pool):
    for name in ("erin", "frank", "fiona"):
        cognito.admin_create_user(UserPoolId=pool["id"], Username=name, MessageAction="SUPPRESS",
                                  UserAttributes=[{"Name": "email", "Value": f"{name}@example.com"}])
    found = cognito.list_users(UserPoolId=pool["id"], Filter='email = "frank@example.com"')["Users"]
    assert [u["Username"] for u in found] == ["frank"]
    found = cognito.list_users(UserPoolId=pool["id"], Filter='username ^= "f"')["Users"]
    assert sorted(u["Username"] for u in found) == ["fiona", "frank"]
    page = cognito.list_users(UserPoolId=pool["id"], Limit=2)
    rest = cognito.list_users(UserPoolId=pool["id"], Limit=2, PaginationToken=page["PaginationToken"])
    assert len(page["Users"]) + len(rest["Users"]) == 3
    with pytest.raises(ClientError) as exc:
        cognito.list_users(UserPoolId=pool["id"], Filter="email == nope")
    assert _code(exc) == "InvalidParameterException"


def test_error_types(cognito, pool):
    cases = [
        (lambda: _login(cognito, pool["client_id"], "ghost", "Passw0rd!"), "UserNotFoundException"),
        (lambda: cognito.admin_get_user(UserPoolId=pool["id"], Username="ghost"), "UserNotFoundException"),
        (lambda: cognito.describe_user_pool(UserPoolId="us-east-1_Nope12345"), "ResourceNotFoundException"),
        (lambda: cognito.initiate_auth(ClientId="nope", AuthFlow="USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": "a", "PASSWORD": "b"}), "ResourceNotFoundException"),
        (lambda: cognito.get_user(AccessToken="not-a-token"), "NotAuthorizedException"),
        (lambda: cognito.admin_create_user(UserPoolId=pool["id"], Username="weak", TemporaryPassword="short"),
         "InvalidPasswordException"),
        (lambda: cognito.admin_add_user_to_group(UserPoolId=pool["id"], Username="ghost", GroupName="x"),
         "UserNotFoundException"),
    ]
    for call, code in cases:
        with pytest.raises(ClientError) as exc:
            call()
        assert _code(exc) == code, call
        assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    cognito.admin_create_user(UserPoolId=pool["id"], Username="gina", MessageAction="SUPPRESS")
    with pytest.raises(ClientError) as exc:
        cognito.admin_create_user(UserPoolId=pool["id"], Username="gina")
    assert _code(exc) == "UsernameExistsException"
    cognito.admin_set_user_password(UserPoolId=pool["id"], Username="gina", Password="Passw0rd!", Permanent=True)
    with pytest.raises(ClientError) as exc:
        _login(cognito, pool["client_id"], "gina", "Wrong-passw0rd")
    assert _code(exc) == "NotAuthorizedException"
    cognito.admin_delete_user(UserPoolId=pool["id"], Username="gina")
    with pytest.raises(ClientError) as exc:
        cognito.admin_get_user(UserPoolId=pool["id"], Username="gina")
    assert _code(exc) == "UserNotFoundException"


def test_client_secret_requires_secret_hash(cognito, pool):
    import base64
    import hashlib
    import hmac
    client = cognito.create_user_pool_client(UserPoolId=pool["id"], ClientName="backend", GenerateSecret=True)["UserPoolClient"]
    cognito.admin_create_user(UserPoolId=pool["id"], Username="hal", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool["id"], Username="hal", Password="Passw0rd!", Permanent=True)
    with pytest.raises(ClientError) as exc:
        _login(cognito, client["ClientId"], "hal", "Passw0rd!")
    assert _code(exc) == "NotAuthorizedException"
    digest = hmac.new(client["ClientSecret"].encode(), ("hal" + client["ClientId"]).encode(), hashlib.sha256).digest()
    ok = cognito.initiate_auth(ClientId=client["ClientId"], AuthFlow="USER_PASSWORD_AUTH", AuthParameters={
        "USERNAME": "hal", "PASSWORD": "Passw0rd!", "SECRET_HASH": base64.b64encode(digest).decode()})
    assert "AuthenticationResult" in ok


def test_admin_challenge_flow(cognito, pool):
    cognito.admin_create_user(UserPoolId=pool["id"], Username="ivy", TemporaryPassword="Temp0rary!", MessageAction="SUPPRESS")
    challenge = cognito.admin_initiate_auth(UserPoolId=pool["id"], ClientId=pool["client_id"], AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                            AuthParameters={"USERNAME": "ivy", "PASSWORD": "Temp0rary!"})
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    result = cognito.admin_respond_to_auth_challenge(
        UserPoolId=pool["id"], ClientId=pool["client_id"], ChallengeName="NEW_PASSWORD_REQUIRED",
        Session=challenge["Session"], ChallengeResponses={"USERNAME": "ivy", "NEW_PASSWORD": "Brand-new1"})
    claims = jwt.decode(result["AuthenticationResult"]["AccessToken"], options={"verify_signature": False})
    assert claims["username"] == "ivy" and claims["client_id"] == pool["client_id"]
    cognito.admin_user_global_sign_out(UserPoolId=pool["id"], Username="ivy")
    with pytest.raises(ClientError) as exc:
        cognito.get_user(AccessToken=result["AuthenticationResult"]["AccessToken"])
    assert _code(exc) == "NotAuthorizedException"
