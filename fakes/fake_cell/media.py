"""Images in image indexes: which values are pointers, reading them, and their vectors.

Why: in an index with `treatUrlsAndPointersAsImages` (or `...AsMedia`), and for structured
`image_pointer` fields, Marqo downloads each tensor field's image; a document whose image cannot
be fetched or decoded gets a per-document error in the add response ("Could not find image found
at `<url>`. Reason: ...") while the others are indexed. This fake never fetches anything over the
network (these machines have no internet, and a test must not depend on one): `http(s)://` URLs
are the unreachable case, with Marqo's message; `file://` and `data:` URLs are read. A readable
image gets a deterministic vector derived from its bytes, so the same image finds itself; it does
not land near text about it (the hashed "model" has no vision).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from pathlib import Path
from urllib.parse import unquote, urlparse

from .embedding import Sparse

POINTER_PREFIXES = ("http://", "https://", "file://", "data:")
MAX_IMAGE_BYTES = 20 * 1024 * 1024
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"GIF87a", b"GIF89a", b"BM", b"II*\x00", b"MM\x00*")
BUCKETS = 16  # non-zero components of an image vector


class MediaError(Exception):
    """Why an image could not be used (the `Reason:` of Marqo's message)."""


def is_pointer(value: str) -> bool:
    return value.startswith(POINTER_PREFIXES)


def read(url: str) -> bytes:
    if url.startswith("data:"):
        header, sep, payload = url[5:].partition(",")
        if not sep or not header.endswith(";base64"):
            raise MediaError("a data URL must be base64-encoded (data:image/png;base64,...)")
        try:
            return base64.b64decode(payload, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MediaError(f"the data URL is not valid base64: {exc}") from None
    if url.startswith("file://"):
        path = Path(unquote(urlparse(url).path))
        try:
            if path.stat().st_size > MAX_IMAGE_BYTES:
                raise MediaError(f"the file is larger than {MAX_IMAGE_BYTES} bytes")
            return path.read_bytes()
        except OSError as exc:
            raise MediaError(str(exc)) from None
    if url.startswith(("http://", "https://")):
        raise MediaError(f"Marqo encountered an error when downloading the image url {url}. The original error "
                         "is: fake_cell does not download over the network (use a file:// or data: URL)")
    raise MediaError(f"{url!r} is not an image URL (http(s)://, file:// or data:)")


def check_image(data: bytes) -> None:
    if not (data.startswith(IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP")):
        raise MediaError("cannot identify image file")


def image_vector(data: bytes, dim: int) -> Sparse:
    """Unit vector over BUCKETS buckets chosen by the image's SHA-256 (identical images: equal)."""
    digest = hashlib.sha256(data).digest()
    weights: dict[int, float] = {}
    for n in range(BUCKETS):
        chunk = digest[2 * n:2 * n + 2]
        bucket = int.from_bytes(chunk, "big") % dim
        weights[bucket] = weights.get(bucket, 0.0) + 1.0
    norm = math.sqrt(sum(w * w for w in weights.values()))
    items = sorted(weights.items())
    return tuple(i for i, _ in items), tuple(w / norm for _, w in items)


def load_vector(url: str, dim: int) -> Sparse:
    """The vector of the image at `url`, or MediaError."""
    data = read(url)
    check_image(data)
    return image_vector(data, dim)


def error_message(url: str, reason: MediaError) -> str:
    return f"Could not find image found at `{url}`. Reason: {reason}"
