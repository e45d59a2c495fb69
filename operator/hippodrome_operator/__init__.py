"""The kopf operator that reconciles HippodromeStack custom resources.

The folder is ``operator/`` (the design card's name); the import name is
``hippodrome_operator`` because ``operator`` would shadow the standard library.

Layers (each imports only those above it)::

    desired.py   CR body -> Desired (the project's loader + resolver, cluster DNS addressing)   pure
    children.py  PlannedService -> Deployment / Service / PersistentVolumeClaim manifests          pure
    plan.py      plan(desired, observed) -> Decision; teardown(observed); rejected(status)     pure
    status.py    compute(desired, observed, decision) -> status                                pure
    apply.py     OperatorApi: what the operator asks of the API server, over hippodrome_k8s.kube
    reconcile.py one round: fetch -> plan -> apply -> write status (only if it changed)
    handlers.py  kopf: logins; events wake a per-stack reconciler daemon; the finalizer tears down
    __main__.py  ``python -m hippodrome_operator`` (the chart's command): settings, wait for the CRD, run

AWS bootstrap and seeding ordering: no Job.  The fakes bootstrap themselves at
start-up and only then answer ``/healthz`` 200 (``fakes/fake_aws`` creates the
declared tables, queues, topics, secrets and state machines from
``HIPPODROME_AWS_RESOURCES`` before its health turns green; fake_cognito does
the same for pools and users).  They are layer-0 services, so the readiness
probe (from the health spec) keeps their Deployments unavailable until the
bootstrap is done, and layer gating holds layer 1 back until then: "bootstrap
before layer 1" is the same rule as "layer 0 before layer 1", on both engines,
with no second mechanism to keep in step.  A restarted fake re-bootstraps
idempotently, so data a later layer expects is back before its probe passes.

Stopped services (``hippodrome.dev/stopped``) and non-blocking services never
gate a layer.
"""
