"""``hippodrome``: bring a stack up as local processes, inspect and control it.

Every command exits from one place (``main``): 0 on success, 1 on a runtime
failure, 2 on bad usage or an invalid stack file, printing ``Error: ...``.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from hippodrome_k8s import __version__
from hippodrome_k8s.core.contract import ControlAction, ServiceState, StackPhase
from hippodrome_k8s.core.errors import HippodromeError, NotRunningError, UsageError
from hippodrome_k8s.core.loader import load_stack
from hippodrome_k8s.host.ports import check_ports_free
from hippodrome_k8s.local.runfile import process_alive, read_run_info, remove_run_info, write_run_info
from hippodrome_k8s.core.model import Cell, Profile
from hippodrome_k8s.core.waiting import Verdict, wait_with_progress
from hippodrome_k8s.host.project import (SECRET_ENV, ProjectPaths, choose_secret, choose_seed, make_private,
                                          new_secret, new_seed, read_recorded_secret, read_recorded_seed,
                                          record_secret, record_seed, state_without_secret)
from hippodrome_k8s.core.resolver import Plan
from hippodrome_k8s.core.schema import render_schema
from hippodrome_k8s.cli import detach, prestart
from hippodrome_k8s.cli import format as fmt
from hippodrome_k8s.cli.logs import logs
from hippodrome_k8s.cli.options import (CHILD_ENV, cell_option, file_option, load_and_plan, profile_option,
                                        prod_option, project_root_of, record_project, root_option, stack_file_of,
                                        table_prefix_option)

class _Commands(click.Group):
    """The commands, with ``k8s`` loaded when it is used: its driver's imports are a sixth of what every other
    command (``up`` included, which the user waits for) would pay for it."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), "k8s"})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name == "k8s" and name not in self.commands:
            from hippodrome_k8s.cli.k8s import k8s

            self.add_command(k8s)
        return super().get_command(ctx, name)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="hippodrome")
def cli() -> None:
    """Run every service of a cloud control plane on this machine, credential-free.

    \b
    Quick start:
      hippodrome up --detach            # the default stack (hippodrome.yaml), in the background
      curl -s localhost:9000/api/status # every service's state, as JSON
      hippodrome status                 # the same, as a table
      hippodrome control shutdown       # stop everything, in reverse layer order

    Exit codes: 0 success, 1 runtime failure, 2 bad usage or invalid stack file.
    """


@cli.command()
@profile_option
@cell_option
@table_prefix_option
@root_option
@file_option
@click.option("--detach", is_flag=True, help="Run the supervisor in the background; return once every service is running.")
@click.option("--wait-timeout", type=float, default=900.0, show_default=True, help="With --detach: seconds to wait for the stack.")
@click.option("--fresh", is_flag=True, help="Start from empty state: remove .hippodrome/state (the fakes' data and "
              "the recorded seed) first, after saying what goes. Same as `hippodrome reset` then `up`.")
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="With --fresh: do not ask for confirmation.")
@prod_option
def up(profile, cell, table_prefix, project_root, stack_file, detach, wait_timeout, fresh, assume_yes, confirm_prod) -> None:
    """Start the stack as local processes, layer by layer, gated by HTTP health checks.

    In the foreground, service output is shown with coloured prefixes and Ctrl-C
    shuts everything down in reverse layer order. Logs go to
    .hippodrome/logs/<run>/<service>.log (.hippodrome/logs/latest points at the newest run).

    State (the fakes' data: moto, fake_cell, fake_cognito) is kept across runs in
    .hippodrome/state, with the seed it was made with; each fake replaces its seed data
    when the seed changes. --fresh starts from nothing.
    """
    root = project_root_of(project_root)
    _, plan = load_and_plan(root, stack_file, profile, cell, table_prefix, confirm_prod,
                           seed_from="new" if fresh else "recorded-or-new")
    _refuse_if_running(root)
    ports = {plan.dashboard_port: "the dashboard"} | {s.port: f"service {s.name!r}" for s in plan.services}
    check_ports_free(ports)
    if fresh and not os.environ.get(CHILD_ENV):
        _reset_state(root, assume_yes)
    record_project(root, plan)
    if detach and not os.environ.get(CHILD_ENV):
        raise SystemExit(_detach(root, plan))
    raise SystemExit(_run_foreground(root, plan))


