"""The Tiltfile, executed by a Starlark interpreter (starlark-pyo3) with Tilt's built-ins stubbed.

No Tilt binary can be had here.  The stubs (``tilt_stubs.py``) accept and refuse what Tilt's
documented signatures do, and ``helm()`` runs the real helm; so this is a real check that the Tiltfile
loads as Tilt would load it and wires what it should: every service of every profile, ports in
9000-9019, dependencies following layers, images with live_update, the chart, the CRD before the
operator, and no port-forward of Tilt's when the CLI's forwards hold the ports.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

sl = pytest.importorskip("starlark")

from hippodrome_k8s.core.loader import load_stack  # noqa: E402
from hippodrome_operator.children import live_reloads  # noqa: E402
from hippodrome_k8s.core.model import Cell, Profile  # noqa: E402
from hippodrome_k8s.core.resolver import ResolveOptions, dns_name, resolve  # noqa: E402
from tilt_stubs import SIGNATURES, Tilt, TiltError, bind  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TILTFILE = ROOT / "Tiltfile"
FIXTURE = Path(__file__).parent / "fixtures" / "stack.yaml"
STACKS = [FIXTURE] + ([ROOT / "hippodrome.yaml"] if (ROOT / "hippodrome.yaml").exists() else [])

PRELUDE = """
os = struct(getenv = _getenv, path = struct(exists = _exists))
"""


TEST_SEED = "1"
TEST_SECRET = "tilt-test-secret"  # set with the seed: `hippodrome seed` records neither in the repository


def load(env: dict[str, str], tiltfile: Path = TILTFILE, root: Path = ROOT, seed: str | None = TEST_SEED) -> Tilt:
    """Load a Tiltfile as Tilt would: run it, then assemble the resources (which may refuse it too).

    HIPPODROME_RANDOM_SEED defaults to TEST_SEED: the Tiltfile runs `hippodrome seed`, which would
    otherwise record a seed in the repository's own .hippodrome/state."""
    tilt = Tilt({**({"HIPPODROME_RANDOM_SEED": seed} if seed else {}),
                 **({"HIPPODROME_ENCRYPTION_SECRET": TEST_SECRET} if seed else {}), **env}, root=root)
    module = sl.Module()
    for name, fn in tilt.builtins().items():
        module.add_callable(name, fn)
    globals_ = sl.Globals.extended_by([sl.LibraryExtension.StructType, sl.LibraryExtension.Print,
                                       sl.LibraryExtension.Json])
    dialect = sl.Dialect.extended()
    sl.eval(module, sl.parse("prelude", PRELUDE, dialect), globals_)
    sl.eval(module, sl.parse("Tiltfile", tiltfile.read_text(), dialect), globals_)
    tilt.resources = tilt.assemble()
    return tilt


def run_tilt(stack: Path, profile: str | None = None, cell: str | None = None, **env: str) -> Tilt:
    values = {"HIPPODROME_STACK_FILE": str(stack), **env}
    if profile:
        values["HIPPODROME_PROFILE"] = profile
    if cell:
        values["HIPPODROME_CELL"] = cell
    return load(values)


def expected(stack_path: Path, profile: str, cell: str = "local"):
    stack = load_stack(stack_path)
    return resolve(stack, ResolveOptions(profile=Profile(profile), cell=Cell(cell), seed=TEST_SEED, git_branch="main"))


# --- the stubs refuse what Tilt refuses ----------------------------------------------------------------


