"""The Kubernetes API as the CLI needs it: a protocol, its implementation over the one adapter, a fake.

``KubernetesClusterApi`` talks to a cluster through ``hippodrome_k8s.kube`` (answers as dicts,
errors as the project's ``KubeApiError`` tree); ``FakeClusterApi`` is an in-memory stand-in the
driver, progress and CLI tests drive directly.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hippodrome_k8s.core.contract import SERVICE_LABEL, STACK_LABEL
from hippodrome_k8s.core.crd import GROUP, KIND, PLURAL, VERSION
from hippodrome_k8s.core.errors import KubeConflict, KubeNotFound, kube_api_error
from hippodrome_k8s.kube import Kube


@dataclass(frozen=True)
class PodInfo:
    name: str
    phase: str
    ready: bool
    deleting: bool = False
    restarts: int = 0
    state: str = ""  # e.g. "waiting: CrashLoopBackOff (back-off 40s)", "terminated: Error (exit 1)"
    created: str = ""

    def describe(self) -> str:
        bits = [f"pod {self.name}: {self.phase}", "ready" if self.ready else "not ready", f"{self.restarts} restarts"]
        if self.state:
            bits.append(self.state)
        return ", ".join(bits)


@dataclass(frozen=True)
class PodTarget:
    """Where a port-forward should go: a ready pod and the container port behind a Service port."""

    pod: str
    port: int

    @property
    def key(self) -> str:
        return f"{self.pod}:{self.port}"


class ClusterApi(Protocol):
    def get_stack(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def apply_stack(self, body: Mapping[str, Any]) -> dict[str, Any]: ...

    def annotate_stack(self, namespace: str, name: str, annotations: Mapping[str, str]) -> dict[str, Any]: ...

    def delete_stack(self, namespace: str, name: str) -> bool: ...

    def apply_secret(self, namespace: str, name: str, data: Mapping[str, str]) -> None: ...

    def claims(self, namespace: str, selector: str) -> list[str]: ...

    def delete_claims(self, namespace: str, selector: str) -> list[str]: ...

    def pods(self, namespace: str, selector: str) -> list[PodInfo]: ...

    def ready_target(self, namespace: str, service: str, port: int) -> PodTarget | None: ...

    def pod_logs(self, namespace: str, pod: str, tail_lines: int) -> str: ...

    def follow_pod_logs(self, namespace: str, pod: str, tail_lines: int) -> Iterator[str]: ...


def selector(stack: str, service: str | None = None) -> str:
    return f"{STACK_LABEL}={stack}" + (f",{SERVICE_LABEL}={service}" if service else "")


# --- over the adapter -------------------------------------------------------------------------


def _pod_info(pod: Mapping[str, Any]) -> PodInfo:
    meta, status = pod.get("metadata") or {}, pod.get("status") or {}
    statuses = status.get("containerStatuses") or []
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    state = ""
    for s in statuses:
        current, last = s.get("state") or {}, s.get("lastState") or {}
        if current.get("waiting"):
            w = current["waiting"]
            state = f"waiting: {w.get('reason')}" + (f" ({w['message'][:160]})" if w.get("message") else "")
        elif current.get("terminated"):
            t = current["terminated"]
            state = f"terminated: {t.get('reason')} (exit {t.get('exitCode')})"
        if not state and last.get("terminated"):
            t = last["terminated"]
            state = f"last terminated: {t.get('reason')} (exit {t.get('exitCode')})"
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in status.get("conditions") or [])
    return PodInfo(meta.get("name", ""), status.get("phase") or "Unknown", ready, meta.get("deletionTimestamp") is not None,
                   restarts, state, meta.get("creationTimestamp") or "")


class KubernetesClusterApi:
    """ClusterApi for one kubeconfig context."""

    def __init__(self, context: str | None = None, kube: Kube | None = None):
        if kube is None:
            try:
                kube = Kube.connect(context)
            except ImportError:
                from hippodrome_k8s.k8s.preflight import check_python_packages

                check_python_packages()  # names the missing `k8s` extra and how to install it
                raise
        self.kube, self.context = kube, context
        self.custom, self.core = kube.custom, kube.core

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, missing_ok: bool = False, **kwargs: Any) -> Any:
        try:
            return self.kube.call(what, fn, *args, **kwargs)
        except KubeNotFound:
            if missing_ok:
                return None
            raise

    def get_stack(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._call(f"reading {KIND} {namespace}/{name}", self.custom.get_namespaced_custom_object,
                          GROUP, VERSION, namespace, PLURAL, name, missing_ok=True)

    def apply_stack(self, body: Mapping[str, Any]) -> dict[str, Any]:
        meta = body["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        for _attempt in range(3):
            current = self.get_stack(namespace, name)
            if current is None:
                return self._call(f"creating {KIND} {namespace}/{name}", self.custom.create_namespaced_custom_object,
                                  GROUP, VERSION, namespace, PLURAL, dict(body))
            updated = copy.deepcopy(current)
            updated["spec"] = copy.deepcopy(body["spec"])
            updated["metadata"].setdefault("labels", {}).update(meta.get("labels", {}))
            updated["metadata"].setdefault("annotations", {}).update(meta.get("annotations", {}))
            try:
                return self._call(f"updating {KIND} {namespace}/{name}", self.custom.replace_namespaced_custom_object,
                                  GROUP, VERSION, namespace, PLURAL, name, updated)
            except KubeConflict:
                continue  # another writer came between our read and our write: read again
        raise kube_api_error(f"updating {KIND} {namespace}/{name}", 409, "kept conflicting with another writer")

    def annotate_stack(self, namespace: str, name: str, annotations: Mapping[str, str]) -> dict[str, Any]:
        return self._call(f"annotating {KIND} {namespace}/{name}", self.custom.patch_namespaced_custom_object,
                          GROUP, VERSION, namespace, PLURAL, name, {"metadata": {"annotations": dict(annotations)}})

    def delete_stack(self, namespace: str, name: str) -> bool:
        result = self._call(f"deleting {KIND} {namespace}/{name}", self.custom.delete_namespaced_custom_object,
                            GROUP, VERSION, namespace, PLURAL, name, missing_ok=True)
        return result is not None

    def apply_secret(self, namespace: str, name: str, data: Mapping[str, str]) -> None:
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        existing = self._call(f"reading Secret {namespace}/{name}", self.core.read_namespaced_secret, name, namespace,
                              missing_ok=True)
        if existing is None:
            body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "data": encoded,
                    "metadata": {"name": name, "namespace": namespace,
                                 "labels": {"app.kubernetes.io/managed-by": "hippodrome-cli",
                                            "app.kubernetes.io/part-of": "hippodrome"}}}
            self._call(f"creating Secret {namespace}/{name}", self.core.create_namespaced_secret, namespace, body)
        else:
            self._call(f"updating Secret {namespace}/{name}", self.core.patch_namespaced_secret, name, namespace,
                       {"data": encoded})

    def claims(self, namespace: str, selector: str) -> list[str]:
        result = self._call(f"listing PersistentVolumeClaims {selector!r} in {namespace}",
                            self.core.list_namespaced_persistent_volume_claim, namespace, label_selector=selector)
        return sorted(c["metadata"]["name"] for c in result.get("items") or [])

    def delete_claims(self, namespace: str, selector: str) -> list[str]:
        names = self.claims(namespace, selector)
        for name in names:
            self._call(f"deleting PersistentVolumeClaim {namespace}/{name}",
                       self.core.delete_namespaced_persistent_volume_claim, name, namespace, missing_ok=True)
        return names

    def pods(self, namespace: str, selector: str) -> list[PodInfo]:
        result = self._call(f"listing pods {selector!r} in {namespace}", self.core.list_namespaced_pod, namespace,
                            label_selector=selector)
        return [_pod_info(p) for p in result.get("items") or []]

    def ready_target(self, namespace: str, service: str, port: int) -> PodTarget | None:
        svc = self._call(f"reading Service {namespace}/{service}", self.core.read_namespaced_service, service,
                         namespace, missing_ok=True)
        spec = (svc or {}).get("spec") or {}
        if not spec.get("selector"):
            return None
        target: int | str = port
        for p in spec.get("ports") or []:
            if p.get("port") == port:
                target = p.get("targetPort", port)
        sel = ",".join(f"{k}={v}" for k, v in sorted(spec["selector"].items()))
        pods = self._call(f"listing pods of Service {service}", self.core.list_namespaced_pod, namespace,
                          label_selector=sel).get("items") or []
        ready = [p for p in pods if _pod_info(p).ready and not (p.get("metadata") or {}).get("deletionTimestamp")]
        if not ready:
            return None
        ready.sort(key=lambda p: (p.get("metadata") or {}).get("creationTimestamp") or "", reverse=True)
        pod = ready[0]
        if isinstance(target, str) and not target.isdigit():
            named = [cp.get("containerPort") for c in (pod.get("spec") or {}).get("containers") or []
                     for cp in c.get("ports") or [] if cp.get("name") == target]
            if not named:
                return None
            target = named[0]
        return PodTarget(pod["metadata"]["name"], int(target))

    def pod_logs(self, namespace: str, pod: str, tail_lines: int) -> str:
        return self._call(f"reading logs of pod {pod}", self.core.read_namespaced_pod_log, pod, namespace,
                          tail_lines=tail_lines, text=True) or ""

    def follow_pod_logs(self, namespace: str, pod: str, tail_lines: int) -> Iterator[str]:
        return self.kube.stream(f"following logs of pod {pod}", self.core.read_namespaced_pod_log, pod, namespace,
                                follow=True, tail_lines=tail_lines)


# --- the fake ---------------------------------------------------------------------------------


@dataclass
class FakeClusterApi:
    """In-memory HippodromeStacks, pods and forward targets.

    ``on_apply(api, body)`` runs after each apply, standing in for the operator;
    ``status_script`` is a list of status objects returned by successive reads.
    """

    stacks: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    pod_table: dict[str, list[PodInfo]] = field(default_factory=dict)  # by selector
    targets: dict[tuple[str, str], PodTarget] = field(default_factory=dict)  # (namespace, Service name)
    logs: dict[str, str] = field(default_factory=dict)  # by pod
    status_script: list[dict[str, Any]] = field(default_factory=list)
    secrets: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    claim_table: dict[str, list[str]] = field(default_factory=dict)  # by selector
    on_apply: Callable[[FakeClusterApi, dict[str, Any]], None] | None = None
    on_annotate: Callable[[FakeClusterApi, dict[str, Any]], None] | None = None
    calls: list[str] = field(default_factory=list)

    def get_stack(self, namespace: str, name: str) -> dict[str, Any] | None:
        self.calls.append(f"get {namespace}/{name}")
        obj = self.stacks.get((namespace, name))
        if obj is not None and self.status_script:
            obj["status"] = self.status_script.pop(0) if len(self.status_script) > 1 else self.status_script[0]
        return copy.deepcopy(obj)

    def apply_stack(self, body: Mapping[str, Any]) -> dict[str, Any]:
        meta = body["metadata"]
        key = (meta["namespace"], meta["name"])
        self.calls.append(f"apply {key[0]}/{key[1]}")
        current = self.stacks.get(key)
        obj = copy.deepcopy(dict(body))
        obj["metadata"] = dict(obj["metadata"], generation=(current["metadata"]["generation"] + 1) if current else 1)
        if current:
            obj["metadata"]["annotations"] = {**current["metadata"].get("annotations", {}),
                                              **obj["metadata"].get("annotations", {})}
            obj["status"] = current.get("status", {})
        self.stacks[key] = obj
        if self.on_apply:
            self.on_apply(self, obj)
        return copy.deepcopy(obj)

    def annotate_stack(self, namespace: str, name: str, annotations: Mapping[str, str]) -> dict[str, Any]:
        self.calls.append(f"annotate {namespace}/{name}")
        obj = self.stacks.get((namespace, name))
        if obj is None:
            raise kube_api_error(f"annotating {KIND} {namespace}/{name}", 404, "not found")
        obj["metadata"].setdefault("annotations", {}).update(annotations)
        if self.on_annotate:
            self.on_annotate(self, obj)
        return copy.deepcopy(obj)

    def delete_stack(self, namespace: str, name: str) -> bool:
        self.calls.append(f"delete {namespace}/{name}")
        return self.stacks.pop((namespace, name), None) is not None

    def apply_secret(self, namespace: str, name: str, data: Mapping[str, str]) -> None:
        self.calls.append(f"secret {namespace}/{name}")
        self.secrets[(namespace, name)] = dict(data)

    def claims(self, namespace: str, selector: str) -> list[str]:
        return sorted(self.claim_table.get(selector, []))

    def delete_claims(self, namespace: str, selector: str) -> list[str]:
        self.calls.append(f"delete claims {selector}")
        return sorted(self.claim_table.pop(selector, []))

    def pods(self, namespace: str, selector: str) -> list[PodInfo]:
        return list(self.pod_table.get(selector, []))

    def ready_target(self, namespace: str, service: str, port: int) -> PodTarget | None:
        return self.targets.get((namespace, service))

    def pod_logs(self, namespace: str, pod: str, tail_lines: int) -> str:
        lines = self.logs.get(pod, "").splitlines()
        return "\n".join(lines[-tail_lines:]) + ("\n" if lines else "")

    def follow_pod_logs(self, namespace: str, pod: str, tail_lines: int) -> Iterator[str]:
        yield self.pod_logs(namespace, pod, tail_lines)
