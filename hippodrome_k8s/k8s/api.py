"""The Kubernetes API as the CLI needs it: a protocol, the kubernetes-client adapter, a fake.

The adapter is the only module importing ``kubernetes``; every library error
(``ApiException``, urllib3 connection errors, kubeconfig errors) becomes a
``K8sError`` naming what was being done.  ``FakeApi`` is an in-memory stand-in
the driver, progress and CLI tests drive directly.
"""

from __future__ import annotations

import base64
import copy
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..errors import K8sError

GROUP = "hippodrome.dev"
VERSION = "v1alpha1"
PLURAL = "hippodromestacks"
KIND = "HippodromeStack"
CONTROL_ANNOTATION = "hippodrome.dev/control"
FORWARDS_ANNOTATION = "hippodrome.dev/forwards"  # the CLI's port-forward health, shown by the in-cluster dashboard
STACK_LABEL = "hippodrome.dev/stack"
SERVICE_LABEL = "hippodrome.dev/service"


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


class KubeApi(Protocol):
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


# --- the real adapter -------------------------------------------------------------------------


def _pod_info(pod: Any) -> PodInfo:
    statuses = pod.status.container_statuses or []
    restarts = sum(s.restart_count or 0 for s in statuses)
    state = ""
    for s in statuses:
        if s.state and s.state.waiting:
            w = s.state.waiting
            state = f"waiting: {w.reason}" + (f" ({w.message[:160]})" if w.message else "")
        elif s.state and s.state.terminated:
            t = s.state.terminated
            state = f"terminated: {t.reason} (exit {t.exit_code})"
        if not state and s.last_state and s.last_state.terminated:
            t = s.last_state.terminated
            state = f"last terminated: {t.reason} (exit {t.exit_code})"
    ready = any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))
    created = pod.metadata.creation_timestamp.isoformat() if pod.metadata.creation_timestamp else ""
    return PodInfo(pod.metadata.name, pod.status.phase or "Unknown", ready, pod.metadata.deletion_timestamp is not None,
                   restarts, state, created)