@pytest.mark.parametrize("name, args, kwargs, message", [
    # the bug: image_object takes ONE dict (Tilt visits every match of its json_path), not a list
    ("k8s_kind", ("HippodromeStack",), {"image_object": [{"json_path": "{.a}", "repo_field": "r", "tag_field": "t"}]},
     "image_object"),
    ("k8s_kind", ("HippodromeStack",), {"api_version": "hippodrome.dev/v1alpha1", "pod_readiness": "sometimes"},
     "pod_readiness"),
    ("k8s_kind", ("HippodromeStack", "hippodrome.dev/v1alpha1"), {}, "at most 1"),  # k8s.go: one positional
    ("k8s_kind", ("X",), {"image_objects": {}}, "unexpected keyword argument 'image_objects'"),
    ("k8s_resource", ("w",), {"port_forward": 9000}, "unexpected keyword argument 'port_forward'"),
    ("k8s_resource", ("w",), {"resource_deps": "crd"}, "resource_deps"),
    ("k8s_resource", ("w",), {"labels": 3}, "labels"),
    ("k8s_resource", (), {"workload": "w", "discovery_strategy": "guess"}, "discovery_strategy"),
    ("local_resource", (), {"cmd": "true"}, "missing argument for name"),
    ("local_resource", ("x",), {"readiness_probe": {"http_get": 1}}, "readiness_probe"),
    ("local_resource", ("x",), {"env": {"A": 1}}, "env"),
    ("docker_build", ("img",), {}, "missing argument for context"),
    ("docker_build", ("img", "."), {"live_update": ["sync"]}, "live_update"),
    ("docker_build", ("img", "."), {"target": ["dev"]}, "target"),
    ("sync", ("a",), {}, "missing argument for remote_path"),
    ("http_get_action", ("9000",), {}, "port"),
    ("http_get_action", (9000,), {"scheme": "ftp"}, "scheme"),
    ("probe", (), {"period_secs": 2.5}, "period_secs"),
    ("helm", ("charts/hippodrome",), {"set": {"a": "b"}}, "set"),
    ("link", (), {"name": "x"}, "missing argument for url"),
    ("update_settings", (), {"max_parallel_updates": "2"}, "max_parallel_updates"),
    ("allow_k8s_contexts", (5,), {}, "contexts"),
    ("fail", (), {"message": "x"}, "unexpected keyword argument 'message'"),
])
def test_the_stubs_refuse_what_tilt_refuses(name, args, kwargs, message) -> None:
    with pytest.raises(TiltError, match=message):
        bind(name, args, kwargs)


def test_the_stubs_accept_what_tilt_documents() -> None:
    bind("k8s_kind", ("HippodromeStack",), {"api_version": "v1", "image_json_path": ["{.a}", "{.b}"]})
    bind("k8s_resource", (), {"new_name": "crd", "objects": ["a:namespace"], "labels": "platform"})
    bind("local_resource", ("x", "echo hi"), {"deps": ["a"], "links": ["http://x", {"__tilt__": "link", "url": "y"}]})
    bind("docker_build", ("img", ".", {"A": "1"}, "Dockerfile"), {"match_in_env_vars": True})
    bind("http_get_action", (9000, "127.0.0.1", "https", "/healthz"), {})


@pytest.mark.parametrize("image_object, message", [
    ({"json_path": "{.a}", "repo_field": "r"}, "Expected dict of the form"),
    ({"json_path": "{.a}", "repo_field": "r", "tag_field": "t", "extra": "x"}, "Expected dict of the form"),
    ({"json_path": "{.a}", "repo_field": "r", "tag_field": 1}, "Expected dict of the form"),
])
def test_k8s_kind_image_object_is_one_dict_of_three_strings(image_object, message) -> None:
    tilt = Tilt({})
    with pytest.raises(TiltError, match=message):
        tilt.builtins()["k8s_kind"]("HippodromeStack", image_object=image_object)


def test_k8s_kind_takes_image_json_path_or_image_object_not_both() -> None:
    with pytest.raises(TiltError, match="Cannot specify both image_json_path and image_object"):
        Tilt({}).builtins()["k8s_kind"]("HippodromeStack", image_json_path="{.a}", image_object={
            "json_path": "{.a}", "repo_field": "r", "tag_field": "t"})


def test_a_live_update_breaking_tilts_order_rules_is_refused() -> None:
    tilt = Tilt({})
    b = tilt.builtins()
    late_fallback = [b["sync"]("examples", "/app/examples"), b["fall_back_on"]("pyproject.toml")]
    with pytest.raises(TiltError, match="fall_back_on steps must appear at the start"):
        b["docker_build"]("img", ".", dockerfile="examples/Dockerfile", live_update=late_fallback)
    relative = [b["sync"]("examples", "app/examples")]
    with pytest.raises(TiltError, match="must be absolute"):
        b["docker_build"]("img2", ".", dockerfile="examples/Dockerfile", live_update=relative)
    with pytest.raises(TiltError, match="outside the docker_build context"):
        b["docker_build"]("img3", "examples/console", dockerfile="examples/console/Dockerfile",
                          live_update=[b["sync"]("examples/controller", "/app/x")])


