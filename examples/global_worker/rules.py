"""Merchandising rules: validation and application (pure functions, no I/O)."""

from __future__ import annotations

from typing import Any

from examples.common.errors import bad_request, invalid

MAX_PINS = 100
MAX_IDS = 50


def validate(body: Any) -> dict[str, Any]:
    """``{"pins": [{"query", "ids"}]}`` checked field by field (422 naming the field)."""
    if not isinstance(body, dict):
        raise bad_request("Rules must be a JSON object with a 'pins' list")
    pins = body.get("pins")
    if not isinstance(pins, list):
        raise invalid("pins", "a list of {query, ids} is required")
    if len(pins) > MAX_PINS:
        raise invalid("pins", f"at most {MAX_PINS} pins per index")
    out = []
    for n, pin in enumerate(pins):
        if not isinstance(pin, dict):
            raise invalid(f"pins[{n}]", "must be an object with 'query' and 'ids'")
        query, ids = pin.get("query"), pin.get("ids")
        if not isinstance(query, str) or not query.strip():
            raise invalid(f"pins[{n}].query", "a non-empty string is required")
        if not isinstance(ids, list) or not ids or len(ids) > MAX_IDS or not all(isinstance(i, str) and i for i in ids):
            raise invalid(f"pins[{n}].ids", f"a list of 1-{MAX_IDS} document ids (strings) is required")
        out.append({"query": query.strip(), "ids": list(dict.fromkeys(ids))})
    return {"pins": out}


def pinned_ids(rules: dict[str, Any], search: dict[str, Any]) -> list[str]:
    """The ids pinned for this search's query (empty when none match, or not on the first page)."""
    q = search.get("q")
    if not isinstance(q, str) or int(search.get("offset") or 0) != 0:
        return []
    wanted = q.strip().lower()
    for pin in rules.get("pins", []):
        if isinstance(pin, dict) and str(pin.get("query", "")).strip().lower() == wanted:
            return [i for i in pin.get("ids", []) if isinstance(i, str)]
    return []


def apply_pins(hits: list[dict[str, Any]], ids: list[str], fetched: dict[str, dict[str, Any]], limit: int
               ) -> list[dict[str, Any]]:
    """Pinned documents first (from the hits, else from ``fetched``), then the rest, cut to ``limit``."""
    by_id = {h.get("_id"): h for h in hits if isinstance(h, dict)}
    top = []
    for doc_id in ids:
        doc = by_id.get(doc_id) or fetched.get(doc_id)
        if doc is not None:
            top.append({**doc, "_pinned": True})
    chosen = {d.get("_id") for d in top}
    rest = [h for h in hits if not (isinstance(h, dict) and h.get("_id") in chosen)]
    return (top + rest)[:limit]
