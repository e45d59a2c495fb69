"""The Kubernetes API adapter: the only module that talks to the API server.

It wraps the official ``kubernetes`` client (sync; each call runs in a worker
thread so kopf's loop never blocks) and returns plain dicts.  Library
exceptions stop here: an ``ApiException`` or a transport error becomes
``KubeApiError`` (a ``K8sError``), carrying the HTTP status.  Every patch is a
JSON merge patch, never a strategic merge: a removed env var must go away.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from typing import Any

import kubernetes
import urllib3
from kubernetes.client.exceptions import ApiException

from hippodrome_k8s.crd import GROUP, PLURAL, VERSION
from hippodrome_k8s.errors import K8sError

from .children import LABEL_STACK, MANAGED_BY
from .plan import Action

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
TIMEOUT = 15  # seconds per API call


class KubeApiError(K8sError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class KubeApi:
    def __init__(self, api_client: kubernetes.client.ApiClient):
        self.client = api_client
        self.apps = kubernetes.client.AppsV1Api(api_client)
        self.core = kubernetes.client.CoreV1Api(api_client)
        self.custom = kubernetes.client.CustomObjectsApi(api_client)

    @classmethod
    def from_environment(cls) -> "KubeApi":
        """In a pod, its service account; outside, ``$KUBECONFIG`` (read now: the client reads it once, at import)."""
        try:
            kubernetes.config.load_incluster_config()
        except kubernetes.config.ConfigException:
            try:
                kubernetes.config.load_kube_config(config_file=os.environ.get("KUBECONFIG") or None)
            except (kubernetes.config.ConfigException, OSError) as e:
                raise KubeApiError(f"no in-cluster config and no usable kubeconfig: {e}") from None
        return cls(kubernetes.client.ApiClient())

    @classmethod
    def for_url(cls, url: str) -> "KubeApi":
        config = kubernetes.client.Configuration(host=url)
        return cls(kubernetes.client.ApiClient(config))

    async def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        def run() -> Any:
            response = fn(*args, _preload_content=False, _request_timeout=TIMEOUT, **kwargs)
            data = response.data
            return json.loads(data) if data else {}
        try:
            return await asyncio.to_thread(run)
        except ApiException as e:
            raise KubeApiError(f"{what}: HTTP {e.status} {_reason(e)}", e.status) from None
        except (urllib3.exceptions.HTTPError, OSError, json.JSONDecodeError) as e:
            raise KubeApiError(f"{what}: {type(e).__name__}: {e}") from None

    async def stacks_served(self) -> bool:
        """Whether the API server serves HippodromeStacks yet (their CRD applied and established)."""
        try:
            data = await self._call(f"discover {GROUP}/{VERSION}", self.custom.get_api_resources, GROUP, VERSION)
        except KubeApiError as e:
            if e.status == 404:
                return False
            raise
        return any(r.get("name") == PLURAL for r in data.get("resources") or [])

    # --- the stack ------------------------------------------------------------------------

    async def get_stack(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            return await self._call(f"get {PLURAL}/{name}", self.custom.get_namespaced_custom_object,
                                    GROUP, VERSION, namespace, PLURAL, name)
        except KubeApiError as e:
            if e.status == 404:
                return None
            raise

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
        except KubeApiError as e:
            # Someone (or our previous round) got there first: the next round sees the truth.
            if (action.verb == "create" and e.status == 409) or (action.verb == "delete" and e.status == 404):
                return
            raise


def _reason(e: ApiException) -> str:
    try:
        return json.loads(e.body or "{}").get("message") or e.reason or ""
    except (ValueError, AttributeError):
        return e.reason or ""


def merge_patch(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """The JSON merge patch turning ``old`` into ``new`` (``{}`` when equal): removed keys map to None."""
    patch: dict[str, Any] = {}
    for key in old:
        if key not in new:
            patch[key] = None
    for key, value in new.items():
        before = old.get(key)
        if isinstance(value, Mapping) and isinstance(before, Mapping):
            sub = merge_patch(before, value)
            if sub:
                patch[key] = sub
        elif key not in old or before != value:
            patch[key] = value
    return patch
