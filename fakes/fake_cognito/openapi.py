"""The OpenAPI 3 document of fake_cognito's HTTP surface, served at /openapi.json.

It describes the transport, not every AWS action's shapes: the single
``POST /`` endpoint selected by ``X-Amz-Target``, the health and description
endpoints, and the per-pool JWKS / OpenID discovery documents.  The fuzz test
drives the server from this document.
"""

from __future__ import annotations

from typing import Any

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
AMZ_JSON = "application/x-amz-json-1.1"

_ERROR = {
    "type": "object", "required": ["__type", "message"],
    "properties": {"__type": {"type": "string"}, "message": {"type": "string"}},
}


def _json(schema: dict[str, Any], description: str, media: str = "application/json") -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": schema}}}


def document(actions: list[str]) -> dict[str, Any]:
    pool_param = {"name": "poolId", "in": "path", "required": True,
                  "schema": {"type": "string", "pattern": r"^[\w-]+_[0-9a-zA-Z]+$"}}
    error = _json(_ERROR, "Cognito-style error")
    oauth_error = _json({"type": "object", "required": ["error"], "properties": {
        "error": {"type": "string"}, "error_description": {"type": "string"}}}, "OAuth2 error (RFC 6749 5.2)")
    token = {
        "operationId": "oauth2Token",
        "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {"schema": {
            "type": "object", "required": ["grant_type"], "properties": {
                "grant_type": {"type": "string", "enum": ["client_credentials", "refresh_token", "authorization_code"]},
                "client_id": {"type": "string"}, "client_secret": {"type": "string"}, "scope": {"type": "string"},
                "refresh_token": {"type": "string"}}}}}},
        "responses": {"200": _json({"type": "object", "required": ["access_token", "expires_in", "token_type"],
                                    "properties": {"access_token": {"type": "string"}, "expires_in": {"type": "integer"},
                                                   "token_type": {"type": "string"}}}, "Tokens"),
                      "400": oauth_error},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "fake_cognito", "version": "1.0.0",
                 "description": "Credential-free fake of the AWS Cognito user-pool API (AWS JSON 1.1 protocol)."},
        "paths": {
            "/": {
                "get": {"operationId": "describe", "responses": {"200": _json({"type": "object"}, "Service description")}},
                "post": {
                    "operationId": "cognitoAction",
                    "parameters": [{"name": "X-Amz-Target", "in": "header", "required": True,
                                    "schema": {"type": "string", "enum": [TARGET_PREFIX + a for a in sorted(actions)]}}],
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                    "responses": {"200": _json({"type": "object"}, "The action's result", AMZ_JSON),
                                  "400": _json(_ERROR, "Client error (Cognito error type in __type)", AMZ_JSON)},
                },
            },
            "/healthz": {"get": {"operationId": "healthz", "responses": {
                "200": _json({"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}, "Ready"),
                "503": error}}},
            "/local/codes": {"get": {
                "operationId": "localCodes",
                "parameters": [{"name": "userPoolId", "in": "query", "required": False, "schema": {"type": "string"}},
                               {"name": "username", "in": "query", "required": False, "schema": {"type": "string"}}],
                "responses": {"200": _json({"type": "object", "required": ["codes"],
                                            "properties": {"codes": {"type": "array", "items": {"type": "object"}}}},
                                           "Confirmation codes fake_cognito would have sent (it sends none)")}}},
            "/oauth2/token": {"post": token},
            "/{poolId}/oauth2/token": {"post": {**token, "operationId": "poolOauth2Token", "parameters": [pool_param]}},
            "/openapi.json": {"get": {"operationId": "openapi", "responses": {"200": _json({"type": "object"}, "This document")}}},
            "/{poolId}/.well-known/jwks.json": {"get": {
                "operationId": "jwks", "parameters": [pool_param],
                "responses": {"200": _json({"type": "object", "required": ["keys"],
                                            "properties": {"keys": {"type": "array", "items": {"type": "object"}}}}, "JWKS"),
                              "404": error}}},
            "/{poolId}/.well-known/openid-configuration": {"get": {
                "operationId": "openidConfiguration", "parameters": [pool_param],
                "responses": {"200": _json({"type": "object", "required": ["issuer", "jwks_uri"],
                                            "properties": {"issuer": {"type": "string"}, "jwks_uri": {"type": "string"}}},
                                           "OpenID Connect discovery document"),
                              "404": error}}},
        },
    }
