"""Tilt's built-ins, as the Tiltfile meets them, for running it under starlark-pyo3 (no Tilt binary here).

Each stub binds its arguments the way Tilt's ``starlark.UnpackArgs`` does (positional in order,
keywords by name, unknown or repeated ones refused), checks the types and values Tilt documents, and
refuses what Tilt refuses at load, raising ``TiltError`` (Starlark reports it with the Tiltfile's line).
What Tilt would do with a value is recorded (``Tilt.calls``) or, where it can run here, done for real:
``helm()`` runs the real ``helm template``; ``k8s_yaml`` parses the YAML into objects; at the end of
the load, resource names, dependencies, workloads and object selectors are resolved as Tilt resolves them.

Signatures and rules, from tilt-dev/tilt:
  internal/tiltfile/api/__init__.py     the documented signatures (docs.tilt.dev/api.html is built from it)
  internal/tiltfile/k8s.go              k8s_yaml; k8s_resource (v2: workload/new_name/objects rules);
                                        k8s_kind: at most one positional argument, not both
                                        image_json_path and image_object ("image_object_json_path" in
                                        api/__init__.py is a documentation slip: the keyword is image_object)
  internal/tiltfile/k8s/locators.go     image_object: ONE dict with exactly json_path, repo_field, tag_field
  internal/tiltfile/k8s/readiness.go    pod_readiness: "", "ignore" or "wait"
  internal/tiltfile/live_update.go      fall_back_on(paths), sync(local_path, remote_path),
                                        run(cmd, trigger, echo_off); fall_back_on steps first, syncs
                                        before runs; steps created but never used are an error
  internal/tiltfile/local_resource.go   a cmd and/or a serve_cmd; names are unique
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml as pyyaml

ROOT = Path(__file__).resolve().parents[2]
HELM = ROOT / ".tools" / "helm3" / "helm"
REQUIRED = object()
WORKLOAD_KINDS = {"deployment", "statefulset", "daemonset", "replicaset", "job", "cronjob", "pod"}
LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")
IMAGE_REF = re.compile(r"^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$")


class TiltError(Exception):
    """What Tilt reports when it refuses a Tiltfile."""


# --- values Tilt's built-ins return (Starlark sees them as dicts tagged with __tilt__) -------------------


def tagged(kind: str, **fields: Any) -> dict[str, Any]:
    return {"__tilt__": kind, **fields}


def tag_of(value: Any) -> str | None:
    return value.get("__tilt__") if isinstance(value, dict) else None


STEPS = {"fall_back_on", "sync", "run"}


# --- types ---------------------------------------------------------------------------------------------


def is_type(value: Any, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "none":
        return value is None
    if kind == "str":
        return isinstance(value, str)
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "bool":
        return isinstance(value, bool)
    if kind == "list":
        return isinstance(value, list)
    if kind == "list[str]":
        return isinstance(value, list) and all(isinstance(v, str) for v in value)
    if kind == "dict":
        return isinstance(value, dict) and tag_of(value) is None
    if kind == "dict[str,str]":
        return is_type(value, "dict") and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items())
    if kind == "list[step]":
        return isinstance(value, list) and all(tag_of(v) in STEPS for v in value)
    if kind == "list[link|str]":
        return isinstance(value, list) and all(isinstance(v, str) or tag_of(v) == "link" for v in value)
    return tag_of(value) == kind  # blob, link, probe, http_get_action, ...


@dataclass(frozen=True)
class Param:
    name: str
    types: tuple[str, ...]
    default: Any = REQUIRED
    keyword_only: bool = False
    allowed: tuple[Any, ...] | None = None  # the values Tilt accepts (None: any of the types)


def P(name: str, *types: str, default: Any = REQUIRED, kw: bool = False, allowed: tuple[Any, ...] | None = None) -> Param:
    return Param(name, types, default, kw, allowed)


# The signature table: every built-in the Tiltfile calls, as tilt-dev/tilt internal/tiltfile/api/__init__.py
# documents it (names, order, types, defaults), narrowed where the Go code refuses more (k8s.go, locators.go,
# readiness.go, live_update.go, local_resource.go: see the module docstring).
SIGNATURES: dict[str, tuple[Param, ...]] = {
    "os.getenv": (P("key", "str"), P("default", "str", "none", default=None)),
    "os.path.exists": (P("path", "str"),),
    "read_yaml": (P("path", "str"), P("default", "any", default=None)),
    "encode_yaml": (P("obj", "dict", "list"),),
    "decode_yaml": (P("yaml", "str", "blob"),),
    "decode_json": (P("json", "str", "blob"),),
    "local": (P("command", "str", "list[str]"), P("quiet", "bool", default=False),
              P("command_bat", "str", "list[str]", default=""), P("echo_off", "bool", default=False),
              P("env", "dict[str,str]", default={}), P("dir", "str", default=""),
              P("stdin", "str", "blob", "none", default=None)),
    "fail": (P("msg", "str"),),
    "watch_file": (P("file_path", "str"),),
    "allow_k8s_contexts": (P("contexts", "str", "list[str]"),),
    "helm": (P("pathToChartDir", "str"), P("name", "str", default=""), P("namespace", "str", default=""),
             P("values", "str", "list[str]", default=[]), P("set", "str", "list[str]", default=[]),
             P("kube_version", "str", default=""), P("skip_crds", "bool", default=False)),
    "k8s_yaml": (P("yaml", "str", "list[str]", "blob", "list"), P("allow_duplicates", "bool", default=False)),
    # k8s.go refuses more than one positional argument, though api/__init__.py shows api_version before the `*`
    "k8s_kind": (P("kind", "str"), P("api_version", "str", default="", kw=True),
                 P("image_json_path", "str", "list[str]", default=[], kw=True),
                 P("image_object", "dict", default=None, kw=True),
                 P("pod_readiness", "str", default="", kw=True, allowed=("", "ignore", "wait"))),
    "k8s_resource": (P("workload", "str", default=""), P("new_name", "str", default=""),
                     P("port_forwards", "str", "int", "port_forward", "list", default=[]),
                     P("extra_pod_selectors", "dict[str,str]", "list", default=[]),
                     P("trigger_mode", "trigger_mode", default=None),
                     P("resource_deps", "list[str]", default=[]), P("objects", "list[str]", default=[]),
                     P("auto_init", "bool", default=True),
                     P("pod_readiness", "str", default="", allowed=("", "ignore", "wait")),
                     P("links", "str", "link", "list[link|str]", default=[]),
                     P("labels", "str", "list[str]", default=[]),
                     P("discovery_strategy", "str", default="", allowed=("", "default", "selectors-only"))),
    "docker_build": (P("ref", "str"), P("context", "str"), P("build_args", "dict[str,str]", default={}),
                     P("dockerfile", "str", default="Dockerfile"), P("dockerfile_contents", "str", "blob", default=""),
                     P("live_update", "list[step]", default=[]), P("match_in_env_vars", "bool", default=False),
                     P("ignore", "str", "list[str]", default=[]), P("only", "str", "list[str]", default=[]),
                     P("entrypoint", "str", "list[str]", default=[]), P("target", "str", default=""),
                     P("ssh", "str", "list[str]", default=""), P("network", "str", default=""),
                     P("secret", "str", "list[str]", default=""), P("extra_tag", "str", "list[str]", default=""),
                     P("container_args", "list[str]", "none", default=None),
                     P("cache_from", "str", "list[str]", default=[]), P("pull", "bool", default=False),
                     P("platform", "str", default=""), P("extra_hosts", "str", "list[str]", default=[])),
    "fall_back_on": (P("paths", "str", "list[str]"),),
    "sync": (P("local_path", "str"), P("remote_path", "str")),
    "run": (P("cmd", "str", "list[str]"), P("trigger", "str", "list[str]", default=[]),
            P("echo_off", "bool", default=False)),
    "link": (P("url", "str"), P("name", "str", default="")),
    "local_resource": (P("name", "str"), P("cmd", "str", "list[str]", default=""),
                       P("deps", "str", "list[str]", "none", default=None), P("trigger_mode", "trigger_mode", default=None),
                       P("resource_deps", "list[str]", default=[]), P("ignore", "str", "list[str]", default=[]),
                       P("auto_init", "bool", default=True), P("serve_cmd", "str", "list[str]", default=""),
                       P("cmd_bat", "str", "list[str]", default=""), P("serve_cmd_bat", "str", "list[str]", default=""),
                       P("allow_parallel", "bool", default=False),
                       P("links", "str", "link", "list[link|str]", default=[]), P("labels", "str", "list[str]", default=[]),
                       P("env", "dict[str,str]", default={}), P("serve_env", "dict[str,str]", default={}),
                       P("readiness_probe", "probe", "none", default=None), P("dir", "str", default=""),
                       P("serve_dir", "str", default="")),
    "probe": (P("initial_delay_secs", "int", default=0), P("timeout_secs", "int", default=1),
              P("period_secs", "int", default=10), P("success_threshold", "int", default=1),
              P("failure_threshold", "int", default=3), P("exec", "exec_action", "none", default=None),
              P("http_get", "http_get_action", "none", default=None),
              P("tcp_socket", "tcp_socket_action", "none", default=None)),
    "http_get_action": (P("port", "int"), P("host", "str", default="localhost"),
                        P("scheme", "str", default="http", allowed=("http", "https")), P("path", "str", default="")),
    "update_settings": (P("max_parallel_updates", "int", default=3), P("k8s_upsert_timeout_secs", "int", default=30),
                        P("suppress_unused_image_warnings", "str", "list[str]", "none", default=None),
                        P("k8s_server_side_apply", "str", "bool", default="auto")),
}


def bind(name: str, args: Sequence[Any], kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Arguments to parameters, as starlark.UnpackArgs does; then the documented types and values."""
    params = SIGNATURES[name]
    positional = [p for p in params if not p.keyword_only]
    if len(args) > len(positional):
        raise TiltError(f"{name}: got {len(args)} arguments, want at most {len(positional)}")
    bound: dict[str, Any] = {p.name: a for p, a in zip(positional, args)}
    by_name = {p.name: p for p in params}
    for key, value in kwargs.items():
        if key not in by_name:
            raise TiltError(f"{name}: unexpected keyword argument {key!r}")
        if key in bound:
            raise TiltError(f"{name}: got multiple values for parameter {key!r}")
        bound[key] = value
    for p in params:
        if p.name not in bound:
            if p.default is REQUIRED:
                raise TiltError(f"{name}: missing argument for {p.name}")
            bound[p.name] = p.default
            continue
        value = bound[p.name]
        if not any(is_type(value, t) for t in p.types):
            raise TiltError(f"{name}: for parameter {p.name}: got {type(value).__name__} {value!r}, "
                            f"want {' or '.join(p.types)}")
        if p.allowed is not None and value not in p.allowed:
            raise TiltError(f"{name}: for parameter {p.name}: invalid value {value!r}; allowed: {p.allowed}")
    return bound


