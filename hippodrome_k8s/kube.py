"""The one adapter to the Kubernetes API, for the CLI, the operator and the in-cluster dashboard.

Why one: each of them used to wrap the `kubernetes` client its own way (and detect a conflict by
looking for "HTTP 409" in a message). This is the only module that imports the client. Calls go
through ``Kube.call`` (blocking) or ``Kube.acall`` (in a worker thread, for asyncio callers); answers
come back as plain JSON (dicts), and every library exception becomes one of the project's errors,
by HTTP status, in one place (``_mapped`` -> ``errors.kube_api_error``), as kopf's
``check_response`` does for its client.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Callable, Iterator
from typing import Any

from hippodrome_k8s.core.errors import KubeApiError, kube_api_error

TIMEOUT = 15.0  # seconds per API call


class Kube:
    def __init__(self, api_client: Any, timeout: float = TIMEOUT, where: str = "") -> None:
        from kubernetes import client

        self.api_client = api_client
        self.timeout = timeout
        self.where = where  # e.g. the kubeconfig context, for messages
        self.apps = client.AppsV1Api(api_client)
        self.core = client.CoreV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)

    @classmethod
    def connect(cls, context: str | None = None, *, in_cluster_first: bool = False, timeout: float = TIMEOUT) -> "Kube":
        """A client for a kubeconfig context (None: the current one); with ``in_cluster_first``, the pod's
        service account when there is one. ``$KUBECONFIG`` is read now (the client reads it once, at import)."""
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException

        if in_cluster_first:
            try:
                config.load_incluster_config()
                from kubernetes import client

                return cls(client.ApiClient(), timeout, "in-cluster")
            except ConfigException:
                pass
        try:
            api_client = config.new_client_from_config(config_file=os.environ.get("KUBECONFIG") or None, context=context)
        except (ConfigException, OSError, TypeError) as e:
            raise kube_api_error(f"loading kubeconfig context {context or '(current)'}", None, str(e)) from None
        return cls(api_client, timeout, f"context {context}" if context else "the current context")

    @classmethod
    def for_url(cls, url: str, timeout: float = TIMEOUT) -> "Kube":
        """An unauthenticated client for ``url`` (tests against an API emulator)."""
        from kubernetes import client

        return cls(client.ApiClient(client.Configuration(host=url)), timeout, url)

    def call(self, what: str, fn: Callable[..., Any], *args: Any, text: bool = False, **kwargs: Any) -> Any:
        """``fn(*args, **kwargs)`` with a timeout; its body as JSON ({} when empty), or as text."""
        kwargs.setdefault("_request_timeout", self.timeout)
        try:
            data = fn(*args, _preload_content=False, **kwargs).data
            if text:
                return data.decode("utf-8", errors="replace")
            return json.loads(data) if data else {}
        except Exception as e:  # noqa: BLE001 - mapped to the error tree; anything unknown re-raised
            raise self._mapped(what, e) from None

    async def acall(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(self.call, what, fn, *args, **kwargs)

    def stream(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Iterator[str]:
        """A streaming answer (followed pod logs), chunk by chunk, decoded."""
        try:
            response = fn(*args, _preload_content=False, **kwargs)
            for chunk in response.stream():
                yield chunk.decode("utf-8", errors="replace")
        except Exception as e:  # noqa: BLE001
            raise self._mapped(what, e) from None

    def _mapped(self, what: str, e: Exception) -> Exception:
        from kubernetes.client.exceptions import ApiException
        from urllib3.exceptions import HTTPError

        if isinstance(e, ApiException):
            return kube_api_error(what, e.status, _reason(e))
        if isinstance(e, (HTTPError, OSError)):
            return kube_api_error(what, None, f"cannot reach the Kubernetes API ({self.where}): {type(e).__name__}: {e}")
        if isinstance(e, json.JSONDecodeError):
            return kube_api_error(what, None, f"the API server answered something that is not JSON: {e}")
        return e


def _reason(e: Any) -> str:
    try:
        return json.loads(e.body or "{}").get("message") or e.reason or ""
    except (ValueError, AttributeError, TypeError):
        return e.reason or ""


__all__ = ["Kube", "KubeApiError"]