@cli.command()
@root_option
@click.option("--yes", "-y", "assume_yes", is_flag=True, help="Do not ask for confirmation.")
def reset(project_root, assume_yes) -> None:
    """Remove the project's state (.hippodrome/state: the fakes' data and the recorded seed).

    The next `hippodrome up` starts from nothing, with a new seed unless one is set. Logs are
    kept. Refused while a stack of this project runs (stop it with `hippodrome control shutdown`).
    """
    root = project_root_of(project_root)
    _refuse_if_running(root)
    _reset_state(root, assume_yes)


def _reset_state(root: Path, assume_yes: bool) -> None:
    state = ProjectPaths(root).state_dir
    entries = sorted(state.iterdir()) if state.is_dir() else []
    if not entries:
        click.echo(f"{state}: nothing to remove (already empty)")
        return
    click.echo(f"This removes {state}:")
    for entry in entries:
        click.echo(f"  {entry.name:<32} {_size(entry)}")
    if not assume_yes:
        if not sys.stdin.isatty():
            raise UsageError("not removing anything without confirmation: add --yes (stdin is not a terminal)")
        if not click.confirm("Remove it?", default=False):
            raise UsageError("nothing removed")
    shutil.rmtree(state)
    click.echo(f"removed {state}")


def _size(path: Path) -> str:
    total = sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.is_dir() else path.stat().st_size
    for unit in ("B", "KiB", "MiB", "GiB"):
        if total < 1024 or unit == "GiB":
            return f"{total:.0f} {unit}" if unit == "B" else f"{total:.1f} {unit}"
        total /= 1024
    return ""


def _refuse_if_running(root: Path) -> None:
    try:
        info = read_run_info(root)
    except NotRunningError:
        return
    raise HippodromeError(f"a stack is already running for {root} (supervisor pid {info['pid']}, {info['dashboardUrl']}); "
                          "`hippodrome control shutdown` stops it")


KILLED = 130


def _run_foreground(root: Path, plan: Plan) -> int:
    from hippodrome_k8s.local.supervisor import Supervisor

    async def main() -> int:
        supervisor = Supervisor(plan, project_root=root, console=sys.stdout, fork_server=prestart.take())

        def started() -> None:
            write_run_info(root, {
                "pid": os.getpid(),
                "dashboardUrl": f"http://127.0.0.1:{plan.dashboard_port}",
                "token": supervisor.token,
                "logDir": str(supervisor.run_dir),
                "startedAt": supervisor.started_at,
                "profile": plan.profile.value,
                "cell": plan.cell.value,
                "seed": plan.seed,
                "testEnv": dict(plan.test_env),
            })

        try:
            return await supervisor.run(on_started=started)
        finally:
            remove_run_info(root, os.getpid())

    code = asyncio.run(main())
    if code == KILLED:
        click.echo("killed: a second interrupt sent SIGKILL to every service", err=True)
    return code


def _detach(root: Path, plan: Plan) -> int:
    log_path = ProjectPaths(root).supervisor_log
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {CHILD_ENV: "1", "HIPPODROME_RANDOM_SEED": plan.seed, "NO_COLOR": "1"}
    if detach.can_fork():
        child: Any = detach.fork_supervisor(log_path, env, lambda: _run_foreground(root, plan), keep_fds=prestart.fds())
        prestart.hand_over()  # the fork server started for this run is the supervisor's now
    else:
        argv = [a for a in sys.argv[1:] if a not in ("--detach", "--fresh", "--yes", "-y")]  # the parent did those
        child = detach.spawn_supervisor(log_path, env, argv)
    click.echo(f"supervisor started (pid {child.pid}); its output: {log_path}")
    return wait_for_stack(root, child, plan, timeout=_wait_timeout())


def _wait_timeout() -> float:
    ctx = click.get_current_context()
    return float(ctx.params.get("wait_timeout") or 900.0)


@dataclass(frozen=True)
class LocalView:
    """One poll of a starting local stack: /api/status and /api/stack."""

    status: dict[str, Any]
    stack: dict[str, Any]


