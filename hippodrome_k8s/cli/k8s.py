"""``hippodrome k8s ...``: the same stack on a local kind cluster, reached through supervised port-forwards.

The commands only parse flags, build the seams and call the driver, the API or
the forwards; errors travel up as ``HippodromeError`` and ``main`` prints and
exits.  Tests replace ``make_seams``, ``make_api``, ``run_forwards``,
``spawn_forwarder`` and ``stop_forwarder`` (module attributes) with fakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import click

from hippodrome_k8s.core.errors import ControlError, K8sError, UsageError
from hippodrome_k8s.host.project import ProjectPaths
from hippodrome_k8s.cli.logs import SERVICE_NAME
from hippodrome_k8s.cli.options import (cell_option, file_option, load_and_plan, profile_option, project_root_of,
                                        prod_option, record_project, root_option, table_prefix_option)
from hippodrome_k8s.local.logs import new_run_dir
from hippodrome_k8s.k8s import driver
from hippodrome_k8s.core.contract import CONTROL_ANNOTATION, FORWARDS_ANNOTATION, ControlAction, ControlRequest, ControlResult
from hippodrome_k8s.k8s.api import ClusterApi, selector
from hippodrome_k8s.k8s.cluster import DEFAULT_CLUSTER, KindCluster
from hippodrome_k8s.k8s.helm import PyHelmInstaller
from hippodrome_k8s.k8s.portforward import ForwardSet, KubectlSource, read_health_file
from hippodrome_k8s.k8s.progress import WaitOptions
from hippodrome_k8s.k8s.runner import SubprocessRunner


# --- seams (replaced in tests) ----------------------------------------------------------------


def make_api(context: str) -> ClusterApi:
    from hippodrome_k8s.k8s.api import KubernetesClusterApi

    return KubernetesClusterApi(context)


def make_seams(echo: Callable[[str], None]) -> driver.Seams:
    return driver.Seams(runner=SubprocessRunner(), helm_for=lambda ctx: PyHelmInstaller(ctx),
                        api_for=lambda ctx: make_api(ctx), echo=echo)


def run_forwards(root: Path, state: driver.RunState, echo: Callable[[str], None]) -> int:
    """Run every forward in the foreground until Ctrl-C / SIGTERM (the cluster keeps running)."""
    api = make_api(state.context)
    specs = driver.specs_of(state)

    async def main() -> int:
        def publish(summary: dict[str, Any]) -> Awaitable[Any]:
            note = {FORWARDS_ANNOTATION: json.dumps({"updatedAt": time.time(), "forwards": summary})}
            return asyncio.to_thread(api.annotate_stack, state.namespace, state.stack, note)

        forwards = ForwardSet(specs, lambda s: KubectlSource(api, state.namespace, s, state.context),
                              health_path=driver.forwards_path(root), publish=publish)
        await forwards.start()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        echo("port-forwards (Ctrl-C stops them; the cluster keeps running):")
        for spec in specs:
            echo(f"  {spec.name:<16} http://127.0.0.1:{spec.local_port}  -> svc/{spec.service}:{spec.remote_port}")
        seen: dict[str, tuple[str, str]] = {}
        try:
            while not stop.is_set():
                for name, h in forwards.health().items():
                    if seen.get(name) != (h.state.value, h.message):
                        seen[name] = (h.state.value, h.message)
                        echo(f"  forward {name:<16} {h.state.value:<12} {h.message}"
                             + (f" (reconnects: {h.reconnects})" if h.reconnects else ""))
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
        finally:
            await forwards.stop()
        echo("port-forwards stopped.")
        return 0

    return asyncio.run(main())


def spawn_forwarder(root: Path) -> int:
    """Start ``hippodrome k8s port-forward`` in the background; returns its pid."""
    log = ProjectPaths(root).k8s_forward_log
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as out:
        child = subprocess.Popen([sys.executable, "-m", "hippodrome_k8s.cli.main", "k8s", "port-forward",
                                  "--project-root", str(root)], stdin=subprocess.DEVNULL, stdout=out,
                                 stderr=subprocess.STDOUT, start_new_session=True, env=dict(os.environ, NO_COLOR="1"))
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # the forwards are bound once the health file names this pid
        data = read_health_file(driver.forwards_path(root))
        if data and data.get("pid") == child.pid:
            return child.pid
        if child.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise K8sError("the background port-forwards exited:\n  " + "\n  ".join(tail))
        time.sleep(0.1)
    return child.pid


def stop_forwarder(pid: int, timeout: float = 10.0) -> None:
    """SIGTERM the background port-forwards and wait until they are gone (their ports are free again)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return
        time.sleep(0.1)
    raise K8sError(f"the background port-forwards (pid {pid}) did not stop within {timeout:g}s; `kill {pid}`")


