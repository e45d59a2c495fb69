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
from dataclasses import dataclass
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
    root: Path

    @property
    def hippodrome_dir(self) -> Path:
        return self.root / ".hippodrome"

    @property
    def state_dir(self) -> Path:
        return self.hippodrome_dir / "state"

    @property
    def seed_file(self) -> Path:
        return self.state_dir / "seed"

    @property
    def stack_file(self) -> Path:
        return self.root / "hippodrome.yaml"

    @property
    def run_file(self) -> Path:
        """The running local supervisor: pid, dashboard URL, control token (mode 0600)."""
        return self.hippodrome_dir / "run.json"

    @property
    def supervisor_log(self) -> Path:
        return self.hippodrome_dir / "supervisor.log"

    @property
    def logs_dir(self) -> Path:
        """One directory per run (``<YYYYmmdd-HHMMSS>/<service>.log``) and ``latest``, a link to the newest."""
        return self.hippodrome_dir / "logs"

    @property
    def k8s_dir(self) -> Path:
        return self.hippodrome_dir / "k8s"

    @property
    def k8s_state(self) -> Path:
        """What `hippodrome k8s up` brought up (the cluster, context, namespace, stack, forwards)."""
        return self.k8s_dir / "state.json"

    @property
    def k8s_forwards(self) -> Path:
        """The background port-forwards' health, written by their process."""
        return self.k8s_dir / "forwards.json"


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
