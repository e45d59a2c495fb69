"""Deterministic identifiers derived from the run's seed.

With the same ``HIPPODROME_RANDOM_SEED`` every run derives the same Cognito
pool and client ids, account ids and API keys, so the resolver can render them
into services' env before any fake has started, and tests can hard-code
nothing yet still find the same data every run.  Every function here is pure.
"""

from __future__ import annotations

import hashlib
import hmac

_ALNUM_UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
_LOWER_ALNUM = "abcdefghijklmnopqrstuvwxyz0123456789"


def derive_bytes(seed: str, *parts: str, length: int = 32) -> bytes:
    """Stable pseudo-random bytes for (seed, parts); different parts never collide."""
    out = b""
    counter = 0
    message = "\x1f".join(parts).encode()
    while len(out) < length:
        out += hmac.new(f"{seed}:{counter}".encode(), message, hashlib.sha256).digest()
        counter += 1
    return out[:length]


def derive_token(seed: str, *parts: str, length: int, alphabet: str = _LOWER_ALNUM) -> str:
    raw = derive_bytes(seed, *parts, length=length)
    return "".join(alphabet[b % len(alphabet)] for b in raw)


def cognito_pool_id(seed: str, region: str, pool_name: str) -> str:
    """A pool id shaped like Cognito's: ``<region>_<9 alphanumerics>``."""
    return f"{region}_{derive_token(seed, 'cognito-pool', pool_name, length=9, alphabet=_ALNUM_UPPER)}"


def cognito_client_id(seed: str, pool_name: str, client_name: str) -> str:
    """An app client id shaped like Cognito's: 26 lowercase alphanumerics."""
    return derive_token(seed, "cognito-client", pool_name, client_name, length=26)


def account_id(seed: str, account_name: str) -> str:
    """A 12-digit account id."""
    raw = derive_bytes(seed, "account", account_name, length=12)
    return "".join(str(b % 10) for b in raw)


def system_account_id(seed: str, account_name: str) -> str:
    return "sys-" + derive_token(seed, "system-account", account_name, length=16)


def api_key(seed: str, account_name: str, key_name: str) -> str:
    return "hk_" + derive_token(seed, "api-key", account_name, key_name, length=40, alphabet=_ALNUM_UPPER)


def api_key_hash(key: str) -> str:
    """How API keys are stored where they are only checked (DynamoDB): never in plaintext."""
    return hashlib.sha256(key.encode()).hexdigest()