def _alive(pid: int) -> bool:
    """A process that exited but was not reaped yet (a zombie) holds no port: it counts as gone."""
    import psutil

    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


# --- helpers ----------------------------------------------------------------------------------


def _echo(line: str) -> None:
    click.echo(line)


def _root(project_root: Path | None) -> Path:
    return project_root_of(project_root)


def _forwarder_pid(root: Path) -> int | None:
    data = read_health_file(driver.forwards_path(root))
    return int(data["pid"]) if data and data.get("pid") != os.getpid() else None


def _stack(api: ClusterApi, state: driver.RunState) -> dict[str, Any]:
    obj = api.get_stack(state.namespace, state.stack)
    if obj is None:
        raise K8sError(f"HippodromeStack {state.namespace}/{state.stack} does not exist "
                       "(`hippodrome k8s up` creates it)")
    return obj


# --- commands ---------------------------------------------------------------------------------


@click.group()
def k8s() -> None:
    """Run the stack on a local kind cluster (or any cluster: --context): operator, Helm chart, port-forwards.

    \b
      hippodrome k8s up --profile ecom      # preflight, cluster, images, chart, stack, forwards
      hippodrome k8s up --context NAME --no-build   # an existing cluster that has the images
      curl -s localhost:9000/api/status     # the same contract as the local engine
      kubectl get hippodromestacks -A       # phase, ready services, layer
      hippodrome k8s status                 # services + forward health
      hippodrome k8s down                   # delete the stack (keeps the cluster)
    """


@k8s.command()
@profile_option
@cell_option
@table_prefix_option
@click.option("--cluster", "cluster", default=None, help=f"kind cluster name (default: {DEFAULT_CLUSTER}).")
@click.option("--context", "context", default=None, metavar="NAME",
              help="Use the existing cluster of this kubeconfig context (Docker Desktop, minikube, k3d, a shared dev "
                   "cluster...) instead of kind: nothing is created there and no image is loaded.")
@click.option("--no-build", is_flag=True, help="Skip `docker build`; load the images already in the local docker. "
                                               "With --context: docker is not used at all (the cluster has or pulls "
                                               "the images).")
@click.option("--detach", is_flag=True, help="Return once Ready; the port-forwards keep running in the background.")
@click.option("--wait-timeout", type=float, default=900.0, show_default=True, help="Seconds to wait for Ready.")
@prod_option
@file_option
@root_option
def up(profile, cell, table_prefix, cluster, context, no_build, detach, wait_timeout, confirm_prod, stack_file,
       project_root) -> None:
    """Bring the stack up on kind (or an existing cluster: --context) and port-forward its ports to 127.0.0.1."""
    if cluster is not None and context is not None:
        raise UsageError("--cluster names the kind cluster to create or reuse, --context an existing cluster: "
                         "give one of them")
    root = _root(project_root)
    stack, plan = load_and_plan(root, stack_file, profile, cell, table_prefix, confirm_prod)
    pid = _forwarder_pid(root)
    if pid is not None and not detach:
        raise UsageError(f"port-forwards for this project already run in the background (pid {pid}); "
                         "use --detach, or `hippodrome k8s down` first")
    record_project(root, plan)  # the seed and the secret the cluster's fakes now hold; Tilt reads them too
    options = driver.UpOptions(cluster=cluster or DEFAULT_CLUSTER, context=context, build=not no_build,
                               wait=WaitOptions(timeout=wait_timeout))
    before = driver.specs_of(driver.read_state(root)) if driver.state_path(root).exists() else ()
    result = driver.up(stack, plan, root, options, make_seams(_echo))
    driver.write_state(root, result, plan, new_run_dir(root))
    state = driver.read_state(root)
    if detach:
        if pid is not None and driver.forwards_changed(before, driver.specs_of(state)):
            stop_forwarder(pid)  # it forwards the old set (another profile, other ports): start the new set
            click.echo(f"port-forwards: the set changed; stopped the old ones (pid {pid})")
            pid = None
        if pid is None:
            pid = spawn_forwarder(root)
        click.echo(f"port-forwards running in the background (pid {pid}); dashboard: "
                   f"http://127.0.0.1:{plan.dashboard_port}  (`hippodrome k8s status`, `hippodrome k8s down`)")
        return
    sys.exit(run_forwards(root, state, _echo))


