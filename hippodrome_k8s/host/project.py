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

The encryption secret (the fakes encrypt API keys and derive signing keys with it): `HIPPODROME_ENCRYPTION_SECRET`
wins; else the one recorded in `.hippodrome/state/encryption-secret` (0600); on a first run a new random one,
recorded. It used to default to a published value (`1234567890ABCDEF`), with which anyone who knew the seed
could forge a token; state written under it keeps it (a project whose state has data but no recorded secret),
with a note on every run, so no upgrade makes existing data unreadable. `choose_secret` is the pure decision.

Modes: `.hippodrome/` is 0700 and what is written under it 0600 (`make_private`: the run's umask, which
every service inherits, and the modes of what is there already).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path


MARKERS = ("hippodrome.yaml", ".hippodrome")
SECRET_ENV = "HIPPODROME_ENCRYPTION_SECRET"
LEGACY_ENCRYPTION_SECRET = "1234567890ABCDEF"  # the old published default: only for state written with it
PRIVATE_UMASK = 0o077


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
    secret_file: Path = field(init=False)  # the project's encryption secret (0600), unless HIPPODROME_ENCRYPTION_SECRET
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
                  "secret_file": h / "state" / "encryption-secret",
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


def _read_value(path: Path) -> str | None:
    """A one-line value the project keeps (the seed, the secret); None when not recorded yet."""
    try:
        return path.read_text().strip() or None
    except FileNotFoundError:
        return None


def read_recorded_seed(paths: ProjectPaths) -> str | None:
    return _read_value(paths.seed_file)


def record_seed(paths: ProjectPaths, seed: str) -> None:
    if read_recorded_seed(paths) != seed:
        write_atomic(paths.seed_file, seed + "\n")


def new_seed() -> str:
    return str(secrets.randbelow(10**9))


# --- the encryption secret ------------------------------------------------------------------------


@dataclass(frozen=True)
class SecretChoice:
    secret: str
    source: str  # "HIPPODROME_ENCRYPTION_SECRET" | "the project" | "new" | "legacy"

    def note(self) -> str | None:
        """What to tell the user about it (once per run), if anything."""
        if self.source == "legacy":
            return ("note: this project's state was written with the old published encryption secret, so it keeps "
                    "using it; `hippodrome reset` (or `up --fresh`) starts over with a generated one")
        if self.source == "new":
            return "encryption secret: generated for this project (kept in .hippodrome/state/encryption-secret, 0600)"
        return None


def choose_secret(env_secret: str | None, recorded: str | None, state_without_secret: bool,
                  new: str | None) -> SecretChoice | None:
    """Which encryption secret a run uses; None when none is known and ``new`` is None (nothing may be made up)."""
    if env_secret:
        return SecretChoice(env_secret, SECRET_ENV)
    if recorded:
        return SecretChoice(recorded, "legacy" if recorded == LEGACY_ENCRYPTION_SECRET else "the project")
    if state_without_secret:
        return SecretChoice(LEGACY_ENCRYPTION_SECRET, "legacy")
    return SecretChoice(new, "new") if new else None


def read_recorded_secret(paths: ProjectPaths) -> str | None:
    return _read_value(paths.secret_file)


def state_without_secret(paths: ProjectPaths) -> bool:
    """State written before secrets were recorded: data in the state dir (beyond the seed) but no secret."""
    state = paths.state_dir
    if paths.secret_file.exists() or not state.is_dir():
        return False
    return any(entry.name not in (paths.seed_file.name,) and not entry.name.startswith(".") for entry in state.iterdir())


def record_secret(paths: ProjectPaths, secret: str) -> None:
    if read_recorded_secret(paths) != secret:
        write_atomic(paths.secret_file, secret + "\n")


def new_secret() -> str:
    return secrets.token_urlsafe(32)


# --- private files ---------------------------------------------------------------------------------


def make_private(paths: ProjectPaths) -> None:
    """`.hippodrome/` only for its user: 0700 directories, 0600 files, already there or written by this process and
    every process it starts (the umask, inherited by the services: their logs, SQLite files and journals)."""
    os.umask(PRIVATE_UMASK)
    top = paths.hippodrome_dir
    top.mkdir(mode=0o700, exist_ok=True)
    for directory, dirs, files in os.walk(top):
        os.chmod(directory, 0o700)
        for name in files:
            path = os.path.join(directory, name)
            if not os.path.islink(path):
                os.chmod(path, (os.stat(path).st_mode & 0o700) | 0o600)
