"""Deterministic RSA signing keys, one per pool, cached encrypted.

Real Cognito gives every pool its own key; moto gives everybody one key.  Here
a pool's key is a pure function of (seed, encryption secret, pool id): an
HMAC-SHA256 DRBG feeds a sieve + Miller-Rabin prime search, so the same seed
reproduces the same JWKS and a different seed or secret gives another key.
Generation costs ~40 ms with gmpy2's modular exponentiation (a dependency where it
has wheels) and ~0.25 s with Python's own ``pow`` (the same numbers), so the PKCS#8
DER is cached in the state store, AES-GCM-encrypted under a key derived from the
secret; a cache entry that does not decrypt (the secret changed) is replaced.
OpenSSL's check of a key's numbers (~50 ms) is skipped for keys made here and for
cached ones (authenticated by AES-GCM): it would only repeat the prime tests.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections import OrderedDict
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

try:  # GMP's modular exponentiation: the prime search in ~0.05 s instead of ~0.2 s, the same numbers
    from gmpy2 import powmod as _powmod
except ImportError:  # pragma: no cover - gmpy2 is a dependency where it has wheels; elsewhere Python's own
    _powmod = pow

KEY_BITS = 2048
PUBLIC_EXPONENT = 65537
KEY_CACHE_MAX = 256  # pools whose key objects stay in memory (LRU)
_SIEVE_WINDOW = 4096  # odd offsets examined per sieve pass
_SMALL_PRIMES_BELOW = 20000
_MR_ROUNDS = 5  # after a base-2 Fermat test; FIPS 186-4 C.3 asks 5 for 1024-bit factors


def _small_primes(limit: int) -> list[int]:
    flags = bytearray([1]) * limit
    flags[0:2] = b"\x00\x00"
    for i in range(2, int(limit ** 0.5) + 1):
        if flags[i]:
            flags[i * i :: i] = bytes(len(range(i * i, limit, i)))
    return [i for i in range(3, limit) if flags[i]]


_PRIMES = _small_primes(_SMALL_PRIMES_BELOW)


class Drbg:
    """HMAC-SHA256 in counter mode: a deterministic byte stream from a key."""

    def __init__(self, key: bytes) -> None:
        self._key = key
        self._counter = 0

    def read(self, n: int) -> bytes:
        out = bytearray()
        while len(out) < n:
            out += hmac.new(self._key, self._counter.to_bytes(8, "big"), hashlib.sha256).digest()
            self._counter += 1
        return bytes(out[:n])

    def randbits(self, bits: int) -> int:
        return int.from_bytes(self.read((bits + 7) // 8), "big") >> (-bits % 8)


def _is_probable_prime(n: int, rounds: int) -> bool:
    d, s = n - 1, 0
    while not d & 1:
        d >>= 1
        s += 1
    for base in _PRIMES[:rounds]:  # fixed bases: candidates are random, not adversarial
        x = _powmod(base, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(s - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(drbg: Drbg, bits: int) -> int:
    """The first probable prime at or after a DRBG-chosen odd start (top two bits set)."""
    while True:
        start = drbg.randbits(bits) | (0b11 << (bits - 2)) | 1
        sieve = bytearray([1]) * _SIEVE_WINDOW  # index i stands for start + 2*i
        for p in _PRIMES:
            first = (-start * pow(2, -1, p)) % p
            sieve[first::p] = bytes(len(range(first, _SIEVE_WINDOW, p)))
        for i in range(_SIEVE_WINDOW):
            if not sieve[i]:
                continue
            n = start + 2 * i
            if n.bit_length() != bits or (n - 1) % PUBLIC_EXPONENT == 0:
                continue
            if _powmod(2, n - 1, n) == 1 and _is_probable_prime(n, _MR_ROUNDS):
                return n


def derive_private_key(seed: str, secret: str, pool_id: str) -> rsa.RSAPrivateKey:
    root = hmac.new(secret.encode(), f"fake_cognito/rsa/v1\x1f{seed}".encode(), hashlib.sha256).digest()
    drbg = Drbg(hmac.new(root, pool_id.encode(), hashlib.sha256).digest())
    e = PUBLIC_EXPONENT
    while True:
        p = _prime(drbg, KEY_BITS // 2)
        q = _prime(drbg, KEY_BITS // 2)
        if p == q or (p * q).bit_length() != KEY_BITS:
            continue
        if p < q:
            p, q = q, p
        phi = (p - 1) * (q - 1)
        d = pow(e, -1, phi)
        numbers = rsa.RSAPrivateNumbers(
            p=p, q=q, d=d, dmp1=d % (p - 1), dmq1=d % (q - 1), iqmp=pow(q, -1, p),
            public_numbers=rsa.RSAPublicNumbers(e, p * q),
        )
        # our own primes, tested above: OpenSSL's check of the numbers (~50 ms) would only repeat it
        return numbers.private_key(unsafe_skip_rsa_key_validation=True)


def _b64url_uint(value: int) -> str:
    raw = value.to_bytes((value.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, str]:
    numbers = key.public_key().public_numbers()
    return {"alg": "RS256", "e": _b64url_uint(numbers.e), "kid": kid, "kty": "RSA",
            "n": _b64url_uint(numbers.n), "use": "sig"}


def key_id(key: rsa.RSAPrivateKey) -> str:
    """RFC 7638 thumbprint of the public key: stable for the same key."""
    numbers = key.public_key().public_numbers()
    canonical = f'{{"e":"{_b64url_uint(numbers.e)}","kty":"RSA","n":"{_b64url_uint(numbers.n)}"}}'
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


class KeyCache(Protocol):
    def get_key_blob(self, pool_id: str) -> bytes | None: ...
    def put_key_blob(self, pool_id: str, blob: bytes) -> None: ...
    def delete_key_blob(self, pool_id: str) -> None: ...


class KeyRing:
    """Pool id -> (private key, kid); memory LRU over the encrypted persistent cache."""

    def __init__(self, seed: str, secret: str, cache: KeyCache) -> None:
        self._seed = seed
        self._secret = secret
        self._cache = cache
        self._aead = AESGCM(hashlib.sha256(f"fake_cognito/key-cache/v1\x1f{secret}".encode()).digest())
        self._memory: OrderedDict[str, tuple[rsa.RSAPrivateKey, str]] = OrderedDict()

    def get(self, pool_id: str) -> tuple[rsa.RSAPrivateKey, str]:
        hit = self._memory.get(pool_id)
        if hit is not None:
            self._memory.move_to_end(pool_id)
            return hit
        key = self._load(pool_id)
        if key is None:
            key = self.derive(pool_id)
            self._save(pool_id, key)
        return self._remember(pool_id, key)

    def _remember(self, pool_id: str, key: rsa.RSAPrivateKey) -> tuple[rsa.RSAPrivateKey, str]:
        entry = (key, key_id(key))
        self._memory[pool_id] = entry
        self._memory.move_to_end(pool_id)
        if len(self._memory) > KEY_CACHE_MAX:
            self._memory.popitem(last=False)
        return entry

    def has(self, pool_id: str) -> bool:
        """True when the key is at hand without deriving it (memory or cache)."""
        return pool_id in self._memory or self._cache.get_key_blob(pool_id) is not None

    def derive(self, pool_id: str) -> rsa.RSAPrivateKey:
        """Pure and thread-safe: callers may run it off the event loop, then ``install``."""
        return derive_private_key(self._seed, self._secret, pool_id)

    def install(self, pool_id: str, key: rsa.RSAPrivateKey) -> None:
        self._save(pool_id, key)
        self._remember(pool_id, key)

    def sealing_key(self, pool_id: str) -> bytes:
        """The AES-256 key that seals the pool's refresh tokens (tokens.py): from the secret, seed and pool,
        so tokens survive a restart and a token of another pool, seed or secret does not open."""
        return hashlib.sha256(f"fake_cognito/refresh/v1\x1f{self._secret}\x1f{self._seed}\x1f{pool_id}".encode()).digest()

    def forget(self, pool_id: str) -> None:
        self._memory.pop(pool_id, None)
        self._cache.delete_key_blob(pool_id)

    def _aad(self, pool_id: str) -> bytes:
        # Binding the seed means a cache from another seed's run is never reused.
        return f"{pool_id}\x1f{self._seed}".encode()

    def _load(self, pool_id: str) -> rsa.RSAPrivateKey | None:
        blob = self._cache.get_key_blob(pool_id)
        if not blob or len(blob) < 13:
            return None
        try:
            der = self._aead.decrypt(blob[:12], blob[12:], self._aad(pool_id))
        except InvalidTag:
            return None
        key = serialization.load_der_private_key(der, password=None, unsafe_skip_rsa_key_validation=True)
        return key if isinstance(key, rsa.RSAPrivateKey) else None

    def _save(self, pool_id: str, key: rsa.RSAPrivateKey) -> None:
        der = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        nonce = os.urandom(12)
        self._cache.put_key_blob(pool_id, nonce + self._aead.encrypt(nonce, der, self._aad(pool_id)))
