"""The Kubernetes engine, developer side: ``hippodrome k8s ...``.

Layers, each importing only the ones above it::

    runner.py     run a command (subprocess with timeouts) | FakeRunner
    api.py        the Kubernetes API the CLI needs (kubernetes client adapter) | FakeClusterApi
    helm.py       install/upgrade the chart (pyhelm3 adapter) | FakeHelm
    preflight.py  the k8s extra's packages, then docker/kind (pinned)/kubectl/helm, with install hints
    cluster.py    kind cluster create/reuse (API ready) from kind/kind-config.yaml; kind load (or via an archive)
    images.py     docker build + pin, content-pinned tags
    stackres.py   the HippodromeStack custom resource built from the stack file and the flags
    progress.py   live per-layer progress until Ready, or a failure naming the service
    portforward.py supervised port-forwards (our listener, re-resolved backends)
    driver.py     the ``up`` sequence, every seam injected
    cli.py        the click group ``k8s``

Every library error (kubernetes, pyhelm3, subprocess) is wrapped in ``K8sError``
at the adapter that called it; the CLI exits from ``hippodrome_k8s.cli.main.main``.
"""
