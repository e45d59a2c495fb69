"""Per-service log files under ``.hippodrome/logs/<YYYYmmdd-HHMMSS>/`` and colour-prefixed console lines.

Each line also goes to a ``LogBook`` the services of one run share: it numbers every line of the
run (``seq``, one counter for all services, so lines interleave in the order they were written)
and keeps the last ``BOOK_LINES`` per service in memory, so the dashboard can page (``since``),
stream and interleave them without reading files on the request path. The files hold everything.
"""

from __future__ import annotations

import itertools
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from hippodrome_k8s.host.project import ProjectPaths

COLOURS = [36, 32, 33, 35, 34, 92, 93, 94, 95, 96]  # no red: red reads as an error
SUPERVISOR = "hippodrome"  # the supervisor's own log: bold, not a colour, and timestamped in its file
TAIL_LINES = 200
BOOK_LINES = 2000  # per service, in memory; the whole run is in the files


@dataclass(frozen=True)
class LogLine:
    seq: int
    at: float
    service: str
    text: str

    def to_json(self) -> dict:
        return {"seq": self.seq, "at": round(self.at, 3), "service": self.service, "text": self.text}


class LogBook:
    """The run's recent lines, numbered across services, and who wants to hear of new ones."""

    def __init__(self, per_service: int = BOOK_LINES, clock: Callable[[], float] = time.time):
        self._seq = itertools.count(1)
        self._clock = clock
        self._per_service = per_service
        self._lines: dict[str, deque[LogLine]] = {}
        self._all: deque[LogLine] = deque(maxlen=per_service * 4)  # every service, interleaved
        self._listeners: list[Callable[[LogLine], None]] = []
        self.last_seq = 0

    def add(self, service: str, text: str) -> LogLine:
        line = LogLine(next(self._seq), self._clock(), service, text)
        self.last_seq = line.seq
        self._lines.setdefault(service, deque(maxlen=self._per_service)).append(line)
        self._all.append(line)
        for listener in list(self._listeners):
            listener(line)
        return line

    def lines(self, service: str | None = None, since: int = 0, limit: int = 200) -> list[LogLine]:
        """The last ``limit`` lines after ``since``: one service's, or every service's interleaved.
        Scans from the newest backwards, so following a stream costs what is new, not what is kept."""
        kept = self._all if service is None else self._lines.get(service, ())
        found: list[LogLine] = []
        for line in reversed(kept):
            if line.seq <= since or len(found) >= limit:
                break
            found.append(line)
        found.reverse()
        return found

    def listen(self, listener: Callable[[LogLine], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None


def new_run_dir(project_root: str | Path, now: float | None = None) -> Path:
    logs = ProjectPaths(Path(project_root)).logs_dir
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(now))
    run_dir = logs / stamp
    suffix = 1
    while run_dir.exists():
        run_dir = logs / f"{stamp}-{suffix}"
        suffix += 1
    run_dir.mkdir(parents=True)
    latest = logs / "latest"
    tmp = logs / f".latest.{os.getpid()}"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    tmp.symlink_to(run_dir.name)
    os.replace(tmp, latest)
    return run_dir


class ServiceLog:
    """One service's output: a file, the console (optional) and a bounded in-memory tail."""

    def __init__(self, name: str, path: Path, colour: int, console: TextIO | None, width: int,
                 timestamps: bool = False, book: LogBook | None = None):
        self.name = name
        self._book = book
        self.path = path
        self._timestamps = timestamps
        self._file = open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115 - closed in close()
        self._console = console
        self._prefix = f"\x1b[{colour}m{name.ljust(width)}\x1b[0m | " if console is not None and _is_tty(console) else f"{name.ljust(width)} | "
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)

    def write(self, line: str) -> None:
        line = line.rstrip("\n")
        if self._timestamps:
            now = time.time()
            self._file.write(f"{time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(now))}.{int(now % 1 * 1000):03d} {line}\n")
        else:
            self._file.write(line + "\n")
        self.tail.append(line)
        if self._book is not None:
            self._book.add(self.name, line)
        if self._console is not None:
            try:
                self._console.write(self._prefix + line + "\n")
                self._console.flush()
            except (OSError, ValueError):
                self._console = None

    def close(self) -> None:
        self._file.close()


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty() and os.environ.get("NO_COLOR") is None
    except (AttributeError, ValueError):
        return False


def open_service_logs(run_dir: Path, names: list[str], console: TextIO | None = sys.stdout,
                      book: LogBook | None = None) -> dict[str, ServiceLog]:
    width = max((len(n) for n in names), default=8)
    services = [n for n in names if n != SUPERVISOR]
    logs = {name: ServiceLog(name, run_dir / f"{name}.log", COLOURS[i % len(COLOURS)], console, width, book=book)
            for i, name in enumerate(services)}
    if SUPERVISOR in names:
        logs[SUPERVISOR] = ServiceLog(SUPERVISOR, run_dir / f"{SUPERVISOR}.log", 1, console, width, timestamps=True,
                                      book=book)
    return logs
