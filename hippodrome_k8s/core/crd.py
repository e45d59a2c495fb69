"""The HippodromeStack CustomResourceDefinition, generated from the stack model.

``charts/hippodrome/crds/hippodromestacks.yaml`` is the committed output of
``render_crd()``; a test fails when it is stale.  The spec's openAPIV3Schema is
``HippodromeStack.model_json_schema()`` turned structural (Kubernetes rejects
JSON Schema it cannot prune):

- ``$ref`` is inlined; ``anyOf: [X, null]`` becomes ``X`` + ``nullable``;
- a free-form dict (``dict[str, Any]``: table items, state machine definitions)
  becomes ``x-kubernetes-preserve-unknown-fields``;
- keywords a CRD does not accept (``title``, ``additionalProperties: false``,
  ``const``, numeric ``exclusiveMinimum``) are dropped or rewritten; what that
  loosens (``gt=0`` becomes ``>= 0``, unknown fields are pruned rather than
  refused) is still caught by the model's validators: the CLI refuses such a
  file and the operator reports ``Failed``.

The status schema is the operator's contract: its service entries are generated
from ``contract.ServiceView`` (what `/api/status` serves) and its phases come from
``contract.StackPhase``; the rest is written here, beside the printer columns that read it.
"""

from __future__ import annotations

from typing import Any

import yaml

from hippodrome_k8s.core.contract import CONDITION_TYPES, StackPhase, service_view_schema
from hippodrome_k8s.core.model import API_VERSION, KIND, HippodromeStack

GROUP, VERSION = API_VERSION.split("/")
PLURAL = "hippodromestacks"
SINGULAR = "hippodromestack"
SHORT_NAMES = ["hds"]
CRD_NAME = f"{PLURAL}.{GROUP}"
CRD_PATH = "charts/hippodrome/crds/hippodromestacks.yaml"

# Names the CLI (and the Tiltfile) and the operator agree on, beside the CRD.

PHASES = StackPhase.cr_values()

PRINTER_COLUMNS = [
    {"name": "Profile", "type": "string", "jsonPath": ".spec.profile", "description": "Selected profile."},
    {"name": "Cell", "type": "string", "jsonPath": ".spec.cell", "description": "Selected cell."},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase", "description": "Stack phase."},
    {"name": "Ready", "type": "string", "jsonPath": ".status.readyServices", "description": "Ready services / selected services."},
    {"name": "Layer", "type": "integer", "jsonPath": ".status.currentLayer", "description": "Highest layer whose children exist."},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]

_DROP = {"title", "$schema", "$id", "examples"}


