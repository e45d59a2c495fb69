"""The seed's API keys, registered by fake_cell itself at start, before `/healthz` answers 200.

Why here and not in the engine: seed data belongs to the stack, and both engines must seed the
same way; in a cluster no local seeder runs, so a cell that waited to be told its keys refused
every call. The resolver renders the seeded accounts into `HIPPODROME_SEED_CONFIG`
(`${seedData.config}`: `{"accounts": [{"name", "id", "apiKeys": {key name: key}, "indexPrefix"}, ...]}`).
`indexPrefix` (from the stack's `seedData.accounts[].cellIndexPrefix`) binds the account's keys to
the indexes whose names start with it (accounts.py); without it they see every index.

The seed owns what it created: a ledger table records the keys and accounts it registered. When
the seed changes, exactly the previously seeded keys that are no longer declared are removed,
keys users registered for an account that left the seed go with it (and are listed), and the
declared keys replace whatever holds their names. Keys users registered otherwise are kept.
`plan_changes` is the pure decision; `apply` does it in one transaction.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any, Mapping

from .apikeys import KeyRing

LEDGER_SCHEMA = """
CREATE TABLE IF NOT EXISTS seed_ledger (
    kind TEXT NOT NULL,          -- 'api_key' (name = account/key) or 'account' (name = account name)
    name TEXT NOT NULL,
    account_id TEXT NOT NULL,
    PRIMARY KEY (kind, name)
);
"""


@dataclass(frozen=True)
class SeededKey:
    name: str  # "<account name>/<key name>", as `hippodrome env` and the logs name it
    key: str
    account_id: str
    index_prefix: str | None = None  # None: the key sees every index


@dataclass(frozen=True)
class SeedAccount:
    name: str
    id: str
    keys: tuple[SeededKey, ...]


@dataclass(frozen=True)
class Ledger:
    keys: Mapping[str, str]  # seeded key name -> account id
    accounts: Mapping[str, str]  # seeded account name -> account id


@dataclass(frozen=True)
class KeyChanges:
    put: tuple[SeededKey, ...]  # declared keys: created, or replacing what holds the name
    remove: tuple[str, ...]  # keys the previous seed created that are no longer declared
    dropped: Mapping[str, tuple[str, ...]]  # "account (id)" that left the seed -> user keys dropped with it


def parse_seed_config(text: str) -> tuple[SeedAccount, ...]:
    """HIPPODROME_SEED_CONFIG -> accounts; a ValueError names what is wrong."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValueError(f"HIPPODROME_SEED_CONFIG is not valid JSON: {exc}") from None
    accounts = doc.get("accounts") if isinstance(doc, dict) else None
    if not isinstance(accounts, list):
        raise ValueError("HIPPODROME_SEED_CONFIG must be a JSON object with an 'accounts' list")
    out = []
    for n, account in enumerate(accounts):
        where = f"HIPPODROME_SEED_CONFIG accounts[{n}]"
        if not isinstance(account, dict) or not isinstance(account.get("name"), str) or not isinstance(account.get("id"), str):
            raise ValueError(f"{where}: needs string 'name' and 'id'")
        keys = account.get("apiKeys", {})
        if not isinstance(keys, dict) or not all(isinstance(k, str) and isinstance(v, str) and v for k, v in keys.items()):
            raise ValueError(f"{where}.apiKeys: must map key names to non-empty key strings")
        prefix = account.get("indexPrefix")
        if prefix is not None and not isinstance(prefix, str):
            raise ValueError(f"{where}.indexPrefix: must be a string (or absent: the keys see every index)")
        out.append(SeedAccount(account["name"], account["id"], tuple(
            SeededKey(f"{account['name']}/{key_name}", key, account["id"], prefix) for key_name, key in keys.items())))
    return tuple(out)


def plan_changes(ledger: Ledger, accounts: tuple[SeedAccount, ...], existing: Mapping[str, str]) -> KeyChanges:
    """What to do, given the previous seed's ledger, the declared accounts and the keys stored now
    (name -> account id)."""
    declared = {key.name: key for account in accounts for key in account.keys}
    kept_account_ids = {account.id for account in accounts}
    remove = tuple(sorted(name for name in ledger.keys if name not in declared and name in existing))
    dropped: dict[str, tuple[str, ...]] = {}
    for account_name, account_id in sorted(ledger.accounts.items()):
        if account_id in kept_account_ids:
            continue
        users_keys = tuple(sorted(name for name, owner in existing.items()
                                  if owner == account_id and name not in ledger.keys and name not in declared))
        if users_keys:
            dropped[f"{account_name} ({account_id})"] = users_keys
    return KeyChanges(put=tuple(declared.values()), remove=remove, dropped=dropped)


def apply(conn: sqlite3.Connection, keyring: KeyRing, accounts: tuple[SeedAccount, ...]) -> list[str]:
    """Bring the stored keys in line with the seed (inside the caller's transaction); lines to log."""
    conn.execute(LEDGER_SCHEMA)
    ledger = Ledger(
        keys=dict(conn.execute("SELECT name, account_id FROM seed_ledger WHERE kind = 'api_key'").fetchall()),
        accounts=dict(conn.execute("SELECT name, account_id FROM seed_ledger WHERE kind = 'account'").fetchall()))
    existing = dict(conn.execute("SELECT name, account_id FROM api_keys").fetchall())
    changes = plan_changes(ledger, accounts, existing)
    lines = []
    for name in changes.remove:
        keyring.delete(conn, name)
    if changes.remove:
        lines.append(f"seed: removed API keys no longer in the seed: {', '.join(changes.remove)}")
    for account, names in changes.dropped.items():
        for name in names:
            keyring.delete(conn, name)
        lines.append(f"seed: account {account} left the seed; dropped its API keys: {', '.join(names)}")
    outcomes: dict[str, int] = {}
    for key in changes.put:
        outcome = keyring.put(conn, key.name, key.key, key.account_id, key.index_prefix)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    conn.execute("DELETE FROM seed_ledger")
    conn.executemany("INSERT INTO seed_ledger (kind, name, account_id) VALUES ('api_key', ?, ?)",
                     [(key.name, key.account_id) for key in changes.put])
    conn.executemany("INSERT INTO seed_ledger (kind, name, account_id) VALUES ('account', ?, ?)",
                     [(account.name, account.id) for account in accounts])
    summary = ", ".join(f"{count} {outcome}" for outcome, count in sorted(outcomes.items())) or "none declared"
    lines.append(f"seed: {len(changes.put)} API keys for {len(accounts)} accounts ({summary})")
    return lines


def seed_config_from_env(env: Mapping[str, Any]) -> tuple[SeedAccount, ...] | None:
    text = env.get("HIPPODROME_SEED_CONFIG")
    return None if text is None else parse_seed_config(text)
