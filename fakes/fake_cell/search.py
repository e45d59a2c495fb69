"""Search, recommend and embed: the three methods, score modifiers, and Marqo's hit shape.

Why: this is where Marqo's semantics live (defaults, hit fields, highlights, the RRF fusion of
HYBRID), apart from HTTP (server.py), from request validation (query.py) and from SQL
(store.py). `run_search` is synchronous and runs on a reader thread.

- LEXICAL: BM25 (FTS5) over the indexed text fields; words are OR-ed, "quoted phrases" required;
  `q` = "*" matches every document (useful with a filter).
- TENSOR: cosine similarity of the local embedding (embedding.py) over the tensor fields; a
  document scores its best field, which is also its highlight.
- HYBRID: reciprocal rank fusion of both lists (Marqo's default: disjunction + rrf, alpha 0.5,
  rrfK 60); hits carry `_lexical_score` and `_tensor_score` as in Marqo.
- scoreModifiers (scoring.py) re-rank what each method retrieved, as Marqo's rank profiles do:
  every LEXICAL match, the nearest `offset + limit` for TENSOR, the fused list for HYBRID.
"""

from __future__ import annotations

import re
import time
from typing import Any

from . import embedding, media, scoring
from .telemetry import NO_TIMINGS, Timings
from .errors import CellError, document_not_found, invalid
from .query import MAX_LIMIT, MAX_RETRIEVABLE, SearchRequest, boolean, check_query, field_names, parse_search
from .settings import schema
from .store import IndexInfo, Store, elapsed_ms

_PHRASE = re.compile(r'"([^"]*)"')
_WORD = re.compile(r"\w+", re.UNICODE)


# -- helpers -------------------------------------------------------------------------------
def or_terms(q: str) -> list[str] | None:
    """The words of a query that is an OR of them (weakAnd's terms); None when it has required "phrases"."""
    if any(_WORD.search(p) for p in _PHRASE.findall(q)):
        return None
    return list(dict.fromkeys(_WORD.findall(_PHRASE.sub(" ", q)))) or None


def fts_match(q: str) -> str | None:
    """FTS5 MATCH expression: required "phrases" AND-ed, otherwise all words OR-ed."""
    phrases = [_WORD.findall(p) for p in _PHRASE.findall(q)]
    phrases = [p for p in phrases if p]
    if phrases:
        return " AND ".join('"' + " ".join(p) + '"' for p in phrases)
    words = _WORD.findall(_PHRASE.sub(" ", q))
    if not words:
        return None
    return " OR ".join(f'"{w}"' for w in dict.fromkeys(words))


def _content_vector(content: str, dim: int, images: bool, texts: dict[str, embedding.Sparse] | None
                    ) -> embedding.Sparse:
    if images and media.is_pointer(content):  # an image index embeds a URL's image, as Marqo does
        try:
            return media.load_vector(content, dim)
        except media.MediaError as exc:
            raise invalid(media.error_message(content, exc)) from None
    return texts[content] if texts is not None else embedding.embed(content, dim)


def query_vector(q: Any, context: list[tuple[list[float], float]], dim: int, images: bool = False,
                 info: IndexInfo | None = None) -> embedding.Sparse:
    """`info`: the index, when its real model (the [models] extra) embeds the query's texts."""
    parts: list[tuple[embedding.Sparse, float]] = []
    contents = [q] if isinstance(q, str) else list(q) if isinstance(q, dict) else []
    texts = None
    if info is not None and info.encoder is not None and contents:
        texts = info.text_vectors([c for c in contents if not (images and media.is_pointer(c))])
    if isinstance(q, str):
        parts.append((_content_vector(q, dim, images, texts), 1.0))
    elif isinstance(q, dict):
        parts.extend((_content_vector(text, dim, images, texts), float(w)) for text, w in q.items())
    for vector, weight in context:
        if len(vector) != dim:
            raise invalid("The dimension of the vectors returned by the model or given by the context vectors "
                          f"does not match the expected dimension. Expected dimension {dim} but got {len(vector)}")
        parts.append((embedding.from_dense(vector), weight))
    return embedding.combine(parts)


