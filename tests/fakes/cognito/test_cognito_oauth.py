"""Machine to machine: resource servers through boto3, the OAuth2 token endpoint through requests
(HTTP Basic, as an M2M client calls Cognito's hosted domain), tokens verified with PyJWT's
PyJWKClient against the pool's JWKS URL. A wrong client secret is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

import jwt
import pytest
import requests
from botocore.exceptions import ClientError

ISSUER = "https://cognito-idp.us-east-1.amazonaws.com/"
API = "https://api.example.com"


def _code(exc: pytest.ExceptionInfo[ClientError]) -> str:
    return exc.value.response["Error"]["Code"]


@pytest.fixture
def m2m(cognito, fake):
    pool = cognito.create_user_pool(PoolName=f"m2m-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
    cognito.create_resource_server(UserPoolId=pool, Identifier=API, Name="orders api", Scopes=[
        {"ScopeName": "orders.read", "ScopeDescription": "read orders"},
        {"ScopeName": "orders.write", "ScopeDescription": "write orders"}])
    client = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="worker", GenerateSecret=True, AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=[f"{API}/orders.read", f"{API}/orders.write"],
        AllowedOAuthFlowsUserPoolClient=True)["UserPoolClient"]
    return {"pool": pool, "id": client["ClientId"], "secret": client["ClientSecret"],
            "url": f"{fake.url}/oauth2/token", "jwks": f"{fake.url}/{pool}/.well-known/jwks.json"}


def token(url: str, auth: tuple[str, str] | None, **form: str) -> requests.Response:
    return requests.post(url, auth=auth, data=form, timeout=10)


def test_client_credentials_token_verifies_against_the_jwks(m2m, fake, cognito):
    answer = token(m2m["url"], (m2m["id"], m2m["secret"]), grant_type="client_credentials")
    assert answer.status_code == 200, answer.text
    assert answer.headers["Content-Type"].startswith("application/json") and answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    assert set(body) == {"access_token", "expires_in", "token_type"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    access = body["access_token"]
    key = jwt.PyJWKClient(m2m["jwks"]).get_signing_key_from_jwt(access).key
    claims = jwt.decode(access, key, algorithms=["RS256"], issuer=ISSUER + m2m["pool"], options={"verify_aud": False})
    assert claims["token_use"] == "access" and claims["sub"] == claims["client_id"] == m2m["id"]
    assert claims["scope"] == f"{API}/orders.read {API}/orders.write" and claims["version"] == 2
    assert "username" not in claims and "aud" not in claims
    with pytest.raises(ClientError) as exc:  # a client's token is not a user's
        cognito.get_user(AccessToken=access)
    assert _code(exc) == "NotAuthorizedException"

    one = token(f"{fake.url}/{m2m['pool']}/oauth2/token", None, grant_type="client_credentials",
                client_id=m2m["id"], client_secret=m2m["secret"], scope=f"{API}/orders.read")  # client_secret_post
    assert one.status_code == 200, one.text
    assert jwt.decode(one.json()["access_token"], options={"verify_signature": False})["scope"] == f"{API}/orders.read"
    discovered = requests.get(f"{fake.url}/{m2m['pool']}/.well-known/openid-configuration", timeout=5).json()
    assert discovered["token_endpoint"] == f"{fake.url}/{m2m['pool']}/oauth2/token"


def test_token_endpoint_errors_are_cognitos(m2m, fake, cognito):
    pool = m2m["pool"]
    public = cognito.create_user_pool_client(UserPoolId=pool, ClientName="spa")["UserPoolClient"]["ClientId"]
    not_oauth = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName="half", GenerateSecret=True, AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=[f"{API}/orders.read"])["UserPoolClient"]  # AllowedOAuthFlowsUserPoolClient not set
    other_pool = cognito.create_user_pool(PoolName="m2m-other")["UserPool"]["Id"]
    good = (m2m["id"], m2m["secret"])
    cases = [
        (dict(auth=(m2m["id"], m2m["secret"][::-1])), "invalid_client"),      # wrong secret
        (dict(auth=("nope", "x")), "invalid_client"),
        (dict(auth=None), "invalid_client"),                                  # no client authentication
        (dict(auth=good, grant_type="password"), "unsupported_grant_type"),
        (dict(auth=good, grant_type="authorization_code", code="x"), "unsupported_grant_type"),
        (dict(auth=good, grant_type=None), "invalid_request"),
        (dict(auth=good, scope=f"{API}/orders.delete"), "invalid_scope"),
        (dict(auth=good, scope="openid"), "invalid_scope"),
        (dict(auth=(public, "")), "unauthorized_client"),                     # a public client: no secret, no M2M
        (dict(auth=(public, "invented-secret")), "invalid_client"),
        (dict(auth=None, client_id=public), "unauthorized_client"),
        (dict(auth=(not_oauth["ClientId"], not_oauth["ClientSecret"])), "invalid_grant"),
        (dict(auth=good, url=f"{fake.url}/{other_pool}/oauth2/token"), "invalid_client"),
    ]
    for case, error in cases:
        form = {"grant_type": case.pop("grant_type", "client_credentials"), **case}
        url, auth = form.pop("url", m2m["url"]), form.pop("auth")
        answer = token(url, auth, **{k: v for k, v in form.items() if v is not None})
        assert answer.status_code == 400, (case, answer.text)
        assert answer.json()["error"] == error, (case, answer.json())
    as_json = requests.post(m2m["url"], auth=good, json={"grant_type": "client_credentials"}, timeout=10)
    assert as_json.status_code == 400 and as_json.json()["error"] == "invalid_request"
    assert requests.get(m2m["url"], timeout=5).status_code == 405


def test_refresh_token_grant(cognito, fake):
    pool = cognito.create_user_pool(PoolName="m2m-refresh")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(UserPoolId=pool, ClientName="web", GenerateSecret=True)["UserPoolClient"]
    cognito.admin_create_user(UserPoolId=pool, Username="rita", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username="rita", Password="Passw0rd!", Permanent=True)
    signed_in = cognito.admin_initiate_auth(UserPoolId=pool, ClientId=client["ClientId"], AuthFlow="ADMIN_NO_SRP_AUTH",
                                            AuthParameters={"USERNAME": "rita", "PASSWORD": "Passw0rd!",
                                                            "SECRET_HASH": _secret_hash(client, "rita")})
    refresh = signed_in["AuthenticationResult"]["RefreshToken"]
    auth = (client["ClientId"], client["ClientSecret"])
    answer = token(f"{fake.url}/oauth2/token", auth, grant_type="refresh_token", refresh_token=refresh)
    assert answer.status_code == 200, answer.text
    claims = jwt.decode(answer.json()["id_token"], jwt.PyJWKClient(f"{fake.url}/{pool}/.well-known/jwks.json")
                        .get_signing_key_from_jwt(answer.json()["id_token"]).key, algorithms=["RS256"],
                        audience=client["ClientId"], issuer=ISSUER + pool)
    assert claims["cognito:username"] == "rita"
    assert token(f"{fake.url}/oauth2/token", (client["ClientId"], "wrong" * 5), grant_type="refresh_token",
                 refresh_token=refresh).json()["error"] == "invalid_client"
    cognito.revoke_token(Token=refresh, ClientId=client["ClientId"], ClientSecret=client["ClientSecret"])
    revoked = token(f"{fake.url}/oauth2/token", auth, grant_type="refresh_token", refresh_token=refresh)
    assert revoked.status_code == 400 and revoked.json()["error"] == "invalid_grant"


def _secret_hash(client: dict, username: str) -> str:
    digest = hmac.new(client["ClientSecret"].encode(), (username + client["ClientId"]).encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def test_resource_servers_and_client_oauth_settings(cognito):
    pool = cognito.create_user_pool(PoolName="m2m-admin")["UserPool"]["Id"]
    created = cognito.create_resource_server(UserPoolId=pool, Identifier="billing", Name="billing",
                                             Scopes=[{"ScopeName": "read", "ScopeDescription": "read"}])
    assert created["ResourceServer"] == {"UserPoolId": pool, "Identifier": "billing", "Name": "billing",
                                         "Scopes": [{"ScopeName": "read", "ScopeDescription": "read"}]}
    with pytest.raises(ClientError) as exc:
        cognito.create_resource_server(UserPoolId=pool, Identifier="billing", Name="again")
    assert _code(exc) == "InvalidParameterException"
    cognito.update_resource_server(UserPoolId=pool, Identifier="billing", Name="billing v2", Scopes=[
        {"ScopeName": "read", "ScopeDescription": "read"}, {"ScopeName": "pay", "ScopeDescription": "pay"}])
    described = cognito.describe_resource_server(UserPoolId=pool, Identifier="billing")["ResourceServer"]
    assert described["Name"] == "billing v2" and [s["ScopeName"] for s in described["Scopes"]] == ["read", "pay"]
    assert [s["Identifier"] for s in cognito.list_resource_servers(UserPoolId=pool, MaxResults=10)["ResourceServers"]] \
        == ["billing"]
    with pytest.raises(ClientError) as exc:
        cognito.create_resource_server(UserPoolId=pool, Identifier="bad", Name="bad",
                                       Scopes=[{"ScopeName": "has space", "ScopeDescription": "x"}])
    assert _code(exc) == "InvalidParameterException"

    bad_clients = [
        (dict(GenerateSecret=False, AllowedOAuthFlows=["client_credentials"], AllowedOAuthScopes=["billing/read"]),
         "InvalidOAuthFlowException"),
        (dict(GenerateSecret=True, AllowedOAuthFlows=["client_credentials", "code"], AllowedOAuthScopes=["billing/read"]),
         "InvalidOAuthFlowException"),
        (dict(GenerateSecret=True, AllowedOAuthFlows=["client_credentials"], AllowedOAuthScopes=["billing/refund"]),
         "ScopeDoesNotExistException"),
        (dict(GenerateSecret=True, AllowedOAuthFlows=["client_credentials"], AllowedOAuthScopes=["openid"]),
         "InvalidOAuthFlowException"),
        (dict(AllowedOAuthFlows=["password"]), "InvalidParameterException"),
    ]
    for settings, error in bad_clients:
        with pytest.raises(ClientError) as exc:
            cognito.create_user_pool_client(UserPoolId=pool, ClientName="c", **settings)
        assert _code(exc) == error, settings

    client = cognito.create_user_pool_client(UserPoolId=pool, ClientName="later", GenerateSecret=True)["UserPoolClient"]
    updated = cognito.update_user_pool_client(
        UserPoolId=pool, ClientId=client["ClientId"], AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=["billing/pay"], AllowedOAuthFlowsUserPoolClient=True)["UserPoolClient"]
    assert updated["ClientSecret"] == client["ClientSecret"] and updated["ClientName"] == "later"
    assert updated["AllowedOAuthScopes"] == ["billing/pay"]
    cognito.delete_resource_server(UserPoolId=pool, Identifier="billing")
    with pytest.raises(ClientError) as exc:
        cognito.describe_resource_server(UserPoolId=pool, Identifier="billing")
    assert _code(exc) == "ResourceNotFoundException"


def test_resource_servers_survive_a_restart(make_fake):
    server = make_fake().start()
    cognito = server.client()
    cognito.create_resource_server(UserPoolId=server.pool_id, Identifier="reports", Name="reports",
                                   Scopes=[{"ScopeName": "read", "ScopeDescription": "read"}])
    client = cognito.create_user_pool_client(
        UserPoolId=server.pool_id, ClientName="job", GenerateSecret=True, AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=["reports/read"], AllowedOAuthFlowsUserPoolClient=True)["UserPoolClient"]
    server.stop()
    server.start()
    answer = token(f"{server.url}/oauth2/token", (client["ClientId"], client["ClientSecret"]),
                   grant_type="client_credentials")
    assert answer.status_code == 200 and answer.json()["access_token"]
