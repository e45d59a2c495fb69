"""Stand-ins for the parts of a stack file the schema refused, so the cross-field rules still run.

Why: a schema error used to stop loading before the cross-field validators ran, so one problem
hid others (a service missing `run` hid its duplicate port). The loader repairs a copy of the data
(a missing field gets the smallest value the schema accepts, a wrong one is replaced by it),
validates the copy, runs the cross-field rules on it and reports their problems beside the
schema's, except those about the repaired places themselves. Pure: JSON Schema in, values out.
"""

from __future__ import annotations

import copy
from typing import Any

Loc = tuple[Any, ...]


def minimal_value(schema: dict[str, Any], defs: dict[str, Any]) -> Any:
    """The smallest value ``schema`` accepts (best effort: enough for the model's own fields)."""
    if "$ref" in schema:
        return minimal_value(defs[schema["$ref"].rsplit("/", 1)[-1]], defs)
    if "default" in schema:
        return copy.deepcopy(schema["default"])
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return minimal_value(options[0], defs)
    kind = schema.get("type")
    if kind == "object":
        return {name: minimal_value(schema["properties"][name], defs) for name in schema.get("required", [])}
    if kind == "array":
        return [minimal_value(schema.get("items", {}), defs) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        return "x" * max(1, schema.get("minLength", 1))
    if kind in ("integer", "number"):
        low = schema.get("minimum", schema.get("exclusiveMinimum", 0) + (1 if "exclusiveMinimum" in schema else 0))
        return max(low, 1) if "exclusiveMinimum" in schema else low
    if kind == "boolean":
        return False
    return None


def schema_at(root: dict[str, Any], loc: Loc) -> dict[str, Any] | None:
    """The subschema describing the value at ``loc`` (None where it cannot be followed)."""
    defs = root.get("$defs", {})
    node: dict[str, Any] | None = root
    for part in loc:
        node = _resolve(node, defs)
        if node is None:
            return None
        if isinstance(part, int):
            node = node.get("items")
        else:
            node = node.get("properties", {}).get(part)
            if node is None:
                return None
    return _resolve(node, defs)


def _resolve(node: dict[str, Any] | None, defs: dict[str, Any]) -> dict[str, Any] | None:
    while node is not None:
        if "$ref" in node:
            node = defs[node["$ref"].rsplit("/", 1)[-1]]
        elif "anyOf" in node:
            options = [s for s in node["anyOf"] if s.get("type") != "null"]
            node = options[0] if options else None
        else:
            return node
    return None


def repaired(data: Any, errors: list[Loc], schema: dict[str, Any]) -> Any | None:
    """A copy of ``data`` with a stand-in at every error location; None when a location cannot be repaired."""
    data = copy.deepcopy(data)
    defs = schema.get("$defs", {})
    for loc in errors:
        if not loc:
            return None
        parent = data
        for part in loc[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                return None
        last = loc[-1]
        sub = schema_at(schema, loc)
        if sub is None:  # not in the schema (an unknown field): drop it
            if isinstance(parent, dict):
                parent.pop(last, None)
                continue
            return None
        try:
            parent[last] = minimal_value(sub, defs)
        except (TypeError, IndexError):
            return None
    return data
