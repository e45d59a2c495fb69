"""Health probes: the HTTP prober (I/O) and the pure tracker that reads its answers.

``ProbeTracker.observe(ok, now)`` decides what a probe result means for a service, given its
health spec and what it saw before: it became ready, it became unready (``failureThreshold``
failures in a row after being healthy), or it never became healthy in ``startTimeoutSeconds``.
The runner only probes, asks, and reports. A TCP port that accepts is not health.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from enum import Enum
from urllib.parse import urlsplit

from hippodrome_k8s.core.model import HealthCheck


class Verdict(Enum):
    NONE = "none"  # nothing changed
    READY = "ready"  # healthy (first time since it started, or again after being unready)
    UNREADY = "unready"  # was ready, failed failureThreshold probes in a row
    GIVE_UP = "give-up"  # never healthy within startTimeoutSeconds


FAST_PROBE_SECONDS = 0.01  # the first probes after a start, this far apart...
FAST_PROBES = 20  # ...this many of them (0.2 s), then startingPeriodSeconds


@dataclass
class ProbeTracker:
    health: HealthCheck
    started: float
    healthy_since: float | None = None
    ready: bool = False
    failures_in_row: int = 0
    probes: int = 0

    def period(self) -> float:
        """Slow once it has been healthy; while starting, at most ``startingPeriodSeconds`` apart, and the first
        ``FAST_PROBES`` 10 ms apart: a service forked ready-made (held, its set-up done) serves within milliseconds
        of its start, and its whole layer waits for the first good probe of its slowest service."""
        if self.healthy_since is not None:
            return self.health.periodSeconds
        if self.probes < FAST_PROBES:
            return min(self.health.startingPeriodSeconds, FAST_PROBE_SECONDS)
        return self.health.startingPeriodSeconds

    def observe(self, ok: bool, now: float) -> Verdict:
        self.probes += 1
        if ok:
            self.failures_in_row = 0
            if self.ready:
                return Verdict.NONE
            self.ready = True
            if self.healthy_since is None:
                self.healthy_since = now
            return Verdict.READY
        if self.healthy_since is not None:
            self.failures_in_row += 1
            if self.ready and self.failures_in_row >= self.health.failureThreshold:
                self.ready = False
                return Verdict.UNREADY
            return Verdict.NONE
        if now - self.started > self.health.startTimeoutSeconds:
            return Verdict.GIVE_UP
        return Verdict.NONE

    def healthy_for(self, now: float) -> float | None:
        return now - self.healthy_since if self.healthy_since is not None else None


class HttpProber:
    """HTTP health probes.

    A probe is one HTTP/1.1 GET on a fresh connection, read up to its status line: that is all
    a health check needs, and it costs the supervisor a fraction of a full client's CPU, which
    matters when fifteen services start at once on two cores.
    """

    async def probe(self, url: str, timeout: float) -> tuple[bool, str]:
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        writer = None
        try:
            async with asyncio.timeout(timeout):
                reader, writer = await asyncio.open_connection(host, port)
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n"
                             f"User-Agent: hippodrome-probe\r\n\r\n".encode())
                await writer.drain()
                status_line = await reader.readline()
        except TimeoutError:
            return False, f"health check {url} timed out after {timeout:g}s"
        except OSError as e:
            return False, f"health check {url} failed: {e.strerror or type(e).__name__}"
        finally:
            if writer is not None:
                writer.close()
        fields = status_line.decode("latin-1").split(" ", 2)
        if len(fields) < 2 or not fields[0].startswith("HTTP/") or not fields[1].isdigit():
            return False, f"health check {url} answered something that is not HTTP"
        return fields[1] == "200", f"health check {url} answered HTTP {fields[1]}"

    async def close(self) -> None:
        """Nothing is pooled; kept so callers need not know."""
