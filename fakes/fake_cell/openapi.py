"""The OpenAPI 3 description of fake_cell's HTTP surface, served at `GET /openapi.json`.

Why: it documents the Marqo subset this fake implements and drives the schema-based fuzz test
(tests/fakes/cell/test_cell_fuzz.py): every operation below must answer JSON and never 5xx.
Written as data, small helpers keep it readable.
"""

from __future__ import annotations

from typing import Any

from . import VERSION

_ERROR_CODES = ("400", "401", "403", "404", "409", "422")


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _responses(ok: dict[str, Any], status: str = "200", errors: tuple[str, ...] = _ERROR_CODES
               ) -> dict[str, Any]:
    out = {status: {"description": "success", "content": _json(ok)}}
    for code in errors:
        out[code] = {"description": "Marqo error", "content": _json({"$ref": "#/components/schemas/Error"})}
    return out


def _op(summary: str, ok: dict[str, Any], body: dict[str, Any] | None = None,
        params: list[dict[str, Any]] | None = None, status: str = "200",
        errors: tuple[str, ...] = _ERROR_CODES, required: bool = True) -> dict[str, Any]:
    op: dict[str, Any] = {"summary": summary, "responses": _responses(ok, status, errors)}
    if body is not None:
        op["requestBody"] = {"required": required, "content": _json(body)}
    if params:
        op["parameters"] = params
    return op


_OBJ = {"type": "object"}
_INDEX = {"name": "indexName", "in": "path", "required": True,
          "schema": {"type": "string", "pattern": "^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$"}}
_DOC_ID = {"name": "documentId", "in": "path", "required": True, "schema": {"type": "string"}}
_ADMIN = {"name": "x-hippodrome-admin-secret", "in": "header", "required": True,
          "schema": {"type": "string"}}
_FACETS = {"name": "expose_facets", "in": "query", "required": False,
           "schema": {"type": "boolean"}}
_ids = {"type": "array", "items": {"type": "string"}}
_NAMES = {"type": "array", "items": {"type": "string"}}
_HEALTH = {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}
_BATCH = {"type": "object", "required": ["errors", "items"],
          "properties": {"errors": {"type": "boolean"}, "items": {"type": "array"},
                         "processingTimeMs": {"type": "number"}, "index_name": {"type": "string"}}}
_HITS = {"type": "object", "required": ["hits"], "properties": {"hits": {"type": "array"}}}
_DOCUMENTS_BODY = {
    "type": "object", "required": ["documents"],
    "properties": {
        "documents": {"type": "array", "items": _OBJ, "maxItems": 128},
        "tensorFields": _NAMES,
        "useExistingTensors": {"type": "boolean"},
        "mappings": _OBJ,
    },
}
_SEARCH_BODY = {
    "type": "object",
    "properties": {
        "q": {"oneOf": [{"type": "string"}, {"type": "object",
                                              "additionalProperties": {"type": "number"}}]},
        "searchMethod": {"type": "string", "enum": ["TENSOR", "LEXICAL", "HYBRID"]},
        "limit": {"type": "integer", "minimum": 1, "maximum": 1000},
        "offset": {"type": "integer", "minimum": 0, "maximum": 10000},
        "filter": {"type": "string"},
        "attributesToRetrieve": _NAMES,
        "searchableAttributes": _NAMES,
        "showHighlights": {"type": "boolean"},
        "hybridParameters": _OBJ,
        "context": _OBJ,
        "efSearch": {"type": "integer"},
        "approximate": {"type": "boolean"},
        "approximateThreshold": {"type": "number"},
        "rerankDepth": {"type": "integer"},
        "scoreModifiers": {"type": "object", "properties": {
            kind: {"type": "array", "items": {"type": "object", "required": ["field_name"], "properties": {
                "field_name": {"type": "string"}, "weight": {"type": "number"}}}}
            for kind in ("multiply_score_by", "add_to_score")}},
    },
}


