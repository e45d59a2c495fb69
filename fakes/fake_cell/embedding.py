"""A deterministic local "model": hashed bag of words into a fixed-size, L2-normalised vector.

Why: TENSOR search must work offline, instantly and reproducibly, with no model download.
Hashing words (crc32, stable across processes, unlike `hash()`) into `dim` buckets gives
vectors whose cosine similarity is high when texts share words, so a query ranks documents
containing its words above documents that do not. Vectors are sparse (a short text touches a
few buckets), so they are kept and stored as (indices, values) pairs; `dense` expands one for
the API (`/embed`, `expose_facets`).
"""

from __future__ import annotations

import math
import re
import struct
import zlib
from array import array
from typing import Iterable

DEFAULT_DIM = 768  # hf/e5-base-v2, Marqo 2's default model, has 768 dimensions

Sparse = tuple[tuple[int, ...], tuple[float, ...]]

_WORD = re.compile(r"\w+", re.UNICODE)
_STOP = frozenset(
    "a an and are as at be by for from has in is it its of on or that the to was were will with"
    .split()
)
_buckets: dict[int, dict[str, int | None]] = {}  # dim -> raw word -> bucket (None: stop word)
_BUCKET_CACHE_MAX = 200_000


def _token(word: str) -> str | None:
    if word in _STOP:
        return None
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def tokens(text: str) -> list[str]:
    """Lower-cased words without stop words, with a plural 's' stripped ("shoes" ~ "shoe")."""
    return [t for t in map(_token, _WORD.findall(text.lower())) if t is not None]


def embed(text: str, dim: int = DEFAULT_DIM) -> Sparse:
    """Sparse unit vector of `text` (1 + log tf per bucket); empty when the text has no words.

    Buckets are listed in the order their words first occur. Hot path of adding documents:
    words are looked up in the bucket cache in one comprehension, and the usual case of a text
    whose buckets are all distinct skips the counting.
    """
    cache = _buckets.get(dim)
    if cache is None or len(cache) > _BUCKET_CACHE_MAX:
        cache = _buckets[dim] = {}
    words = _WORD.findall(text.lower())
    try:
        buckets = [cache[word] for word in words]
    except KeyError:
        for word in words:
            if word not in cache:
                token = _token(word)
                cache[word] = None if token is None else zlib.crc32(token.encode()) % dim
        buckets = [cache[word] for word in words]
    if None in buckets:
        buckets = [b for b in buckets if b is not None]
    if not buckets:
        return (), ()
    n = len(buckets)
    if len(set(buckets)) == n:  # every weight 1.0: the same floats as the general case
        return tuple(buckets), (1.0 / math.sqrt(n),) * n
    counts: dict[int, int] = {}
    for bucket in buckets:
        counts[bucket] = counts.get(bucket, 0) + 1
    weights = [1.0 if c == 1 else 1.0 + math.log(c) for c in counts.values()]
    norm = math.sqrt(sum(w * w for w in weights))
    return tuple(counts), tuple(w / norm for w in weights)


def normalise(weights: dict[int, float]) -> Sparse:
    norm = math.sqrt(sum(v * v for v in weights.values()))
    if norm == 0.0:
        return (), ()
    items = sorted(weights.items())
    return tuple(i for i, _ in items), tuple(v / norm for _, v in items)


def combine(parts: Iterable[tuple[Sparse, float]]) -> Sparse:
    """Normalised weighted sum (weighted queries, multimodal_combination, recommend)."""
    acc: dict[int, float] = {}
    for (idx, vals), weight in parts:
        for i, v in zip(idx, vals):
            acc[i] = acc.get(i, 0.0) + weight * v
    return normalise({i: v for i, v in acc.items() if v != 0.0})


def from_dense(vector: list[float]) -> Sparse:
    """A custom vector, normalised like Marqo does with normalizeEmbeddings."""
    return normalise({i: float(v) for i, v in enumerate(vector) if v})


def dense(vec: Sparse, dim: int) -> list[float]:
    out = [0.0] * dim
    for i, v in zip(*vec):
        out[i] = v
    return out


def dot(a: Sparse, b: Sparse) -> float:
    bmap = dict(zip(*b))
    return sum(v * bmap.get(i, 0.0) for i, v in zip(*a))


_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")


def pack_many(vectors: list[tuple[str, Sparse]]) -> bytes:
    """All the (field, vector) pairs of one document as one blob (each vector as `pack`)."""
    out = [_U16.pack(len(vectors))]
    for field, (idx, vals) in vectors:
        name = field.encode("utf-8")
        out += (_U16.pack(len(name)), name, _U32.pack(len(idx)), array("I", idx).tobytes(),
                array("f", vals).tobytes())
    return b"".join(out)


def unpack_many(blob: bytes | None) -> list[tuple[str, Sparse]]:
    if not blob:
        return []
    (count,) = struct.unpack_from("<H", blob)
    pos, out = 2, []
    for _ in range(count):
        (length,) = struct.unpack_from("<H", blob, pos)
        field = blob[pos + 2:pos + 2 + length].decode("utf-8")
        pos += 2 + length
        (n,) = struct.unpack_from("<I", blob, pos)
        out.append((field, unpack(blob[pos:pos + 4 + 8 * n])))
        pos += 4 + 8 * n
    return out


def pack(vec: Sparse) -> bytes:
    """Compact storage: count, then uint32 indices, then float32 values."""
    idx, vals = vec
    return struct.pack("<I", len(idx)) + array("I", idx).tobytes() + array("f", vals).tobytes()


def unpack(blob: bytes) -> Sparse:
    (n,) = struct.unpack_from("<I", blob)
    idx = array("I")
    idx.frombytes(blob[4:4 + 4 * n])
    vals = array("f")
    vals.frombytes(blob[4 + 4 * n:4 + 8 * n])
    return tuple(idx), tuple(vals)
