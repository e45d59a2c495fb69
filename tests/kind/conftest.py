"""The real-cluster tier, on pytest-kind-ng: runs only where docker answers, kind v0.33 and kubectl are found
and the pinned node image is present; otherwise every `kind` test skips with what to run (under
scripts/test-kind, which checked all that first, it fails instead).

Never downloads anything (tests/kind/kindtier.py says how): pytest-kind-ng's own ``kind_cluster`` fixture is
replaced here by one that passes the binaries explicitly, refuses to download them, creates the cluster
from kind/kind-config.yaml with the pinned node image, and deletes only a cluster it created.

pytest-kind-ng's options apply: ``--cluster-name`` (default here: hippodrome-test), ``--keep-cluster``,
``--kind-bin``, ``--kind-kubectl-bin``, ``--kind-image``.  One command runs it all: scripts/test-kind.
"""

from __future__ import annotations

import pytest

from kindtier import REQUIRED_ENV, NoDownloadKindCluster, TierPlan, make_cluster, required, tier_plan

PLAN = pytest.StashKey[TierPlan]()
NOTES = pytest.StashKey[list]()


def plan_for(config: pytest.Config) -> TierPlan:
    """Checked once per run, and only when a `kind` test is about to run."""
    if PLAN not in config.stash:
        def option(name: str, default=None):  # None without pytest-kind-ng: the plan then names the package
            return config.getoption(name, default=default)

        config.stash[PLAN] = tier_plan(kind_bin=option("kind_bin"), kubectl_bin=option("kind_kubectl_bin"),
                                       image=option("kind_image"), cluster_name=option("cluster_name"),
                                       keep=bool(option("keep_cluster", False)))
    return config.stash[PLAN]


def refuse(plan: TierPlan) -> None:
    if required():
        pytest.fail(f"kind tier: {plan.why_not} ({REQUIRED_ENV} is set: scripts/test-kind checked this before)",
                    pytrace=False)
    pytest.skip(f"kind tier: {plan.why_not}")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("kind") is not None:
        plan = plan_for(item.config)
        if plan.why_not:
            refuse(plan)


@pytest.fixture(scope="session")
def kind_plan(request) -> TierPlan:
    """The tier's tools, node image and cluster name (tests/kind/kindtier.py), checked; else skip (or fail)."""
    plan = plan_for(request.config)
    if plan.why_not:
        refuse(plan)
    return plan


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """What happened to the cluster, after the tests (a fixture's own output is captured)."""
    for note in config.stash.get(NOTES, []):
        terminalreporter.write_line(f"kind tier: {note}")


@pytest.fixture(scope="session")
def kind_cluster(request, kind_plan: TierPlan, tmp_path_factory) -> NoDownloadKindCluster:
    """pytest-kind-ng's cluster (``kubectl``, ``port_forward``, ``load_docker_image``, ``api``, ``kubeconfig_path``),
    created or found; deleted at the end only if created here (and not with ``--keep-cluster``)."""
    notes = request.config.stash.setdefault(NOTES, [])
    cluster = make_cluster(kind_plan, tmp_path_factory.mktemp("pytest-kind"))
    try:
        cluster.create()
        notes.append(f"{'created' if cluster.created else 'found'} kind cluster {cluster.name!r} "
                     f"(KUBECONFIG={cluster.kubeconfig_path})")
        yield cluster
    finally:
        if kind_plan.keep:
            notes.append(f"kept kind cluster {cluster.name!r} (--keep-cluster)")
        elif cluster.delete_if_created():
            notes.append(f"deleted kind cluster {cluster.name!r}, which this run created")
        else:
            notes.append(f"kept kind cluster {cluster.name!r}, which was there before")