def local_changes(before: LocalView | None, now: LocalView) -> list[str]:
    """A line per service whose state changed since the last poll."""
    old = before.status if before else {}
    return [f"  layer {s['layer']}  {name:<16} {s['status']}" for name, s in now.status.items()
            if (old.get(name) or {}).get("status") != s["status"]]


def local_verdict(view: LocalView, url: str) -> Verdict[list[str]]:
    """Up when the blocking services are (and the non-blocking ones are running, failed or crash-looping:
    they never gate, so those only get a warning); failed when the supervisor gave up."""
    status, phase = view.status, StackPhase.from_local(view.stack["phase"])
    if phase in (StackPhase.FAILED, StackPhase.STOPPED, StackPhase.STOPPING):
        return Verdict(failure=f"the stack failed to start: {view.stack.get('failure')}")
    if phase not in (StackPhase.RUNNING, StackPhase.DEGRADED):
        return Verdict.waiting()
    lagging = [n for n, s in status.items() if s["status"] != ServiceState.running]
    settled = [n for n in lagging if status[n]["status"] == ServiceState.failed or status[n]["restarts"] >= 3]
    if len(settled) < len(lagging):
        return Verdict.waiting()
    lines = [f"warning: non-blocking service {n} is {status[n]['status']}: {status[n]['message']}" for n in settled]
    running = len(status) - len(settled)
    summary = f"All {running} services running" if not settled else f"{running} of {len(status)} services running"
    return Verdict(done=True, result=lines + [f"{summary}. Dashboard: {url}  (stop with `hippodrome control shutdown`)"])


POLL_INTERVAL = 0.05  # what the user waits for at the end of `up --detach`, at most
STACK_EVERY = 20  # polls: /api/stack, while the services are still starting


def stack_worth_asking(status: dict[str, Any], polls: int) -> bool:
    """Whether this poll also reads /api/stack (the phase, which decides): /api/status is cheaper and says when
    the phase can have turned (every service running, failed or crash-looping); else once a second, in case
    the start failed."""
    settled = all(s["status"] in (ServiceState.running, ServiceState.failed) or s["restarts"] >= 3 for s in status.values())
    return settled or polls % STACK_EVERY == 0


def wait_for_stack(root: Path, child: Any, plan: Plan, timeout: float) -> int:
    """``child``: the supervisor, a ``subprocess.Popen`` or a ``detach.ForkedSupervisor``."""
    from hippodrome_k8s.cli.client import DashboardClient

    paths = ProjectPaths(root)
    clients: list[DashboardClient] = []
    seen: dict[str, Any] = {"polls": 0, "stack": None}

    def poll() -> LocalView | None:
        if child.poll() is not None:
            _tail(paths.supervisor_log)
            raise HippodromeError(f"the supervisor exited with code {child.returncode}; see {paths.supervisor_log}")
        try:
            clients[:] = clients or [DashboardClient.for_project(root)]
            status = clients[0].status()
            if seen["stack"] is None or stack_worth_asking(status, seen["polls"]):
                seen["stack"] = clients[0].stack()
        except HippodromeError:
            return None  # not listening yet
        seen["polls"] += 1
        return LocalView(status, seen["stack"])

    def still_waiting(view: LocalView | None) -> str:
        return (f"the stack was not running after {timeout:g}s; it keeps starting in the background "
                "(`hippodrome status`, `hippodrome control shutdown`)")

    def echo_lines(line: str) -> None:
        click.echo(line)

    gave_up: list[bool] = []

    def decide(view: LocalView) -> Verdict[list[str]]:
        verdict = local_verdict(view, clients[0].url)
        gave_up.append(verdict.failure is not None)
        return verdict

    try:
        lines = wait_with_progress(poll, decide, local_changes, echo_lines, timeout=timeout, interval=POLL_INTERVAL,
                                   still_waiting=still_waiting)
    except HippodromeError as e:
        if gave_up and gave_up[-1]:
            child.wait(timeout=60)  # the supervisor stops what it started, then exits
        click.echo(f"Error: {e}", err=True)
        return 1
    for line in lines:
        click.echo(line, err=line.startswith("warning:"))
    return 0


