"""Create the pools, clients, groups and users the stack file declares.

Idempotent by construction: what exists is kept (its ids are the declared
ones), what is missing is created with exactly the declared ids, and a declared
user's password is (re)set to the declared one, permanent, on every start, so
the stack file stays the source of truth for its test users.
"""

from __future__ import annotations

import sys

from hippodrome_k8s import ids

from .backend import Backend
from .config import DeclaredPool
from .errors import CognitoError
from .passwords import check_policy


def apply(backend: Backend, pools: tuple[DeclaredPool, ...]) -> list[str]:
    """Apply the declared config; return one line per object created."""
    created: list[str] = []
    for decl in pools:
        if decl.id not in backend.pools:
            backend.create_pool_record(decl.id, decl.name, {})
            created.append(f"pool {decl.name} {decl.id}")
        backend.keyring.get(decl.id)  # generate (or load) the signing key now, not on the first login
        for name, client_id in decl.clients:
            existing = backend.clients.get(client_id)
            if existing is None:
                backend.create_client_record(decl.id, client_id, name, {})
                created.append(f"client {name} {client_id}")
            elif existing["UserPoolId"] != decl.id:
                raise ValueError(f"declared client id {client_id} already belongs to pool {existing['UserPoolId']}")
        for name, description in decl.groups:
            if name not in backend.groups[decl.id]:
                backend.create_group_record(decl.id, name, description)
                created.append(f"group {name}")
        for u in decl.users:
            user = backend.find_user(decl.id, u.username)
            if user is None:
                user = backend.create_user_record(decl.id, u.username, {"email_verified": "true", **u.attributes}
                                                  if "email" in u.attributes else dict(u.attributes),
                                                  "CONFIRMED", None)
                created.append(f"user {u.username}")
            if u.password is not None:
                try:
                    check_policy(u.password, backend.pools[decl.id]["Policies"].get("PasswordPolicy"))
                except CognitoError as exc:  # the stack file wins; say so instead of refusing to start
                    print(f"fake_cognito: warning: declared user {u.username}: {exc.message} (set anyway)",
                          file=sys.stderr, flush=True)
                backend.set_password(decl.id, user, u.password, permanent=True, enforce_policy=False)
            elif user.get("PasswordHash") is None:
                temp = "Tmp" + ids.derive_token(backend.seed, "cognito-temp-password", decl.id, u.username, length=10) + "A1!"
                backend.set_password(decl.id, user, temp, permanent=False)
                print(f"fake_cognito: declared user {u.username} has no password; temporary password {temp}",
                      file=sys.stderr, flush=True)
            for group in u.groups:
                if group not in backend.groups[decl.id]:
                    raise ValueError(f"declared user {u.username} names unknown group {group!r} in pool {decl.name}")
                if group not in user["Groups"]:
                    user["Groups"].append(group)
                    backend.save_user(decl.id, user)
    return created
