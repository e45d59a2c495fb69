"""A search body, checked at the boundary the way Marqo 2 checks it, into a `SearchRequest`.

Why a module: validation is the part of the search API a client sees first, and it is pure, so
it is table-tested here without a server (tests/fakes/cell/test_cell_query.py). The rules and
messages are Marqo's (`SearchQuery` in tensor_search/models/api_models.py and the checks at the
top of `tensor_search.search`):

- the body model forbids unknown fields: 422 `unprocessable_entity` (FastAPI's validation error);
  so do its root validators (q missing, hybridParameters outside HYBRID);
- limit/offset: 400 `illegal_requested_doc_count` with Marqo's messages and limits
  (MARQO_MAX_SEARCH_LIMIT 1000, MARQO_MAX_SEARCH_OFFSET 10000, MARQO_MAX_RETRIEVABLE_DOCS 10000);
- efSearch must be a positive integer; efSearch and approximate are refused for LEXICAL;
- `context` with a plain-string `q` is refused (it needs a dict or customVector query);
- parameters Marqo knows but this fake does not implement (boost, reRanker, facets, sortBy, ...)
  are refused with a 400 that says so: never silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from . import filters, scoring
from .errors import CellError, invalid

MAX_LIMIT = 1000  # MARQO_MAX_SEARCH_LIMIT
MAX_OFFSET = 10_000  # MARQO_MAX_SEARCH_OFFSET
MAX_RETRIEVABLE = 10_000  # MARQO_MAX_RETRIEVABLE_DOCS
METHODS = ("TENSOR", "LEXICAL", "HYBRID")
INTERPOLATIONS = ("lerp", "nlerp", "slerp")

# Parameters accepted and honoured (or harmless here: no media is downloaded, no model authenticated).
SUPPORTED = frozenset({
    "q", "searchMethod", "limit", "offset", "filter", "attributesToRetrieve", "showHighlights",
    "searchableAttributes", "context", "hybridParameters", "scoreModifiers", "efSearch", "approximate",
    "approximateThreshold", "rerankDepth", "textQueryPrefix", "modelAuth", "mediaDownloadHeaders",
    "imageDownloadHeaders", "image_download_headers", "interpolationMethod",
})
# Parameters of Marqo's search that this fake does not implement: refused, with the reason.
NOT_IMPLEMENTED = {
    "boost": "Boosting is not currently supported with Vespa",
    "reRanker": "Reranker is no longer supported in Marqo version 2.17 and later",
    **{key: f"'{key}' is not implemented by fake_cell (Hippodrome's Marqo fake)"
       for key in ("facets", "trackTotalHits", "language", "sortBy", "relevanceCutoff", "collapseFields",
                   "recencyParameters")},
}


@dataclass
class SearchRequest:
    q: Any
    method: str = "TENSOR"
    limit: int = 10
    offset: int = 0
    filter: filters.Node | None = None
    attributes: list[str] | None = None
    highlights: bool = True
    searchable: list[str] | None = None
    context: list[tuple[list[float], float]] = field(default_factory=list)
    hybrid: dict[str, Any] = field(default_factory=dict)
    modifiers: tuple[scoring.Modifier, ...] = ()


def unprocessable(loc: str, msg: str, kind: str = "value_error") -> CellError:
    """What Marqo answers when its request model rejects a body (FastAPI's RequestValidationError)."""
    return CellError(422, "unprocessable_entity", f"{loc}: {msg}",
                     extra={"detail": [{"loc": ["body", *loc.split(".")], "msg": msg, "type": kind}]})


def doc_count(message: str) -> CellError:
    return CellError(400, "illegal_requested_doc_count", message)


def _integer(body: dict[str, Any], key: str, default: int) -> int:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool):
        raise unprocessable(key, "value is not a valid integer", "type_error.integer")
    return value


def field_names(body: dict[str, Any], key: str) -> list[str] | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise invalid(f"Invalid value for '{key}': must be a list of field names")
    return value