@k8s.command()
@root_option
@click.option("--json", "as_json", is_flag=True, help="Print the stack status and forward health as JSON.")
def status(project_root, as_json) -> None:
    """The stack's status (from the HippodromeStack) and the health of every port-forward."""
    from hippodrome_k8s.cli import format as fmt

    root = _root(project_root)
    state = driver.read_state(root)
    obj = _stack(make_api(state.context), state)
    st = obj.get("status") or {}
    health = read_health_file(driver.forwards_path(root))
    if as_json:
        click.echo(json.dumps({"stack": st, "forwards": (health or {}).get("forwards", {})}, indent=2))
        return
    where = f"cluster {state.cluster}" if state.cluster else f"context {state.context}"
    click.echo(f"{state.stack}: {st.get('phase', 'Pending')} · {st.get('readyServices', '-')} ready · "
               f"layer {st.get('currentLayer', '-')} · profile {state.profile} · cell {state.cell} · "
               f"{where} · namespace {state.namespace}")
    click.echo(fmt.status_table(st.get("services") or {}))
    click.echo("")
    click.echo(forward_table(health))


def forward_table(health: dict[str, Any] | None) -> str:
    if not health:
        return "port-forwards: not running (`hippodrome k8s port-forward` starts them)"
    rows = [("FORWARD", "LOCAL", "STATE", "TARGET", "RECONNECTS", "CONNS", "MESSAGE")]
    for name, h in health["forwards"].items():
        message = h.get("message", "") + (f" (last error: {h['last_error']})" if h.get("last_error") and
                                          h.get("state") != "ok" else "")
        rows.append((name, h.get("local", ""), h.get("state", "?"), h.get("target") or "-", str(h.get("reconnects", 0)),
                     str(h.get("connections", 0)), message[:80]))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    head = f"port-forwards (pid {health.get('pid')}):"
    return head + "\n" + "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:-1], widths)) + "  " + r[-1]
                                   for r in rows).rstrip()


@k8s.command()
@click.argument("service")
@click.option("-f", "--follow", is_flag=True, help="Stream new lines (Ctrl-C to stop).")
@click.option("-n", "--lines", type=click.IntRange(0, 100000), default=100, show_default=True)
@root_option
def logs(service, follow, lines, project_root) -> None:
    """Print SERVICE's pod log; also appended to .hippodrome/logs/<run>/<service>.log."""
    if not SERVICE_NAME.fullmatch(service):  # it names a file under .hippodrome/logs: never a path
        raise UsageError(f"{service!r} is not a service name (`hippodrome k8s status` lists the services)")
    root = _root(project_root)
    state = driver.read_state(root)
    api = make_api(state.context)
    pods = api.pods(state.namespace, selector(state.stack, service))
    if not pods:
        raise UsageError(f"no pod for service {service!r} of stack {state.stack!r} "
                         "(`hippodrome k8s status` lists the services)")
    pod = max(pods, key=lambda p: p.created)
    run_dir = Path(state.runDir or new_run_dir(root))
    run_dir.mkdir(parents=True, exist_ok=True)
    with open(run_dir / f"{service}.log", "a", encoding="utf-8") as mirror:
        chunks = api.follow_pod_logs(state.namespace, pod.name, lines) if follow else \
            [api.pod_logs(state.namespace, pod.name, lines)]
        try:
            for chunk in chunks:
                mirror.write(chunk)
                mirror.flush()
                click.echo(chunk, nl=False)
        except KeyboardInterrupt:
            return


