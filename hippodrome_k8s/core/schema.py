"""JSON Schema of the stack file, generated from the model (never edited by hand).

``hippodrome schema`` prints it; ``schema/hippodrome-stack.schema.json`` is the
committed copy (a test fails when it is stale).  The CRD's openAPIV3Schema is
derived from the same model.
"""

from __future__ import annotations

import json
from typing import Any

from hippodrome_k8s.core.model import HippodromeStack

SCHEMA_ID = "https://hippodrome.dev/schema/hippodrome-stack.schema.json"
SCHEMA_PATH = "schema/hippodrome-stack.schema.json"


def stack_json_schema() -> dict[str, Any]:
    schema = HippodromeStack.model_json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "HippodromeStack",
        "description": "A Hippodrome stack file (also a Kubernetes custom resource of kind HippodromeStack).",
        **{k: v for k, v in schema.items() if k not in ("title", "description")},
    }


def render_schema() -> str:
    return json.dumps(stack_json_schema(), indent=2, sort_keys=True) + "\n"
