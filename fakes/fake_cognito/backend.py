"""Pools, app clients, users and groups: the administrative half of the API.

State is plain dicts (documents shaped like Cognito's responses where that is
convenient) kept in memory and written through to the store on every change,
so a restart reloads exactly what was acknowledged.  Each public action takes
the request's JSON object and returns the response's, raising ``CognitoError``
for anything a client did wrong.  The sign-in flows are in ``auth.py``.
"""

from __future__ import annotations

import re
import secrets
import time
import uuid
from typing import Any, Callable

from hippodrome_k8s.core import ids

from . import params as P
from .errors import CognitoError, invalid, not_found, user_not_found
from .keys import KeyRing
from .passwords import DEFAULT_POLICY, check_policy, credentials
from .store import Store

ACCOUNT_ID = "123456789012"
PAGE_MAX = 60
_FILTER_RE = re.compile(r'^\s*([\w:]+)\s*(=|\^=)\s*"((?:[^"\\]|\\.)*)"\s*$')
_FILTERABLE = {"username", "email", "phone_number", "name", "given_name", "family_name",
               "preferred_username", "cognito:user_status", "status", "sub"}
OAUTH_FLOWS = ("code", "implicit", "client_credentials")
STANDARD_SCOPES = frozenset({"phone", "email", "openid", "profile", "aws.cognito.signin.user.admin"})
USER_STATUSES = ("UNCONFIRMED", "CONFIRMED", "FORCE_CHANGE_PASSWORD", "RESET_REQUIRED")

Action = Callable[[dict[str, Any]], dict[str, Any]]
_ACTIONS: dict[str, str] = {}


def action(fn: Callable) -> Callable:
    """Register a method as the handler of the AWS action of the same name."""
    _ACTIONS[fn.__name__] = fn.__name__
    return fn


def actions_of(obj: object, registry: dict[str, str]) -> dict[str, Action]:
    return {name: getattr(obj, attr) for name, attr in registry.items() if hasattr(obj, attr)}


def _page(items: list[Any], token: str | None, limit: int) -> tuple[list[Any], str | None]:
    try:
        start = int(token) if token else 0
    except ValueError:
        raise invalid("Invalid pagination token") from None
    if start < 0:
        raise invalid("Invalid pagination token")
    end = start + limit
    return items[start:end], (str(end) if end < len(items) else None)


def _attr_list(attributes: dict[str, str], only: list[str] | None = None) -> list[dict[str, str]]:
    return [{"Name": k, "Value": v} for k, v in attributes.items() if not only or k in only]


