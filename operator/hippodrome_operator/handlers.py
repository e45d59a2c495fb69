"""kopf wiring: events wake one reconciler per stack; the reconciler fetches, plans, applies.

- ``on.event`` for the stack and for our Deployments only *wakes* the stack's
  reconciler (an ``asyncio.Event``): no handler decides or writes anything.
- ``daemon`` per stack: the single owner of that stack's writes.  It runs a
  round when woken (a child became available, the spec or an annotation
  changed) or every ``resync_seconds``; bursts of events coalesce into one round.
  A round that fails on the API (``K8sError``) is retried with capped backoff.
- ``on.delete`` (kopf's finalizer): teardown in reverse layer order, then let go.
- ``on.login``: a service account inside a pod, the kubeconfig outside.  A
  plain ``OperatorRegistry`` has no login handlers (only kopf's default
  registry adds them), and without one ``kopf.operator()`` dies at start with
  ``LoginError: Ran out of valid credentials``.

Nothing here keeps per-stack state besides the wake-up events.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import kopf

from hippodrome_k8s.core.backoff import RestartPolicy, restart_delay
from hippodrome_k8s.core.crd import GROUP, PLURAL, VERSION
from hippodrome_k8s.core.errors import K8sError

from hippodrome_operator.apply import OperatorApi
from hippodrome_operator.children import LABEL_STACK, MANAGED_BY
from hippodrome_operator.reconcile import Config, reconcile, teardown

FINALIZER = f"{GROUP}/finalizer"
RETRY = RestartPolicy()  # a failed reconcile round is retried like a crashed service: 0.5 s doubling to 30 s


def configure(settings: kopf.OperatorSettings) -> None:
    settings.persistence.finalizer = FINALIZER
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(prefix=GROUP)
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=GROUP, key="last-handled-configuration")
    settings.posting.level = logging.WARNING
    settings.scanning.disabled = True  # no CRD/namespace watching: the chart installs the CRD first (least RBAC)
    settings.watching.server_timeout = 300
    settings.watching.client_timeout = 330


def build_registry(api: OperatorApi, config: Config = Config()) -> kopf.OperatorRegistry:
    registry = kopf.OperatorRegistry()
    wakeups: dict[tuple[str, str], asyncio.Event] = {}

    def wake(namespace: str | None, name: str | None) -> None:
        event = wakeups.get((namespace or "", name or ""))
        if event is not None:
            event.set()

    @kopf.on.login(registry=registry, errors=kopf.ErrorsMode.IGNORED)
    def login_in_cluster(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_service_account(**kwargs)  # None outside a pod

    @kopf.on.login(registry=registry, errors=kopf.ErrorsMode.IGNORED)
    def login_with_kubeconfig(**kwargs: Any) -> kopf.ConnectionInfo | None:
        return kopf.login_with_kubeconfig(**kwargs)  # $KUBECONFIG or ~/.kube/config; None without either

    @kopf.on.startup(registry=registry)
    def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        configure(settings)

    @kopf.on.event(GROUP, VERSION, PLURAL, registry=registry)
    async def stack_changed(namespace: str, name: str, **_: Any) -> None:
        wake(namespace, name)

    @kopf.on.event("apps", "v1", "deployments", labels={"app.kubernetes.io/managed-by": MANAGED_BY}, registry=registry)
    async def child_changed(namespace: str, labels: dict[str, str], **_: Any) -> None:
        wake(namespace, labels.get(LABEL_STACK))

    @kopf.daemon(GROUP, VERSION, PLURAL, registry=registry, cancellation_timeout=5.0)
    async def reconciler(namespace: str, name: str, stopped: Any, logger: logging.Logger, **_: Any) -> None:
        key = (namespace, name)
        event = wakeups.setdefault(key, asyncio.Event())
        event.set()
        failures = 0
        try:
            while not stopped:
                try:
                    await asyncio.wait_for(event.wait(), timeout=config.resync_seconds)
                except asyncio.TimeoutError:
                    pass
                event.clear()
                if stopped:
                    break
                try:
                    await reconcile(api, namespace, name, config)
                    failures = 0
                except K8sError as e:
                    failures += 1
                    delay = restart_delay(RETRY, failures)
                    logger.warning(f"reconcile failed ({e}); retrying in {delay}s")
                    await asyncio.sleep(delay)
                    event.set()
        finally:
            if wakeups.get(key) is event:
                del wakeups[key]

    @kopf.on.delete(GROUP, VERSION, PLURAL, registry=registry, backoff=1.0)
    async def tear_down(namespace: str, name: str, **_: Any) -> None:
        try:
            await teardown(api, namespace, name, config)
        except K8sError as e:
            raise kopf.TemporaryError(str(e), delay=2.0) from None

    return registry
