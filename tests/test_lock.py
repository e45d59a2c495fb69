"""The tested set is the locked set: requirements.lock pins everything, and it is what is installed."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

import hd_lock
from hd_lock import Pin, lock_problems, parse_lock


def test_the_installed_packages_are_the_locked_ones():
    assert hd_lock.check(strict=False) == []


def test_the_check_runs_as_scripts_test_runs_it():
    done = subprocess.run([sys.executable, str(hd_lock.__file__)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "every pinned package is installed" in done.stdout


def locked_extras() -> set[str]:
    """The extras scripts/lock compiles into the lock; an opt-in extra (`models`) is left out."""
    return set(re.findall(r"--extra (\S+)", (hd_lock.LOCK.parent / "scripts" / "lock").read_text()))


def test_the_lock_pins_every_direct_dependency():
    import tomllib

    project = tomllib.loads((hd_lock.LOCK.parent / "pyproject.toml").read_text())["project"]
    direct = project["dependencies"] + [d for name, extra in project["optional-dependencies"].items()
                                        if name in locked_extras() for d in extra]
    locked = {pin.name for pin in parse_lock(hd_lock.LOCK.read_text())}
    names = {hd_lock.normalize(d.split(";")[0].split("[")[0].split("<")[0].split(">")[0].split("=")[0].strip())
             for d in direct}
    assert names - locked == set()


def test_the_opt_in_models_extra_stays_out_of_the_tested_set():
    """The real embedding model for fake_cell is opt-in (~220 MB): CI tests the default set only."""
    assert {"test", "k8s"} <= locked_extras() and "models" not in locked_extras()


@pytest.mark.parametrize("installed, strict, expected", [
    ({"a": "1.0", "b": "2.0"}, True, []),
    ({"a": "1.0"}, False, ["b==2.0 is locked but not installed"]),
    ({"a": "1.1", "b": "2.0"}, False, ["a is 1.1, the lock says 1.0"]),
    ({"a": "1.0", "b": "2.0", "c": "3"}, False, []),
    ({"a": "1.0", "b": "2.0", "c": "3"}, True, ["c==3 is installed but not in the lock"]),
    ({"a": "1.0", "b": "2.0", "pip": "25", "hippodrome": "0.1.0"}, True, []),
], ids=["exact", "missing", "other-version", "extra-allowed", "extra-strict", "pip-and-project"])
def test_lock_problems(installed, strict, expected):
    pins = [Pin("a", "1.0"), Pin("b", "2.0"), Pin("w", "9", "sys_platform == 'win32'")]
    assert lock_problems(pins, installed, lambda marker: "win32" not in marker, strict) == expected


def test_parse_lock_reads_uv_output_and_refuses_what_is_not_a_pin():
    text = "# header\nFoo_Bar==1.2 ; python_version < '3.12'\n    # via x\nbaz[extra]==3\n"
    assert parse_lock(text) == [Pin("foo-bar", "1.2", "python_version < '3.12'"), Pin("baz", "3")]
    with pytest.raises(ValueError, match=r"requirements.lock:1: not a pin"):
        parse_lock("requests>=2\n")
