"""Machine to machine: resource servers (custom scopes) and the OAuth2 token endpoint.

Cognito serves ``POST /oauth2/token`` on a pool's hosted domain; fake_cognito has one host for
every pool, so it serves ``POST /oauth2/token`` (the client id picks the pool) and
``POST /{poolId}/oauth2/token`` (the ``token_endpoint`` its openid-configuration names).  Grants:

* ``client_credentials``: a client with a secret, ``client_credentials`` in ``AllowedOAuthFlows``,
  ``AllowedOAuthFlowsUserPoolClient`` on and custom scopes (``<resource server>/<scope>``) in
  ``AllowedOAuthScopes``; ``scope`` asks for some of them (default: all).  The access token
  (``sub`` = ``client_id`` = the client, ``scope``, ``token_use: access``) is signed with the
  pool's key, so it verifies against the pool's JWKS like the user tokens;
* ``refresh_token``: new id and access tokens for a refresh token of this client;
* ``authorization_code`` needs the hosted sign-in UI, which fake_cognito does not have.

Client authentication: HTTP Basic (``client_secret_basic``) or ``client_id`` + ``client_secret`` in
the form (``client_secret_post``).  Answers as Cognito's: ``{"access_token", "expires_in",
"token_type": "Bearer"}``, errors HTTP 400 ``{"error": ...}`` (invalid_request, invalid_client,
invalid_grant, unauthorized_client, unsupported_grant_type, invalid_scope) with an
``error_description`` saying why.  ``token`` is pure apart from the backend it reads.
"""

from __future__ import annotations

import base64
import binascii
import re
from typing import Any, Mapping
from urllib.parse import unquote

from . import params as P
from . import tokens
from .auth import Auth
from .backend import Action, Backend, _page, actions_of
from .clientauth import secret_matches
from .errors import CognitoError, invalid, not_found

FORM = "application/x-www-form-urlencoded"
PAGE_MAX = 50
_IDENTIFIER_RE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,256}$")
_SCOPE_RE = re.compile(r"^[\x21\x23-\x2E\x30-\x5B\x5D-\x7E]{1,256}$")
_NAME_RE = re.compile(r"^[\w\s+=,.@-]{1,256}$")
_ACTIONS: dict[str, str] = {}


def action(fn: Any) -> Any:
    _ACTIONS[fn.__name__] = fn.__name__
    return fn


