"""Score modifiers (`scoreModifiers` on search and recommend): validation, and the score they give.

Why a module: the formula is what users tune rankings with, so it is kept pure and table-tested
against cases worked by hand. It is Marqo 2's rank expression (the `modifiers` rank profile of its
Vespa schemas):

    score' = (product of weight * value over the `multiply_score_by` fields the document has) * score
             + (sum of weight * value over the `add_to_score` fields the document has)

`weight` defaults to 1. A field the document lacks, or whose value is not a number (int, long,
float, double, or a map's number as `map.key`), is left out: an empty product is 1 and an empty
sum 0, so a document without any of the fields keeps its score. Marqo applies the modifiers
while ranking the candidates the search retrieved (for TENSOR the nearest `offset + limit`, see
its "score modifier best practices"); search.py does the same.

Validation follows Marqo's `ScoreModifierLists`: only the two keys, at least one present, lists
not empty, each item `{"field_name": str, "weight": number}` and nothing else, `_id` refused. A
structured index only accepts fields declared with the `score_modifier` feature.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

from .errors import CellError, invalid

KINDS = ("multiply_score_by", "add_to_score")


@dataclass(frozen=True)
class Modifier:
    field: str
    weight: float
    kind: Literal["multiply_score_by", "add_to_score"]


def _refuse(obj: Any, reason: str) -> CellError:
    shown = json.dumps(obj) if not isinstance(obj, str) else obj
    return invalid(f"Error validating score_modifiers = `{shown}`. Reason: \n{reason} "
                   "Please revise your score_modifiers based on the provided error.")


def parse(obj: Any) -> tuple[Modifier, ...]:
    """The request's `scoreModifiers` (None: none); a CellError 400 names what is wrong."""
    if obj is None:
        return ()
    if not isinstance(obj, dict):
        raise _refuse(obj, "score_modifiers must be an object with 'multiply_score_by' and/or 'add_to_score'")
    unknown = sorted(set(obj) - set(KINDS))
    if unknown:
        raise _refuse(obj, f"extra fields not permitted: {unknown}")
    if all(obj.get(kind) is None for kind in KINDS):
        raise _refuse(obj, "At least one of multiply_score_by or add_to_score must be provided")
    out = []
    for kind in KINDS:
        items = obj.get(kind)
        if items is None:
            continue
        if not isinstance(items, list):
            raise _refuse(obj, f"{kind} must be a list of {{\"field_name\", \"weight\"}} objects")
        if not items:
            raise _refuse(obj, f"At least one ScoreModifierOperator is required in {kind}")
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("field_name"), str):
                raise _refuse(obj, f"each item of {kind} needs a string 'field_name'")
            extra = sorted(set(item) - {"field_name", "weight"})
            if extra:
                raise _refuse(obj, f"extra fields not permitted in {kind}: {extra}")
            weight = item.get("weight", 1)
            if not isinstance(weight, int | float) or isinstance(weight, bool):
                raise _refuse(obj, f"'weight' of {item['field_name']!r} must be a number")
            if item["field_name"] == "_id":
                raise invalid("_id is not allowed as a field_name")
            out.append(Modifier(item["field_name"], float(weight), kind))
    return tuple(out)


def check_structured(modifiers: tuple[Modifier, ...], index_name: str, fields: dict[str, dict[str, Any]]) -> None:
    """A structured index accepts only its `score_modifier` fields (a map field also as `map.key`)."""
    allowed = sorted(name for name, f in fields.items() if "score_modifier" in f.get("features", ()))
    for modifier in modifiers:
        base = modifier.field.split(".", 1)[0]
        if modifier.field not in allowed and not (base in allowed and fields[base]["type"].startswith("map<")):
            raise CellError(400, "invalid_field_name",
                            f"Index {index_name} has no score modifier field {modifier.field}. "
                            f"Available score modifier fields are: {', '.join(allowed)}")


def value_of(doc: dict[str, Any], field: str) -> float | None:
    """The document's number for a modifier field, or None (absent, or not a number)."""
    value = doc.get(field)
    if value is None and "." in field:
        name, key = field.split(".", 1)
        parent = doc.get(name)
        value = parent.get(key) if isinstance(parent, dict) else None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def apply(score: float, doc: dict[str, Any], modifiers: tuple[Modifier, ...]) -> float:
    product, total = 1.0, 0.0
    for modifier in modifiers:
        value = value_of(doc, modifier.field)
        if value is None:
            continue
        if modifier.kind == "multiply_score_by":
            product *= modifier.weight * value
        else:
            total += modifier.weight * value
    return product * score + total
