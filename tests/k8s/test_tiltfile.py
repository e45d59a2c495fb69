"""The Tiltfile, executed by a Starlark interpreter (starlark-pyo3) with Tilt's built-ins stubbed.

No Tilt binary exists here (FACTS.md); this is a real check that the Tiltfile
parses, runs, and wires what it should: every service of every profile, ports
in 9000-9019, dependencies following layers, images with live_update.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

sl = pytest.importorskip("starlark")

from hippodrome_k8s.loader import load_stack  # noqa: E402
from hippodrome_k8s.model import Profile  # noqa: E402
from hippodrome_k8s.resolver import ResolveOptions, dns_name, resolve  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TILTFILE = ROOT / "Tiltfile"
FIXTURE = Path(__file__).parent / "fixtures" / "stack.yaml"
STACKS = [FIXTURE] + ([ROOT / "hippodrome.yaml"] if (ROOT / "hippodrome.yaml").exists() else [])

PRELUDE = """
os = struct(getenv = _getenv, path = struct(exists = _exists))
"""


class Tilt:
    """Records every call the Tiltfile makes to a stubbed Tilt built-in."""

    def __init__(self, env: dict[str, str], root: Path = ROOT):
        self.env, self.root = env, root
        self.calls: list[tuple[str, tuple, dict]] = []

    def by(self, name: str) -> list[tuple[tuple, dict]]:
        return [(a, k) for n, a, k in self.calls if n == name]

    def run(self, tiltfile: Path = TILTFILE) -> None:
        module = sl.Module()
        for name in ("docker_build", "k8s_yaml", "k8s_kind", "k8s_resource", "local_resource",
                     "allow_k8s_contexts", "watch_file", "update_settings"):
            module.add_callable(name, self._recorder(name))
        for name in ("sync", "run", "fall_back_on", "helm", "probe", "http_get_action", "link", "encode_yaml"):
            module.add_callable(name, self._value(name))
        module.add_callable("read_yaml", self._read_yaml)
        module.add_callable("decode_yaml", lambda text: yaml.safe_load(text))
        module.add_callable("_getenv", lambda key, default=None: self.env.get(key, default))
        module.add_callable("_exists", lambda path: (self.root / path).exists())
        globals_ = sl.Globals.extended_by([sl.LibraryExtension.StructType, sl.LibraryExtension.Print,
                                           sl.LibraryExtension.Json])
        dialect = sl.Dialect.extended()
        sl.eval(module, sl.parse("prelude", PRELUDE, dialect), globals_)
        sl.eval(module, sl.parse("Tiltfile", tiltfile.read_text(), dialect), globals_)

    def _recorder(self, name: str):
        def record(*args: Any, **kwargs: Any) -> None:
            self.calls.append((name, args, kwargs))
        return record

    def _value(self, name: str):
        def value(*args: Any, **kwargs: Any) -> dict:
            self.calls.append((name, args, kwargs))
            return {"__tilt__": name, "args": list(args), **kwargs}
        return value

    def _read_yaml(self, path: str, default: Any = None) -> Any:
        file = Path(path) if Path(path).is_absolute() else self.root / path
        self.calls.append(("read_yaml", (path,), {}))
        if not file.exists():
            return default
        return yaml.safe_load(file.read_text())


def run_tilt(stack: Path, profile: str | None = None, cell: str | None = None) -> Tilt:
    env = {"HIPPODROME_STACK_FILE": str(stack)}
    if profile:
        env["HIPPODROME_PROFILE"] = profile
    if cell:
        env["HIPPODROME_CELL"] = cell
    tilt = Tilt(env)
    tilt.run()
    return tilt


def expected(stack_path: Path, profile: str, cell: str = "local"):
    from hippodrome_k8s.model import Cell

    stack = load_stack(stack_path)
    return resolve(stack, ResolveOptions(profile=Profile(profile), cell=Cell(cell), seed="1", git_branch="main"))


@pytest.mark.parametrize("stack_path", STACKS, ids=lambda p: p.name)
@pytest.mark.parametrize("profile", [p.value for p in Profile])
def test_every_service_of_every_profile_is_wired_in_layer_order(stack_path, profile):
    plan = expected(stack_path, profile)
    tilt = run_tilt(stack_path, profile)
    resources = {args[0]: kwargs for args, kwargs in tilt.by("local_resource")}
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
            assert f"port-forward svc/{dns_name(plan.stack_name, s.name)} {s.port}:{s.port}" in kwargs["serve_cmd"]
            assert "--address 127.0.0.1" in kwargs["serve_cmd"]
            probe = kwargs["readiness_probe"]["http_get"]
            assert probe["port"] == s.port and probe["path"] == s.health.path


@pytest.mark.parametrize("stack_path", STACKS, ids=lambda p: p.name)
def test_images_are_built_once_with_live_update(stack_path):
    plan = expected(stack_path, "full")
    tilt = run_tilt(stack_path, "full")
    builds = {args[0]: kwargs for args, kwargs in tilt.by("docker_build")}
    wanted = {"hippodrome/operator", "hippodrome/fakes"} | {
        s.spec.image.repository for s in plan.services if s.spec.image and s.spec.image.build}
    assert set(builds) == wanted and len(tilt.by("docker_build")) == len(wanted)
    for repository, kwargs in builds.items():
        steps = kwargs["live_update"]
        assert steps[0]["__tilt__"] == "fall_back_on", "fall_back_on must come first"
        assert all(step["__tilt__"] == "sync" for step in steps[1:])
        assert all(step["args"][1].startswith("/app/") for step in steps[1:])
    for s in plan.services:
        if s.spec.image and s.spec.image.sync:
            synced = {step["args"][0] for step in builds[s.spec.image.repository]["live_update"][1:]}
            assert set(s.spec.image.sync) <= synced


def test_chart_stack_and_custom_resource_are_registered():
    tilt = run_tilt(FIXTURE, "ecom")
    (helm_args, helm_kwargs), = tilt.by("helm")
    assert helm_args[0] == "charts/hippodrome" and helm_kwargs["namespace"] == "hippodrome"
    (encoded,), = [args for args, _ in tilt.by("encode_yaml")]
    cr = encoded
    assert cr["kind"] == "HippodromeStack" and cr["metadata"]["name"] == "dev"
    assert cr["spec"]["profile"] == "ecom" and cr["spec"]["cell"] == "local"
    (kind_args, kind_kwargs), = tilt.by("k8s_kind")
    assert kind_args == ("HippodromeStack",)
    stack = load_stack(FIXTURE)
    paths = [o["json_path"] for o in kind_kwargs["image_object"]]
    assert paths == [f"{{.spec.services[{i}].image}}" for i, s in enumerate(stack.spec.services) if s.image]
    forwards = {args[0]: kwargs for args, kwargs in tilt.by("k8s_resource")}
    assert list(forwards["hippodrome-dashboard"]["port_forwards"]) == ["9000:9000"]
    assert [args for args, _ in tilt.by("allow_k8s_contexts")] == [("kind-hippodrome",)]


def test_staging_cell_drops_the_local_cell_fake():
    tilt = run_tilt(FIXTURE, "core", cell="staging")
    names = [args[0] for args, _ in tilt.by("local_resource")]
    assert "fake_cell" not in names and "controller" in names


def test_prod_cell_is_refused():
    with pytest.raises(sl.StarlarkError, match="never targets the prod cell"):
        run_tilt(FIXTURE, "core", cell="prod")


def test_a_broken_tiltfile_reports_the_line(tmp_path):
    broken = tmp_path / "Tiltfile"
    broken.write_text(TILTFILE.read_text().replace("services = sorted(", "services = sorted_typo("))
    with pytest.raises(sl.StarlarkError) as info:
        Tilt({"HIPPODROME_STACK_FILE": str(FIXTURE)}).run(broken)
    assert "sorted_typo" in str(info.value) and "Tiltfile:" in str(info.value)