class Backend:
    def __init__(self, store: Store, keyring: KeyRing, seed: str, region: str,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.keyring = keyring
        self.seed = seed
        self.region = region
        self.clock = clock
        self.pools: dict[str, dict[str, Any]] = {k: d for k, d in store.load("pool")}
        self.clients: dict[str, dict[str, Any]] = {k: d for k, d in store.load("client")}
        self.users: dict[str, dict[str, dict[str, Any]]] = {p: {} for p in self.pools}
        self.groups: dict[str, dict[str, dict[str, Any]]] = {p: {} for p in self.pools}
        self.resource_servers: dict[str, dict[str, dict[str, Any]]] = {p: {} for p in self.pools}
        for key, doc in store.load("user"):
            self.users.setdefault(key.split("/", 1)[0], {})[doc["Username"]] = doc
        for key, doc in store.load("group"):
            self.groups.setdefault(key.split("/", 1)[0], {})[doc["GroupName"]] = doc
        for key, doc in store.load("resource_server"):
            self.resource_servers.setdefault(key.split("/", 1)[0], {})[doc["Identifier"]] = doc

    def actions(self) -> dict[str, Action]:
        return actions_of(self, _ACTIONS)

    # lookups ---------------------------------------------------------------
    def pool(self, pool_id: str) -> dict[str, Any]:
        pool = self.pools.get(pool_id)
        if pool is None:
            raise not_found(f"User pool {pool_id} does not exist.")
        return pool

    def client(self, client_id: str, pool_id: str | None = None) -> dict[str, Any]:
        client = self.clients.get(client_id)
        if client is None or (pool_id is not None and client["UserPoolId"] != pool_id):
            raise not_found(f"User pool client {client_id} does not exist.")
        return client

    def find_user(self, pool_id: str, username: str) -> dict[str, Any] | None:
        users = self.users.get(pool_id, {})
        user = users.get(username)
        if user is not None:
            return user
        pool = self.pools.get(pool_id, {})
        aliases = set(pool.get("UsernameAttributes") or []) | set(pool.get("AliasAttributes") or [])
        if "email" in aliases:
            for candidate in users.values():
                if candidate["Attributes"].get("email") == username:
                    return candidate
        return None

    def user(self, pool_id: str, username: str) -> dict[str, Any]:
        self.pool(pool_id)
        user = self.find_user(pool_id, username)
        if user is None:
            raise user_not_found()
        return user

    def group(self, pool_id: str, name: str) -> dict[str, Any]:
        group = self.groups.get(pool_id, {}).get(name)
        if group is None:
            raise not_found("Group not found.")
        return group

    def user_groups(self, pool_id: str, user: dict[str, Any]) -> list[str]:
        groups = self.groups.get(pool_id, {})
        names = [g for g in user.get("Groups", []) if g in groups]
        return sorted(names, key=lambda g: (groups[g].get("Precedence", 2**31), g))

    def save_user(self, pool_id: str, user: dict[str, Any]) -> None:
        user["UserLastModifiedDate"] = self.clock()
        self.store.put("user", f"{pool_id}/{user['Username']}", user)

    # pools -----------------------------------------------------------------
    def create_pool_record(self, pool_id: str, name: str, extra: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        policies = P.obj(extra, "Policies")
        pool = {
            **{k: v for k, v in extra.items() if k not in ("PoolName", "Policies")},
            "Id": pool_id, "Name": name,
            "Policies": {**policies, "PasswordPolicy": {**DEFAULT_POLICY, **P.obj(policies, "PasswordPolicy")}},
            "LambdaConfig": extra.get("LambdaConfig") or {},
            "Status": "Enabled", "CreationDate": now, "LastModifiedDate": now,
            "MfaConfiguration": extra.get("MfaConfiguration") or "OFF",
            "Arn": f"arn:aws:cognito-idp:{self.region}:{ACCOUNT_ID}:userpool/{pool_id}",
            "AdminCreateUserConfig": extra.get("AdminCreateUserConfig") or {"AllowAdminCreateUserOnly": False},
        }
        self.pools[pool_id] = pool
        self.users.setdefault(pool_id, {})
        self.groups.setdefault(pool_id, {})
        self.resource_servers.setdefault(pool_id, {})
        self.store.put("pool", pool_id, pool)
        return pool

    def describe_pool(self, pool: dict[str, Any]) -> dict[str, Any]:
        return {**pool, "EstimatedNumberOfUsers": len(self.users.get(pool["Id"], {}))}

    @action
    def CreateUserPool(self, p: dict[str, Any]) -> dict[str, Any]:
        name = P.req(p, "PoolName", max_len=128)
        for field in ("UsernameAttributes", "AliasAttributes", "AutoVerifiedAttributes"):
            P.string_list(p, field)
        pool_id = ids.cognito_pool_id(self.seed, self.region, name)
        n = 1
        while pool_id in self.pools:  # same name twice: deterministic, by creation order
            n += 1
            pool_id = ids.cognito_pool_id(self.seed, self.region, f"{name}#{n}")
        pool = self.create_pool_record(pool_id, name, p)
        return {"UserPool": self.describe_pool(pool)}

    @action
    def DescribeUserPool(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"UserPool": self.describe_pool(self.pool(P.req(p, "UserPoolId")))}

    @action
    def ListUserPools(self, p: dict[str, Any]) -> dict[str, Any]:
        limit = P.integer(p, "MaxResults", default=None, lo=1, hi=PAGE_MAX)
        if limit is None:
            raise invalid("1 validation error detected: Value null at 'maxResults' failed to satisfy constraint: Member must not be null")
        pools = [{"Id": x["Id"], "Name": x["Name"], "LambdaConfig": x["LambdaConfig"], "Status": x["Status"],
                  "LastModifiedDate": x["LastModifiedDate"], "CreationDate": x["CreationDate"]}
                 for x in self.pools.values()]
        page, token = _page(pools, P.string(p, "NextToken", required=False), limit)
        return {"UserPools": page, **({"NextToken": token} if token else {})}

    @action
    def DeleteUserPool(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        self.pool(pool_id)
        with self.store.transaction():
            for cid in [c for c, d in self.clients.items() if d["UserPoolId"] == pool_id]:
                self.store.delete("client", cid)
                del self.clients[cid]
            self.store.delete_prefix("user", f"{pool_id}/")
            self.store.delete_prefix("group", f"{pool_id}/")
            self.store.delete_prefix("resource_server", f"{pool_id}/")
            self.store.delete("pool", pool_id)
            self.store.revoke_pool(pool_id)
        self.users.pop(pool_id, None)
        self.groups.pop(pool_id, None)
        self.resource_servers.pop(pool_id, None)
        del self.pools[pool_id]
        self.keyring.forget(pool_id)
        return {}

    # app clients -------------------------------------------------------------
    def create_client_record(self, pool_id: str, client_id: str, name: str, extra: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        client = {
            **{k: v for k, v in extra.items() if k not in ("GenerateSecret", "UserPoolId", "ClientName")},
            "UserPoolId": pool_id, "ClientName": name, "ClientId": client_id,
            "CreationDate": now, "LastModifiedDate": now,
            "RefreshTokenValidity": extra.get("RefreshTokenValidity") or 30,
            "AllowedOAuthFlowsUserPoolClient": bool(extra.get("AllowedOAuthFlowsUserPoolClient", False)),
        }
        if extra.get("GenerateSecret"):
            client["ClientSecret"] = ids.derive_token(self.seed, "cognito-client-secret", client_id, length=51)
        self.clients[client_id] = client
        self.store.put("client", client_id, client)
        return client

    def check_client_settings(self, pool_id: str, p: dict[str, Any], has_secret: bool) -> None:
        """What Cognito checks in a client's settings, OAuth ones included (the token endpoint relies on them)."""
        P.string_list(p, "ExplicitAuthFlows")
        for field in ("AccessTokenValidity", "IdTokenValidity", "RefreshTokenValidity"):
            P.integer(p, field, lo=1, hi=315360000)
        P.boolean(p, "AllowedOAuthFlowsUserPoolClient")
        flows = P.string_list(p, "AllowedOAuthFlows")
        for flow in flows:
            P.one_of(flow, "AllowedOAuthFlows", OAUTH_FLOWS)
        if "client_credentials" in flows and {"code", "implicit"} & set(flows):
            raise CognitoError("InvalidOAuthFlowException",
                               "client_credentials flow can not be selected along with code flow or implicit flow.")
        if "client_credentials" in flows and not has_secret:
            raise CognitoError("InvalidOAuthFlowException",
                               "client_credentials flow can not be selected if client does not have a client secret.")
        servers = self.resource_servers.get(pool_id, {})
        for scope in P.string_list(p, "AllowedOAuthScopes"):
            identifier, _, name = scope.rpartition("/")
            custom = identifier in servers and any(s["ScopeName"] == name for s in servers[identifier].get("Scopes", []))
            if not custom and scope not in STANDARD_SCOPES:
                raise CognitoError("ScopeDoesNotExistException", f"Invalid scope requested: {scope}")
            if not custom and "client_credentials" in flows:
                raise CognitoError("InvalidOAuthFlowException",
                                   f"client_credentials flow can only be used with custom scopes, not {scope}")

    @action
    def CreateUserPoolClient(self, p: dict[str, Any]) -> dict[str, Any]:
        pool = self.pool(P.req(p, "UserPoolId"))
        name = P.req(p, "ClientName", max_len=128)
        self.check_client_settings(pool["Id"], p, P.boolean(p, "GenerateSecret"))
        client_id = ids.cognito_client_id(self.seed, pool["Name"], name)
        n = 1
        while client_id in self.clients:
            n += 1
            client_id = ids.cognito_client_id(self.seed, pool["Name"], f"{name}#{n}")
        return {"UserPoolClient": self.create_client_record(pool["Id"], client_id, name, p)}

    @action
    def DescribeUserPoolClient(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        self.pool(pool_id)
        return {"UserPoolClient": self.client(P.req(p, "ClientId"), pool_id)}

    @action
    def ListUserPoolClients(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        self.pool(pool_id)
        limit = P.integer(p, "MaxResults", default=PAGE_MAX, lo=1, hi=PAGE_MAX) or PAGE_MAX
        items = [{"ClientId": c["ClientId"], "UserPoolId": pool_id, "ClientName": c["ClientName"]}
                 for c in self.clients.values() if c["UserPoolId"] == pool_id]
        page, token = _page(items, P.string(p, "NextToken", required=False), limit)
        return {"UserPoolClients": page, **({"NextToken": token} if token else {})}

    @action
    def UpdateUserPoolClient(self, p: dict[str, Any]) -> dict[str, Any]:
        """As in Cognito, the settings not given go back to their defaults; id, secret and name stay."""
        pool_id = P.req(p, "UserPoolId")
        self.pool(pool_id)
        old = self.client(P.req(p, "ClientId"), pool_id)
        self.check_client_settings(pool_id, p, bool(old.get("ClientSecret")))
        name = P.string(p, "ClientName", required=False, max_len=128) or old["ClientName"]
        client = {
            **{k: v for k, v in p.items() if k not in ("UserPoolId", "ClientId", "ClientName", "ClientSecret")},
            "UserPoolId": pool_id, "ClientName": name, "ClientId": old["ClientId"],
            "CreationDate": old["CreationDate"], "LastModifiedDate": self.clock(),
            "RefreshTokenValidity": p.get("RefreshTokenValidity") or 30,
            "AllowedOAuthFlowsUserPoolClient": bool(p.get("AllowedOAuthFlowsUserPoolClient", False)),
        }
        if old.get("ClientSecret"):
            client["ClientSecret"] = old["ClientSecret"]
        self.clients[client["ClientId"]] = client
        self.store.put("client", client["ClientId"], client)
        return {"UserPoolClient": client}

    @action
    def DeleteUserPoolClient(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        self.pool(pool_id)
        client = self.client(P.req(p, "ClientId"), pool_id)
        self.store.delete("client", client["ClientId"])
        del self.clients[client["ClientId"]]
        return {}

    # users -------------------------------------------------------------------
    def derive_sub(self, pool_id: str, username: str) -> str:
        return str(uuid.UUID(bytes=ids.derive_bytes(self.seed, "cognito-sub", pool_id, username, length=16), version=4))

    def create_user_record(self, pool_id: str, username: str, attributes: dict[str, str],
                           status: str, password: str | None) -> dict[str, Any]:
        pool = self.pools[pool_id]
        sub = self.derive_sub(pool_id, username)
        if "email" in (pool.get("UsernameAttributes") or []) and "@" in username:
            attributes = {**attributes, "email": attributes.get("email", username)}
            username = sub  # real Cognito: an email-as-username pool names users by their sub
        now = self.clock()
        user = {
            "Username": username, "sub": sub,
            "Attributes": {"sub": sub, **{k: v for k, v in attributes.items() if k != "sub"}},
            "Enabled": True, "UserStatus": status, "PasswordHash": None,
            "UserCreateDate": now, "UserLastModifiedDate": now, "Groups": [],
        }
        if password:
            user.update(credentials(pool_id, username, password))
        self.users[pool_id][username] = user
        self.save_user(pool_id, user)
        return user

    def user_view(self, user: dict[str, Any], attrs_key: str = "Attributes",
                  only: list[str] | None = None) -> dict[str, Any]:
        return {
            "Username": user["Username"], attrs_key: _attr_list(user["Attributes"], only),
            "UserCreateDate": user["UserCreateDate"], "UserLastModifiedDate": user["UserLastModifiedDate"],
            "Enabled": user["Enabled"], "UserStatus": user["UserStatus"],
        }

    def set_password(self, pool_id: str, user: dict[str, Any], password: str, permanent: bool,
                     enforce_policy: bool = True) -> None:
        if enforce_policy:
            check_policy(password, self.pools[pool_id]["Policies"].get("PasswordPolicy"))
        user.update(credentials(pool_id, user["Username"], password))
        user["UserStatus"] = "CONFIRMED" if permanent else "FORCE_CHANGE_PASSWORD"
        self.save_user(pool_id, user)

    def add_verifier(self, pool_id: str, user: dict[str, Any], password: str) -> None:
        """Give a user stored before SRP verifiers were kept one, from a password just checked."""
        user.update(credentials(pool_id, user["Username"], password))
        self.save_user(pool_id, user)

    def temporary_password(self) -> str:
        return "Tmp" + secrets.token_urlsafe(9) + "1!"

    @action
    def AdminCreateUser(self, p: dict[str, Any]) -> dict[str, Any]:
        pool = self.pool(P.req(p, "UserPoolId"))
        username = P.req(p, "Username", max_len=128)
        attributes = P.attributes(p, "UserAttributes")
        P.attributes(p, "ValidationData")
        temp = P.string(p, "TemporaryPassword", required=False)
        message_action = P.string(p, "MessageAction", required=False)
        if message_action is not None:
            P.one_of(message_action, "MessageAction", ("RESEND", "SUPPRESS"))
        existing = self.find_user(pool["Id"], username)
        if message_action == "RESEND":
            if existing is None:
                raise user_not_found()
            self.set_password(pool["Id"], existing, temp or self.temporary_password(), permanent=False)
            return {"User": self.user_view(existing)}
        if existing is not None:
            raise CognitoError("UsernameExistsException", "User account already exists")
        password = temp or self.temporary_password()
        check_policy(password, pool["Policies"].get("PasswordPolicy"))
        user = self.create_user_record(pool["Id"], username, attributes, "FORCE_CHANGE_PASSWORD", password)
        return {"User": self.user_view(user)}

    @action
    def AdminSetUserPassword(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        user = self.user(pool_id, P.req(p, "Username"))
        self.set_password(pool_id, user, P.req(p, "Password", max_len=256), P.boolean(p, "Permanent"))
        return {}

    @action
    def AdminGetUser(self, p: dict[str, Any]) -> dict[str, Any]:
        user = self.user(P.req(p, "UserPoolId"), P.req(p, "Username"))
        return {**self.user_view(user, "UserAttributes"), "MFAOptions": [], "UserMFASettingList": []}

    @action
    def AdminDeleteUser(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        user = self.user(pool_id, P.req(p, "Username"))
        with self.store.transaction():
            self.store.delete("user", f"{pool_id}/{user['Username']}")
            self.store.revoke_user(pool_id, user["Username"])
        del self.users[pool_id][user["Username"]]
        return {}

    @action
    def AdminEnableUser(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._set_enabled(p, True)

    @action
    def AdminDisableUser(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._set_enabled(p, False)

    def _set_enabled(self, p: dict[str, Any], enabled: bool) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        user = self.user(pool_id, P.req(p, "Username"))
        user["Enabled"] = enabled
        self.save_user(pool_id, user)
        return {}

    @action
    def AdminUpdateUserAttributes(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        user = self.user(pool_id, P.req(p, "Username"))
        updates = P.attributes(p, "UserAttributes")
        if "sub" in updates:
            raise invalid("Cannot modify an attribute sub.")
        user["Attributes"].update(updates)
        self.save_user(pool_id, user)
        return {}

    @action
    def AdminConfirmSignUp(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        user = self.user(pool_id, P.req(p, "Username"))
        if user["UserStatus"] != "UNCONFIRMED":
            raise CognitoError("NotAuthorizedException", f"User cannot be confirmed. Current status is {user['UserStatus']}")
        user["UserStatus"] = "CONFIRMED"
        self.save_user(pool_id, user)
        return {}

    @action
    def ListUsers(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        self.pool(pool_id)
        limit = P.integer(p, "Limit", default=PAGE_MAX, lo=1, hi=PAGE_MAX) or PAGE_MAX
        only = P.string_list(p, "AttributesToGet") or None
        match = _user_filter(P.string(p, "Filter", required=False, max_len=256) or "")
        users = [u for u in self.users[pool_id].values() if match(u)]
        page, token = _page(users, P.string(p, "PaginationToken", required=False), limit)
        return {"Users": [self.user_view(u, only=only) for u in page], **({"PaginationToken": token} if token else {})}

    # groups ------------------------------------------------------------------
    def create_group_record(self, pool_id: str, name: str, description: str,
                            precedence: int | None = None, role_arn: str | None = None) -> dict[str, Any]:
        now = self.clock()
        group: dict[str, Any] = {"GroupName": name, "UserPoolId": pool_id, "Description": description,
                                 "CreationDate": now, "LastModifiedDate": now}
        if precedence is not None:
            group["Precedence"] = precedence
        if role_arn:
            group["RoleArn"] = role_arn
        self.groups[pool_id][name] = group
        self.store.put("group", f"{pool_id}/{name}", group)
        return group

    @action
    def CreateGroup(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        self.pool(pool_id)
        name = P.req(p, "GroupName", max_len=128)
        if name in self.groups[pool_id]:
            raise CognitoError("GroupExistsException", "A group with the name already exists.")
        group = self.create_group_record(
            pool_id, name, P.string(p, "Description", required=False, default="") or "",
            P.integer(p, "Precedence"), P.string(p, "RoleArn", required=False))
        return {"Group": group}

    @action
    def GetGroup(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        self.pool(pool_id)
        return {"Group": self.group(pool_id, P.req(p, "GroupName"))}

    @action
    def DeleteGroup(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        self.pool(pool_id)
        group = self.group(pool_id, P.req(p, "GroupName"))
        name = group["GroupName"]
        with self.store.transaction():
            for user in self.users[pool_id].values():
                if name in user["Groups"]:
                    user["Groups"].remove(name)
                    self.save_user(pool_id, user)
            self.store.delete("group", f"{pool_id}/{name}")
        del self.groups[pool_id][name]
        return {}

    @action
    def ListGroups(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        self.pool(pool_id)
        limit = P.integer(p, "Limit", default=PAGE_MAX, lo=1, hi=PAGE_MAX) or PAGE_MAX
        page, token = _page(list(self.groups[pool_id].values()), P.string(p, "NextToken", required=False), limit)
        return {"Groups": page, **({"NextToken": token} if token else {})}

    @action
    def AdminAddUserToGroup(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        user = self.user(pool_id, P.req(p, "Username"))
        group = self.group(pool_id, P.req(p, "GroupName"))
        if group["GroupName"] not in user["Groups"]:
            user["Groups"].append(group["GroupName"])
            self.save_user(pool_id, user)
        return {}

    @action
    def AdminRemoveUserFromGroup(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        user = self.user(pool_id, P.req(p, "Username"))
        group = self.group(pool_id, P.req(p, "GroupName"))
        if group["GroupName"] in user["Groups"]:
            user["Groups"].remove(group["GroupName"])
            self.save_user(pool_id, user)
        return {}

    @action
    def AdminListGroupsForUser(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        user = self.user(pool_id, P.req(p, "Username"))
        limit = P.integer(p, "Limit", default=PAGE_MAX, lo=1, hi=PAGE_MAX) or PAGE_MAX
        groups = [self.groups[pool_id][g] for g in self.user_groups(pool_id, user)]
        page, token = _page(groups, P.string(p, "NextToken", required=False), limit)
        return {"Groups": page, **({"NextToken": token} if token else {})}

    @action
    def ListUsersInGroup(self, p: dict[str, Any]) -> dict[str, Any]:
        pool_id = P.req(p, "UserPoolId")
        self.pool(pool_id)
        name = self.group(pool_id, P.req(p, "GroupName"))["GroupName"]
        limit = P.integer(p, "Limit", default=PAGE_MAX, lo=1, hi=PAGE_MAX) or PAGE_MAX
        users = [u for u in self.users[pool_id].values() if name in u["Groups"]]
        page, token = _page(users, P.string(p, "NextToken", required=False), limit)
        return {"Users": [self.user_view(u) for u in page], **({"NextToken": token} if token else {})}


def _user_filter(text: str) -> Callable[[dict[str, Any]], bool]:
    """Cognito's ListUsers filter: ``attr = "value"`` or ``attr ^= "prefix"``."""
    if not text.strip():
        return lambda user: True
    m = _FILTER_RE.match(text)
    if not m or m.group(1) not in _FILTERABLE:
        raise invalid("Error while parsing filter.")
    name, op, wanted = m.group(1), m.group(2), re.sub(r"\\(.)", r"\1", m.group(3))

    def value(user: dict[str, Any]) -> str:
        if name == "username":
            return user["Username"]
        if name == "cognito:user_status":
            return user["UserStatus"]
        if name == "status":
            return "Enabled" if user["Enabled"] else "Disabled"
        return user["Attributes"].get(name, "")

    if op == "=":
        return lambda user: value(user) == wanted
    return lambda user: value(user).startswith(wanted)