@k8s.command()
@click.argument("action", type=click.Choice([a.value for a in ControlAction.for_cluster()]))
@click.argument("service", required=False)
@click.option("--timeout", type=float, default=300.0, show_default=True)
@root_option
def control(action, service, timeout, project_root) -> None:
    """Restart, stop or start SERVICE (every service when omitted), through the operator."""
    root = _root(project_root)
    state = driver.read_state(root)
    api = make_api(state.context)
    request = ControlRequest(str(uuid.uuid4()), action, service)
    api.annotate_stack(state.namespace, state.stack, {CONTROL_ANNOTATION: request.encode()})
    result = wait_control(api, state, request.id, timeout)
    if not result.ok:
        raise ControlError(f"{action} {service or 'all services'}: {result.message}")
    click.echo(f"{action}: {service or 'all services'}: {ControlResult.OK}")


def wait_control(api: ClusterApi, state: driver.RunState, request_id: str, timeout: float,
                 sleep: Callable[[float], None] = time.sleep) -> ControlResult:
    deadline = time.monotonic() + timeout
    while True:
        last = (_stack(api, state).get("status") or {}).get("lastControl") or {}
        if last.get("id") == request_id:
            return ControlResult.from_status(last)
        if time.monotonic() >= deadline:
            raise K8sError(f"the operator did not acknowledge control request {request_id} within {timeout:g}s")
        sleep(0.5)


@k8s.command("port-forward")
@root_option
def port_forward(project_root) -> None:
    """Re-attach: forward every service of the running stack to 127.0.0.1 (foreground)."""
    root = _root(project_root)
    state = driver.read_state(root)
    pid = _forwarder_pid(root)
    if pid is not None:
        raise UsageError(f"port-forwards for this project already run (pid {pid}); `hippodrome k8s down` stops "
                         f"them, or `kill {pid}`")
    sys.exit(run_forwards(root, state, _echo))


@k8s.command()
@click.option("--delete-cluster", is_flag=True, help="Also delete the kind cluster.")
@click.option("--delete-data", is_flag=True,
              help="Also delete the stateful services' PersistentVolumeClaims (kept otherwise).")
@click.option("--timeout", type=float, default=300.0, show_default=True)
@root_option
def down(delete_cluster, delete_data, timeout, project_root) -> None:
    """Stop the port-forwards and delete the stack (reverse layer order, by the operator).

    The stateful services' data (their PersistentVolumeClaims) is kept for the next `k8s up`
    unless --delete-data; --delete-cluster deletes everything."""
    root = _root(project_root)
    state = driver.read_state(root)
    if delete_cluster and not state.cluster:
        raise UsageError(f"the stack runs on the existing cluster of context {state.context!r}, which hippodrome did "
                         "not create and will not delete; drop --delete-cluster")
    pid = _forwarder_pid(root)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        click.echo(f"port-forwards stopped (pid {pid})")
    api = make_api(state.context)
    if api.delete_stack(state.namespace, state.stack):
        click.echo(f"deleting HippodromeStack {state.namespace}/{state.stack} (reverse layer order)...")
        deadline = time.monotonic() + timeout
        while api.get_stack(state.namespace, state.stack) is not None:
            if time.monotonic() >= deadline:
                raise K8sError(f"the stack still exists after {timeout:g}s (is the operator running?)")
            time.sleep(1)
        click.echo("stack deleted.")
    claims = selector(state.stack) + ",app.kubernetes.io/managed-by=hippodrome-operator"
    if delete_data and not delete_cluster:
        deleted = api.delete_claims(state.namespace, claims)
        click.echo(f"deleted {len(deleted)} PersistentVolumeClaim(s) with the stateful services' data"
                   + (f": {', '.join(deleted)}" if deleted else ""))
    elif not delete_cluster:
        kept = api.claims(state.namespace, claims)
        if kept:
            click.echo(f"kept {len(kept)} PersistentVolumeClaim(s) with the stateful services' data ({', '.join(kept)}); "
                       "`hippodrome k8s down --delete-data` removes them")
    if delete_cluster:
        KindCluster(make_seams(_echo).runner, state.cluster).delete()
        click.echo(f"kind cluster {state.cluster!r} deleted.")
    driver.state_path(root).unlink(missing_ok=True)


@k8s.command()
@root_option
def env(project_root) -> None:
    """Print the env an E2E suite needs (URLs on 127.0.0.1 through the forwards) as KEY=VALUE."""
    from hippodrome_k8s.cli import format as fmt

    state = driver.read_state(_root(project_root))
    click.echo(fmt.env_lines(state.testEnv))


__all__: Sequence[str] = ["k8s", "forward_table", "wait_control", "ForwardSpec", "NAMESPACE"]