def document() -> dict[str, Any]:
    index_path = "/indexes/{indexName}"
    docs_path = index_path + "/documents"
    return {
        "openapi": "3.0.3",
        "info": {"title": "fake_cell (Hippodrome's Marqo data plane)", "version": VERSION},
        "components": {"schemas": {"Error": {
            "type": "object", "required": ["message", "code", "type", "link"],
            "properties": {k: {"type": "string"} for k in ("message", "code", "type", "link")}}}},
        "paths": {
            "/": {"get": _op("Marqo version", {"type": "object", "required": ["version"]})},
            "/healthz": {"get": _op("Readiness", _HEALTH, errors=())},
            "/models": {
                "get": _op("Loaded models", {"type": "object", "required": ["models"]}),
                "delete": _op("Eject a loaded model", _OBJ, params=[
                    {"name": "model_name", "in": "query", "required": True, "schema": {"type": "string"}},
                    {"name": "model_device", "in": "query", "required": True, "schema": {"type": "string"}}],
                    errors=("400", "404", "422")),
            },
            "/device/cpu": {"get": _op("CPU usage", _OBJ)},
            "/device/cuda": {"get": _op("CUDA devices (none here: Marqo's 400)", _OBJ, errors=("400",))},
            "/health": {"get": _op("Marqo health", _HEALTH)},
            "/indexes": {"get": _op("List indexes", {"type": "object", "required": ["results"]})},
            index_path: {
                "post": _op("Create an index", _OBJ, body=_OBJ, params=[_INDEX], required=False),
                "delete": _op("Delete an index", _OBJ, params=[_INDEX]),
            },
            index_path + "/settings": {"get": _op("Index settings", _OBJ, params=[_INDEX])},
            index_path + "/stats": {"get": _op("Index stats", {
                "type": "object", "required": ["numberOfDocuments", "numberOfVectors"]},
                params=[_INDEX])},
            index_path + "/health": {"get": _op("Index health", _HEALTH, params=[_INDEX])},
            index_path + "/status": {"get": _op("Index status (polled by the client when it has an "
                                                "api_key)", {"type": "object", "required": ["indexStatus"]},
                                                params=[_INDEX])},
            docs_path: {
                "post": _op("Add or replace documents", _BATCH, body=_DOCUMENTS_BODY, params=[_INDEX]),
                "patch": _op("Partially update documents", _BATCH, body={
                    "type": "object", "required": ["documents"],
                    "properties": {"documents": {"type": "array", "items": _OBJ, "maxItems": 128}}},
                    params=[_INDEX]),
                "get": _op("Get several documents (JSON body: list of ids)",
                           {"type": "object", "required": ["results"]}, body=_ids,
                           params=[_INDEX, _FACETS]),
            },
            docs_path + "/{documentId}": {"get": _op("Get one document", _OBJ,
                                                     params=[_INDEX, _DOC_ID, _FACETS])},
            docs_path + "/delete-batch": {"post": _op("Delete documents by id", _BATCH | {
                "required": ["items"]}, body=_ids, params=[_INDEX])},
            docs_path + "/delete-all": {"delete": _op(
                "Delete every document, keep the index (Marqo's internal batch API: 403 unless "
                "FAKE_CELL_ENABLE_BATCH_APIS)", {"type": "object", "required": ["documentCount"]},
                params=[_INDEX])},
            "/batch/indexes/create": {"post": _op(
                "Create several indexes at once, all or none (internal batch API)",
                {"type": "object", "required": ["acknowledged", "index_names"]},
                body={"type": "array", "maxItems": 8, "items": {
                    "type": "object", "required": ["indexName"],
                    "properties": {"indexName": _INDEX["schema"], "type": {"type": "string"},
                                   "model": {"type": "string"}}}})},
            "/batch/indexes/delete": {"post": _op(
                "Delete several indexes at once, all or none (internal batch API)",
                {"type": "object", "required": ["acknowledged", "index_names"]},
                body={"type": "array", "maxItems": 8, "items": _INDEX["schema"]})},
            index_path + "/search": {"post": _op("Search", _HITS, body=_SEARCH_BODY, params=[_INDEX])},
            index_path + "/recommend": {"post": _op("Recommend similar documents", _HITS, body={
                "type": "object", "required": ["documents"],
                "properties": {"documents": {"oneOf": [_ids, {
                    "type": "object", "additionalProperties": {"type": "number"}}]},
                    "tensorFields": _NAMES, "limit": {"type": "integer"},
                    "offset": {"type": "integer"}, "filter": {"type": "string"},
                    "excludeInputDocuments": {"type": "boolean"}}}, params=[_INDEX])},
            index_path + "/embed": {"post": _op("Embed content with the index's model", {
                "type": "object", "required": ["embeddings"]}, body={
                "type": "object", "required": ["content"],
                "properties": {"content": {"oneOf": [{"type": "string"}, {
                    "type": "array", "items": {"type": "string"}, "maxItems": 16}]},
                    "content_type": {"type": "string", "enum": ["query", "document"]}}},
                params=[_INDEX])},
            "/_hippodrome/api-keys": {
                "post": _op("Create an API key (idempotent), bound to its account's indexes: those whose "
                            "names start with indexPrefix (absent or null: every index)", _OBJ, body={
                    "type": "object", "required": ["name", "key", "accountId"],
                    "properties": {**{k: {"type": "string"} for k in ("name", "key", "accountId")},
                                   "indexPrefix": {"type": "string", "nullable": True}}},
                    params=[_ADMIN], status="201"),
                "get": _op("List API keys (names, accounts and index prefixes, never keys)",
                           {"type": "object", "required": ["results"]}, params=[_ADMIN]),
            },
            "/_hippodrome/api-keys/{name}": {"delete": _op("Delete an API key", _OBJ, params=[
                _ADMIN, {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}])},
        },
    }