def boolean(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise invalid(f"Invalid value for '{key}': must be a boolean")
    return value


def _filter(body: dict[str, Any]) -> filters.Node | None:
    text = body.get("filter")
    if text is None:
        return None
    if not isinstance(text, str):
        raise invalid("Invalid value for 'filter': must be a filter string")
    try:
        return filters.parse(text)
    except filters.FilterError as exc:
        raise invalid(str(exc)) from None


def _context(body: dict[str, Any]) -> list[tuple[list[float], float]]:
    context = body.get("context")
    if context is None:
        return []
    tensors = context.get("tensor") if isinstance(context, dict) else None
    if not isinstance(tensors, list):
        raise invalid("Invalid value for 'context': expected {\"tensor\": [{\"vector\", \"weight\"}]}")
    out = []
    for n, item in enumerate(tensors):
        vector = item.get("vector") if isinstance(item, dict) else None
        weight = item.get("weight", 1.0) if isinstance(item, dict) else None
        if (not isinstance(vector, list) or not all(isinstance(v, int | float) and not isinstance(v, bool)
                                                    for v in vector)
                or not isinstance(weight, int | float) or isinstance(weight, bool)):
            raise invalid(f"Invalid value for 'context.tensor[{n}]': needs 'vector' (numbers) "
                          "and 'weight' (number)")
        out.append(([float(v) for v in vector], float(weight)))
    return out


def _custom_vector_query(q: Any) -> tuple[list[float], float] | None:
    """`q: {"customVector": {"vector": [...], "content": ...}}` (Marqo's CustomVectorQuery)."""
    if not (isinstance(q, dict) and set(q) == {"customVector"} and isinstance(q["customVector"], dict)):
        return None
    vector = q["customVector"].get("vector")
    if not isinstance(vector, list) or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in vector):
        raise invalid("Invalid value for 'q.customVector.vector': must be a list of numbers")
    return [float(v) for v in vector], 1.0


def check_query(q: Any, key: str = "q") -> None:
    if q is None or isinstance(q, str):
        return
    if isinstance(q, dict) and q and all(
            isinstance(k, str) and isinstance(v, int | float) and not isinstance(v, bool)
            for k, v in q.items()):
        return
    raise invalid(f"Invalid value for '{key}': must be a string or an object of string -> weight")


def _check_keys(body: dict[str, Any]) -> None:
    for key in body:
        if key in SUPPORTED:
            continue
        if key in NOT_IMPLEMENTED:
            if body[key] is not None:
                raise invalid(NOT_IMPLEMENTED[key])
            continue
        raise unprocessable(key, "extra fields not permitted", "value_error.extra")


def _check_counts(limit: int, offset: int) -> None:
    if limit <= 0:
        raise doc_count(f"result_count must be an integer greater than 0! Received {limit}")
    if offset < 0:
        raise doc_count("search result offset cannot be less than 0!")
    if limit + offset > MAX_RETRIEVABLE:
        raise doc_count("The search result limit + offset must be less than or equal to the MARQO_MAX_RETRIEVABLE_DOCS "
                        f"limit of [{MAX_RETRIEVABLE}].  Marqo received search result limit of `{limit}` "
                        f"and offset of `{offset}`.")
    if limit > MAX_LIMIT:
        raise doc_count(f"The search result limit must be less than or equal to the MARQO_MAX_SEARCH_LIMIT limit of "
                        f"[{MAX_LIMIT}]. Marqo received search result limit of `{limit}`.")
    if offset > MAX_OFFSET:
        raise doc_count(f"The search result offset must be less than or equal to the MARQO_MAX_SEARCH_OFFSET limit "
                        f"of [{MAX_OFFSET}]. Marqo received search result offset of `{offset}`.")


def _check_approximation(body: dict[str, Any], method: str) -> None:
    ef_search, approximate = body.get("efSearch"), body.get("approximate")
    threshold, depth = body.get("approximateThreshold"), body.get("rerankDepth")
    if ef_search is not None and (not isinstance(ef_search, int) or isinstance(ef_search, bool) or ef_search <= 0):
        raise invalid(f"efSearch must be a positive integer, got {ef_search!r}")
    if approximate is not None and not isinstance(approximate, bool):
        raise unprocessable("approximate", "value could not be parsed to a boolean", "type_error.bool")
    if method == "LEXICAL":
        if ef_search is not None:
            raise invalid("efSearch is not a valid argument for lexical search")
        if approximate is not None:
            raise invalid("approximate is not a valid argument for lexical search")
        if threshold is not None:
            raise unprocessable("approximateThreshold",
                                "'approximateThreshold' is only valid for 'HYBRID' and 'TENSOR' search methods")
        if depth is not None:
            raise unprocessable("rerankDepth", "'rerankDepth' is currently not supported for 'LEXICAL' search method.")
    if threshold is not None:
        if approximate is False:
            raise unprocessable("approximateThreshold", "'approximateThreshold' cannot be set when 'approximate' is False")
        if not isinstance(threshold, int | float) or isinstance(threshold, bool) or not 0 <= threshold <= 1:
            raise unprocessable("approximateThreshold", f"'approximateThreshold' must be between 0 and 1, got {threshold}.")
    if depth is not None and (not isinstance(depth, int) or isinstance(depth, bool) or depth < 0):
        raise unprocessable("rerankDepth", "rerankDepth cannot be negative.")


