"""Settings from the environment, and the pools the stack file declares.

Configuration comes only through env (the engines inject it).  The declared
config is validated here, at the boundary, so a bad stack file fails at start
with a message naming the field path instead of half-seeding a pool.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from fakes.common.config import DEFAULT_SECRET, ServiceEnv

DEFAULT_PORT = 9012
POOL_ID_RE = re.compile(r"^[\w-]+_[0-9a-zA-Z]+$")
CLIENT_ID_RE = re.compile(r"^[\w+]{1,128}$")


class ConfigError(ValueError):
    """A bad setting; the message names the variable and the field path."""


@dataclass(frozen=True)
class DeclaredUser:
    username: str
    password: str | None
    attributes: dict[str, str]
    groups: tuple[str, ...]


@dataclass(frozen=True)
class DeclaredPool:
    name: str
    id: str
    clients: tuple[tuple[str, str], ...]  # (name, id)
    groups: tuple[tuple[str, str], ...]  # (name, description)
    users: tuple[DeclaredUser, ...]


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    region: str = "us-east-1"
    seed: str = "0"
    secret: str = DEFAULT_SECRET
    state_dir: Path = Path(".hippodrome/state")
    pools: tuple[DeclaredPool, ...] = field(default_factory=tuple)
    declared: bool = False  # HIPPODROME_COGNITO_CONFIG is set: the seed owns what it declares (seeding.py)
    secret_is_default: bool = True

    @property
    def db_path(self) -> Path:
        return self.state_dir / "fake_cognito.sqlite3"


def from_env(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    try:
        common = ServiceEnv.read(env, default_port=DEFAULT_PORT)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return Settings(
        host=common.host,
        port=common.port,
        region=env.get("AWS_DEFAULT_REGION") or "us-east-1",
        seed=env.get("HIPPODROME_RANDOM_SEED") or secrets.token_hex(8),
        secret=common.secret,
        secret_is_default=common.secret_is_default,
        state_dir=common.state_dir,
        pools=parse_declared(env.get("HIPPODROME_COGNITO_CONFIG") or ""),
        declared="HIPPODROME_COGNITO_CONFIG" in env,
    )


def parse_declared(text: str) -> tuple[DeclaredPool, ...]:
    """Parse HIPPODROME_COGNITO_CONFIG; empty text means nothing declared."""
    if not text.strip():
        return ()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"HIPPODROME_COGNITO_CONFIG: not JSON: {exc}") from None
    where = "HIPPODROME_COGNITO_CONFIG"
    doc = _obj(doc, where)
    pools = _list(doc.get("userPools", []), f"{where}.userPools")
    return tuple(_pool(p, f"{where}.userPools[{i}]") for i, p in enumerate(pools))


def _pool(raw: Any, where: str) -> DeclaredPool:
    raw = _obj(raw, where)
    pool_id = _str(raw.get("id"), f"{where}.id")
    if not POOL_ID_RE.match(pool_id):
        raise ConfigError(f"{where}.id: not shaped like a pool id (<region>_<alnum>): {pool_id!r}")
    clients = []
    for i, c in enumerate(_list(raw.get("clients", []), f"{where}.clients")):
        c = _obj(c, f"{where}.clients[{i}]")
        cid = _str(c.get("id"), f"{where}.clients[{i}].id")
        if not CLIENT_ID_RE.match(cid):
            raise ConfigError(f"{where}.clients[{i}].id: not a valid client id: {cid!r}")
        clients.append((_str(c.get("name"), f"{where}.clients[{i}].name"), cid))
    groups = []
    for i, g in enumerate(_list(raw.get("groups", []), f"{where}.groups")):
        g = _obj(g, f"{where}.groups[{i}]")
        desc = g.get("description") or ""
        if not isinstance(desc, str):
            raise ConfigError(f"{where}.groups[{i}].description: expected a string")
        groups.append((_str(g.get("name"), f"{where}.groups[{i}].name"), desc))
    users = tuple(_user(u, f"{where}.users[{i}]") for i, u in enumerate(_list(raw.get("users", []), f"{where}.users")))
    return DeclaredPool(
        name=_str(raw.get("name"), f"{where}.name"), id=pool_id,
        clients=tuple(clients), groups=tuple(groups), users=users,
    )


def _user(raw: Any, where: str) -> DeclaredUser:
    raw = _obj(raw, where)
    attrs = {k: _str(v, f"{where}.attributes.{k}") for k, v in _obj(raw.get("attributes", {}), f"{where}.attributes").items()}
    if raw.get("email") is not None:
        attrs["email"] = _str(raw["email"], f"{where}.email")
    password = raw.get("password")
    return DeclaredUser(
        username=_str(raw.get("username"), f"{where}.username"),
        password=None if password is None else _str(password, f"{where}.password"),
        attributes=attrs,
        groups=tuple(_str(g, f"{where}.groups[{i}]") for i, g in enumerate(_list(raw.get("groups", []), f"{where}.groups"))),
    )


def _obj(value: Any, where: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: expected an object, got {type(value).__name__}")
    return value


def _list(value: Any, where: str) -> list:
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list, got {type(value).__name__}")
    return value


def _str(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: expected a non-empty string")
    return value


def warn(message: str) -> None:
    print(f"fake_cognito: warning: {message}", file=sys.stderr, flush=True)
