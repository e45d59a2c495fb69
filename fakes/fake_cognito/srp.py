"""Cognito's Secure Remote Password (SRP-6a) variant: the maths of USER_SRP_AUTH, pure functions.

Why a module of its own: this is the one place where fake_cognito must agree bit for bit with
the client libraries (``amazon-cognito-identity-js``'s AuthenticationHelper, pycognito's
``AWSSRP``), so it is kept free of I/O and state and tested against vectors produced by them.

The protocol, as Cognito runs it (H = SHA-256 over bytes, ``pad`` = ``pad_hex`` below)::

    N, g = the 3072-bit RFC 5054 group, 2          k = H(pad(N) | pad(g))
    stored per user:  salt, v = g^x mod N          x = H(pad(salt) | H(pool | user | ":" | password))
    client -> SRP_A = g^a mod N
    server -> SRP_B = k*v + g^b mod N, SALT, SECRET_BLOCK (opaque to the client), USER_ID_FOR_SRP
    both:     u = H(pad(A) | pad(B))
              S = (B - k*g^x)^(a + u*x)  (client)   = (A * v^u)^b  (server)   mod N
              key = HKDF-SHA256(ikm=pad(S), salt=pad(u), info="Caldera Derived Key", 16 bytes)
    client -> PASSWORD_CLAIM_SIGNATURE = base64(HMAC-SHA256(key, pool | user | SECRET_BLOCK bytes | TIMESTAMP))

``pool`` is the part of the pool id after the underscore, ``user`` is USER_ID_FOR_SRP (the
stored username), and TIMESTAMP reads like ``Tue Dec 2 01:10:09 UTC 2026`` (day not padded).
``pad`` is not RFC 5054's pad-to-length-of-N: it is the two's-complement byte form of Java's
``BigInteger.toByteArray()`` (even length, a ``00`` byte in front when the top bit is set),
which is what every Cognito client computes.

The client half (``client_key``) is here for the tests and the benchmark; the fake itself only
runs the server half.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from datetime import datetime, timezone
from typing import Callable

N_HEX = (
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD"
    "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"
    "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F"
    "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B"
    "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510"
    "15728E5A8AAAC42DAD33170D04507A33A85521ABDF1CBA64ECFB850458DBEF0A8AEA71575D060C7DB3970F85A6E1E4C7"
    "ABF5AE8CDB0933D71E8C94E04A25619DCEE3D2261AD2EE6BF12FFA06D98A0864D87602733EC86A64521F2B18177B200C"
    "BBE117577A615D6C770988C0BAD946E208E24FA074E5AB3143DB5BFCE0FD108E4B82D120A93AD2CAFFFFFFFFFFFFFFFF"
)
N = int(N_HEX, 16)
G = 2
INFO = b"Caldera Derived Key"
SALT_BYTES = 16
EPHEMERAL_BYTES = 32  # the server's secret b: 256 bits, far above the group's ~128-bit security level
_TIMESTAMP_RE = re.compile(r"^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) "
                           r"([1-9]|[12][0-9]|3[01]) ([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]) UTC ([0-9]{4})$")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def pad_hex(value: int) -> str:
    """A non-negative integer as the even-length hex of its two's-complement bytes (lower case)."""
    if value < 0:
        raise ValueError("pad_hex: negative values do not occur in this protocol")
    text = format(value, "x")
    if len(text) % 2:
        text = "0" + text
    if text[0] in "89abcdef":
        text = "00" + text
    return text


def hex_hash(hex_text: str) -> str:
    """SHA-256 of the bytes a hex string spells, as 64 hex digits."""
    return hashlib.sha256(bytes.fromhex(hex_text)).hexdigest()


K = int(hex_hash(pad_hex(N) + pad_hex(G)), 16)


def pool_name(pool_id: str) -> str:
    """The part of a pool id that SRP hashes: ``us-east-1_AbC123`` -> ``AbC123``."""
    return pool_id.split("_", 1)[1]


