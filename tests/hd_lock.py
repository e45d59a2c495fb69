"""Is what is installed exactly what `requirements.lock` pins?

`scripts/test` installs from the lock and runs this before the tests (`python tests/hd_lock.py
--strict` in the project's own `.venv`); `tests/test_lock.py` runs the same check inside the suite.
The decision (`lock_problems`) is pure; reading the lock and the environment is kept apart.
Refresh the lock with `scripts/lock` (README, "Tests and benchmarks").
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

LOCK = Path(__file__).resolve().parent.parent / "requirements.lock"
# installed by the venv itself or being the project under test: never pinned in the lock
NOT_LOCKED = frozenset({"pip", "hippodrome"})
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==(?P<version>[^\s;]+)\s*(?:;\s*(?P<marker>.+))?$")


@dataclass(frozen=True)
class Pin:
    name: str
    version: str
    marker: str | None = None


def normalize(name: str) -> str:
    """PEP 503 normalised project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_lock(text: str) -> list[Pin]:
    """Every `name==version [; marker]` line; comments, blank lines and `-r`/`--` options are skipped."""
    pins = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line or line.startswith("-"):
            continue
        match = _PIN.match(line)
        if not match:
            raise ValueError(f"requirements.lock:{number}: not a pin (name==version): {raw.strip()!r}")
        pins.append(Pin(normalize(match["name"]), match["version"], match["marker"]))
    return pins


def lock_problems(pins: list[Pin], installed: dict[str, str], applies, strict: bool) -> list[str]:
    """What differs between the pins that apply here and ``installed`` (normalised name -> version).

    ``applies(marker)`` says whether a pin's environment marker holds on this interpreter. With
    ``strict``, packages installed but not in the lock are problems too (the project's own .venv).
    """
    problems = []
    wanted = {pin.name: pin.version for pin in pins if pin.marker is None or applies(pin.marker)}
    for name, version in sorted(wanted.items()):
        have = installed.get(name)
        if have is None:
            problems.append(f"{name}=={version} is locked but not installed")
        elif have != version:
            problems.append(f"{name} is {have}, the lock says {version}")
    if strict:
        locked = {pin.name for pin in pins}
        for name in sorted(set(installed) - locked - NOT_LOCKED):
            problems.append(f"{name}=={installed[name]} is installed but not in the lock")
    return problems


def installed_distributions() -> dict[str, str]:
    from importlib.metadata import distributions

    return {normalize(d.metadata["Name"]): d.version for d in distributions() if d.metadata["Name"]}


def marker_applies(marker: str) -> bool:
    from packaging.markers import Marker

    return Marker(marker).evaluate()


def check(strict: bool = False) -> list[str]:
    return lock_problems(parse_lock(LOCK.read_text()), installed_distributions(), marker_applies, strict)


def main(argv: list[str]) -> int:
    strict = "--strict" in argv
    problems = check(strict)
    if problems:
        print(f"The installed packages do not match {LOCK.name}:", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        print("Install from the lock (scripts/test does: pip install -r requirements.lock), "
              "or refresh the lock on purpose with scripts/lock.", file=sys.stderr)
        return 1
    print(f"{LOCK.name}: every pinned package is installed at its locked version")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
