"""Who is calling: a customer's API key (looked up in DynamoDB) or the system key.

- Customer: ``x-api-key: <key>``.  Only its sha256 is stored (``api_keys`` table,
  ``{key_hash, account_id, name}``); a hit gives the account.  Hits are cached (capped, short
  TTL); misses are not, so a new key works at once.
- System: ``x-api-key: $CELL_API_KEY`` (the system account's key, injected into every
  service) plus ``x-hippodrome-account: <account_id>`` to act for an account.  Internal
  services (admin_server, ecom_indexer, exporters, admin_worker) use it because they hold an
  account id, never a customer's plaintext key.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from botocore.exceptions import ClientError

from . import aws
from .cache import TtlLru
from .errors import ApiError, bad_request, unauthorized
from .naming import ACCOUNT_ID

ACCOUNT_HEADER = "x-hippodrome-account"
KEY_HEADER = "x-api-key"


@dataclass(frozen=True)
class Principal:
    account_id: str | None  # None: the system key without an account header
    system: bool = False

    def require_account(self) -> str:
        if self.account_id is None:
            raise bad_request(f"The system key acts for an account: send its id in {ACCOUNT_HEADER}",
                              field=ACCOUNT_HEADER)
        return self.account_id


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def system_headers(system_key: str, account_id: str) -> dict[str, str]:
    """Headers for an internal call made on behalf of an account."""
    return {KEY_HEADER: system_key, ACCOUNT_HEADER: account_id}


class ApiKeys:
    def __init__(self, dynamodb: Any, table: str, system_key: str, *, cache_size: int = 1024,
                 cache_ttl: float = 60.0) -> None:
        self.dynamodb = dynamodb
        self.table = table
        self.system_key = system_key
        self._cache = TtlLru(cache_size, cache_ttl)

    async def account_for_key(self, key: str) -> str | None:
        digest = key_hash(key)
        cached = self._cache.get(digest)
        if cached is not None:
            return cached
        try:
            response = await aws.call(self.dynamodb.get_item, TableName=self.table, Key=aws.key(key_hash=digest))
        except ClientError as e:
            raise ApiError(502, "aws_error", f"API key lookup failed: {aws.error_code(e)}") from None
        item = aws.from_item(response.get("Item")) or {}
        account = item.get("account_id")
        if isinstance(account, str) and account:
            self._cache.set(digest, account)
            return account
        return None

    async def principal(self, request: web.Request) -> Principal:
        key = request.headers.get(KEY_HEADER, "").strip()
        if not key:
            raise unauthorized()
        if self.system_key and hmac.compare_digest(key.encode(), self.system_key.encode()):
            account = request.headers.get(ACCOUNT_HEADER, "").strip() or None
            if account is not None and not ACCOUNT_ID.match(account):
                raise bad_request(f"{ACCOUNT_HEADER} is not an account id", field=ACCOUNT_HEADER)
            return Principal(account, system=True)
        account = await self.account_for_key(key)
        if account is None:
            raise unauthorized("Unknown API key")
        return Principal(account)

    async def account(self, request: web.Request) -> str:
        return (await self.principal(request)).require_account()

    async def ready(self) -> None:
        await aws.table_ready(self.dynamodb, self.table)
