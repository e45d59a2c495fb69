"""Read every document of an index through search_proxy (exporters and admin_worker use it).

There is no "list documents" call in the Marqo API: page through a match-all lexical search
(``q="*"``).  A copier that must re-create tensor fields fetches each page again by id with
``with_facets`` (``_tensor_facets`` tell which fields were vectorised).  Marqo caps ``offset`` at 10 000, so this reads at most
``MAX_DOCUMENTS`` documents.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any
from urllib.parse import quote

from .upstream import Upstream

PAGE = 200
MAX_DOCUMENTS = 10_000 + PAGE
_HIT_ONLY = ("_score", "_highlights", "_pinned", "_lexical_score", "_tensor_score")


async def pages(proxy: Upstream, index: str, headers: Mapping[str, str], page: int = PAGE
                ) -> AsyncIterator[list[dict[str, Any]]]:
    """Pages of documents (without search-only fields such as ``_score``)."""
    path = f"/indexes/{quote(index, safe='')}/search"
    offset = 0
    while offset < MAX_DOCUMENTS:
        body = await proxy.call("POST", path, headers=headers, json_body={
            "q": "*", "searchMethod": "LEXICAL", "limit": page, "offset": offset, "showHighlights": False})
        hits = body.get("hits", []) if isinstance(body, dict) else []
        docs = [{k: v for k, v in hit.items() if k not in _HIT_ONLY} for hit in hits if isinstance(hit, dict)]
        if docs:
            yield docs
        if len(hits) < page:
            return
        offset += page


def tensor_fields(docs: list[dict[str, Any]]) -> list[str]:
    """The fields that were vectorised in any of ``docs`` (from ``_tensor_facets``)."""
    fields: set[str] = set()
    for doc in docs:
        for facet in doc.get("_tensor_facets") or []:
            if isinstance(facet, dict):
                fields.update(k for k in facet if not k.startswith("_"))
    return sorted(fields)


async def with_facets(proxy: Upstream, index: str, headers: Mapping[str, str], ids: list[str]
                      ) -> list[dict[str, Any]]:
    """The documents ``ids`` with their ``_tensor_facets`` (found ones only)."""
    body = await proxy.call("GET", f"/indexes/{quote(index, safe='')}/documents", headers=headers,
                            params={"expose_facets": "true"}, json_body=ids)
    results = body.get("results", []) if isinstance(body, dict) else []
    return [r for r in results if isinstance(r, dict) and r.get("_found")]


def strip_reserved(doc: dict[str, Any]) -> dict[str, Any]:
    """A document as it can be written back (no ``_found``, ``_tensor_facets``...)."""
    return {k: v for k, v in doc.items() if k == "_id" or not k.startswith("_")}
