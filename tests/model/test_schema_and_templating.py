"""Generated files are not stale; ${...} templating."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from hippodrome_k8s.core.schema import SCHEMA_PATH, render_schema
from hippodrome_k8s.core.templating import UnknownReference, references, render

REPO = Path(__file__).resolve().parents[2]


def test_committed_json_schema_is_not_stale():
    committed = (REPO / SCHEMA_PATH).read_text()
    assert committed == render_schema(), "run `hippodrome schema -o schema/hippodrome-stack.schema.json`"


def test_default_stack_validates_against_the_json_schema():
    schema = json.loads(render_schema())
    jsonschema.Draft202012Validator(schema).validate(yaml.safe_load((REPO / "hippodrome.yaml").read_text()))


def test_json_schema_rejects_unknown_fields():
    schema = json.loads(render_schema())
    doc = yaml.safe_load((REPO / "hippodrome.yaml").read_text())
    doc["spec"]["services"][0]["prot"] = 1
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(schema).validate(doc)


@pytest.mark.parametrize("text,expected", [
    ("${a.b}", "1"),
    ("x-${a.b}-${c}", "x-1-two"),
    ("$${a.b}", "${a.b}"),
    ("no refs", "no refs"),
    ("${ a.b }", "1"),
])
def test_render(text, expected):
    assert render(text, {"a": {"b": 1}, "c": "two"}) == expected


def test_unknown_reference_lists_what_is_known():
    with pytest.raises(UnknownReference) as caught:
        render("${a.x}", {"a": {"b": 1, "c": 2}})
    assert str(caught.value) == "unknown reference ${a.x} (known here: b, c)"


def test_references_skip_escapes():
    assert list(references("$${x} ${y.z} ${w}")) == ["y.z", "w"]