def _tail(path: Path, lines: int = 20) -> None:
    try:
        for line in path.read_text(errors="replace").splitlines()[-lines:]:
            click.echo("  " + line, err=True)
    except FileNotFoundError:
        pass


@cli.command()
@root_option
@click.option("--json", "as_json", is_flag=True, help="Print /api/status as JSON.")
@click.option("--watch", "-w", is_flag=True, help="Keep the table on screen, updated live from the dashboard's "
              "event stream, with each service's health and the dependencies that are down (Ctrl-C to leave).")
@click.option("--timeline", is_flag=True, help="Show the last `up` as a waterfall: each service from spawn to "
              "healthy, the critical path and the figures; then later restarts.")
def status(project_root, as_json, watch, timeline) -> None:
    """Show every service: layer, status, readiness, port, restarts, uptime."""
    from hippodrome_k8s.cli.client import DashboardClient

    if sum((as_json, watch, timeline)) > 1:
        raise UsageError("choose one of --json, --watch and --timeline")
    client = DashboardClient.for_project(project_root_of(project_root))
    if watch:
        from hippodrome_k8s.cli.watch import watch as watch_live

        client.status()  # fail now, with the usual message, if no stack answers
        watch_live(client.url)
        return
    if timeline:
        from hippodrome_k8s.cli.watch import timeline_text

        click.echo(timeline_text(client.stack().get("timings")))
        return
    data = client.status()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    stack = client.stack()
    click.echo(fmt.stack_line(stack))
    click.echo(fmt.status_table(data))
    for line in fmt.health_lines(stack.get("health") or {}):
        click.echo(line)


@cli.command()
@click.argument("action", type=click.Choice([a.value for a in ControlAction]))
@click.argument("service", required=False)
@root_option
def control(action, service, project_root) -> None:
    """Restart, stop or start SERVICE (every service when omitted), or shut the stack down.

    Without SERVICE, stop goes in reverse layer order and start in layer order,
    gated by health checks. shutdown stops everything and waits for the supervisor to exit.
    """
    from hippodrome_k8s.cli.client import DashboardClient

    root = project_root_of(project_root)
    if action == ControlAction.shutdown and service:
        raise UsageError("shutdown takes no SERVICE (it stops the whole stack)")
    info = read_run_info(root)
    client = DashboardClient(info["dashboardUrl"], info.get("token"))
    if service is not None:
        names = list(client.status())
        if service not in names:
            raise UsageError(f"no service named {service!r} in the running stack (available: {', '.join(names)})")
    result = client.control(action, service)
    if action != ControlAction.shutdown:
        click.echo(f"{action}: {', '.join(result.get('services', []))}: done")
        return
    click.echo("shutting down (reverse layer order)...")
    deadline = time.monotonic() + 300
    while process_alive(info["pid"]):
        if time.monotonic() > deadline:
            raise HippodromeError(f"the supervisor (pid {info['pid']}) is still running after 300s")
        time.sleep(0.1)
    click.echo("stopped.")


@cli.command()
@root_option
@file_option
@click.option("--offline", is_flag=True, help="With no stack running: print the values the recorded seed gives "
              "(or HIPPODROME_RANDOM_SEED / spec.seed), resolved from the stack file with the flags below.")
@click.option("--profile", type=click.Choice([p.value for p in Profile]), default=None, help="With --offline.")
@click.option("--cell", type=click.Choice([c.value for c in Cell]), default=None, help="With --offline.")
@click.option("--table-prefix", default=None, help="With --offline.")
def env(project_root, stack_file, offline, profile, cell, table_prefix) -> None:
    """Print the env an E2E suite needs (service URLs, dummy AWS creds, seed, seeded ids) as KEY=VALUE.

    Reads the running stack; with none running it exits 1, unless --offline. Save it for
    your tests:  hippodrome env > .env.e2e
    """
    root = project_root_of(project_root)
    try:
        values = read_run_info(root)["testEnv"]
    except NotRunningError as e:
        if not offline:
            raise NotRunningError(f"{e}\n(`hippodrome env --offline` prints the values the recorded seed would give)") from None
        _, plan = load_and_plan(root, stack_file, profile, cell, table_prefix, confirm_prod=True, seed_from="recorded")
        values = dict(plan.test_env)
        click.echo("(no stack running: values resolved from the stack file and the recorded seed)", err=True)
    click.echo(fmt.env_lines(values))