def _hit(doc_id: str, body: dict[str, Any], attributes: list[str] | None) -> dict[str, Any]:
    if attributes is not None:
        body = {k: v for k, v in body.items() if k in attributes}
    return {"_id": doc_id, **body}


def _tensor_hits(store: Store, info: IndexInfo, qvec: embedding.Sparse, k: int,
                 allowed: set[int] | None, fields: list[str] | None,
                 exclude: set[int] = frozenset()) -> list[tuple[int, float, str]]:
    tindex = store.tensor_index(info)
    return tindex.search(qvec, k, allowed, set(fields) if fields is not None else None, exclude)


def _materialise(store: Store, rows: list[tuple[int, float, str]], req: SearchRequest
                 ) -> list[dict[str, Any]]:
    """Hits for rows[offset:], or, with score modifiers, for all rows re-ranked, then [offset:]."""
    if not req.modifiers:
        rows = rows[req.offset:]
    bodies = store.bodies([doc for doc, _, _ in rows])
    hits = []
    for doc, score, best in rows:
        if doc not in bodies:
            continue  # deleted between the two reads
        doc_id, body = bodies[doc]
        hit = _hit(doc_id, body, req.attributes)
        if req.highlights:
            text = body.get(best)
            hit["_highlights"] = [{best: text if isinstance(text, str) else ""}]
        hit["_score"] = scoring.apply(score, body, req.modifiers) if req.modifiers else score
        hits.append(hit)
    if req.modifiers:
        hits.sort(key=lambda hit: -hit["_score"])
        hits = hits[req.offset:]
    return hits


def _images(info: IndexInfo) -> bool:
    return bool(info.settings.get("treatUrlsAndPointersAsImages"))


def _check_modifiers(info: IndexInfo, req: SearchRequest) -> None:
    if req.modifiers and info.settings.get("type") == "structured":
        scoring.check_structured(req.modifiers, info.name, schema(info.settings))


# -- the three methods ---------------------------------------------------------------------
def _lexical(store: Store, info: IndexInfo, req: SearchRequest, limit: int, offset: int,
             fields: list[str] | None) -> list[tuple[str, dict[str, Any], float]]:
    if not isinstance(req.q, str):  # HYBRID with only a context (or a customVector query)
        return []
    if req.q.strip() == "*":
        return store.match_all(info, limit, offset, req.filter)
    match = fts_match(req.q)
    if match is None:
        return []
    return store.lexical(info, match, limit, offset, fields, req.filter, or_terms(req.q))


def _lexical_hits(store: Store, info: IndexInfo, req: SearchRequest, timings: Timings) -> list[dict[str, Any]]:
    with timings.time("search.lexical.vespa"):
        if req.modifiers:  # they rank every match (Vespa's first phase), then the page is cut
            rows = _lexical(store, info, req, MAX_RETRIEVABLE, 0, req.searchable)
            rows = sorted(((doc_id, body, scoring.apply(score, body, req.modifiers)) for doc_id, body, score in rows),
                          key=lambda row: -row[2])[req.offset:req.offset + req.limit]
        else:
            rows = _lexical(store, info, req, req.limit, req.offset, req.searchable)
    with timings.time("search.lexical.postprocess"):
        hits = []
        for doc_id, body, score in rows:
            hit = _hit(doc_id, body, req.attributes)
            if req.highlights:
                hit["_highlights"] = []
            hit["_score"] = score
            hits.append(hit)
    return hits


def run_search(store: Store, name: str, req: SearchRequest, timings: Timings = NO_TIMINGS) -> dict[str, Any]:
    start = time.perf_counter()
    info = store.index(name)
    _check_modifiers(info, req)
    if req.method == "LEXICAL":
        hits = _lexical_hits(store, info, req, timings)
    elif req.method == "TENSOR":
        with timings.time("search.vector.processing_before_vespa"):
            with timings.time("search.vector_inference_full_pipeline"):
                qvec = query_vector(req.q, req.context, info.dim, _images(info), info)
            allowed = store.allowed(info, req.filter) if req.filter is not None else None
        with timings.time("search.vector.vespa"):
            rows = _tensor_hits(store, info, qvec, req.offset + req.limit, allowed, req.searchable)
        with timings.time("search.vector.postprocess"):
            hits = _materialise(store, rows, req)
    else:
        hits = _hybrid_search(store, info, req, timings)
    return {"hits": hits, "query": req.q, "limit": req.limit, "offset": req.offset,
            "processingTimeMs": elapsed_ms(start)}


