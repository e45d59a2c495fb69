"""Create the pools, clients, groups and users the stack file declares.

Idempotent by construction: what exists is kept (its ids are the declared
ones), what is missing is created with exactly the declared ids, and a declared
user's password is (re)set to the declared one, permanent, on every start, so
the stack file stays the source of truth for its test users.

The seed owns what it declares: a ledger (in the store's ``meta`` table) records
every pool, client, group and user the declared config holds. On the next start,
what the ledger has and the config no longer declares is removed (pool ids derive
from the seed, so a new seed replaces the old seed's pools instead of piling them
up); objects users created themselves are kept where their pool survives, and
what goes with a removed seeded pool is listed. ``plan_removals`` is the pure
decision; ``reconcile`` does it.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field

from hippodrome_k8s.core import ids

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


LEDGER = "seed_ledger"


@dataclass(frozen=True)
class Ledger:
    pools: dict[str, str] = field(default_factory=dict)  # pool id -> name
    clients: dict[str, str] = field(default_factory=dict)  # client id -> pool id
    groups: frozenset[tuple[str, str]] = frozenset()  # (pool id, group name)
    users: frozenset[tuple[str, str]] = frozenset()  # (pool id, username)

    def to_json(self) -> str:
        return json.dumps({"pools": self.pools, "clients": self.clients, "groups": sorted(self.groups),
                           "users": sorted(self.users)}, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | None) -> "Ledger":
        if not text:
            return cls()
        doc = json.loads(text)
        return cls(doc.get("pools", {}), doc.get("clients", {}), frozenset(map(tuple, doc.get("groups", []))),
                   frozenset(map(tuple, doc.get("users", []))))


@dataclass(frozen=True)
class Removals:
    pools: tuple[str, ...] = ()
    clients: tuple[str, ...] = ()
    groups: tuple[tuple[str, str], ...] = ()
    users: tuple[tuple[str, str], ...] = ()


def ledger_of(pools: tuple[DeclaredPool, ...], usernames: dict[tuple[str, str], str]) -> Ledger:
    """What the declared config owns; ``usernames`` maps (pool id, declared name) to the stored Username."""
    return Ledger(
        pools={p.id: p.name for p in pools},
        clients={cid: p.id for p in pools for _, cid in p.clients},
        groups=frozenset((p.id, g) for p in pools for g, _ in p.groups),
        users=frozenset((p.id, usernames.get((p.id, u.username), u.username)) for p in pools for u in p.users))


def plan_removals(previous: Ledger, declared: Ledger) -> Removals:
    """Seeded objects no longer declared; inside a removed pool only the pool is named (it takes the rest)."""
    gone = tuple(sorted(set(previous.pools) - set(declared.pools)))
    return Removals(
        pools=gone,
        clients=tuple(sorted(c for c, p in previous.clients.items() if p not in gone and c not in declared.clients)),
        groups=tuple(sorted(g for g in previous.groups - declared.groups if g[0] not in gone)),
        users=tuple(sorted(u for u in previous.users - declared.users if u[0] not in gone)))


def reconcile(backend: Backend, pools: tuple[DeclaredPool, ...]) -> list[str]:
    """Remove what the previous seed owned and the config no longer declares, then apply the config and
    record the new ledger. Returns one line per change (removals, what users lose with a pool, creations)."""
    previous = Ledger.from_json(backend.store.get_meta(LEDGER))
    wanted = ledger_of(pools, {})
    removals = plan_removals(previous, wanted)
    lines = []
    for pool_id in removals.pools:
        if pool_id not in backend.pools:
            continue
        users = sorted(u for u in backend.users.get(pool_id, {}) if (pool_id, u) not in previous.users)
        clients = sorted(c for c, d in backend.clients.items() if d["UserPoolId"] == pool_id and c not in previous.clients)
        backend.DeleteUserPool({"UserPoolId": pool_id})
        lines.append(f"removed seeded pool {previous.pools[pool_id]} {pool_id} (no longer declared)")
        if users or clients:
            lines.append(f"dropped with pool {pool_id}: " + "; ".join(
                part for part in (f"users {', '.join(users)}" if users else "",
                                  f"clients {', '.join(clients)}" if clients else "") if part))
    for client_id in removals.clients:
        if client_id in backend.clients:
            backend.DeleteUserPoolClient({"UserPoolId": backend.clients[client_id]["UserPoolId"], "ClientId": client_id})
            lines.append(f"removed seeded client {client_id}")
    for pool_id, name in removals.groups:
        if name in backend.groups.get(pool_id, {}):
            backend.DeleteGroup({"UserPoolId": pool_id, "GroupName": name})
            lines.append(f"removed seeded group {name} from {pool_id}")
    for pool_id, username in removals.users:
        if username in backend.users.get(pool_id, {}):
            backend.AdminDeleteUser({"UserPoolId": pool_id, "Username": username})
            lines.append(f"removed seeded user {username} from {pool_id}")
    lines += [f"created {line}" for line in apply(backend, pools)]
    stored = {(p.id, u.username): (backend.find_user(p.id, u.username) or {}).get("Username", u.username)
              for p in pools for u in p.users}
    backend.store.put_meta(LEDGER, ledger_of(pools, stored).to_json())
    return lines
