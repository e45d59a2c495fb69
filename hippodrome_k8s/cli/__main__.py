"""``python -m hippodrome_k8s.cli``: the ``hippodrome`` command."""

from hippodrome_k8s.cli.entry import main

main()
