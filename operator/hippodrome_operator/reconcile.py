"""One reconcile round and the teardown loop: fetch, plan, apply, report.

No decision is taken here: ``desired_from_body`` + ``plan`` decide, ``status.compute``
describes, and ``OperatorApi`` acts.  A round whose status would not change writes
nothing, so a quiet stack (or a Failed one) produces no API traffic and no
events: that is what keeps an invalid spec from becoming a retry storm.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from dataclasses import dataclass
from datetime import datetime, timezone
from itertools import groupby

from hippodrome_k8s.core.contract import CONTROL_ANNOTATION, SECRET_HASH_ANNOTATION, STOPPED_ANNOTATION
from hippodrome_k8s.core.errors import KubeApiError

from hippodrome_operator import plan as planning
from hippodrome_operator import status as statuses
from hippodrome_operator.apply import OperatorApi
from hippodrome_operator.desired import DEFAULT_IMAGE, desired_from_body
from hippodrome_operator.plan import Action

log = logging.getLogger("hippodrome_operator")


@dataclass(frozen=True)
class Config:
    default_image: str = DEFAULT_IMAGE
    live_update: bool = False  # Tilt's dev images: reloading services run under a reloader
    state_storage: str = "pvc"  # stateful services: a PersistentVolumeClaim, or "emptyDir"
    state_size: str = "1Gi"
    resync_seconds: float = 30.0  # a full round even without events (pod restarts are not watched)
    teardown_poll_seconds: float = 0.2
    teardown_timeout_seconds: float = 600.0


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Round:
    actions: tuple[Action, ...]
    phase: str | None
    wrote_status: bool


async def _apply_all(api: OperatorApi, namespace: str, actions: tuple[Action, ...]) -> dict[str, str]:
    """Deletes go highest layer first, the rest in layer order; one layer's calls run concurrently.

    Returns the requests the API server refused (``plan.rejected``), by service: retrying those cannot
    help, so they become the status instead of an exception (which the daemon would retry forever).
    """
    refused: dict[str, str] = {}

    async def one(action: Action) -> None:
        try:
            await api.apply(namespace, action)
        except KubeApiError as e:
            if not planning.rejected(e.status):
                raise
            log.warning("%s/%s: refused: %s", namespace, action.name, e)
            refused.setdefault(action.service, str(e))

    deletes = sorted((a for a in actions if a.verb == "delete"), key=lambda a: -a.layer)
    others = sorted((a for a in actions if a.verb != "delete"), key=lambda a: a.layer)
    for group in (deletes, others):
        for _, same_layer in groupby(group, key=lambda a: a.layer):
            await asyncio.gather(*(one(a) for a in same_layer))
    return refused


_DESIRED_CACHE_SIZE = 64
_desired_cache: dict[tuple[Any, ...], planning.Desired] = {}


def desired_for(body: Mapping[str, Any], config: Config, now_iso: str) -> planning.Desired:
    """desired_from_body, remembered per (uid, generation, annotations it reads, config): most events
    (a Deployment became available, a pod restarted) change none of these, and then neither the
    resolved plan nor the children's manifests need building again."""
    meta = body.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    key = (meta.get("namespace"), meta.get("name"), meta.get("uid"), meta.get("generation"), annotations.get(CONTROL_ANNOTATION),
           annotations.get(STOPPED_ANNOTATION), annotations.get(SECRET_HASH_ANNOTATION), config)
    desired = _desired_cache.get(key)
    if desired is None:
        desired = desired_from_body(body, default_image=config.default_image, now_iso=now_iso,
                                    live_update=config.live_update, state_storage=config.state_storage,
                                    state_size=config.state_size)
        if len(_desired_cache) >= _DESIRED_CACHE_SIZE:
            _desired_cache.pop(next(iter(_desired_cache)))
        _desired_cache[key] = desired
    return desired


async def reconcile(api: OperatorApi, namespace: str, name: str, config: Config = Config(),
                    clock: Callable[[], float] = time.time) -> Round:
    body = await api.get_stack(namespace, name)
    if body is None or body.get("metadata", {}).get("deletionTimestamp"):
        return Round((), None, False)  # gone, or the finalizer's teardown owns it now
    deployments, services, pods, claims = await api.list_children(namespace, name)
    now = clock()
    desired = desired_for(body, config, iso(now))
    previous = body.get("status") or {}
    observed = planning.observe(deployments, services, pods, previous, claims)
    decision = planning.plan(desired, observed)
    for action in decision.actions:
        log.info("%s/%s: %s", namespace, name, action)
    refused = await _apply_all(api, namespace, decision.actions)
    new = statuses.compute(desired, observed, decision, previous=previous,
                           generation=int(body["metadata"].get("generation") or 0), now=now, now_iso=iso(now),
                           refused=refused)
    changed = new != previous
    if changed:
        await api.replace_stack_status(namespace, name, new)
    return Round(decision.actions, new["phase"], changed)


async def teardown(api: OperatorApi, namespace: str, name: str, config: Config = Config(),
                   clock: Callable[[], float] = time.time) -> None:
    """Delete the children in reverse layer order, waiting for each layer to be gone."""
    deadline = time.monotonic() + config.teardown_timeout_seconds
    reported = False
    while True:
        deployments, services, _, _ = await api.list_children(namespace, name)
        actions, done = planning.teardown(planning.observe(deployments, services))
        if done:
            return
        if not reported:
            body = await api.get_stack(namespace, name)
            if body is not None:
                now = clock()
                old = body.get("status") or {}
                conditions = [c for c in old.get("conditions") or [] if c.get("type") != "Progressing"]
                conditions.append({"type": "Progressing", "status": "True", "reason": statuses.TERMINATING,
                                   "message": "tearing down in reverse layer order", "lastTransitionTime": iso(now)})
                await api.patch_stack_status(namespace, name, {"phase": statuses.TERMINATING, "conditions": conditions,
                                                               "message": "tearing down in reverse layer order"})
            reported = True
        for action in actions:
            log.info("%s/%s: %s", namespace, name, action)
        await _apply_all(api, namespace, actions)
        if time.monotonic() > deadline:
            log.warning("%s/%s: teardown timed out; letting go (owner references clean up the rest)", namespace, name)
            return
        await asyncio.sleep(config.teardown_poll_seconds)
