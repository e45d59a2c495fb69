"""The README's first command, run literally on a copy of the project, installs a working CLI into a
fresh virtual environment (regression: `python3 -m pip install -e .` failed on a Debian system Python
with `externally-managed-environment`). Needs the package index (or pip's cache), as a user does."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from hd_testing import REPO

UP = " && hippodrome up"


def first_command() -> str:
    text = (REPO / "README.md").read_text()
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    line = block.splitlines()[0].split("  #", 1)[0].strip()
    assert line.endswith(UP), f"the README's first command should end by bringing the stack up: {line!r}"
    return line[: -len(UP)]


def test_the_first_readme_command_installs_the_cli_into_a_fresh_venv(tmp_path):
    files = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True).stdout.split(b"\0")
    copy = tmp_path / "project"
    for name in filter(None, (f.decode() for f in files)):
        if (REPO / name).is_file():
            (copy / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, copy / name)
    base = Path(getattr(sys, "_base_executable", sys.executable)).resolve().parent  # a python3 outside any venv
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")}
    env["PATH"] = os.pathsep.join([str(base)] + [p for p in env["PATH"].split(os.pathsep)
                                                 if not p.startswith(str(REPO)) and ".venv" not in p])
    install = subprocess.run(["bash", "-c", f"set -e; {first_command()}"], cwd=copy, env=env,
                             capture_output=True, text=True, timeout=600)
    assert install.returncode == 0, install.stdout[-2000:] + install.stderr[-2000:]
    hippodrome = copy / ".venv" / "bin" / "hippodrome"
    validate = subprocess.run([str(hippodrome), "validate"], cwd=copy, capture_output=True, text=True, timeout=60)
    assert validate.returncode == 0, validate.stderr
    assert "ok: " in validate.stdout and "11 services" in validate.stdout