class OAuthError(Exception):
    """An OAuth2 error answer (RFC 6749 5.2) of the token endpoint."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


def _basic(header: str) -> tuple[str, str]:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "Authorization must be Basic base64(client_id:client_secret)")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "Authorization: not valid base64") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_client", "Authorization: expected client_id:client_secret")
    return unquote(client_id), unquote(secret)


class OAuth:
    def __init__(self, backend: Backend, auth: Auth) -> None:
        self.b = backend
        self.auth = auth

    def actions(self) -> dict[str, Action]:
        return actions_of(self, _ACTIONS)

    # the token endpoint --------------------------------------------------------------
    def token(self, pool_id: str | None, content_type: str, authorization: str | None,
              form: Mapping[str, str]) -> dict[str, Any]:
        if content_type != FORM:
            raise OAuthError("invalid_request", f"Content-Type must be {FORM}")
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError("invalid_request", "grant_type is required")
        client = self._authenticate(pool_id, authorization, form)
        if grant == "client_credentials":
            return self._client_credentials(client, form.get("scope"))
        if grant == "refresh_token":
            return self._refresh(client, form.get("refresh_token"))
        if grant == "authorization_code":
            raise OAuthError("unsupported_grant_type",
                             "authorization_code needs the hosted sign-in UI, which fake_cognito does not have")
        raise OAuthError("unsupported_grant_type", f"grant_type {grant!r} is not supported")

    def _authenticate(self, pool_id: str | None, authorization: str | None, form: Mapping[str, str]) -> dict[str, Any]:
        if authorization:
            if "client_secret" in form:
                raise OAuthError("invalid_request", "use one client authentication method, not Basic and the form")
            client_id, secret = _basic(authorization)
            if form.get("client_id") not in (None, client_id):
                raise OAuthError("invalid_client", "client_id does not match the Authorization header")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret")
            if not client_id:
                raise OAuthError("invalid_client", "no client authentication: send Authorization: Basic or client_id")
        client = self.b.clients.get(client_id)
        if client is None or (pool_id is not None and client["UserPoolId"] != pool_id):
            raise OAuthError("invalid_client", "Client authentication failed: unknown client")
        if not secret_matches(client, secret):
            raise OAuthError("invalid_client", "Client authentication failed: wrong client secret")
        return client

    def _client_credentials(self, client: dict[str, Any], requested: str | None) -> dict[str, Any]:
        if "client_credentials" not in (client.get("AllowedOAuthFlows") or []) or not client.get("ClientSecret"):
            raise OAuthError("unauthorized_client", "client_credentials is not in the client's AllowedOAuthFlows")
        if not client.get("AllowedOAuthFlowsUserPoolClient"):
            raise OAuthError("invalid_grant", "the client is not enabled for OAuth (AllowedOAuthFlowsUserPoolClient)")
        pool_id = client["UserPoolId"]
        allowed = [s for s in client.get("AllowedOAuthScopes") or [] if self._scope_exists(pool_id, s)]
        scopes = allowed if requested is None else requested.split()
        unknown = [s for s in scopes if s not in allowed]
        if unknown or not scopes:
            raise OAuthError("invalid_scope", f"not allowed for this client: {' '.join(unknown) or '(no scope)'}")
        key, kid = self.b.keyring.get(pool_id)
        seconds = self.auth.validity(client, "AccessTokenValidity", "AccessToken", tokens.DEFAULT_ACCESS_SECONDS, "hours")
        access = tokens.client_access(client["ClientId"], list(dict.fromkeys(scopes)),
                                      tokens.issuer(self.b.region, pool_id), key, kid, int(self.b.clock()), seconds)
        return {"access_token": access, "expires_in": seconds, "token_type": "Bearer"}

    def _refresh(self, client: dict[str, Any], refresh_token: str | None) -> dict[str, Any]:
        if not refresh_token:
            raise OAuthError("invalid_request", "refresh_token is required")
        try:
            self.auth.check_flow(client, "REFRESH_TOKEN_AUTH")
        except CognitoError:
            raise OAuthError("unauthorized_client", "the client may not refresh tokens") from None
        try:
            result = self.auth.refresh_grant(client, refresh_token)["AuthenticationResult"]
        except CognitoError as exc:
            raise OAuthError("invalid_grant", exc.message) from None
        return {"id_token": result["IdToken"], "access_token": result["AccessToken"],
                "expires_in": result["ExpiresIn"], "token_type": "Bearer"}

    def _scope_exists(self, pool_id: str, scope: str) -> bool:
        identifier, _, name = scope.rpartition("/")
        server = self.b.resource_servers.get(pool_id, {}).get(identifier)
        return server is not None and any(s["ScopeName"] == name for s in server.get("Scopes", []))

    # resource servers ----------------------------------------------------------------
    def _server_fields(self, p: dict[str, Any]) -> tuple[str, list[dict[str, str]]]:
        name = P.req(p, "Name", max_len=256)
        if not _NAME_RE.match(name):
            raise invalid("1 validation error detected: Value at 'name' failed to satisfy constraint: "
                          r"Member must satisfy regular expression pattern: [\w\s+=,.@-]+")
        raw = p.get("Scopes") or []
        if not isinstance(raw, list) or len(raw) > 100:
            raise invalid("Scopes: expected a list of at most 100 scopes")
        scopes: list[dict[str, str]] = []
        for i, item in enumerate(raw):
            if not isinstance(item, dict):
                raise invalid(f"Scopes.{i + 1}: expected an object")
            scope = P.req(item, "ScopeName", max_len=256)
            if not _SCOPE_RE.match(scope):
                raise invalid(f"Scopes.{i + 1}.ScopeName: {scope!r} has characters a scope name cannot have")
            scopes.append({"ScopeName": scope, "ScopeDescription": P.req(item, "ScopeDescription", max_len=256)})
        if len({s["ScopeName"] for s in scopes}) != len(scopes):
            raise invalid("Scopes: scope names must be unique")
        return name, scopes

    def _server(self, p: dict[str, Any]) -> tuple[str, str, dict[str, Any] | None]:
        pool_id = P.req(p, "UserPoolId")
        self.b.pool(pool_id)
        identifier = P.req(p, "Identifier", max_len=256)
        if not _IDENTIFIER_RE.match(identifier):
            raise invalid(f"Identifier: {identifier!r} has characters an identifier cannot have")
        return pool_id, identifier, self.b.resource_servers[pool_id].get(identifier)

    def _save(self, pool_id: str, identifier: str, name: str, scopes: list[dict[str, str]]) -> dict[str, Any]:
        server = {"UserPoolId": pool_id, "Identifier": identifier, "Name": name, "Scopes": scopes}
        self.b.resource_servers[pool_id][identifier] = server
        self.b.store.put("resource_server", f"{pool_id}/{identifier}", server)
        return server

    @action
    def CreateResourceServer(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id, identifier, existing = self._server(p)
        name, scopes = self._server_fields(p)
        if existing is not None:
            raise invalid(f"{identifier} already exists in pool {pool_id}.")
        return {"ResourceServer": self._save(pool_id, identifier, name, scopes)}

    @action
    def UpdateResourceServer(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id, identifier, existing = self._server(p)
        name, scopes = self._server_fields(p)
        if existing is None:
            raise not_found(f"Resource server {identifier} does not exist.")
        return {"ResourceServer": self._save(pool_id, identifier, name, scopes)}

    @action
    def DescribeResourceServer(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id, identifier, existing = self._server(p)
        if existing is None:
            raise not_found(f"Resource server {identifier} does not exist.")
        return {"ResourceServer": existing}

    @action
    def DeleteResourceServer(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id, identifier, existing = self._server(p)
        if existing is None:
            raise not_found(f"Resource server {identifier} does not exist.")
        del self.b.resource_servers[pool_id][identifier]
        self.b.store.delete("resource_server", f"{pool_id}/{identifier}")
        return {}

    @action
    def ListResourceServers(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        self.b.pool(pool_id)
        limit = P.integer(p, "MaxResults", default=PAGE_MAX, lo=1, hi=PAGE_MAX) or PAGE_MAX
        page, token = _page(list(self.b.resource_servers[pool_id].values()), P.string(p, "NextToken", required=False),
                            limit)
        return {"ResourceServers": page, **({"NextToken": token} if token else {})}
