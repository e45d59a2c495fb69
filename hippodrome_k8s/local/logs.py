"""Per-service log files under ``.hippodrome/logs/<YYYYmmdd-HHMMSS>/`` and colour-prefixed console lines."""

from __future__ import annotations

import os
import sys
import time
from collections import deque
from pathlib import Path
from typing import TextIO

from hippodrome_k8s.host.project import ProjectPaths

COLOURS = [36, 32, 33, 35, 34, 92, 93, 94, 95, 96]  # no red: red reads as an error
SUPERVISOR = "hippodrome"  # the supervisor's own log: bold, not a colour, and timestamped in its file
TAIL_LINES = 200


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
                 timestamps: bool = False):
        self.name = name
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


def open_service_logs(run_dir: Path, names: list[str], console: TextIO | None = sys.stdout) -> dict[str, ServiceLog]:
    width = max((len(n) for n in names), default=8)
    services = [n for n in names if n != SUPERVISOR]
    logs = {name: ServiceLog(name, run_dir / f"{name}.log", COLOURS[i % len(COLOURS)], console, width)
            for i, name in enumerate(services)}
    if SUPERVISOR in names:
        logs[SUPERVISOR] = ServiceLog(SUPERVISOR, run_dir / f"{SUPERVISOR}.log", 1, console, width, timestamps=True)
    return logs
