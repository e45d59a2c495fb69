"""Live progress of a HippodromeStack until ``Ready``, or a failure naming the service.

``progress_lines`` and ``failure_of`` are pure (status in, text out) and
table-tested; ``wait_ready`` only polls the API, prints what changed and, on a
failure, asks the API for the service's pods and the last lines of its log so
the error says what went wrong without a second command.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hippodrome_k8s.core.errors import K8sError
from hippodrome_k8s.core.waiting import Verdict, wait_with_progress
from hippodrome_k8s.k8s.api import ClusterApi, selector

LOG_LINES = 20


@dataclass(frozen=True)
class Failure:
    service: str | None
    reason: str


@dataclass(frozen=True)
class WaitOptions:
    timeout: float = 900.0
    poll: float = 1.0
    crashloop_restarts: int = 3  # a not-ready service restarted this often is reported as failing


def _services(status: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    return status.get("services") or {}


def progress_lines(previous: Mapping[str, Any], status: Mapping[str, Any]) -> list[str]:
    """What changed between two status objects, one line per change, in layer order."""
    lines: list[str] = []
    head = (status.get("phase"), status.get("currentLayer"), status.get("readyServices"))
    if head != (previous.get("phase"), previous.get("currentLayer"), previous.get("readyServices")) and head[0]:
        layer = f" · layer {head[1]}" if head[1] is not None else ""
        lines.append(f"{head[0]}{layer} · {head[2] or '-'} ready")
    before = _services(previous)
    for name, s in sorted(_services(status).items(), key=lambda kv: (kv[1].get("layer", 0), kv[0])):
        old = before.get(name, {})
        if (old.get("status"), old.get("ready"), old.get("restarts")) == (s.get("status"), s.get("ready"), s.get("restarts")):
            continue
        ready = "ready" if s.get("ready") else "not ready"
        restarts = f" · {s['restarts']} restarts" if s.get("restarts") else ""
        message = f" · {s['message']}" if s.get("message") else ""
        lines.append(f"  layer {s.get('layer', '?')}  {name:<16} {s.get('status', '?')} ({ready}){restarts}{message}")
    return lines


def failure_of(status: Mapping[str, Any], options: WaitOptions = WaitOptions()) -> Failure | None:
    services = _services(status)
    for name, s in sorted(services.items(), key=lambda kv: (kv[1].get("layer", 0), kv[0])):
        if s.get("status") == "failed":
            return Failure(name, s.get("message") or "failed")
        if not s.get("ready") and (s.get("restarts") or 0) >= options.crashloop_restarts:
            return Failure(name, f"restarted {s['restarts']} times without becoming ready"
                           + (f": {s['message']}" if s.get("message") else ""))
    if status.get("phase") == "Failed":
        conditions = [c for c in status.get("conditions") or [] if c.get("message")]
        message = "; ".join(f"{c.get('type')}: {c['message']}" for c in conditions) or "the operator reports Failed"
        return Failure(None, message)
    return None


def is_ready(status: Mapping[str, Any], generation: int) -> bool:
    return status.get("phase") == "Ready" and (status.get("observedGeneration") or 0) >= generation


def diagnose(api: ClusterApi, namespace: str, stack: str, failure: Failure, log_lines: int = LOG_LINES) -> str:
    if failure.service is None:
        return f"stack {stack!r} failed: {failure.reason}"
    text = [f"service {failure.service!r} of stack {stack!r} is failing: {failure.reason}"]
    try:
        pods = api.pods(namespace, selector(stack, failure.service))
    except K8sError as e:
        return "\n".join(text + [f"  (could not list its pods: {e})"])
    if not pods:
        text.append("  no pod exists for it (see `kubectl -n %s describe deployment`)" % namespace)
    for pod in pods:
        text.append("  " + pod.describe())
    if pods:
        newest = max(pods, key=lambda p: p.created)
        try:
            logs = api.pod_logs(namespace, newest.name, log_lines).rstrip()
        except K8sError as e:
            logs = f"(could not read its log: {e})"
        text.append(f"  last {log_lines} log lines of {newest.name}:")
        text.extend("    " + line for line in (logs.splitlines() or ["(empty)"]))
    text.append(f"  more: hippodrome k8s logs {failure.service}")
    return "\n".join(text)


def wait_ready(api: ClusterApi, namespace: str, name: str, generation: int, echo: Callable[[str], None],
               options: WaitOptions = WaitOptions(), clock: Callable[[], float] = time.monotonic,
               sleep: Callable[[float], None] = time.sleep) -> dict[str, Any]:
    def poll() -> dict[str, Any] | None:
        obj = api.get_stack(namespace, name)
        if obj is None:
            raise K8sError(f"HippodromeStack {namespace}/{name} disappeared while waiting for it")
        status = obj.get("status") or {}
        return status if (status.get("observedGeneration") or 0) >= generation else None

    def decide(status: dict[str, Any]) -> Verdict[dict[str, Any]]:
        if is_ready(status, generation):
            return Verdict(done=True, result=status)
        failure = failure_of(status, options)
        return Verdict(failure=diagnose(api, namespace, name, failure)) if failure else Verdict.waiting()

    def still_waiting(status: dict[str, Any] | None) -> str:
        status = status or {}
        pending = [n for n, s in _services(status).items() if not s.get("ready")]
        return (f"stack {name!r} was not Ready after {options.timeout:g}s (phase {status.get('phase') or 'unknown'}; "
                f"not ready: {', '.join(sorted(pending)) or '-'}); is the operator running? "
                "`kubectl -n hippodrome get pods`")

    return wait_with_progress(poll, decide, lambda before, now: progress_lines(before or {}, now), echo,
                              timeout=options.timeout, interval=options.poll, still_waiting=still_waiting,
                              error=K8sError, clock=clock, sleep=sleep)
