"""When to try again: a pure, capped exponential backoff, for a service that exited (the local
engine), a port-forward that dropped (the Kubernetes CLI) and a reconcile round that failed (the
operator).

``restart_delay(policy, failures)`` is the wait before restart number
``failures`` (1-based) in a row; ``failures_after_healthy`` resets the count
once a service has stayed healthy for ``reset_after`` seconds.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    initial: float = 0.5  # seconds before the first restart
    factor: float = 2.0
    cap: float = 30.0  # never wait longer than this
    reset_after: float = 60.0  # healthy this long -> the next failure counts as the first
    start_attempts: int = 3  # during `up`, a blocking service that never became healthy gives up after this many


def restart_delay(policy: RestartPolicy, failures: int) -> float:
    if failures <= 0:
        return 0.0
    return min(policy.cap, policy.initial * policy.factor ** (failures - 1))


def failures_after_healthy(policy: RestartPolicy, failures: int, healthy_for: float | None) -> int:
    """The failure count to use for the next restart, given how long the last run was healthy."""
    if healthy_for is not None and healthy_for >= policy.reset_after:
        return 0
    return failures