class KubernetesApi:
    """kubernetes-client adapter for one kubeconfig context."""

    def __init__(self, context: str | None = None, request_timeout: float = 15.0):
        try:
            from kubernetes import client, config
            from kubernetes.config.config_exception import ConfigException
        except ImportError:
            from .preflight import check_python_packages

            check_python_packages()  # names the missing `k8s` extra and how to install it
            raise

        try:
            api_client = config.new_client_from_config(context=context)
        except (ConfigException, OSError, TypeError) as e:
            raise K8sError(f"cannot load kubeconfig context {context!r}: {e} (is the kind cluster up? "
                           "`hippodrome k8s up`)") from None
        self.context = context
        self.timeout = request_timeout
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, missing_ok: bool = False, **kwargs: Any) -> Any:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        kwargs.setdefault("_request_timeout", self.timeout)
        try:
            return fn(*args, **kwargs)
        except ApiException as e:
            if missing_ok and e.status == 404:
                return None
            reason = e.reason or ""
            try:
                import json

                reason = json.loads(e.body).get("message", reason)
            except (TypeError, ValueError, AttributeError):
                pass
            raise K8sError(f"{what}: HTTP {e.status}: {reason}") from None
        except HTTPError as e:
            raise K8sError(f"{what}: cannot reach the Kubernetes API (context {self.context}): {e}") from None

    def get_stack(self, namespace: str, name: str) -> dict[str, Any] | None:
        return self._call(f"reading HippodromeStack {namespace}/{name}", self.custom.get_namespaced_custom_object,
                          GROUP, VERSION, namespace, PLURAL, name, missing_ok=True)

    def apply_stack(self, body: Mapping[str, Any]) -> dict[str, Any]:
        meta = body["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        for _attempt in range(3):
            current = self.get_stack(namespace, name)
            if current is None:
                return self._call(f"creating HippodromeStack {namespace}/{name}",
                                  self.custom.create_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL,
                                  dict(body))
            updated = copy.deepcopy(current)
            updated["spec"] = copy.deepcopy(body["spec"])
            updated["metadata"].setdefault("labels", {}).update(meta.get("labels", {}))
            updated["metadata"].setdefault("annotations", {}).update(meta.get("annotations", {}))
            try:
                return self._call(f"updating HippodromeStack {namespace}/{name}",
                                  self.custom.replace_namespaced_custom_object, GROUP, VERSION, namespace, PLURAL,
                                  name, updated)
            except K8sError as e:
                if "HTTP 409" not in str(e):
                    raise
        raise K8sError(f"updating HippodromeStack {namespace}/{name}: kept conflicting with another writer")

    def annotate_stack(self, namespace: str, name: str, annotations: Mapping[str, str]) -> dict[str, Any]:
        return self._call(f"annotating HippodromeStack {namespace}/{name}", self.custom.patch_namespaced_custom_object,
                          GROUP, VERSION, namespace, PLURAL, name, {"metadata": {"annotations": dict(annotations)}})

    def delete_stack(self, namespace: str, name: str) -> bool:
        result = self._call(f"deleting HippodromeStack {namespace}/{name}", self.custom.delete_namespaced_custom_object,
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
        return sorted(c.metadata.name for c in result.items)

    def delete_claims(self, namespace: str, selector: str) -> list[str]:
        names = self.claims(namespace, selector)
        for name in names:
            self._call(f"deleting PersistentVolumeClaim {namespace}/{name}",
                       self.core.delete_namespaced_persistent_volume_claim, name, namespace, missing_ok=True)
        return names

    def pods(self, namespace: str, selector: str) -> list[PodInfo]:
        result = self._call(f"listing pods {selector!r} in {namespace}", self.core.list_namespaced_pod, namespace,
                            label_selector=selector)
        return [_pod_info(p) for p in result.items]

    def ready_target(self, namespace: str, service: str, port: int) -> PodTarget | None:
        svc = self._call(f"reading Service {namespace}/{service}", self.core.read_namespaced_service, service,
                         namespace, missing_ok=True)
        if svc is None or not svc.spec.selector:
            return None
        target: int | str = port
        for p in svc.spec.ports or []:
            if p.port == port:
                target = p.target_port if p.target_port is not None else port
        sel = ",".join(f"{k}={v}" for k, v in sorted(svc.spec.selector.items()))
        pods = self._call(f"listing pods of Service {service}", self.core.list_namespaced_pod, namespace,
                          label_selector=sel).items
        ready = [p for p in pods if _pod_info(p).ready and p.metadata.deletion_timestamp is None]
        if not ready:
            return None
        ready.sort(key=lambda p: p.metadata.creation_timestamp or 0, reverse=True)
        pod = ready[0]
        if isinstance(target, str) and not target.isdigit():
            named = [cp.container_port for c in pod.spec.containers for cp in (c.ports or []) if cp.name == target]
            if not named:
                return None
            target = named[0]
        return PodTarget(pod.metadata.name, int(target))

    def pod_logs(self, namespace: str, pod: str, tail_lines: int) -> str:
        return self._call(f"reading logs of pod {pod}", self.core.read_namespaced_pod_log, pod, namespace,
                          tail_lines=tail_lines) or ""

    def follow_pod_logs(self, namespace: str, pod: str, tail_lines: int) -> Iterator[str]:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        try:
            response = self.core.read_namespaced_pod_log(pod, namespace, follow=True, tail_lines=tail_lines,
                                                         _preload_content=False)
            for chunk in response.stream():
                yield chunk.decode("utf-8", errors="replace")
        except (ApiException, HTTPError) as e:
            raise K8sError(f"following logs of pod {pod}: {e}") from None


# --- the fake ---------------------------------------------------------------------------------


@dataclass
class FakeApi:
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
    on_apply: Callable[[FakeApi, dict[str, Any]], None] | None = None
    on_annotate: Callable[[FakeApi, dict[str, Any]], None] | None = None
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
            raise K8sError(f"annotating HippodromeStack {namespace}/{name}: HTTP 404: not found")
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
