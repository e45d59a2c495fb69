"""Where a project's files are, how the CLI finds the project from wherever the user stands, and
which seed the project runs with.

The project root is the nearest directory, from the current one upwards, holding `hippodrome.yaml`
or `.hippodrome/` (as git finds `.git`). Under it, `.hippodrome/` holds what runs leave behind:
`state/` (the fakes' data and the recorded seed: what `hippodrome reset` removes), `logs/`,
`run.json` (the running supervisor) and `k8s/`.

The seed: `HIPPODROME_RANDOM_SEED` wins, then `spec.seed`; without either, the seed recorded by the
last run (`.hippodrome/state/seed`), and on a first run a new random one, recorded. Every run
records the seed it used, because that is the seed the project's state now holds.
`choose_seed` is the pure decision.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


MARKERS = ("hippodrome.yaml", ".hippodrome")


def write_atomic(path: Path, data: str, mode: int = 0o600) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise



def find_project_root(start: Path) -> Path | None:
    """The nearest directory from ``start`` upwards holding hippodrome.yaml or .hippodrome/, else None."""
    start = start.resolve()
    for directory in (start, *start.parents):
        if any((directory / marker).exists() for marker in MARKERS):
            return directory
    return None


@dataclass(frozen=True)
class ProjectPaths:
    """Every file Hippodrome keeps for a project; ``ProjectPaths(root)``."""

    root: Path
    hippodrome_dir: Path = field(init=False)  # .hippodrome/
    state_dir: Path = field(init=False)  # the fakes' data and the recorded seed: what `reset` removes
    seed_file: Path = field(init=False)
    run_file: Path = field(init=False)  # the running local supervisor: pid, dashboard URL, token (0600)
    supervisor_log: Path = field(init=False)  # the detached supervisor's own output
    logs_dir: Path = field(init=False)  # <YYYYmmdd-HHMMSS>/<service>.log per run, and `latest`
    k8s_state: Path = field(init=False)  # what `hippodrome k8s up` brought up, for the later commands
    k8s_forwards: Path = field(init=False)  # the background port-forwards' health
    k8s_forward_log: Path = field(init=False)  # ... and their output
    stack_file: Path = field(init=False)

    def __post_init__(self) -> None:
        h = self.root / ".hippodrome"
        layout = {"hippodrome_dir": h, "state_dir": h / "state", "seed_file": h / "state" / "seed",
                  "run_file": h / "run.json", "supervisor_log": h / "supervisor.log", "logs_dir": h / "logs",
                  "k8s_state": h / "k8s" / "state.json", "k8s_forwards": h / "k8s" / "forwards.json",
                  "k8s_forward_log": h / "k8s" / "port-forward.log",
                  "stack_file": self.root / "hippodrome.yaml"}
        for name, path in layout.items():
            object.__setattr__(self, name, path)


@dataclass(frozen=True)
class SeedChoice:
    seed: str
    source: str  # "HIPPODROME_RANDOM_SEED" | "spec.seed" | "the last run" | "new"
    previous: str | None = None  # the recorded seed, when another one was chosen

    def describe(self) -> str:
        if self.source == "the last run":
            return (f"seed: {self.seed} (from the last run; HIPPODROME_RANDOM_SEED or spec.seed chooses another, "
                    "`hippodrome reset` starts over)")
        if self.source == "new":
            return (f"seed: {self.seed} (new, recorded in .hippodrome/state/seed: later runs reuse it; "
                    "HIPPODROME_RANDOM_SEED or spec.seed chooses one)")
        changed = f"; the last run used {self.previous}: the fakes replace its seed data" if self.previous else ""
        return f"seed: {self.seed} (from {self.source}{changed})"


def choose_seed(env_seed: str | None, spec_seed: str | None, recorded: str | None, new: str | None) -> SeedChoice | None:
    """Which seed a run uses; None when there is none and ``new`` is None (nothing may be made up)."""
    for seed, source in ((env_seed, "HIPPODROME_RANDOM_SEED"), (spec_seed, "spec.seed")):
        if seed:
            return SeedChoice(seed, source, recorded if recorded and recorded != seed else None)
    if recorded:
        return SeedChoice(recorded, "the last run")
    return SeedChoice(new, "new") if new else None


def read_recorded_seed(paths: ProjectPaths) -> str | None:
    try:
        return paths.seed_file.read_text().strip() or None
    except FileNotFoundError:
        return None


def record_seed(paths: ProjectPaths, seed: str) -> None:
    if read_recorded_seed(paths) != seed:
        write_atomic(paths.seed_file, seed + "\n", mode=0o644)


def new_seed() -> str:
    return str(secrets.randbelow(10**9))
