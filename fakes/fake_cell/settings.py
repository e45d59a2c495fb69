"""Index settings: validate a create-index body and fill in Marqo 2's defaults.

Why: `GET /indexes/{n}/settings` must return what Marqo would (the body as created plus the
defaults), and a bad create body must fail at the boundary with a 400 naming the field, not
later when documents arrive. Pure functions; the store keeps the result as JSON.

What Marqo 2 returns (its `IndexSettings`, dumped without None values, and py-marqo's
create-index tests against it): every index has model, normalizeEmbeddings, textPreprocessing,
imagePreprocessing (`{}` unless a patchMethod is set), videoPreprocessing and audioPreprocessing
({splitLength 20, splitOverlap 3}), vectorNumericType and annParameters; an unstructured index
also treatUrlsAndPointersAsImages, treatUrlsAndPointersAsMedia and filterStringMaxLength (50),
which a structured index refuses ("... is not a valid parameter for structured indexes").
"""

from __future__ import annotations

import copy
import re
from typing import Any

from . import models
from .errors import CellError, invalid

INDEX_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_\-]{0,127}$")

FIELD_TYPES = {
    "text", "bool", "int", "float", "long", "double",
    "array<text>", "array<int>", "array<float>", "array<long>", "array<double>",
    "image_pointer", "video_pointer", "audio_pointer",
    "multimodal_combination", "custom_vector",
    "map<text, int>", "map<text, float>", "map<text, long>", "map<text, double>",
}
FEATURES = {"lexical_search", "filter", "score_modifier"}

DEFAULT_FILTER_STRING_MAX_LENGTH = 50
DEFAULTS: dict[str, Any] = {
    "model": models.DEFAULT_MODEL,
    "normalizeEmbeddings": True,
    "textPreprocessing": {"splitLength": 2, "splitOverlap": 0, "splitMethod": "sentence"},
    "imagePreprocessing": {},
    "videoPreprocessing": {"splitLength": 20, "splitOverlap": 3},
    "audioPreprocessing": {"splitLength": 20, "splitOverlap": 3},
    "vectorNumericType": "float",
    "annParameters": {"spaceType": "prenormalized-angular",
                      "parameters": {"efConstruction": 512, "m": 16}},
}
UNSTRUCTURED_ONLY = ("treatUrlsAndPointersAsImages", "treatUrlsAndPointersAsMedia", "filterStringMaxLength")
_BOOLS = ("treatUrlsAndPointersAsImages", "treatUrlsAndPointersAsMedia", "normalizeEmbeddings")


def check_index_name(name: str) -> None:
    if not INDEX_NAME.match(name):
        raise CellError(400, "invalid_index_name",
                        f"Index name {name!r} is invalid: use 1-128 letters, digits, '_' or '-',"
                        " not starting with '-'")


def normalise(body: Any) -> dict[str, Any]:
    """The stored settings for a create-index body (raise CellError 400 naming the field)."""
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise invalid("Index settings must be a JSON object")
    settings = copy.deepcopy(body)
    kind = settings.get("type", "unstructured")
    if not isinstance(kind, str) or kind.lower() not in ("structured", "unstructured"):
        raise invalid("Invalid value for 'type': must be 'structured' or 'unstructured'")
    settings["type"] = kind.lower()
    for key in _BOOLS:
        if key in settings and not isinstance(settings[key], bool):
            raise invalid(f"Invalid value for '{key}': must be a boolean")
    length = settings.get("filterStringMaxLength", DEFAULT_FILTER_STRING_MAX_LENGTH)
    if not isinstance(length, int) or isinstance(length, bool) or length < 0:
        raise invalid("Invalid value for 'filterStringMaxLength': must be a non-negative integer")
    image = settings.get("imagePreprocessing")
    if image is not None and not isinstance(image, dict):
        raise invalid("Invalid value for 'imagePreprocessing': must be an object")
    if isinstance(image, dict):  # Marqo leaves out what is None (patchMethod: null -> {})
        settings["imagePreprocessing"] = {k: v for k, v in image.items() if v is not None}
    if "model" in settings and not isinstance(settings["model"], str):
        raise invalid("Invalid value for 'model': must be a string")
    props = settings.get("modelProperties")
    if props is not None:
        if not isinstance(props, dict):
            raise invalid("Invalid value for 'modelProperties': must be an object")
        dims = props.get("dimensions")
        if dims is not None and (not isinstance(dims, int) or isinstance(dims, bool)
                                 or not 1 <= dims <= 8192):
            raise invalid("Invalid value for 'modelProperties.dimensions': must be 1..8192")
    for key, value in DEFAULTS.items():
        settings.setdefault(key, copy.deepcopy(value))
    models.check(settings["model"], settings.get("modelProperties"))
    if settings["type"] == "structured":
        for key in UNSTRUCTURED_ONLY:
            if key in settings:
                raise invalid(f"{key} is not a valid parameter for structured indexes")
        _check_structured(settings)
    else:
        for key in ("allFields", "tensorFields"):
            if key in settings:
                raise invalid(f"{key} is not a valid parameter for unstructured indexes")
        _unstructured_defaults(settings)
    return settings