def _hybrid_search(store: Store, info: IndexInfo, req: SearchRequest, timings: Timings) -> list[dict[str, Any]]:
    params = req.hybrid
    depth = req.offset + req.limit
    retrieval = params["retrievalMethod"]
    alpha = {"rrf": params["alpha"], "tensor": 1.0, "lexical": 0.0}[params["rankingMethod"]]
    k = params["rrfK"]
    lex_fields = params["searchableAttributesLexical"] or req.searchable
    ten_fields = params["searchableAttributesTensor"] or req.searchable
    tensor: list[tuple[int, float, str]] = []
    qvec = None
    if retrieval != "lexical":
        with timings.time("search.hybrid.vector_inference_full_pipeline"):
            qvec = query_vector(req.q, req.context, info.dim, _images(info), info)
    with timings.time("search.hybrid.vespa"):
        lexical = [] if retrieval == "tensor" else _lexical(store, info, req, depth, 0, lex_fields)
        if qvec is not None:
            allowed = store.allowed(info, req.filter) if req.filter is not None else None
            tensor = _tensor_hits(store, info, qvec, depth, allowed, ten_fields)
        tensor_bodies = store.bodies([doc for doc, _, _ in tensor])
    fused: dict[str, dict[str, Any]] = {}
    for rank, (doc_id, body, score) in enumerate(lexical, 1):
        fused[doc_id] = {"body": body, "lex": score, "rrf": (1 - alpha) / (k + rank)}
    for rank, (doc, score, best) in enumerate(tensor, 1):
        if doc not in tensor_bodies:
            continue
        doc_id, body = tensor_bodies[doc]
        entry = fused.setdefault(doc_id, {"body": body, "rrf": 0.0})
        entry.update(ten=score, best=best)
        entry["rrf"] += alpha / (k + rank)
    ranked = sorted(fused.items(), key=lambda item: -item[1]["rrf"])[:depth]
    if req.modifiers:  # Marqo's global phase: the fused score, modified, re-ranks the candidates
        for _, entry in ranked:
            entry["rrf"] = scoring.apply(entry["rrf"], entry["body"], req.modifiers)
        ranked.sort(key=lambda item: -item[1]["rrf"])
    ranked = ranked[req.offset:]
    hits = []
    for doc_id, entry in ranked:
        hit = _hit(doc_id, entry["body"], req.attributes)
        if req.highlights:
            best = entry.get("best")
            text = entry["body"].get(best) if best else None
            hit["_highlights"] = [{best: text}] if isinstance(text, str) else []
        hit["_lexical_score"] = entry.get("lex", 0.0)
        hit["_tensor_score"] = entry.get("ten", 0.0)
        hit["_score"] = entry["rrf"]
        hits.append(hit)
    return hits