def test_the_old_tiltfile_shape_is_refused_at_load(tmp_path) -> None:
    """Regression: the Tiltfile passed image_object a list, which Tilt rejects at load."""
    old = TILTFILE.read_text().replace(
        'image_object = {"json_path": "{.spec.services[*].image}", "repo_field": "repository", "tag_field": "tag"}',
        'image_object = [{"json_path": "{.spec.services[0].image}", "repo_field": "repository", "tag_field": "tag"}]')
    assert old != TILTFILE.read_text()
    broken = tmp_path / "Tiltfile"
    broken.write_text(old)
    with pytest.raises(sl.StarlarkError, match="image_object"):
        load({"HIPPODROME_STACK_FILE": str(FIXTURE)}, broken)


def test_every_signature_names_a_documented_parameter_list() -> None:
    # the table covers every built-in the Tiltfile calls (a new call needs its documented signature here)
    called = {n for n, _ in run_tilt(FIXTURE, "full").calls}
    assert called <= set(SIGNATURES), called - set(SIGNATURES)


# --- what the Tiltfile wires ---------------------------------------------------------------------------


@pytest.mark.parametrize("stack_path", STACKS, ids=lambda p: p.name)
@pytest.mark.parametrize("profile", [p.value for p in Profile])
def test_every_service_of_every_profile_is_wired_in_layer_order(stack_path, profile):
    plan = expected(stack_path, profile)
    tilt = run_tilt(stack_path, profile)
    resources = {c["name"]: c for c in tilt.by("local_resource")}
    assert list(resources) == [s.name for s in plan.services]
    layers = plan.layers
    for index, layer in enumerate(layers):
        blocking_before = next(([s.name for s in lower if s.blocking] for lower in reversed(layers[:index])
                                if any(s.blocking for s in lower)), ["stack"])
        for s in layer:
            kwargs = resources[s.name]
            assert 9000 <= s.port <= 9019
            assert list(kwargs["resource_deps"]) == blocking_before, s.name
            assert list(kwargs["labels"]) == [f"layer-{s.layer}"]
            deployment = dns_name(plan.stack_name, s.name)
            assert f"port-forward svc/{deployment} {s.port}:{s.port}" in kwargs["serve_cmd"]
            assert "--address 127.0.0.1" in kwargs["serve_cmd"]
            assert kwargs["serve_cmd"].index(f"get deployment/{deployment}") < \
                kwargs["serve_cmd"].index(f"rollout status deployment/{deployment}")
            probe = kwargs["readiness_probe"]["http_get"]
            assert probe["port"] == s.port and probe["path"] == s.health.path and probe["host"] == "127.0.0.1"
    assert tilt.resources["stack"] == "k8s"


@pytest.mark.parametrize("stack_path", STACKS, ids=lambda p: p.name)
def test_with_the_clis_forwards_tilt_forwards_nothing(stack_path):
    """Regression: after `hippodrome k8s up --detach`, Tilt's forwards found 9000-9019 taken."""
    tilt = run_tilt(stack_path, "full", HIPPODROME_FORWARDS="cli")
    for resource in tilt.by("local_resource"):
        assert not resource["serve_cmd"] and "port-forward" not in resource["cmd"]
        assert "rollout status" in resource["cmd"] and resource["readiness_probe"] is None
    dashboard = next(c for c in tilt.by("k8s_resource") if c["workload"] == "hippodrome-dashboard")
    assert dashboard["port_forwards"] == []
    assert all("port-forward" not in str(c) for c in tilt.by("local_resource"))


def test_an_unknown_forwards_mode_fails_with_the_allowed_values():
    with pytest.raises(sl.StarlarkError, match="HIPPODROME_FORWARDS=both: use tilt"):
        run_tilt(FIXTURE, "core", HIPPODROME_FORWARDS="both")


