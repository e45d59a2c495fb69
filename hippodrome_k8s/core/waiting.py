"""Waiting for something with progress: the one loop both engines' `up` use.

``wait_with_progress`` polls, prints what changed since the last poll, asks a pure ``decide`` whether
it is done (with a result) or failed (with a message), and gives up at a deadline, saying what it was
still waiting for. The clock and the sleep are injected, so the loop is tested without waiting.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from hippodrome_k8s.core.errors import HippodromeError

T = TypeVar("T")
R = TypeVar("R")


@dataclass(frozen=True)
class Verdict(Generic[R]):
    done: bool = False
    result: R | None = None
    failure: str | None = None  # set: stop waiting, this went wrong

    @classmethod
    def waiting(cls) -> "Verdict[R]":
        return cls()


def wait_with_progress(poll: Callable[[], T | None], decide: Callable[[T], Verdict[R]],
                       changes: Callable[[T | None, T], list[str]], echo: Callable[[str], None], *,
                       timeout: float, interval: float, still_waiting: Callable[[T | None], str],
                       error: type[HippodromeError] = HippodromeError,
                       clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> R:
    """``poll()`` is None while there is nothing to look at yet. Raises ``error`` on a failure or at the
    deadline (``still_waiting(last)`` says what was missing)."""
    deadline = clock() + timeout
    last: T | None = None
    while True:
        current = poll()
        if current is not None:
            for line in changes(last, current):
                echo(line)
            last = current
            verdict = decide(current)
            if verdict.failure is not None:
                raise error(verdict.failure)
            if verdict.done:
                return verdict.result  # type: ignore[return-value]
        if clock() >= deadline:
            raise error(still_waiting(last))
        sleep(interval)
