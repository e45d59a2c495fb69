"""Persistence: one SQLite file in the state dir, ``fake_cognito.sqlite3``.

SQLite in WAL mode with ``synchronous=NORMAL`` makes every committed write
survive a kill -9 of the process (only a machine crash could lose the last
transactions) and every write atomic, without rewriting a whole state file per
login.  Pools, clients, users and groups are JSON documents in ``objects``
(the backend keeps them in memory too and writes through); refresh-token
records live only here, so memory does not grow with logins; encrypted signing
keys live in ``keys``.  Everything runs on the event-loop thread.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

REFRESH_TOKENS_PER_USER_MAX = 200  # oldest sign-in sessions of a user are dropped past this

_SCHEMA = """
CREATE TABLE IF NOT EXISTS objects (
    kind TEXT NOT NULL, key TEXT NOT NULL, doc TEXT NOT NULL, PRIMARY KEY (kind, key)
);
CREATE TABLE IF NOT EXISTS refresh_tokens (
    jti TEXT PRIMARY KEY, pool_id TEXT NOT NULL, username TEXT NOT NULL,
    client_id TEXT NOT NULL, auth_time INTEGER NOT NULL, expires REAL NOT NULL, created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS refresh_by_user ON refresh_tokens (pool_id, username, created);
CREATE TABLE IF NOT EXISTS keys (pool_id TEXT PRIMARY KEY, blob BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


class Store:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several writes atomically (not re-entrant)."""
        self._db.execute("BEGIN")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # documents -----------------------------------------------------------
    def load(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for key, doc in self._db.execute("SELECT key, doc FROM objects WHERE kind = ? ORDER BY rowid", (kind,)):
            yield key, json.loads(doc)

    def put(self, kind: str, key: str, doc: dict[str, Any]) -> None:
        self._db.execute(
            "INSERT INTO objects (kind, key, doc) VALUES (?, ?, ?) "
            "ON CONFLICT (kind, key) DO UPDATE SET doc = excluded.doc",
            (kind, key, json.dumps(doc, separators=(",", ":"))),
        )

    def delete(self, kind: str, key: str) -> None:
        self._db.execute("DELETE FROM objects WHERE kind = ? AND key = ?", (kind, key))

    def delete_prefix(self, kind: str, prefix: str) -> None:
        self._db.execute("DELETE FROM objects WHERE kind = ? AND substr(key, 1, ?) = ?", (kind, len(prefix), prefix))

    # small named values (the seed's ledger) ------------------------------
    def get_meta(self, name: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return None if row is None else row[0]

    def put_meta(self, name: str, value: str) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    # refresh tokens --------------------------------------------------------
    def add_refresh(self, jti: str, pool_id: str, username: str, client_id: str, auth_time: int, expires: float) -> None:
        now = time.time()
        with self.transaction():
            self._db.execute(
                "INSERT OR REPLACE INTO refresh_tokens VALUES (?, ?, ?, ?, ?, ?, ?)",
                (jti, pool_id, username, client_id, auth_time, expires, now),
            )
            self._db.execute(
                "DELETE FROM refresh_tokens WHERE jti IN (SELECT jti FROM refresh_tokens "
                "WHERE pool_id = ? AND username = ? ORDER BY created DESC LIMIT -1 OFFSET ?)",
                (pool_id, username, REFRESH_TOKENS_PER_USER_MAX),
            )

    def get_refresh(self, jti: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT pool_id, username, client_id, auth_time, expires FROM refresh_tokens WHERE jti = ?", (jti,)
        ).fetchone()
        if row is None:
            return None
        return dict(zip(("pool_id", "username", "client_id", "auth_time", "expires"), row))

    def revoke_refresh(self, jti: str) -> None:
        self._db.execute("DELETE FROM refresh_tokens WHERE jti = ?", (jti,))

    def revoke_user(self, pool_id: str, username: str) -> None:
        self._db.execute("DELETE FROM refresh_tokens WHERE pool_id = ? AND username = ?", (pool_id, username))

    def revoke_pool(self, pool_id: str) -> None:
        self._db.execute("DELETE FROM refresh_tokens WHERE pool_id = ?", (pool_id,))

    # signing keys (encrypted blobs, see keys.py) -------------------------
    def get_key_blob(self, pool_id: str) -> bytes | None:
        row = self._db.execute("SELECT blob FROM keys WHERE pool_id = ?", (pool_id,)).fetchone()
        return None if row is None else bytes(row[0])

    def put_key_blob(self, pool_id: str, blob: bytes) -> None:
        self._db.execute("INSERT OR REPLACE INTO keys VALUES (?, ?)", (pool_id, blob))

    def delete_key_blob(self, pool_id: str) -> None:
        self._db.execute("DELETE FROM keys WHERE pool_id = ?", (pool_id,))
