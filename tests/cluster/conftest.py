"""The cluster tier: a real control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler, kwok) for the whole session, built from Go modules on first use.

Skips, with the reason printed, where Go is missing (and nothing is built yet) or when
HIPPODROME_SKIP_CLUSTER=1; under CI=true tests/conftest.py turns those skips into failures, so CI can
never go green without this tier. Tests that use the `control_plane` fixture get the `cluster` marker.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path

import pytest

import cp_build
from controlplane import ControlPlane


def pytest_collection_modifyitems(items):
    for item in items:
        if "control_plane" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.cluster)


_BUILD_ERROR: list[str] = []


def pytest_collection_finish(session):
    """Build before the first test starts, outside every test's timeout (a cold build takes many minutes)."""
    if not any("control_plane" in getattr(item, "fixturenames", ()) for item in session.items):
        return
    if cp_build.is_built() or cp_build.unavailable_reason(os.environ, shutil.which("go") is not None, False):
        return
    show = _printer(session.config)
    try:
        cp_build.ensure_built(show)
    except Exception as exc:          # reported by the fixture, as the error of every cluster test
        _BUILD_ERROR.append(f"building the control plane failed: {exc}")
        show(_BUILD_ERROR[-1])


def _printer(config):
    reporter = config.pluginmanager.get_plugin("terminalreporter")

    def show(line: str) -> None:
        if reporter is not None:
            reporter.write_line(line)
            reporter.flush()
        else:
            print(line, file=sys.__stderr__, flush=True)
    return show


def _sweep_stale(show) -> None:
    """Remove control planes left by a test run that was killed (its owner pid is gone)."""
    for state in Path(tempfile.gettempdir()).glob("hippodrome-cp-*/state.json"):
        try:
            owner = json.loads(state.read_text())["owner_pid"]
            os.kill(owner, 0)
        except ProcessLookupError:
            show(f"control-plane: removing a stale run left by pid {owner}: {state.parent}")
            ControlPlane.attach(state.parent, log=show).down()
        except (OSError, ValueError, KeyError):
            continue


@pytest.fixture(scope="session")
def control_plane(request):
    """A running control plane: `.kubeconfig`, `.kubectl`, `.server`, `.kubectl_run(...)`, `.env()`,
    `.audit_log`. Stopped, and its data removed, at the end of the session (or if Python dies)."""
    reason = cp_build.unavailable_reason(os.environ, have_go=shutil.which("go") is not None, built=cp_build.is_built())
    if reason:
        pytest.skip(reason)
    if _BUILD_ERROR:
        pytest.fail(_BUILD_ERROR[0], pytrace=False)
    show = _printer(request.config)
    _sweep_stale(show)
    previous = signal.getsignal(signal.SIGTERM)
    if previous is signal.SIG_DFL:           # a plain `kill` of pytest still runs the finalizer
        signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt("SIGTERM")))
    cp = ControlPlane.create(progress=show, tie_to_parent=True).up()
    try:
        yield cp
    finally:
        cp.down()
        signal.signal(signal.SIGTERM, previous)
        show(f"control-plane: stopped; removed {cp.run_dir}")


@pytest.fixture
def namespace(control_plane, request):
    """A fresh namespace for one test, deleted afterwards (without waiting)."""
    slug = "".join(c if c.isalnum() else "-" for c in request.node.name.lower())[:40].strip("-")
    name = f"t-{slug}-{hashlib.sha1(request.node.nodeid.encode()).hexdigest()[:6]}"
    control_plane.kubectl_run("create", "namespace", name)
    yield name
    control_plane.kubectl_run("delete", "namespace", name, "--wait=false", check=False)


@pytest.fixture(scope="session")
def crd(control_plane):
    """The chart's CRD applied and Established (`kubectl wait` fails at once while the CRD has no
    conditions yet, so wait for them first)."""
    import time

    from hd_testing import REPO

    control_plane.kubectl_run("apply", "--server-side", "-f", str(REPO / "charts/hippodrome/crds/hippodromestacks.yaml"))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done = control_plane.kubectl_run("wait", "--for=condition=Established", "crd/hippodromestacks.hippodrome.dev",
                                         "--timeout=30s", check=False, timeout=60)
        if done.returncode == 0:
            return control_plane
        time.sleep(0.2)
    raise AssertionError(f"the CRD was not Established within 60 s: {done.stderr}")


@pytest.fixture
def chart_operator(crd, namespace, tmp_path):
    """`python -m hippodrome_operator` as the chart runs it, watching `namespace` as the chart's ServiceAccount
    (chart_operator.py). Afterwards it is stopped and the stacks it leaves are let go (their finalizer
    removed), so that the namespace can be deleted."""
    from chart_operator import HELM, release_stacks, start_operator
    from hd_testing import free_ports

    if not HELM.exists():
        pytest.skip(f"{HELM} is missing (the chart is rendered with it): run scripts/install-helm.sh (scripts/test does)")
    operator = start_operator(crd, namespace, tmp_path, free_ports(1)[0])
    try:
        yield operator
    finally:
        operator.stop()
        release_stacks(crd, namespace)
