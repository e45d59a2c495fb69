"""`scripts/control-plane up|down|env|build`: the test control plane by hand.

Why this exists: the same control plane the cluster tests use, for a person at a shell (or a CI
step): `up` builds if needed, starts it in the background and returns once it is ready; `env` prints
the lines to `eval` (KUBECONFIG, and the built kubectl first on PATH); `down` stops everything and
removes its data. The run directory is `.hippodrome/control-plane/` in the repository
(override with HIPPODROME_CONTROL_PLANE_RUN_DIR).
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from pathlib import Path

import cp_build
from controlplane import ControlPlane


def run_dir() -> Path:
    return Path(os.environ.get("HIPPODROME_CONTROL_PLANE_RUN_DIR") or cp_build.REPO / ".hippodrome" / "control-plane")


def _alive(pgids: dict) -> bool:
    for pgid in pgids.values():
        try:
            os.killpg(pgid, 0)
            return True
        except ProcessLookupError:
            continue
    return False


def _err(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def cmd_build(_args) -> int:
    print(cp_build.ensure_built(_err))
    return 0


def cmd_up(_args) -> int:
    rd = run_dir()
    state = rd / "state.json"
    if state.exists():
        if _alive(json.loads(state.read_text())["pgids"]):
            _err(f"control-plane: already up (run dir {rd}); `scripts/control-plane down` stops it")
            return 0
        _err(f"control-plane: cleaning a stale run in {rd}")
        ControlPlane.attach(rd, log=_err).down()
    try:
        cp = ControlPlane.create(rd, progress=_err).up()
    except Exception as exc:             # the processes are stopped already; say why in one line
        _err(f"control-plane: {exc}")
        return 1
    _err(f'control-plane: run `eval "$(scripts/control-plane env)"`, then kubectl get nodes')
    return 0


def cmd_env(_args) -> int:
    state = run_dir() / "state.json"
    if not state.exists():
        _err("control-plane: not up (run `scripts/control-plane up`)")
        return 1
    s = json.loads(state.read_text())
    print(f"export KUBECONFIG={shlex.quote(s['kubeconfig'])}")
    print(f'export PATH={shlex.quote(s["bin_dir"])}:"$PATH"')
    return 0


def cmd_down(_args) -> int:
    rd = run_dir()
    if not (rd / "state.json").exists():
        _err(f"control-plane: nothing running in {rd}")
        return 0
    ControlPlane.attach(rd, log=_err).down()
    _err(f"control-plane: stopped; removed {rd}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="scripts/control-plane", description=__doc__.split("\n\n")[1])
    sub = parser.add_subparsers(dest="command", required=True)
    for name, fn, text in (("up", cmd_up, "build if needed, start, return when ready"),
                           ("down", cmd_down, "stop everything and remove its data"),
                           ("env", cmd_env, "print export lines for KUBECONFIG and PATH (eval them)"),
                           ("build", cmd_build, "only build the binaries (printed: their directory)")):
        sub.add_parser(name, help=text).set_defaults(fn=fn)
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
