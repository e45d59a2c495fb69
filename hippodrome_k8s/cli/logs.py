"""``hippodrome logs``: read the per-service log files of the latest run (works after the stack stopped too).

SERVICE is a service's name (or ``hippodrome``, the supervisor's own log), never a path: ``../../x``
followed ``..`` out of the logs directory and printed any file the user could read.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import click

from hippodrome_k8s.core.errors import UsageError
from hippodrome_k8s.core.model import NAME_PATTERN
from hippodrome_k8s.host.project import ProjectPaths, find_project_root

SERVICE_NAME = re.compile(NAME_PATTERN)


def log_file(run_dir: Path, service: str, available: list[str]) -> Path:
    """The log of ``service`` in ``run_dir``; a UsageError for anything that is not one of its services' names."""
    path = run_dir / f"{service}.log"
    if not SERVICE_NAME.fullmatch(service) or path.resolve().parent != run_dir.resolve() or not path.is_file():
        raise UsageError(f"no log for {service!r} in {run_dir}: not a service of the latest run "
                         f"(available: {', '.join(available)})")
    return path


def _latest(root: Path) -> Path:
    latest = ProjectPaths(root).logs_dir / "latest"
    if not latest.exists():
        raise UsageError(f"no logs yet under {latest.parent} (start a stack with `hippodrome up`)")
    return latest.resolve()


def _last_lines(path: Path, count: int) -> list[str]:
    with open(path, "rb") as f:
        f.seek(0, 2)
        size = f.tell()
        f.seek(max(0, size - 256 * 1024))
        return f.read().decode("utf-8", errors="replace").splitlines()[-count:]


@click.command()
@click.argument("service", required=False)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines (Ctrl-C to stop).")
@click.option("-n", "--lines", type=click.IntRange(0, 100000), default=100, show_default=True, help="How many last lines to show first.")
@click.option("--project-root", type=click.Path(file_okay=False, path_type=Path), default=None)
def logs(service, follow, lines, project_root) -> None:
    """Show the logs of SERVICE (every service, prefixed, when omitted) from .hippodrome/logs/latest/."""
    root = (project_root or find_project_root(Path.cwd()) or Path.cwd()).resolve()
    run_dir = _latest(root)
    files = sorted(run_dir.glob("*.log"))
    if service:
        files = [log_file(run_dir, service, [p.stem for p in files])]
    width = max((len(p.stem) for p in files), default=0)
    prefix = (lambda p: "") if service else (lambda p: f"{p.stem.ljust(width)} | ")
    for path in files:
        for line in _last_lines(path, lines):
            click.echo(prefix(path) + line)
    if not follow:
        return
    offsets = {p: p.stat().st_size for p in files}
    try:
        while True:
            for path in list(offsets):
                size = path.stat().st_size
                if size > offsets[path]:
                    with open(path, "rb") as f:
                        f.seek(offsets[path])
                        chunk = f.read(size - offsets[path])
                    offsets[path] = size
                    for line in chunk.decode("utf-8", errors="replace").splitlines():
                        click.echo(prefix(path) + line)
            if not service:
                for path in run_dir.glob("*.log"):
                    offsets.setdefault(path, 0)
            time.sleep(0.25)
    except KeyboardInterrupt:
        return
