"""App-client authentication: SECRET_HASH on the user flows, the client secret on RevokeToken and
the OAuth2 token endpoint.

One module because every flow where a client has a secret must check it the same way (issue 17,
item 2): a client with a secret that sends none, or a wrong one, is refused.  SECRET_HASH is
Base64(HMAC-SHA256(key = client secret, message = username + client id)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

from .errors import not_authorized


def secret_hash(secret: str, username: str, client_id: str) -> str:
    digest = hmac.new(secret.encode(), (username + client_id).encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def check_secret_hash(client: dict[str, Any], given: str | None, *usernames: str) -> None:
    """Refuse (NotAuthorizedException) unless ``given`` is the SECRET_HASH of one of ``usernames``.

    Several names are accepted because a user can be named by an alias (an email) or by the stored
    username: Cognito's clients hash the name they send, and after the first SRP step they send the
    stored one.  Clients without a secret need nothing.
    """
    secret = client.get("ClientSecret")
    if not secret:
        return
    if not given:
        raise not_authorized(f"Client {client['ClientId']} is configured with secret but SECRET_HASH was not received")
    for name in dict.fromkeys(u for u in usernames if u):
        if hmac.compare_digest(secret_hash(secret, name, client["ClientId"]).encode(), given.encode()):
            return
    raise not_authorized(f"Unable to verify secret hash for client {client['ClientId']}")


def secret_matches(client: dict[str, Any], given: str | None) -> bool:
    """The client secret check of RevokeToken and the token endpoint (a client without one needs none)."""
    secret = client.get("ClientSecret")
    if not secret:
        return not given
    return given is not None and hmac.compare_digest(secret.encode(), given.encode())