def as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list) else [value]


# --- the recorder and the checks Tilt makes ----------------------------------------------------------


@dataclass
class K8sObject:
    kind: str
    name: str
    namespace: str
    body: dict[str, Any]

    def selected_by(self, selector: str) -> bool:
        """Tilt's object selector ``name[:kind[:namespace]]``: case-insensitive, every given part must match."""
        parts = selector.lower().split(":")
        actual = [self.name.lower(), self.kind.lower(), self.namespace.lower()]
        return all(want == have for want, have in zip(parts, actual))


@dataclass
class Tilt:
    """Runs stubs for one Tiltfile load and records what the Tiltfile asked for."""

    env: dict[str, str]
    root: Path = ROOT
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    objects: list[K8sObject] = field(default_factory=list)
    kinds: dict[str, dict[str, Any]] = field(default_factory=dict)  # k8s_kind registrations, by kind
    k8s_resources: dict[str, dict[str, Any]] = field(default_factory=dict)  # k8s_resource options, by workload/new_name
    local_resources: dict[str, dict[str, Any]] = field(default_factory=dict)
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    unused_steps: list[dict[str, Any]] = field(default_factory=list)

    def by(self, name: str) -> list[dict[str, Any]]:
        return [a for n, a in self.calls if n == name]

    def builtins(self) -> dict[str, Callable[..., Any]]:
        names = [n for n in SIGNATURES if "." not in n]
        out = {n: self._stub(n) for n in names}
        out["_getenv"] = self._stub("os.getenv")
        out["_exists"] = self._stub("os.path.exists")
        return out

    def _stub(self, name: str) -> Callable[..., Any]:
        handler = getattr(self, "_" + name.replace(".", "_"))

        def call(*args: Any, **kwargs: Any) -> Any:
            bound = bind(name, args, kwargs)
            self.calls.append((name, bound))
            return handler(**bound)
        return call

    def path(self, value: str) -> Path:
        return Path(value) if Path(value).is_absolute() else self.root / value

    # --- the built-ins ---------------------------------------------------------------------------

    def _os_getenv(self, key: str, default: str | None) -> str | None:
        return self.env.get(key, default)

    def _os_path_exists(self, path: str) -> bool:
        return self.path(path).exists()

    def _read_yaml(self, path: str, default: Any) -> Any:
        file = self.path(path)
        if not file.exists():
            if default is None:
                raise TiltError(f"read_yaml: {path}: no such file")
            return default
        return pyyaml.safe_load(file.read_text())

    def _encode_yaml(self, obj: Any) -> dict[str, Any]:
        return tagged("blob", text=pyyaml.safe_dump(obj, sort_keys=False), source="encode_yaml")

    def _decode_yaml(self, yaml: Any) -> Any:
        return pyyaml.safe_load(yaml["text"] if tag_of(yaml) == "blob" else yaml)

    def _decode_json(self, json: Any) -> Any:
        import json as jsonlib

        return jsonlib.loads(json["text"] if tag_of(json) == "blob" else json)

    def _local(self, command: Any, quiet: bool, command_bat: Any, echo_off: bool, env: dict[str, str], dir: str,
               stdin: Any) -> dict[str, Any]:
        """Runs the command for real, as Tilt does: on the host, in the Tiltfile's directory, with Tilt's own
        env (here: this test's) plus ``env``; a non-zero exit fails the load. The project's CLI is found
        beside the interpreter running the tests (its virtual environment's bin/)."""
        import os
        import sys

        argv = ["sh", "-c", command] if isinstance(command, str) else list(command)
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
        full_env = {**{k: v for k, v in os.environ.items() if not k.startswith("HIPPODROME_")}, **self.env,
                    **env, "PATH": path}
        text = stdin["text"] if tag_of(stdin) == "blob" else stdin
        done = subprocess.run(argv, cwd=self.path(dir) if dir else self.root, env=full_env, input=text,
                              capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise TiltError(f"local: command {argv!r} failed with exit {done.returncode}: {done.stderr.strip()}")
        return tagged("blob", text=done.stdout, source="local")

    def _fail(self, msg: str) -> None:
        raise TiltError(msg)

    def _watch_file(self, file_path: str) -> None:
        return None

    def _allow_k8s_contexts(self, contexts: Any) -> None:
        return None

    def _helm(self, pathToChartDir: str, name: str, namespace: str, values: Any, set: Any, kube_version: str,
              skip_crds: bool) -> dict[str, Any]:
        if not HELM.exists():
            import pytest

            print(f"SKIP: {HELM} is missing: run scripts/install-helm.sh")
            pytest.skip(f"{HELM} is missing: run scripts/install-helm.sh")
        argv = [str(HELM), "template", name or "chart", str(self.path(pathToChartDir))]
        if namespace:
            argv += ["--namespace", namespace]
        if not skip_crds:
            argv.append("--include-crds")
        for v in as_list(values):
            argv += ["--values", str(self.path(v))]
        for s in as_list(set):
            argv += ["--set", s]
        if kube_version:
            argv += ["--kube-version", kube_version]
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            raise TiltError(f"helm: {result.stderr.strip()}")
        return tagged("blob", text=result.stdout, source="helm")

    def _k8s_yaml(self, yaml: Any, allow_duplicates: bool) -> None:
        entities: list[dict[str, Any]] = []
        for item in as_list(yaml):
            text = item["text"] if tag_of(item) == "blob" else self.path(item).read_text()
            entities += [d for d in pyyaml.safe_load_all(text) if d]
        if not entities:
            raise TiltError("Empty or Invalid YAML Resource Detected")
        for e in entities:
            meta = e.get("metadata") or {}
            obj = K8sObject(e["kind"], meta["name"], meta.get("namespace", ""), e)
            if not allow_duplicates and any((o.kind, o.name, o.namespace) == (obj.kind, obj.name, obj.namespace)
                                            for o in self.objects):
                raise TiltError(f"k8s_yaml: duplicate {obj.kind}/{obj.name}")
            self.objects.append(obj)

    def _k8s_kind(self, kind: str, api_version: str, image_json_path: Any, image_object: Any,
                  pod_readiness: str) -> None:
        if image_object is not None:
            keys = {"json_path", "repo_field", "tag_field"}
            if set(image_object) != keys or not all(isinstance(v, str) for v in image_object.values()):
                raise TiltError("k8s_kind: Expected dict of the form {'json_path': str, 'repo_field': str, "
                                f"'tag_field': str}}. Actual: {image_object!r}")
            if as_list(image_json_path):
                raise TiltError("Cannot specify both image_json_path and image_object")
        self.kinds[kind.lower()] = {"api_version": api_version, "image_json_path": image_json_path,
                                    "image_object": image_object, "pod_readiness": pod_readiness}

    def _k8s_resource(self, workload: str, new_name: str, port_forwards: Any, extra_pod_selectors: Any,
                      trigger_mode: Any, resource_deps: list[str], objects: list[str], auto_init: bool,
                      pod_readiness: str, links: Any, labels: Any, discovery_strategy: str) -> None:
        key = workload or new_name
        if not workload:
            if not objects:
                raise TiltError("k8s_resource doesn't specify a workload or any objects. All non-workload "
                                "resources must specify 1 or more objects")
            if not new_name:
                raise TiltError("k8s_resource has only non-workload objects but doesn't provide a new_name")
        if key in self.k8s_resources:
            raise TiltError(f"k8s_resource already called for {key}")
        for pf in as_list(port_forwards):
            check_port_forward(pf)
        for label in as_list(labels):
            if not LABEL.match(label):
                raise TiltError(f"k8s_resource: label {label!r}: must start and end with an alphanumeric "
                                "character, may include _ - ., and be at most 63 characters")
        self.k8s_resources[key] = {"workload": workload, "new_name": new_name, "port_forwards": port_forwards,
                                   "resource_deps": resource_deps, "objects": objects, "labels": as_list(labels),
                                   "links": as_list(links)}

    def _docker_build(self, ref: str, context: str, dockerfile: str, dockerfile_contents: Any,
                      live_update: list[dict[str, Any]], target: str, **rest: Any) -> None:
        if not IMAGE_REF.match(ref):
            raise TiltError(f"Argument 1 (ref): can't parse {ref!r}")
        if not self.path(context).is_dir():
            raise TiltError(f"docker_build: context {context!r} is not a directory")
        if dockerfile_contents and dockerfile != "Dockerfile":
            raise TiltError("Cannot specify both dockerfile and dockerfile_contents keyword arguments")
        dockerfile_path = self.path(dockerfile if dockerfile != "Dockerfile" else f"{context}/Dockerfile")
        if not dockerfile_contents and not dockerfile_path.is_file():
            raise TiltError(f"error reading dockerfile: {dockerfile_path}: no such file")
        if ref in self.images:
            raise TiltError(f"Image for ref {ref!r} has already been defined")
        check_live_update(live_update, context)
        used = {step["id"] for step in live_update}  # Starlark hands back copies: match by id
        self.unused_steps = [s for s in self.unused_steps if s["id"] not in used]
        self.images[ref] = {"context": context, "dockerfile": dockerfile, "target": target,
                            "live_update": live_update, **rest}

    def _step(self, kind: str, **fields: Any) -> dict[str, Any]:
        step = tagged(kind, id=len(self.calls), **fields)
        self.unused_steps.append(step)
        return step

    def _fall_back_on(self, paths: Any) -> dict[str, Any]:
        return self._step("fall_back_on", paths=as_list(paths))

    def _sync(self, local_path: str, remote_path: str) -> dict[str, Any]:
        return self._step("sync", local_path=local_path, remote_path=remote_path)

    def _run(self, cmd: Any, trigger: Any, echo_off: bool) -> dict[str, Any]:
        return self._step("run", cmd=cmd, trigger=as_list(trigger), echo_off=echo_off)

    def _link(self, url: str, name: str) -> dict[str, Any]:
        return tagged("link", url=url, name=name)

    def _local_resource(self, name: str, cmd: Any, serve_cmd: Any, **rest: Any) -> None:
        for label in as_list(rest["labels"]):
            if not LABEL.match(label):
                raise TiltError(f"local_resource: label {label!r} is not a valid label")
        if not cmd and not serve_cmd:
            raise TiltError("local_resource must have a cmd and/or a serve_cmd, but both were empty")
        if name in self.local_resources:
            raise TiltError(f"Local resource {name} has been defined multiple times")
        self.local_resources[name] = {"cmd": cmd, "serve_cmd": serve_cmd, **rest}

    def _probe(self, initial_delay_secs: int, timeout_secs: int, period_secs: int, success_threshold: int,
               failure_threshold: int, exec: Any, http_get: Any, tcp_socket: Any) -> dict[str, Any]:
        actions = [a for a in (exec, http_get, tcp_socket) if a is not None]
        if len(actions) != 1:
            raise TiltError("probe: exactly one of exec, http_get, or tcp_socket must be specified")
        if initial_delay_secs < 0 or min(timeout_secs, period_secs, success_threshold, failure_threshold) <= 0:
            raise TiltError("probe: initial_delay_secs must be >= 0; the other values must be greater than 0")
        return tagged("probe", period_secs=period_secs, timeout_secs=timeout_secs, http_get=http_get,
                      exec=exec, tcp_socket=tcp_socket)

    def _http_get_action(self, port: int, host: str, scheme: str, path: str) -> dict[str, Any]:
        if not 1 <= port <= 65535:
            raise TiltError(f"http_get_action: port {port} is out of range")
        return tagged("http_get_action", port=port, host=host, scheme=scheme, path=path)

    def _update_settings(self, max_parallel_updates: int, k8s_upsert_timeout_secs: int, **rest: Any) -> None:
        if max_parallel_updates < 1:
            raise TiltError("max_parallel_updates must be >= 1")
        if k8s_upsert_timeout_secs < 1:
            raise TiltError("k8s_upsert_timeout_secs must be >= 1")

    # --- the end of the load: assembly ------------------------------------------------------------

    def workloads(self) -> dict[str, K8sObject]:
        """Objects Tilt makes a resource of (named after the object; the kinds k8s_kind registered count)."""
        kinds = WORKLOAD_KINDS | set(self.kinds)
        return {o.name: o for o in self.objects if o.kind.lower() in kinds}

    def assemble(self) -> dict[str, str]:
        """Resource name -> what it is, as Tilt assembles them; refuses what Tilt refuses after the load."""
        if self.unused_steps:
            raise TiltError(f"found {len(self.unused_steps)} live_update steps that were created but not used "
                            "in a live_update")
        workloads = self.workloads()
        resources: dict[str, str] = {}
        claimed: dict[int, str] = {}
        for name, obj in workloads.items():
            resources[name] = "workload"
            claimed[id(obj)] = name
        for key, options in self.k8s_resources.items():
            workload = options["workload"]
            if workload and workload not in workloads:
                raise TiltError(f"k8s_resource: no workload named {workload!r} (workloads: {sorted(workloads)})")
            final = options["new_name"] or key
            if workload:
                del resources[workload]
            resources[final] = "k8s"
            for selector in options["objects"]:
                matches = [o for o in self.objects if o.selected_by(selector)]
                if len(matches) != 1:
                    raise TiltError(f"k8s_resource {final!r}: object selector {selector!r} matches {len(matches)} "
                                    "objects; it must match exactly one")
                owner = claimed.get(id(matches[0]))
                if owner is not None and owner != (workload or final):
                    raise TiltError(f"k8s_resource {final!r}: object {selector!r} already belongs to {owner!r}")
                claimed[id(matches[0])] = final
        for name in self.local_resources:
            if name in resources:
                raise TiltError(f"local_resource {name!r}: a resource with this name already exists")
            resources[name] = "local"
        for name, options in [*self.k8s_resources.items(), *self.local_resources.items()]:
            for dep in options["resource_deps"]:
                if dep not in resources:
                    raise TiltError(f"resource {name!r} specified a dependency on unknown resource {dep!r}")
        return resources


def check_port_forward(value: Any) -> None:
    if isinstance(value, int):
        if not 0 <= value <= 65535:
            raise TiltError(f"portForward port value {value} is not in the valid range [0-65535]")
        return
    if not isinstance(value, str):
        raise TiltError(f"port_forwards must be an int, a port_forward, or a sequence of those; is a {type(value).__name__}")
    parts = value.split(":")
    if len(parts) > 3 or not all(p.isdigit() and int(p) <= 65535 for p in parts[-2:] if p) or not parts[-1]:
        raise TiltError(f"portForward value {value!r} is not [host:]local[:container]")


def check_live_update(steps: list[dict[str, Any]], context: str) -> None:
    """live_update.go's ordering rules, and LiveUpdate validation: absolute container paths, sources in the context."""
    seen_sync = seen_run = False
    base = PurePosixPath(context)
    for step in steps:
        kind = step["__tilt__"]
        if kind == "fall_back_on":
            if seen_sync or seen_run:
                raise TiltError("fall_back_on steps must appear at the start of the list")
            paths = step["paths"]
        elif kind == "sync":
            if seen_run:
                raise TiltError("all sync steps must precede all run steps")
            seen_sync = True
            if not step["remote_path"].startswith("/"):
                raise TiltError(f"sync: container path {step['remote_path']!r} must be absolute")
            paths = [step["local_path"]]
        else:
            seen_run = True
            paths = []
        for path in paths:
            if context not in ("", ".") and not PurePosixPath(path).is_relative_to(base):
                raise TiltError(f"{kind} path {path!r} is outside the docker_build context {context!r}")
