"""Turn one incoming document into what the store writes, or into a per-item error.

Why: Marqo reports a bad document as an item of the batch response (`status` 400 with a
message) while the good ones are indexed, so validation is per document and must not raise
through the batch. This module is pure: given the index settings and the request's
tensorFields/mappings it returns a `Prepared` (the stored body plus the lexical texts, filter
values and tensor inputs derived from it) or an `ItemError`.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from typing import Any

from . import settings as index_settings
from .errors import invalid
from .filters import filter_values
from .media import is_pointer

MAX_BATCH = 128  # Marqo's default MARQO_MAX_DOCUMENTS_BATCH_SIZE
MAX_ID_LENGTH = 512
MAX_LEXICAL_FIELDS = 1000  # the store packs (doc, field ordinal) into an FTS rowid
MAX_TENSOR_FIELDS = 64  # ... and into a vector id
RESERVED = {"_tensor_facets", "_highlights", "_score", "_found", "_embedding",
            "_lexical_score", "_tensor_score"}


@dataclass(slots=True)
class Prepared:
    doc_id: str
    body: dict[str, Any]
    lexical: list[tuple[str, str]] = field(default_factory=list)
    filters: list[tuple[str, str | float]] = field(default_factory=list)
    # (field, kind, payload): ("text", str) | ("image", url) | ("vector", list[float]) | ("combo", [(text, w)])
    tensors: list[tuple[str, str, Any]] = field(default_factory=list)
    spec: dict[str, Any] = field(default_factory=dict)  # tensorFields + mappings, for updates


@dataclass
class ItemError:
    doc_id: str
    message: str
    code: str = "invalid_argument"
    status: int = 400

    def item(self) -> dict[str, Any]:
        return {"_id": self.doc_id, "status": self.status, "error": self.message,
                "message": self.message, "code": self.code}


def check_batch_options(index: dict[str, Any], tensor_fields: Any, mappings: Any) -> None:
    """Request-level checks (a failure here fails the whole request, as in Marqo)."""
    structured = index["type"] == "structured"
    if structured:
        if tensor_fields is not None:
            raise invalid("Field 'tensorFields' is not allowed when adding documents to a "
                          "structured index: tensor fields are part of the index schema")
        if mappings is not None:
            raise invalid("Field 'mappings' is not allowed for a structured index")
        return
    if tensor_fields is None:
        raise invalid("Field 'tensorFields' is required when adding documents to an "
                      "unstructured index (use [] for none)")
    if not isinstance(tensor_fields, list) or not all(isinstance(t, str) for t in tensor_fields):
        raise invalid("Field 'tensorFields' must be a list of field names")
    if mappings is None:
        return
    if not isinstance(mappings, dict):
        raise invalid("Field 'mappings' must be an object")
    for name, mapping in mappings.items():
        kind = mapping.get("type") if isinstance(mapping, dict) else None
        if kind == "multimodal_combination":
            weights = mapping.get("weights")
            if not isinstance(weights, dict) or not all(
                    isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
                    for k, v in weights.items()):
                raise invalid(f"Field 'mappings.{name}.weights' must map field names to numbers")
        elif kind != "custom_vector":
            raise invalid(f"Field 'mappings.{name}.type' must be 'multimodal_combination' or "
                          "'custom_vector'")


def may_fetch_media(index: dict[str, Any]) -> bool:
    """Whether a document added to an index with these settings can name an image the store must
    fetch (a tensor of kind "image", as `_unstructured` and `_structured` decide it)."""
    if index["type"] == "structured":
        fields = index_settings.schema(index)
        return any(fields.get(name, {}).get("type") == "image_pointer" for name in index.get("tensorFields", []))
    return bool(index.get("treatUrlsAndPointersAsImages", False))


def prepare(doc: Any, index: dict[str, Any], tensor_fields: list[str] | None,
            mappings: dict[str, Any] | None, require_id: bool = False) -> Prepared | ItemError:
    if not isinstance(doc, dict):
        return ItemError("", "Each document must be a JSON object")
    doc_id = doc.get("_id")
    if doc_id is None:
        if require_id:
            return ItemError("", "Field '_id' is required", "invalid_document_id")
        doc_id = str(uuid.uuid4())
    if not isinstance(doc_id, str) or not doc_id or len(doc_id) > MAX_ID_LENGTH:
        return ItemError(str(doc_id) if isinstance(doc_id, int | float) else "",
                         f"Document _id must be a non-empty string of at most {MAX_ID_LENGTH} "
                         "characters", "invalid_document_id")
    try:
        if index["type"] == "structured":
            return _structured(doc_id, doc, index)
        return _unstructured(doc_id, doc, index, tensor_fields or [], mappings or {})
    except _Bad as bad:
        return ItemError(doc_id, str(bad), bad.code)


MAX_GOOD_NAMES = 10_000
_GOOD_NAMES: set[str] = set()  # field names that passed _check_name (documents repeat them)


class _Bad(Exception):
    def __init__(self, message: str, code: str = "invalid_argument") -> None:
        super().__init__(message)
        self.code = code


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name:
        raise _Bad("Field names must be non-empty strings", "invalid_field_name")
    if name in RESERVED or name.startswith(("__", "marqo__")):
        raise _Bad(f"Field name {name!r} is reserved", "invalid_field_name")


def _scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


def _custom_vector(name: str, value: Any, dim: int) -> tuple[str, list[float]]:
    if not isinstance(value, dict) or not isinstance(value.get("vector"), list):
        raise _Bad(f"Field {name!r} is a custom_vector: it must be an object with 'vector'")
    vector = value["vector"]
    if len(vector) != dim or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                     and math.isfinite(v) for v in vector):
        raise _Bad(f"Field {name!r}: 'vector' must be {dim} finite numbers")
    content = value.get("content", "")
    if not isinstance(content, str):
        raise _Bad(f"Field {name!r}: 'content' must be a string")
    return content, [float(v) for v in vector]


def _unstructured(doc_id: str, doc: dict[str, Any], index: dict[str, Any],
                  tensor_fields: list[str], mappings: dict[str, Any]) -> Prepared:
    out = Prepared(doc_id, {}, spec={"tensorFields": tensor_fields, "mappings": mappings})
    body, lexical, filters, tensors = out.body, out.lexical, out.filters, out.tensors
    # longer strings are stored and searchable, but not filterable (Marqo's filterStringMaxLength)
    limit = index.get("filterStringMaxLength", index_settings.DEFAULT_FILTER_STRING_MAX_LENGTH)
    images = index.get("treatUrlsAndPointersAsImages", False)  # URLs in tensor fields are images
    for name, value in doc.items():
        if name == "_id":
            continue
        if name not in _GOOD_NAMES:
            _check_name(name)
            if len(_GOOD_NAMES) >= MAX_GOOD_NAMES:
                _GOOD_NAMES.clear()
            _GOOD_NAMES.add(name)
        mapping = (mappings.get(name) or {}) if mappings else {}
        if not mapping:  # fast paths for the common str and int values, as the general path
            kind = value.__class__
            if kind is str:
                body[name] = value
                lexical.append((name, value))
                if name in tensor_fields:
                    tensors.append((name, "image" if images and is_pointer(value) else "text", value))
                if len(value) <= limit:
                    filters.append((name, value))
                continue
            if kind is int:
                if name in tensor_fields:
                    raise _Bad(f"Field {name!r}: only text can be a tensor field")
                body[name] = value
                filters.append((name, float(value)))
                continue
        if mapping.get("type") == "custom_vector":
            content, vector = _custom_vector(name, value, index_settings.dimension(index))
            out.body[name] = content
            out.lexical.append((name, content))
            if len(content) <= limit:  # its text is filterable, as any short string
                out.filters.append((name, content))
            if name in tensor_fields:
                out.tensors.append((name, "vector", vector))
            continue
        if value is None:
            raise _Bad(f"Field {name!r} is null: remove the field instead")
        if isinstance(value, list):
            if not all(_scalar(v) and not isinstance(v, bool) for v in value) or (
                    len({type(v) is str for v in value}) > 1):
                raise _Bad(f"Field {name!r}: arrays must hold only strings or only numbers")
            if name in tensor_fields:
                raise _Bad(f"Field {name!r}: an array cannot be a tensor field")
        elif isinstance(value, dict):
            if not all(isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
                       for k, v in value.items()):
                raise _Bad(f"Field {name!r}: objects are only allowed as maps of numbers, or "
                           "with a custom_vector mapping")
            for key, number in value.items():
                out.filters.append((f"{name}.{key}", float(number)))
            out.body[name] = value
            continue
        elif not _scalar(value):
            raise _Bad(f"Field {name!r} has an unsupported value")
        out.body[name] = value
        if isinstance(value, str):
            out.lexical.append((name, value))
            if name in tensor_fields:
                out.tensors.append((name, "image" if images and is_pointer(value) else "text", value))
            if len(value) > limit:
                continue
        elif name in tensor_fields:
            raise _Bad(f"Field {name!r}: only text can be a tensor field")
        out.filters.extend((name, v) for v in filter_values(value))
    for name, mapping in mappings.items():
        if mapping.get("type") == "multimodal_combination" and name in tensor_fields:
            if name in doc:
                raise _Bad(f"Field {name!r} is a multimodal_combination: it must not be in the "
                           "document")
            parts = [(doc[child], float(w)) for child, w in mapping["weights"].items()
                     if isinstance(doc.get(child), str)]
            if parts:
                out.tensors.append((name, "combo", parts))
    _check_limits(out)
    return out


def _check_limits(out: Prepared) -> None:
    if len(out.lexical) > MAX_LEXICAL_FIELDS:
        raise _Bad(f"A document may have at most {MAX_LEXICAL_FIELDS} text fields")
    if len(out.tensors) > MAX_TENSOR_FIELDS:
        raise _Bad(f"A document may have at most {MAX_TENSOR_FIELDS} tensor fields")


_TYPE_CHECK = {
    "text": lambda v: isinstance(v, str),
    "image_pointer": lambda v: isinstance(v, str),
    "video_pointer": lambda v: isinstance(v, str),
    "audio_pointer": lambda v: isinstance(v, str),
    "bool": lambda v: isinstance(v, bool),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "long": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "float": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
    "double": lambda v: isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v),
}


def _check_type(kind: str, value: Any) -> bool:
    if kind in _TYPE_CHECK:
        return _TYPE_CHECK[kind](value)
    if kind.startswith("array<"):
        inner = kind[6:-1]
        return isinstance(value, list) and all(_TYPE_CHECK[inner](v) for v in value)
    if kind.startswith("map<"):
        inner = kind.split(",")[1].strip(" >")
        return isinstance(value, dict) and all(
            isinstance(k, str) and _TYPE_CHECK[inner](v) for k, v in value.items())
    return False


def _structured(doc_id: str, doc: dict[str, Any], index: dict[str, Any]) -> Prepared:
    fields = index_settings.schema(index)
    tensor_fields = index.get("tensorFields", [])
    dim = index_settings.dimension(index)
    out = Prepared(doc_id, {}, spec={"tensorFields": tensor_fields})
    for name, value in doc.items():
        if name == "_id":
            continue
        _check_name(name)
        definition = fields.get(name)
        if definition is None:
            raise _Bad(f"Field {name!r} is not in the schema of this structured index",
                       "invalid_field_name")
        kind = definition["type"]
        if kind == "multimodal_combination":
            raise _Bad(f"Field {name!r} is a multimodal_combination: it must not be in the document")
        if kind == "custom_vector":
            content, vector = _custom_vector(name, value, dim)
            out.body[name] = content
            out.filters.append((name, content))
            if "lexical_search" in definition.get("features", []):
                out.lexical.append((name, content))
            if name in tensor_fields:
                out.tensors.append((name, "vector", vector))
            continue
        if not _check_type(kind, value):
            raise _Bad(f"Field {name!r} must be of type {kind}")
        out.body[name] = value
        if kind.startswith("map<"):
            for key, number in value.items():
                out.filters.append((f"{name}.{key}", float(number)))
            continue
        if isinstance(value, str) and "lexical_search" in definition.get("features", []):
            out.lexical.append((name, value))
        if name in tensor_fields and isinstance(value, str):
            out.tensors.append((name, "image" if kind == "image_pointer" else "text", value))
        out.filters.extend((name, v) for v in filter_values(value))
    for name in tensor_fields:
        definition = fields[name]
        if definition["type"] == "multimodal_combination":
            parts = [(doc[child], float(w)) for child, w in definition["dependentFields"].items()
                     if isinstance(doc.get(child), str)]
            if parts:
                out.tensors.append((name, "combo", parts))
    _check_limits(out)
    return out
