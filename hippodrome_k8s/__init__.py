"""Hippodrome: a whole cloud control plane on one machine, credential-free.

One stack file (a ``HippodromeStack`` document), two engines: local processes
(``hippodrome up``) and a kind cluster reconciled by a kopf operator
(``hippodrome k8s up``).
"""

__version__ = "0.1.0"
