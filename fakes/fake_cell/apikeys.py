"""API keys of fake_cell: stored encrypted, looked up by HMAC, checked on `x-api-key`, each bound
to its account and the index-name prefix that belongs to it (accounts.py).

Why: the seed's API keys (registered by fake_cell itself at start, see seeding.py) are what the
control plane's services then use against the cell, and the contract (README, "Contracts") is that keys at rest are encrypted with
HIPPODROME_ENCRYPTION_SECRET. Two keys are derived from that secret with HKDF: a Fernet key
(the stored ciphertext, so the plaintext never touches the disk) and an HMAC key (a digest
column used to find a presented key without decrypting every row). A row written under
another secret cannot be decrypted: that is logged as "Failed to decrypt" and never crashes;
seeding the same name again replaces it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import sqlite3
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .accounts import Scope, parse_prefix
from .errors import CellError, invalid
from .store import now_iso

log = logging.getLogger("fake_cell.apikeys")

SCHEMA = """
CREATE TABLE IF NOT EXISTS api_keys (
    name TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    digest TEXT NOT NULL UNIQUE,
    token BLOB NOT NULL,
    created_at TEXT NOT NULL,
    index_prefix TEXT  -- NULL: the key sees every index
);
"""
MAX_FIELD = 512


def _derive(secret: str, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=b"hippodrome/fake_cell",
                info=purpose).derive(secret.encode("utf-8"))


class KeyRing:
    def __init__(self, secret: str) -> None:
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, b"api-key encryption")))
        self._mac = _derive(secret, b"api-key lookup")
        self._digests: dict[str, tuple[str, Scope]] = {}  # digest -> (name, scope), for the keys readable now

    def digest(self, key: str) -> str:
        return hmac.new(self._mac, key.encode("utf-8"), hashlib.sha256).hexdigest()

    def _decrypt(self, name: str, token: bytes) -> str | None:
        try:
            return self._fernet.decrypt(token).decode("utf-8")
        except InvalidToken:
            log.error("Failed to decrypt API key %r: it was stored with a different "
                      "HIPPODROME_ENCRYPTION_SECRET; seed it again or restore the secret", name)
            return None

    # -- called on the writer thread -------------------------------------------------------
    def load(self, conn: sqlite3.Connection) -> None:
        conn.executescript(SCHEMA)
        if "index_prefix" not in {row[1] for row in conn.execute("PRAGMA table_info(api_keys)")}:
            conn.execute("ALTER TABLE api_keys ADD COLUMN index_prefix TEXT")  # a table of an older fake_cell
        digests = {}
        for name, digest, token, account, prefix in conn.execute(
                "SELECT name, digest, token, account_id, index_prefix FROM api_keys"):
            if self._decrypt(name, token) is not None:
                digests[digest] = (name, Scope(account, prefix))
        self._digests = digests

    def create(self, conn: sqlite3.Connection, body: Any) -> tuple[int, dict[str, Any]]:
        name, key, account, prefix = _fields(body)
        digest = self.digest(key)
        row = conn.execute("SELECT account_id, token, index_prefix FROM api_keys WHERE name = ?", (name,)).fetchone()
        if row is not None:
            stored = self._decrypt(name, row[1])
            if stored is not None:
                if stored == key and row[0] == account and row[2] == prefix:
                    return 200, _public(name, account, prefix)
                raise CellError(409, "api_key_already_exists",
                                f"An API key named {name!r} already exists with another key, account or index prefix")
            conn.execute("DELETE FROM api_keys WHERE name = ?", (name,))
            log.warning("Replacing undecryptable API key %r with the one just seeded", name)
        other = conn.execute("SELECT name FROM api_keys WHERE digest = ?", (digest,)).fetchone()
        if other is not None:
            raise CellError(409, "api_key_already_exists",
                            f"This key is already registered under the name {other[0]!r}")
        token = self._fernet.encrypt(key.encode("utf-8"))
        conn.execute("INSERT INTO api_keys (name, account_id, digest, token, created_at, index_prefix) "
                     "VALUES (?, ?, ?, ?, ?, ?)", (name, account, digest, token, now_iso(), prefix))
        return 201, _public(name, account, prefix)

    def put(self, conn: sqlite3.Connection, name: str, key: str, account: str, prefix: str | None = None) -> str:
        """Make ``name`` hold exactly this key, account and prefix (the seed's way: it replaces,
        never refuses).

        Returns "created", "updated" or "unchanged". A row of another name holding the same key
        is removed first (a key identifies one name)."""
        digest = self.digest(key)
        row = conn.execute("SELECT account_id, token, index_prefix FROM api_keys WHERE name = ?", (name,)).fetchone()
        if row is not None and row[0] == account and row[2] == prefix and self._decrypt(name, row[1]) == key:
            return "unchanged"
        conn.execute("DELETE FROM api_keys WHERE digest = ? AND name != ?", (digest, name))
        conn.execute("DELETE FROM api_keys WHERE name = ?", (name,))
        conn.execute("INSERT INTO api_keys (name, account_id, digest, token, created_at, index_prefix) "
                     "VALUES (?, ?, ?, ?, ?, ?)",
                     (name, account, digest, self._fernet.encrypt(key.encode("utf-8")), now_iso(), prefix))
        return "created" if row is None else "updated"

    def delete(self, conn: sqlite3.Connection, name: str) -> bool:
        row = conn.execute("DELETE FROM api_keys WHERE name = ? RETURNING digest", (name,)).fetchone()
        return row is not None

    def refresh(self, conn: sqlite3.Connection) -> None:
        """Rebuild the lookup table after a committed change (cheap: a handful of rows)."""
        self.load(conn)

    # -- called on the event loop ----------------------------------------------------------
    def check(self, key: str | None) -> Scope | None:
        """The key's scope (its account and index prefix) if it is known, else None."""
        if not key:
            return None
        found = self._digests.get(self.digest(key))
        return None if found is None else found[1]

    @staticmethod
    def list(conn: sqlite3.Connection) -> list[dict[str, Any]]:
        rows = conn.execute("SELECT name, account_id, index_prefix FROM api_keys ORDER BY name")
        return [_public(name, account, prefix) for name, account, prefix in rows]


def _public(name: str, account: str, prefix: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "accountId": account}
    if prefix is not None:
        out["indexPrefix"] = prefix
    return out


def _fields(body: Any) -> tuple[str, str, str, str | None]:
    if not isinstance(body, dict):
        raise invalid("Body must be a JSON object with 'name', 'key', 'accountId' and, to bind the key "
                      "to its account's indexes, 'indexPrefix'")
    values = []
    for field in ("name", "key", "accountId"):
        value = body.get(field)
        if not isinstance(value, str) or not value or len(value) > MAX_FIELD:
            raise invalid(f"Invalid value for '{field}': a non-empty string of at most "
                          f"{MAX_FIELD} characters")
        values.append(value)
    return values[0], values[1], values[2], parse_prefix(body.get("indexPrefix"))
