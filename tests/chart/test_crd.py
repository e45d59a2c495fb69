"""The CRD is generated from the stack model; the committed copy must be current, and stack files valid."""

from __future__ import annotations

from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from hippodrome_k8s.k8s.cluster import kubernetes_minor, node_image
from hippodrome_k8s.core.crd import CRD_PATH, draft7, openapi_schema, render_crd

ROOT = Path(__file__).resolve().parents[2]
KUBERNETES = kubernetes_minor(node_image())  # the pinned kind node image's minor: 1.37


def test_committed_crd_is_not_stale() -> None:
    committed = (ROOT / CRD_PATH).read_text()
    assert committed == render_crd(), "regenerate: python -m hippodrome_k8s.core.crd > " + CRD_PATH


def test_crd_is_a_valid_structural_crd() -> None:
    crd = yaml.safe_load(render_crd())
    kubernetes_validate.validate(crd, KUBERNETES, strict=True)
    assert crd["metadata"]["name"] == "hippodromestacks.hippodrome.dev"
    names = crd["spec"]["names"]
    assert (names["kind"], names["plural"], names["shortNames"]) == ("HippodromeStack", "hippodromestacks", ["hds"])
    version = crd["spec"]["versions"][0]
    assert version["name"] == "v1alpha1" and version["subresources"] == {"status": {}}
    text = render_crd()
    for forbidden in ("$ref", "anyOf", "const:", "title:", "additionalProperties: false"):
        assert forbidden not in text, forbidden


def test_free_form_fields_preserve_unknown_fields() -> None:
    spec = openapi_schema()["properties"]["spec"]["properties"]
    table = spec["aws"]["properties"]["tables"]["items"]["properties"]
    assert table["items"]["items"]["x-kubernetes-preserve-unknown-fields"] is True
    machine = spec["aws"]["properties"]["stateMachines"]["items"]["properties"]["definition"]
    assert machine["x-kubernetes-preserve-unknown-fields"] is True


@pytest.mark.parametrize("path", ["hippodrome.yaml", "tests/operator/stacks/small.yaml"])
def test_stack_files_are_valid_instances(path: str) -> None:
    file = ROOT / path
    if not file.exists():
        print(f"SKIP: {path} does not exist yet")
        pytest.skip(f"{path} does not exist yet")
    document = yaml.safe_load(file.read_text())
    errors = sorted(jsonschema.Draft7Validator(draft7(openapi_schema())).iter_errors(document), key=str)
    assert not errors, f"{path}: {errors[0].json_path}: {errors[0].message}"


def test_schema_rejects_what_the_model_rejects_structurally() -> None:
    document = yaml.safe_load((ROOT / "tests/operator/stacks/small.yaml").read_text())
    document["spec"]["profile"] = "huge"
    document["spec"]["services"][0]["port"] = "nine"
    errors = list(jsonschema.Draft7Validator(draft7(openapi_schema())).iter_errors(document))
    assert len(errors) == 2