@cli.command()
@root_option
@file_option
@click.option("--json", "as_json", is_flag=True, help='Print {"seed": ..., "source": ...} (the Tiltfile reads this).')
@click.option("--with-secret", is_flag=True, help='With --json: add "encryptionSecret", the project\'s encryption secret '
              "(HIPPODROME_ENCRYPTION_SECRET, else the recorded one, else a new one, recorded), for the Tiltfile.")
def seed(project_root, stack_file, as_json, with_secret) -> None:
    """Print the seed this project runs with (recording a new one if it has none yet).

    The same choice as `up`: HIPPODROME_RANDOM_SEED, then spec.seed, then the seed the last run
    recorded in .hippodrome/state/seed. The Tiltfile reads it from here.
    """
    root = project_root_of(project_root)
    stack = load_stack(stack_file_of(root, stack_file))
    paths = ProjectPaths(root)
    choice = choose_seed(os.environ.get("HIPPODROME_RANDOM_SEED"), stack.spec.seed, read_recorded_seed(paths), new_seed())
    assert choice is not None  # a new seed is always allowed here
    if choice.source == "new":
        make_private(paths)
        record_seed(paths, choice.seed)
    if not as_json:
        click.echo(choice.seed)
        return
    out = {"seed": choice.seed, "source": choice.source}
    if with_secret:
        secret = choose_secret(os.environ.get(SECRET_ENV), read_recorded_secret(paths), state_without_secret(paths),
                               new_secret())
        assert secret is not None  # a new secret is always allowed here
        if secret.source == "new":
            make_private(paths)
            record_secret(paths, secret.secret)
        out["encryptionSecret"] = secret.secret
    click.echo(json.dumps(out))


@cli.command()
@root_option
@file_option
def validate(project_root, stack_file) -> None:
    """Check a stack file without starting anything (exit 2 and every problem if invalid)."""
    root = project_root_of(project_root)
    path = stack_file_of(root, stack_file)
    stack = load_stack(path)
    layers = sorted({s.layer for s in stack.spec.services})
    click.echo(f"ok: {path}: stack {stack.metadata.name!r}, {len(stack.spec.services)} services in "
               f"{len(layers)} layers, default profile {stack.spec.profile.value}, cell {stack.spec.cell.value}")


@cli.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write to this file instead of stdout.")
def schema(output) -> None:
    """Print the JSON Schema of the stack file (generated from the model)."""
    text = render_schema()
    if output:
        output.write_text(text)
    else:
        click.echo(text, nl=False)


@cli.command()
@root_option
@file_option
def smoke(project_root, stack_file) -> None:
    """Run light, read-only checks of every running service and of the seeded data (safe beside other work).

    Hippodrome checks every service's health, the fakes and the seed; the stack file's
    spec.smokeChecks (module:function) adds the stack's own checks.
    """
    from hippodrome_k8s.cli.client import DashboardClient
    from hippodrome_k8s.cli.smoke import build_checks, extra_checks, format_results, run_checks

    root = project_root_of(project_root)
    extra = extra_checks(load_stack(stack_file_of(root, stack_file)).spec.smokeChecks)
    info = read_run_info(root)
    started = time.perf_counter()
    status = DashboardClient(info["dashboardUrl"], info.get("token")).status()
    results = run_checks(build_checks(info.get("testEnv", {}), status, extra))
    click.echo(format_results(results, time.perf_counter() - started))
    if not all(r.ok for r in results):
        raise SystemExit(1)


cli.add_command(logs)


def main(argv: list[str] | None = None) -> None:
    """The one exit point: every command returns, or raises HippodromeError / SystemExit(code)."""
    try:
        cli.main(args=argv, prog_name="hippodrome", standalone_mode=False)
    except HippodromeError as e:
        click.echo(f"Error: {e}", err=True)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as e:
        e.show()
        sys.exit(2)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
