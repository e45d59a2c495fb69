"""Hippodrome: a whole cloud control plane on one machine, credential-free.

One stack file (a ``HippodromeStack`` document), two engines: local processes (``hippodrome up``)
and a Kubernetes cluster reconciled by a kopf operator (``hippodrome k8s up``). The package is
named ``hippodrome_k8s`` because the user asked for the layout of a Kubernetes-native tool (the
operator lives beside it in ``operator/hippodrome_operator``); both engines live here. What lives
where, from the bottom up (``lint-imports`` checks that each layer imports only the ones below):

    core/       pure, no I/O: the stack model, loader and validators, templating, the resolver (one
                ``resolve()`` for both engines and the operator), ids, backoff, waiting, the generated
                CRD and JSON Schema, the contract every engine and client shares, the exception tree
    host/       this machine: the project's files (ProjectPaths, one atomic write, the recorded seed),
                who holds a port, the git branch
    kube.py     the one adapter to the Kubernetes API (CLI, operator, in-cluster dashboard)
    dashboard/  the dashboard on :9000, local (server.py) and in the cluster (cluster.py)
    local/      the local engine: supervisor, runners, store, launcher, probes, logs, watchdog
    k8s/        the Kubernetes engine's driver: kind, images, Helm, the stack, progress, port-forwards
    cli/        the ``hippodrome`` command, for both engines
"""

__version__ = "0.1.0"
