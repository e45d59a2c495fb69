"""What the operator asks of the API server, over the one adapter (``hippodrome_k8s.kube``).

Answers are plain dicts; errors are the project's (``KubeNotFound``, ``KubeConflict``, ... from
``hippodrome_k8s.core.errors``), carrying the HTTP status. Every patch is a JSON merge patch, never a
strategic merge: a removed env var must go away.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from hippodrome_k8s.core.crd import GROUP, PLURAL, VERSION
from hippodrome_k8s.core.errors import KubeConflict, KubeNotFound
from hippodrome_k8s.kube import Kube

from hippodrome_operator.children import LABEL_STACK, MANAGED_BY
from hippodrome_operator.plan import Action

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


class OperatorApi:
    def __init__(self, kube: Kube):
        self.kube = kube
        self.apps, self.core, self.custom = kube.apps, kube.core, kube.custom

    @classmethod
    def from_environment(cls) -> "OperatorApi":
        """In a pod, its service account; outside, ``$KUBECONFIG``."""
        return cls(Kube.connect(in_cluster_first=True))

    @classmethod
    def for_url(cls, url: str) -> "OperatorApi":
        return cls(Kube.for_url(url))

    async def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await self.kube.acall(what, fn, *args, **kwargs)

    async def stacks_served(self) -> bool:
        """Whether the API server serves HippodromeStacks yet (their CRD applied and established)."""
        try:
            data = await self._call(f"discover {GROUP}/{VERSION}", self.custom.get_api_resources, GROUP, VERSION)
        except KubeNotFound:
            return False
        return any(r.get("name") == PLURAL for r in data.get("resources") or [])

    # --- the stack ------------------------------------------------------------------------

    async def get_stack(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self._call(f"get {PLURAL}/{name}", self.custom.get_namespaced_custom_object,
                                    GROUP, VERSION, namespace, PLURAL, name)
        except KubeNotFound:
            return None

    async def patch_stack(self, namespace: str, name: str, patch: Mapping[str, Any]) -> None:
        await self._call(f"patch {PLURAL}/{name}", self.custom.patch_namespaced_custom_object,
                         GROUP, VERSION, namespace, PLURAL, name, patch, _content_type=MERGE_PATCH)

    async def patch_stack_status(self, namespace: str, name: str, status_patch: Mapping[str, Any]) -> None:
        await self._call(f"patch {PLURAL}/{name}/status", self.custom.patch_namespaced_custom_object_status,
                         GROUP, VERSION, namespace, PLURAL, name, {"status": status_patch}, _content_type=MERGE_PATCH)

    async def replace_stack_status(self, namespace: str, name: str, status: Mapping[str, Any]) -> None:
        """The operator owns the whole status: a JSON patch replaces it (and keeps nulls, e.g. ``pid``)."""
        await self._call(f"write {PLURAL}/{name}/status", self.custom.patch_namespaced_custom_object_status,
                         GROUP, VERSION, namespace, PLURAL, name, [{"op": "add", "path": "/status", "value": status}],
                         _content_type=JSON_PATCH)

    # --- the children ---------------------------------------------------------------------

    async def list_children(self, namespace: str, stack: str) -> tuple[list[dict], list[dict], list[dict], list[dict]]:
        """Deployments, Services, pods and PersistentVolumeClaims of the stack."""
        selector = f"{LABEL_STACK}={stack},app.kubernetes.io/managed-by={MANAGED_BY}"
        deployments, services, pods, claims = await asyncio.gather(
            self._call("list deployments", self.apps.list_namespaced_deployment, namespace, label_selector=selector),
            self._call("list services", self.core.list_namespaced_service, namespace, label_selector=selector),
            self._call("list pods", self.core.list_namespaced_pod, namespace, label_selector=f"{LABEL_STACK}={stack}"),
            self._call("list persistentvolumeclaims", self.core.list_namespaced_persistent_volume_claim, namespace,
                       label_selector=selector),
        )

        def mine(items: dict, managed: bool = True) -> list[dict]:  # also filter here: not every server honours selectors
            out = []
            for obj in items.get("items") or []:
                labels = obj.get("metadata", {}).get("labels") or {}
                if labels.get(LABEL_STACK) == stack and (not managed or labels.get("app.kubernetes.io/managed-by") == MANAGED_BY):
                    out.append(obj)
            return out
        return mine(deployments), mine(services), mine(pods, managed=False), mine(claims)

    async def apply(self, namespace: str, action: Action) -> None:
        what = str(action)
        kind = action.kind
        if kind == "HippodromeStack":
            assert action.body is not None
            await self.patch_stack(namespace, action.name, action.body)
            return
        api = {"Deployment": self.apps, "Service": self.core, "PersistentVolumeClaim": self.core}[kind]
        suffix = {"Deployment": "namespaced_deployment", "Service": "namespaced_service",
                  "PersistentVolumeClaim": "namespaced_persistent_volume_claim"}[kind]
        try:
            if action.verb == "create":
                await self._call(what, getattr(api, f"create_{suffix}"), namespace, action.body)
            elif action.verb == "patch":
                await self._call(what, getattr(api, f"patch_{suffix}"), action.name, namespace, action.body,
                                 _content_type=MERGE_PATCH)
            else:
                # Foreground: the Deployment stays until its pods are gone, so layers really go in order.
                await self._call(what, getattr(api, f"delete_{suffix}"), action.name, namespace,
                                 propagation_policy="Foreground")
        except (KubeConflict, KubeNotFound) as e:
            # Someone (or our previous round) got there first: the next round sees the truth.
            if (action.verb == "create" and isinstance(e, KubeConflict)) or \
                    (action.verb == "delete" and isinstance(e, KubeNotFound)):
                return
            raise