@pytest.mark.parametrize("stack_path", STACKS, ids=lambda p: p.name)
def test_images_are_built_once_with_live_update_only_where_something_reloads(stack_path):
    plan = expected(stack_path, "full")
    tilt = run_tilt(stack_path, "full")
    builds = {c["ref"]: c for c in tilt.by("docker_build")}
    wanted = {"hippodrome/operator", "hippodrome/fakes"} | {
        s.spec.image.repository for s in plan.services if s.spec.image and s.spec.image.build}
    assert set(builds) == wanted and len(tilt.by("docker_build")) == len(wanted)
    for repository, kwargs in builds.items():
        steps = kwargs["live_update"]
        if not steps:
            continue
        assert kwargs["target"] == "dev"
        assert steps[0]["__tilt__"] == "fall_back_on", "fall_back_on must come first"
        assert all(step["__tilt__"] == "sync" for step in steps[1:])
        assert all(step["remote_path"].startswith("/app/") for step in steps[1:])
    reloading = {s.spec.image.repository for s in plan.services if live_reloads(s) and s.spec.image.sync}
    assert {r for r, b in builds.items() if b["live_update"]} == reloading | {"hippodrome/operator"}
    for s in plan.services:
        if live_reloads(s):
            synced = {step["local_path"] for step in builds[s.spec.image.repository]["live_update"][1:]}
            assert set(s.spec.image.sync) <= synced
    assert builds["hippodrome/fakes"]["live_update"] == [], "the fakes are stateful: rebuilt, not reloaded"


def test_the_default_service_image_is_one_tilt_rewrites():
    """Regression: operator.defaultServiceImage=hippodrome/fakes had no tag and Tilt never rewrote it."""
    tilt = run_tilt(FIXTURE, "full")
    operator = next(o.body for o in tilt.objects if o.kind == "Deployment" and o.name == "hippodrome-operator")
    env = {e["name"]: e.get("value") for e in operator["spec"]["template"]["spec"]["containers"][0]["env"]}
    fakes = next(c for c in tilt.by("docker_build") if c["ref"] == "hippodrome/fakes")
    assert env["HIPPODROME_DEFAULT_IMAGE"] == fakes["ref"] and fakes["match_in_env_vars"] is True
    assert env["HIPPODROME_LIVE_UPDATE"] == "true"


def test_namespace_and_crd_come_before_the_operator():
    """Regression: Tilt never created the namespace; the CRD and the operator were applied together."""
    tilt = run_tilt(FIXTURE, "ecom")
    kinds = {(o.kind, o.name) for o in tilt.objects}
    assert ("Namespace", "hippodrome") in kinds
    assert ("CustomResourceDefinition", "hippodromestacks.hippodrome.dev") in kinds
    crd = tilt.k8s_resources["crd"]
    assert set(crd["objects"]) >= {"hippodrome:namespace", "hippodromestacks.hippodrome.dev:customresourcedefinition"}
    assert tilt.k8s_resources["hippodrome-operator"]["resource_deps"] == ["crd"]
    assert tilt.k8s_resources["hippodrome-dashboard"]["resource_deps"] == ["hippodrome-operator"]
    assert {"crd", "hippodrome-operator", "hippodrome-dashboard", "stack"} <= set(tilt.resources)
    namespaced = [o for o in tilt.objects if o.kind not in ("Namespace", "CustomResourceDefinition", "ClusterRole",
                                                            "ClusterRoleBinding")]
    assert {o.namespace for o in namespaced} == {"hippodrome"}


def test_chart_stack_and_custom_resource_are_registered():
    tilt = run_tilt(FIXTURE, "ecom")
    (helm,) = tilt.by("helm")
    assert helm["pathToChartDir"] == "charts/hippodrome" and helm["namespace"] == "hippodrome"
    (cr,) = [o.body for o in tilt.objects if o.kind == "HippodromeStack"]
    assert cr["metadata"]["name"] == "dev" and cr["metadata"]["namespace"] == "hippodrome"
    assert cr["spec"]["profile"] == "ecom" and cr["spec"]["cell"] == "local"
    images = [svc["image"] for svc in cr["spec"]["services"] if svc.get("image")]
    assert images and all(set(i) >= {"repository", "tag"} for i in images), "both fields the image_object names"
    (kind,) = tilt.by("k8s_kind")
    assert kind["kind"] == "HippodromeStack"
    assert kind["image_object"] == {"json_path": "{.spec.services[*].image}", "repo_field": "repository",
                                    "tag_field": "tag"}
    dashboard = tilt.k8s_resources["hippodrome-dashboard"]
    assert list(dashboard["port_forwards"]) == ["9000:9000"]
    assert [c["contexts"] for c in tilt.by("allow_k8s_contexts")] == ["kind-hippodrome"]