# -- recommend and embed -------------------------------------------------------------------
def run_recommend(store: Store, name: str, body: Any, timings: Timings = NO_TIMINGS) -> dict[str, Any]:
    start = time.perf_counter()
    if not isinstance(body, dict):
        raise invalid("Recommend body must be a JSON object")
    docs = body.get("documents")
    if isinstance(docs, list) and docs and all(isinstance(d, str) for d in docs):
        weights = {d: 1.0 for d in docs}
    elif isinstance(docs, dict) and docs and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in docs.values()):
        weights = {str(k): float(v) for k, v in docs.items()}
    else:
        raise invalid("Field 'documents' must be a non-empty list of ids or an object id -> weight")
    req = parse_search({k: v for k, v in body.items()
                        if k in ("limit", "offset", "filter", "attributesToRetrieve", "showHighlights",
                                 "searchableAttributes", "scoreModifiers", "efSearch", "approximate")},
                       recommend=True)
    fields = field_names(body, "tensorFields")
    exclude_inputs = boolean(body, "excludeInputDocuments", True)
    info = store.index(name)
    _check_modifiers(info, req)
    found = store.get_documents(name, list(weights))
    missing = [d for d in weights if d not in found]
    if missing and not boolean(body, "allowMissingDocuments", False):
        raise invalid(f"The following document IDs were not found: {missing}")
    vectors = store.vectors_of([rowid for rowid, _ in found.values()])
    parts = []
    for doc_id, (rowid, _) in found.items():
        for field_name, vec in vectors[rowid]:
            if fields is None or field_name in fields:
                parts.append((vec, weights[doc_id]))
    if not parts and not boolean(body, "allowMissingEmbeddings", False):
        raise invalid("The given documents have no embeddings to recommend from")
    qvec = embedding.combine(parts)
    allowed = store.allowed(info, req.filter) if req.filter is not None else None
    exclude = {rowid for rowid, _ in found.values()} if exclude_inputs else set()
    with timings.time("search.vector.vespa"):
        rows = _tensor_hits(store, info, qvec, req.offset + req.limit, allowed, req.searchable, exclude)
    with timings.time("search.vector.postprocess"):
        hits = _materialise(store, rows, req)
    return {"hits": hits, "limit": req.limit, "offset": req.offset,
            "processingTimeMs": elapsed_ms(start)}


def run_embed(store: Store, name: str, body: Any, timings: Timings = NO_TIMINGS) -> dict[str, Any]:
    start = time.perf_counter()
    if not isinstance(body, dict) or "content" not in body:
        raise invalid("Field 'content' is required")
    content = body["content"]
    items = content if isinstance(content, list) else [content]
    if not items:
        raise invalid("Field 'content' must not be empty")
    for item in items:
        if item is None:
            raise invalid("Invalid value for 'content': items must be strings or weight objects")
        check_query(item, "content")
    content_type = body.get("content_type", "query")
    if content_type not in (None, "query", "document"):
        raise invalid("Invalid value for 'content_type': must be 'query', 'document' or null")
    info = store.index(name)
    with timings.time("embed.vector_inference_full_pipeline"):
        embeddings = [embedding.dense(query_vector(item, [], info.dim, _images(info), info), info.dim) for item in items]
    return {"content": content, "embeddings": embeddings, "processingTimeMs": elapsed_ms(start)}


def get_document(store: Store, name: str, doc_id: str, facets: bool) -> dict[str, Any]:
    found = store.get_documents(name, [doc_id])
    if doc_id not in found:
        raise document_not_found(doc_id)
    rowid, body = found[doc_id]
    doc = {"_id": doc_id, **body}
    if facets:
        doc["_tensor_facets"] = _facets(store, store.index(name), rowid, body)
    return doc


def _facets(store: Store, info: IndexInfo, rowid: int, body: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for field_name, vec in store.vectors_of([rowid])[rowid]:
        text = body.get(field_name)
        out.append({field_name: text if isinstance(text, str) else "",
                    "_embedding": embedding.dense(vec, info.dim)})
    return out


def get_documents(store: Store, name: str, ids: Any, facets: bool) -> dict[str, Any]:
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise invalid("Body must be a JSON list of document ids (strings)")
    if len(ids) > MAX_LIMIT:
        raise invalid(f"At most {MAX_LIMIT} ids per request")
    found = store.get_documents(name, ids)
    info = store.index(name)
    results = []
    for doc_id in ids:
        if doc_id not in found:
            results.append({"_id": doc_id, "_found": False})
            continue
        rowid, body = found[doc_id]
        doc = {"_id": doc_id, "_found": True, **body}
        if facets:
            doc["_tensor_facets"] = _facets(store, info, rowid, body)
        results.append(doc)
    return {"results": results}


__all__ = ["CellError", "parse_search", "run_search", "run_recommend", "run_embed",
           "get_document", "get_documents"]
