"""The ``hippodrome`` command's entry point: for ``up``, the fork server starts before the CLI's own imports
(``prestart.py``); then the CLI (``main.py``) runs as usual."""

from __future__ import annotations

import sys


def main() -> None:
    from hippodrome_k8s.cli import prestart

    prestart.start(sys.argv[1:])
    from hippodrome_k8s.cli.main import main as cli_main

    cli_main()