def test_the_encryption_secret_goes_to_the_cluster_as_a_secret():
    tilt = run_tilt(FIXTURE, "core", HIPPODROME_ENCRYPTION_SECRET="s3cret-for-tests")
    (secret,) = [o.body for o in tilt.objects if o.kind == "Secret"]
    assert secret["metadata"] == {"name": "hippodrome-encryption", "namespace": "hippodrome"}
    assert secret["stringData"] == {"HIPPODROME_ENCRYPTION_SECRET": "s3cret-for-tests"}
    assert "hippodrome-encryption:secret" in tilt.k8s_resources["crd"]["objects"]


def test_staging_cell_drops_the_local_cell_fake():
    tilt = run_tilt(FIXTURE, "core", cell="staging")
    names = [c["name"] for c in tilt.by("local_resource")]
    assert "fake_cell" not in names and "controller" in names


def test_prod_cell_is_refused():
    with pytest.raises(sl.StarlarkError, match="never targets the prod cell"):
        run_tilt(FIXTURE, "core", cell="prod")


def test_a_broken_tiltfile_reports_the_line(tmp_path):
    broken = tmp_path / "Tiltfile"
    broken.write_text(TILTFILE.read_text().replace("services = sorted(", "services = sorted_typo("))
    with pytest.raises(sl.StarlarkError) as info:
        load({"HIPPODROME_STACK_FILE": str(FIXTURE)}, broken)
    assert "sorted_typo" in str(info.value) and "Tiltfile:" in str(info.value)


def test_a_dependency_on_an_unknown_resource_is_refused(tmp_path):
    broken = tmp_path / "Tiltfile"
    broken.write_text(TILTFILE.read_text().replace('resource_deps = ["crd"]', 'resource_deps = ["crds"]'))
    with pytest.raises(TiltError, match="unknown resource 'crds'"):
        load({"HIPPODROME_STACK_FILE": str(FIXTURE)}, broken)


def _object(tilt: Tilt, kind: str, name: str) -> dict[str, Any]:
    return next(o.body for o in tilt.objects if o.kind == kind and o.name == name)


def test_the_stack_tilt_applies_is_a_valid_custom_resource():
    import jsonschema

    from hippodrome_k8s.core.crd import draft7, openapi_schema

    tilt = run_tilt(ROOT / "hippodrome.yaml" if (ROOT / "hippodrome.yaml").exists() else FIXTURE, "full")
    crd = _object(tilt, "CustomResourceDefinition", "hippodromestacks.hippodrome.dev")
    stack = next(o.body for o in tilt.objects if o.kind == "HippodromeStack")
    errors = list(jsonschema.Draft7Validator(draft7(openapi_schema(crd))).iter_errors(yaml.safe_load(yaml.safe_dump(stack))))
    assert not errors, errors[0]


def test_the_tiltfile_uses_the_projects_recorded_seed(tmp_path):
    """Regression: the Tiltfile defaulted to seed 42 whatever `hippodrome up` had recorded. It runs the real
    `hippodrome seed` (Tilt's local()) in a project whose last run recorded 4242."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("Tiltfile", "charts", "fakes", "operator", "examples", "pyproject.toml"):
        (project / name).symlink_to(ROOT / name)
    (project / "hippodrome.yaml").write_text((ROOT / "hippodrome.yaml").read_text())
    (project / ".hippodrome" / "state").mkdir(parents=True)
    (project / ".hippodrome" / "state" / "seed").write_text("4242\n")
    tilt = load({"HIPPODROME_STACK_FILE": str(project / "hippodrome.yaml")}, project / "Tiltfile", root=project, seed=None)
    [stack] = [o for o in tilt.objects if o.kind == "HippodromeStack"]
    assert stack.body["spec"]["seed"] == "4242"
    assert ["hippodrome", "seed", "--json", "--with-secret", "-f", str(project / "hippodrome.yaml")] == \
        tilt.by("local")[0]["command"]
    # issue 14: without HIPPODROME_ENCRYPTION_SECRET, the project's own secret (generated, recorded) goes to the cluster
    recorded = (project / ".hippodrome" / "state" / "encryption-secret").read_text().strip()
    [secret] = [o.body for o in tilt.objects if o.kind == "Secret"]
    assert secret["stringData"] == {"HIPPODROME_ENCRYPTION_SECRET": recorded} and recorded != "1234567890ABCDEF"
