"""The stack's status, computed purely from what was desired, observed and decided.

``status.services`` has one entry per selected service in the same shape as
the local engine's ``/api/status`` values, so the cluster dashboard serves it
unchanged and the original system's readiness script works on both engines.  Times that
describe a transition (``since``, ``lastTransitionTime``) are carried over from
the previous status while nothing changed, so an unchanged stack yields an
identical status and the operator writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hippodrome_k8s.core.contract import ServiceState, ServiceView, StackPhase

from hippodrome_operator.plan import Decision, Desired, Observed, is_ready

PENDING, PROGRESSING, READY, DEGRADED, TERMINATING, FAILED = (
    StackPhase.PENDING.cr, StackPhase.STARTING.cr, StackPhase.RUNNING.cr, StackPhase.DEGRADED.cr,
    StackPhase.STOPPING.cr, StackPhase.FAILED.cr)
S = ServiceState


def _service_entry(desired: Desired, observed: Observed, decision: Decision, ps: Any) -> tuple[ServiceState, bool, str]:
    d = observed.deployments.get(ps.name)
    stopped = ps.name in decision.stopped
    if d is None:
        if decision.gated_from is not None and ps.layer >= decision.gated_from:
            return S.pending, False, f"waiting for layer {ps.layer - 1} to be ready"
        return S.pending, False, "creating"
    if d.deleting:
        return S.stopping, False, "being deleted"
    if stopped:
        return (S.stopped, False, "stopped on request") if d.pods == 0 and d.replicas == 0 else (S.stopping, False, "scaling to 0")
    if d.failure:
        return S.failed, False, d.failure
    want_hash = decision.hashes.get(ps.name)
    if want_hash is not None and is_ready(ps, observed, want_hash):
        return S.running, True, ""
    return S.starting, False, "rolling out" if d.spec_hash else "waiting for readiness"


def _condition(kind: str, ok: bool, reason: str, message: str, previous: Mapping[str, Any], now_iso: str) -> dict[str, Any]:
    status = "True" if ok else "False"
    old = previous.get(kind) or {}
    since = old.get("lastTransitionTime") if old.get("status") == status and old.get("lastTransitionTime") else now_iso
    return {"type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": since}


def compute(desired: Desired, observed: Observed, decision: Decision, *, previous: Mapping[str, Any] | None,
            generation: int, now: float, now_iso: str, deleting: bool = False,
            refused: Mapping[str, str] | None = None) -> dict[str, Any]:
    """``refused``: the requests of this round the API server refused, by service ("" for the stack)."""
    previous = previous or {}
    if decision.held and not refused:
        return dict(previous)  # the refused generation stays Failed, unchanged, until the spec changes
    prev_conditions = {c.get("type"): c for c in previous.get("conditions") or [] if isinstance(c, Mapping)}
    prev_services = previous.get("services") or {}
    status: dict[str, Any] = {"observedGeneration": generation}

    if desired.error is not None:
        status.update({
            "phase": FAILED,
            "message": desired.error,
            "services": prev_services,
            "currentLayer": previous.get("currentLayer", -1),
            "readyServices": previous.get("readyServices", "0/0"),
            "conditions": [
                _condition("Ready", False, "InvalidSpec", desired.error, prev_conditions, now_iso),
                _condition("Progressing", False, "InvalidSpec", "fix the spec; nothing is retried until it changes",
                           prev_conditions, now_iso),
                _condition("Degraded", True, "InvalidSpec", desired.error, prev_conditions, now_iso),
            ],
        })
        if previous.get("lastControl"):
            status["lastControl"] = previous["lastControl"]
        return status

    services: dict[str, Any] = {}
    for ps in desired.services:
        state, ready, message = _service_entry(desired, observed, decision, ps)
        old = prev_services.get(ps.name) or {}
        since = old.get("since") if old.get("status") == state.value and old.get("since") else now
        services[ps.name] = _entry(ServiceView(
            status=state, layer=ps.layer, port=ps.port, url=ps.url, blocking=ps.blocking, ready=ready,
            restarts=observed.restarts.get(ps.name, 0), pid=None, since=since, message=message))

    selected = [s for s in services.values() if s["status"] not in (S.stopped, S.stopping)]
    ready_count = sum(1 for s in services.values() if s["ready"])
    layers = [ps.layer for ps in desired.services if ps.name in observed.deployments]
    failed = sorted(n for n, s in services.items() if s["status"] == S.failed)
    was_ready = {n for n, s in prev_services.items() if isinstance(s, Mapping) and s.get("ready")}
    lost = sorted(n for n, s in services.items() if n in was_ready and not s["ready"] and s["status"] == S.starting
                  and not decision.actions)
    busy = bool(decision.actions) or any(s["status"] in (S.pending, S.starting, S.stopping) for s in services.values())

    if deleting:
        phase, message = TERMINATING, "tearing down in reverse layer order"
    elif failed or lost:
        phase, message = DEGRADED, "not ready: " + ", ".join(failed + lost)
    elif not observed.deployments and decision.actions:
        phase, message = PENDING, "creating layer 0"
    elif busy:
        gated = decision.gated_from
        phase, message = PROGRESSING, (f"waiting for layer {gated - 1} before layer {gated}" if gated is not None
                                       else "rolling out")
    else:
        phase, message = READY, f"{ready_count} services ready" + (
            f", {len(services) - len(selected)} stopped" if len(selected) < len(services) else "")

    if refused:
        for name, error in refused.items():
            if name in services:
                services[name].update(status=S.failed.value, ready=False, message=f"refused by the API server: {error}")
        ready_count = sum(1 for s in services.values() if s["ready"])
        phase = FAILED
        message = ("the API server refused the spec (fix it; nothing is retried until it changes): "
                   + "; ".join(f"{name or desired.stack.name}: {error}" for name, error in sorted(refused.items())))
        status["rejectedGeneration"] = generation

    status.update({
        "phase": phase,
        "message": message,
        "profile": _value(desired, "profile"),
        "cell": _value(desired, "cell"),
        "currentLayer": max(layers) if layers else -1,
        "readyServices": f"{ready_count}/{len(services)}",
        "services": services,
        "conditions": [
            _condition("Ready", phase == READY, phase, message, prev_conditions, now_iso),
            _condition("Progressing", phase in (PENDING, PROGRESSING, TERMINATING), phase, message, prev_conditions, now_iso),
            _condition("Degraded", phase in (DEGRADED, FAILED), phase, message, prev_conditions, now_iso),
        ],
    })
    if decision.control_result is not None:
        status["lastControl"] = decision.control_result.to_status()
    elif previous.get("lastControl"):
        status["lastControl"] = previous["lastControl"]
    return status


def _entry(view: ServiceView) -> dict[str, Any]:
    """A ServiceView as the CR stores it: the local /api/status fields the cluster has (no exitCode, uptime, name)."""
    data = view.to_json()
    for absent in ("exitCode", "uptime", "name"):
        data.pop(absent)
    return data


def _value(desired: Desired, attr: str) -> str:
    return getattr(desired, attr, None) or ""
