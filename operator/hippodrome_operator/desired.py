"""From a HippodromeStack object to ``Desired``: load, validate and resolve, purely.

The CR's ``spec`` is a stack file's spec, so it goes through the same loader
(schema + validators) and the same resolver as ``hippodrome up``, with cluster
DNS addressing.  Failure is data here (``Desired.error``), not an exception:
the operator reports it as ``Failed`` and waits for the spec to change.

In-cluster choices: the seed is ``spec.seed`` or, when unset, derived from the
object's uid (stable for the object's life, different per stack); the table
prefix is ``spec.tablePrefix`` or ``dev-local-`` (no git branch in a cluster);
the project root is ``/app`` (the images' working directory) and the state dir
an emptyDir at ``/var/lib/hippodrome``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from hippodrome_k8s.core.contract import CONTROL_ANNOTATION, SECRET_HASH_ANNOTATION, STOPPED_ANNOTATION, ControlRequest
from hippodrome_k8s.core.errors import HippodromeError, StackFileError
from hippodrome_k8s.core.loader import load_stack_data
from hippodrome_k8s.core.model import API_VERSION, KIND
from hippodrome_k8s.core.resolver import ClusterAddressing, ResolveOptions, resolve

from hippodrome_operator.children import PROJECT_ROOT, STATE_DIR, StackRef
from hippodrome_operator.plan import Desired, parse_stopped

DEFAULT_IMAGE = "hippodrome/fakes:dev"


def stack_ref(body: Mapping[str, Any]) -> StackRef:
    meta = body.get("metadata", {})
    return StackRef(name=meta.get("name", ""), namespace=meta.get("namespace") or "default", uid=meta.get("uid", ""))


def seed_for(body: Mapping[str, Any]) -> str:
    uid = body.get("metadata", {}).get("uid") or body.get("metadata", {}).get("name", "")
    return hashlib.sha256(f"hippodrome:{uid}".encode()).hexdigest()[:16]


def _error_text(e: HippodromeError) -> str:
    if isinstance(e, StackFileError):
        return "; ".join(f"{p.path}: {p.message}" if p.path else p.message for p in e.problems)
    return str(e)


def desired_from_body(body: Mapping[str, Any], *, default_image: str = DEFAULT_IMAGE,
                      now_iso: str = "1970-01-01T00:00:00Z", live_update: bool = False,
                      state_storage: str = "pvc", state_size: str = "1Gi") -> Desired:
    ref = stack_ref(body)
    annotations = body.get("metadata", {}).get("annotations") or {}
    raw_control = annotations.get(CONTROL_ANNOTATION)
    try:
        control, control_error = ControlRequest.decode(raw_control), None
    except ValueError as e:  # reported once in status.lastControl, not dropped (the CLI would only time out)
        control, control_error = ControlRequest.invalid(raw_control or ""), str(e)
    stopped = parse_stopped(annotations.get(STOPPED_ANNOTATION))
    base = dict(stack=ref, stopped=stopped, default_image=default_image, now=now_iso, live_update=live_update,
                state_storage=state_storage, state_size=state_size, secret_hash=annotations.get(SECRET_HASH_ANNOTATION),
                control=control, control_error=control_error,
                generation=int(body.get("metadata", {}).get("generation") or 0))
    document = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": ref.name, "namespace": ref.namespace},
        "spec": body.get("spec") or {},
    }
    try:
        stack = load_stack_data(document, f"{KIND}/{ref.name}")
        spec = stack.spec
        plan = resolve(stack, ResolveOptions(
            seed=spec.seed if spec.seed is not None else seed_for(body),
            table_prefix=spec.tablePrefix if spec.tablePrefix is not None else "dev-local-",
            addressing=ClusterAddressing(ref.namespace),
            project_root=PROJECT_ROOT,
            state_dir=STATE_DIR,
        ))
    except HippodromeError as e:
        return Desired(error=_error_text(e), **base)  # type: ignore[arg-type]
    return Desired(services=plan.services, profile=plan.profile.value, cell=plan.cell.value, **base)  # type: ignore[arg-type]