def _structural(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_structural(item, defs) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = defs[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _structural(merged, defs)
    any_of = node.get("anyOf")
    if any_of is not None:
        options = [o for o in any_of if o != {"type": "null"}]
        rest = {k: v for k, v in node.items() if k != "anyOf"}
        if len(options) == 1:
            out = _structural({**options[0], **rest}, defs)
            if len(options) < len(any_of):
                out["nullable"] = True
            if out.get("default", 0) is None:
                del out["default"]
            return out
        raise ValueError(f"cannot make a structural schema of anyOf {any_of!r}")

    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _DROP:
            continue
        if key == "const":
            out["enum"] = [value]
        elif key == "exclusiveMinimum":
            out.setdefault("minimum", value)
        elif key == "exclusiveMaximum":
            out.setdefault("maximum", value)
        elif key == "additionalProperties":
            if value is True:
                out["x-kubernetes-preserve-unknown-fields"] = True
            elif isinstance(value, dict):
                out["additionalProperties"] = _structural(value, defs)
            # False: unknown fields are pruned by the API server and refused by the validators
        elif key == "properties":
            out["properties"] = {k: _structural(v, defs) for k, v in value.items()}
        elif key == "items":
            out["items"] = _structural(value, defs)
        elif key == "default" and value is None:
            continue
        else:
            out[key] = _structural(value, defs)
    if out.get("type") == "object" and "properties" not in out and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    return out


def spec_schema() -> dict[str, Any]:
    """The CR's ``spec``: exactly a stack file's spec, as a structural schema."""
    schema = HippodromeStack.model_json_schema(mode="validation")
    defs = schema.get("$defs", {})
    return _structural(schema["properties"]["spec"], defs)


def _condition_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["type", "status"],
        "properties": {
            "type": {"type": "string", "enum": list(CONDITION_TYPES)},
            "status": {"type": "string", "enum": ["True", "False", "Unknown"]},
            "reason": {"type": "string"},
            "message": {"type": "string"},
            "lastTransitionTime": {"type": "string", "format": "date-time"},
        },
    }


def _service_status_schema() -> dict[str, Any]:
    """One value of ``status.services``: a ``contract.ServiceView``, as the local ``/api/status`` values are."""
    return service_view_schema()


def status_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "Written by the operator; read by `kubectl get`, the cluster dashboard and the CLI.",
        "properties": {
            "phase": {"type": "string", "enum": PHASES},
            "observedGeneration": {"type": "integer"},
            "rejectedGeneration": {"type": "integer",
                                   "description": "The spec generation the API server refused (4xx); not retried."},
            "currentLayer": {"type": "integer", "description": "Highest layer whose children exist (-1: none)."},
            "readyServices": {"type": "string", "description": "`ready/selected`, e.g. `3/7`."},
            "profile": {"type": "string"},
            "cell": {"type": "string"},
            "message": {"type": "string"},
            "services": {"type": "object", "additionalProperties": _service_status_schema()},
            "conditions": {"type": "array", "items": _condition_schema(),
                           "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
            "lastControl": {
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "action": {"type": "string"},
                    "service": {"type": "string", "nullable": True},
                    "result": {"type": "string"},
                },
            },
        },
    }


def crd() -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": CRD_NAME,
            "annotations": {"hippodrome.dev/generated-from": "hippodrome_k8s.core.model.HippodromeStack (hippodrome_k8s/core/crd.py)"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {"kind": KIND, "listKind": f"{KIND}List", "plural": PLURAL, "singular": SINGULAR,
                      "shortNames": SHORT_NAMES, "categories": ["hippodrome"]},
            "versions": [{
                "name": VERSION,
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "additionalPrinterColumns": PRINTER_COLUMNS,
                "schema": {"openAPIV3Schema": {
                    "type": "object",
                    "description": "A Hippodrome stack: the same document `hippodrome up` runs locally.",
                    "required": ["spec"],
                    "properties": {
                        "apiVersion": {"type": "string"},
                        "kind": {"type": "string"},
                        "metadata": {"type": "object"},
                        "spec": spec_schema(),
                        "status": status_schema(),
                    },
                }},
            }],
        },
    }


def render_crd() -> str:
    header = "# GENERATED by hippodrome_k8s/core/crd.py from the stack model; do not edit (a test checks it).\n"
    return header + yaml.safe_dump(crd(), sort_keys=True, default_flow_style=False, width=120)


def openapi_schema(document: dict[str, Any] | None = None) -> dict[str, Any]:
    """The openAPIV3Schema of a rendered (or given) CRD document."""
    return (document or crd())["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def draft7(schema: Any) -> Any:
    """An openAPIV3Schema as plain JSON Schema (``nullable: true`` -> ``type: [t, "null"]``), for
    ``jsonschema.Draft7Validator``: what the API server would accept, checked offline."""
    if isinstance(schema, list):
        return [draft7(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: draft7(v) if k in ("properties", "items", "additionalProperties") or isinstance(v, (dict, list)) else v
           for k, v in schema.items() if k != "nullable"}
    if "properties" in schema:
        out["properties"] = {k: draft7(v) for k, v in schema["properties"].items()}
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


if __name__ == "__main__":  # python -m hippodrome_k8s.core.crd > charts/hippodrome/crds/hippodromestacks.yaml
    print(render_crd(), end="")