def _unstructured_defaults(settings: dict[str, Any]) -> None:
    images, media = settings.get("treatUrlsAndPointersAsImages"), settings.get("treatUrlsAndPointersAsMedia")
    if images is False and media:
        raise invalid("Invalid combination: 'treatUrlsAndPointersAsImages' cannot be False when "
                      "'treatUrlsAndPointersAsMedia' is True.")
    settings["treatUrlsAndPointersAsImages"] = bool(images or media)
    settings["treatUrlsAndPointersAsMedia"] = bool(media)
    settings.setdefault("filterStringMaxLength", DEFAULT_FILTER_STRING_MAX_LENGTH)


def public(settings: dict[str, Any]) -> dict[str, Any]:
    """What `GET /indexes/{n}/settings` answers: the stored settings in Marqo's shape (also for
    indexes stored by an older fake_cell, which kept every key for every type)."""
    out = dict(settings)
    if out.get("type") == "structured":
        for key in UNSTRUCTURED_ONLY:
            out.pop(key, None)
    for key in ("videoPreprocessing", "audioPreprocessing"):
        out.setdefault(key, copy.deepcopy(DEFAULTS[key]))
    image = out.get("imagePreprocessing")
    if isinstance(image, dict) and None in image.values():
        out["imagePreprocessing"] = {k: v for k, v in image.items() if v is not None}
    return out


def filter_string_max_length(settings: dict[str, Any]) -> int | None:
    """Strings longer than this are not filterable in an unstructured index (None: no limit)."""
    if settings.get("type") == "structured":
        return None
    return settings.get("filterStringMaxLength", DEFAULT_FILTER_STRING_MAX_LENGTH)


def _check_structured(settings: dict[str, Any]) -> None:
    fields = settings.get("allFields")
    if not isinstance(fields, list) or not fields:
        raise invalid("Structured indexes need 'allFields', a non-empty list of fields")
    names: set[str] = set()
    for n, field in enumerate(fields):
        where = f"allFields[{n}]"
        if not isinstance(field, dict):
            raise invalid(f"Invalid value for '{where}': must be an object")
        name, kind = field.get("name"), field.get("type")
        if not isinstance(name, str) or not name or name.startswith("_"):
            raise invalid(f"Invalid value for '{where}.name': a non-empty name not starting with '_'")
        if name in names:
            raise invalid(f"Duplicate field name {name!r} in 'allFields'")
        if kind not in FIELD_TYPES:
            raise invalid(f"Invalid value for '{where}.type': {kind!r} is not a Marqo field type")
        features = field.setdefault("features", [])
        if not isinstance(features, list) or any(f not in FEATURES for f in features):
            raise invalid(f"Invalid value for '{where}.features': allowed {sorted(FEATURES)}")
        names.add(name)
    for field in fields:
        if field["type"] == "multimodal_combination":
            deps = field.get("dependentFields")
            if not isinstance(deps, dict) or not all(
                    k in names and isinstance(v, int | float) for k, v in deps.items()):
                raise invalid(f"Field {field['name']!r}: 'dependentFields' must map schema fields "
                              "to weights")
    tensor = settings.setdefault("tensorFields", [])
    if not isinstance(tensor, list) or any(t not in names for t in tensor):
        raise invalid("Invalid value for 'tensorFields': every entry must be a field of allFields")


def dimension(settings: dict[str, Any]) -> int:
    return models.dimension(settings.get("model", models.DEFAULT_MODEL), settings.get("modelProperties"))


def schema(settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Structured indexes: field name -> field definition."""
    return {f["name"]: f for f in settings.get("allFields", [])}


def batch_create_body(body: Any) -> list[tuple[str, dict[str, Any]]]:
    """`POST /batch/indexes/create`: a list of index settings, each with its `indexName`."""
    if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
        raise invalid("Body must be a JSON list of index settings objects, each with 'indexName'")
    out = []
    for n, item in enumerate(body):
        name = item.get("indexName")
        if not isinstance(name, str):
            raise invalid(f"Invalid value for '[{n}].indexName': a string is required")
        check_index_name(name)
        out.append((name, normalise({k: v for k, v in item.items() if k != "indexName"})))
    return out