def parse_search(body: Any, recommend: bool = False) -> SearchRequest:
    """`recommend`: the parameters recommend shares with search (its query is the documents)."""
    if not isinstance(body, dict):
        raise unprocessable("body", "value is not a valid dict", "type_error.dict")
    _check_keys(body)
    method = body.get("searchMethod") or "TENSOR"
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise unprocessable("searchMethod", f"{method} is not a valid SearchMethod")
    method = method.upper()
    q = body.get("q")
    context = _context(body)
    custom = _custom_vector_query(q)
    if custom is not None:
        context, q = [*context, custom], None
    else:
        check_query(q)
    if q is None and method == "LEXICAL":
        raise unprocessable("q", "Query(q) is required for lexical search")
    if q is None and not context and not recommend:
        raise unprocessable("q", f"One of Query(q) or context is required for {method} search but both are missing")
    if method != "TENSOR" and q is not None and not isinstance(q, str):
        raise invalid(f"Field 'q' must be a string for {method} search")
    if isinstance(q, str) and body.get("context") is not None and method != "LEXICAL":
        raise invalid(f"Cannot use 'context' for a search with a string 'q' (or queryTensor): '{q}'. To use "
                      "'context', please provide a dictionary or a CustomVectorQuery object as the query instead.")
    hybrid = body.get("hybridParameters")
    if hybrid is not None and method != "HYBRID":
        raise unprocessable("hybridParameters", "Hybrid parameters can only be provided for 'HYBRID' search. "
                                                f"Search method is {method}.")
    if hybrid is not None and not isinstance(hybrid, dict):
        raise invalid("Invalid value for 'hybridParameters': must be an object")
    limit, offset = _integer(body, "limit", 10), _integer(body, "offset", 0)
    _check_counts(limit, offset)
    _check_approximation(body, method)
    interpolation = body.get("interpolationMethod")
    if interpolation is not None and interpolation not in INTERPOLATIONS:
        raise unprocessable("interpolationMethod", f"value is not a valid enumeration member; permitted: {INTERPOLATIONS}")
    return SearchRequest(
        q=q, method=method, limit=limit, offset=offset,
        filter=_filter(body),
        attributes=field_names(body, "attributesToRetrieve"),
        highlights=boolean(body, "showHighlights", True),
        searchable=field_names(body, "searchableAttributes"),
        context=context,
        hybrid=_hybrid(hybrid or {}),
        modifiers=scoring.parse(body.get("scoreModifiers")),
    )


def _hybrid(params: dict[str, Any]) -> dict[str, Any]:
    out = {"retrievalMethod": params.get("retrievalMethod", "disjunction"),
           "rankingMethod": params.get("rankingMethod", "rrf"),
           "alpha": params.get("alpha", 0.5), "rrfK": params.get("rrfK", 60)}
    if out["retrievalMethod"] not in ("disjunction", "lexical", "tensor"):
        raise invalid("Invalid value for 'hybridParameters.retrievalMethod'")
    if out["rankingMethod"] not in ("rrf", "lexical", "tensor"):
        raise invalid("Invalid value for 'hybridParameters.rankingMethod'")
    alpha, k = out["alpha"], out["rrfK"]
    if not isinstance(alpha, int | float) or isinstance(alpha, bool) or not 0 <= alpha <= 1:
        raise invalid("Invalid value for 'hybridParameters.alpha': must be within 0..1")
    if not isinstance(k, int) or isinstance(k, bool) or k < 0:
        raise invalid("Invalid value for 'hybridParameters.rrfK': must be a non-negative integer")
    for key in ("searchableAttributesLexical", "searchableAttributesTensor"):
        out[key] = field_names(params, key)
    return out