def new_salt(rand: Callable[[int], bytes] = os.urandom) -> int:
    """A random salt whose hex has no leading zero (clients re-parse SALT as a number and would drop it)."""
    while True:
        salt = int.from_bytes(rand(SALT_BYTES), "big")
        if salt >> (8 * SALT_BYTES - 4):
            return salt


def x_value(pool_id: str, username: str, password: str, salt: int) -> int:
    inner = hashlib.sha256(f"{pool_name(pool_id)}{username}:{password}".encode()).hexdigest()
    return int(hex_hash(pad_hex(salt) + inner), 16)


def verifier(pool_id: str, username: str, password: str, salt: int) -> int:
    """v = g^x mod N: what is stored instead of the password."""
    return pow(G, x_value(pool_id, username, password, salt), N)


def server_public(v: int, b: int) -> int:
    """SRP_B = k*v + g^b mod N."""
    return (K * v + pow(G, b, N)) % N


def u_value(a_public: int, b_public: int) -> int:
    return int(hex_hash(pad_hex(a_public) + pad_hex(b_public)), 16)


def hkdf(ikm: bytes, salt: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869) with Cognito's info string, first 16 bytes."""
    prk = hmac.new(salt, ikm, hashlib.sha256).digest()
    return hmac.new(prk, INFO + b"\x01", hashlib.sha256).digest()[:16]


def session_key(s: int, u: int) -> bytes:
    """The 16-byte key both sides derive from S and u."""
    return hkdf(bytes.fromhex(pad_hex(s)), bytes.fromhex(pad_hex(u)))


def server_key(a_public: int, b_public: int, b: int, v: int) -> bytes | None:
    """The server's session key; None when A is unacceptable (A mod N == 0) or u == 0."""
    if a_public % N == 0:
        return None
    u = u_value(a_public, b_public)
    if u == 0:
        return None
    return session_key(pow(a_public * pow(v, u, N) % N, b, N), u)


def client_key(pool_id: str, username: str, password: str, salt: int, a: int, b_public: int) -> bytes:
    """The client's session key (what amazon-cognito-identity-js and pycognito compute)."""
    if b_public % N == 0:
        raise ValueError("B cannot be zero")
    u = u_value(pow(G, a, N), b_public)
    x = x_value(pool_id, username, password, salt)
    s = pow((b_public - K * pow(G, x, N)) % N, a + u * x, N)
    return session_key(s, u)


def claim_signature(key: bytes, pool_id: str, username: str, secret_block: str, timestamp: str) -> str:
    """PASSWORD_CLAIM_SIGNATURE: base64 HMAC-SHA256 over pool name, user, secret block bytes, timestamp."""
    message = pool_name(pool_id).encode() + username.encode() + base64.b64decode(secret_block) + timestamp.encode()
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def format_timestamp(when: datetime) -> str:
    """``Tue Dec 2 01:10:09 UTC 2026``: English names, day of month without zero padding, UTC."""
    when = when.astimezone(timezone.utc)
    return (f"{_DAYS[when.weekday()]} {_MONTHS[when.month - 1]} {when.day} "
            f"{when.hour:02d}:{when.minute:02d}:{when.second:02d} UTC {when.year}")


def parse_timestamp(text: str) -> datetime | None:
    """The instant a TIMESTAMP names, or None when it is not in Cognito's format (or names no real day)."""
    m = _TIMESTAMP_RE.match(text)
    if m is None:
        return None
    try:
        when = datetime(int(m.group(7)), _MONTHS.index(m.group(2)) + 1, int(m.group(3)), int(m.group(4)),
                        int(m.group(5)), int(m.group(6)), tzinfo=timezone.utc)
    except ValueError:
        return None
    return when if _DAYS[when.weekday()] == m.group(1) else None


def parse_hex(text: str) -> int | None:
    """A hex number from the wire (SRP_A); None when it is not one."""
    if not text or len(text) > 2 * 1024 or not re.fullmatch(r"[0-9a-fA-F]+", text):
        return None
    return int(text, 16)
