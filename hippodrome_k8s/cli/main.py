"""``hippodrome``: bring a stack up as local processes, inspect and control it.

Every command exits from one place (``main``): 0 on success, 1 on a runtime
failure, 2 on bad usage or an invalid stack file, printing ``Error: ...``.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import click

from .. import __version__
from ..errors import HippodromeError, NotRunningError, UsageError
from ..loader import load_stack
from ..local.ports import check_ports_free
from ..local.runfile import hippodrome_dir, process_alive, read_run_info, remove_run_info, write_run_info
from ..model import Cell, Profile
from ..resolver import DEFAULT_ENCRYPTION_SECRET, Plan, ResolveOptions, require_prod_confirmation, resolve
from ..schema import render_schema
from . import format as fmt
from .logs_cmd import logs
from ..k8s.cli import k8s

CHILD_ENV = "HIPPODROME_SUPERVISOR_CHILD"


def _root_option(f):
    return click.option("--project-root", "project_root", type=click.Path(file_okay=False, path_type=Path),
                        default=None, help="Project root holding hippodrome.yaml and .hippodrome/ (default: the current directory).")(f)


def _file_option(f):
    return click.option("-f", "--file", "stack_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="Stack file (default: <project root>/hippodrome.yaml).")(f)


def project_root_of(project_root: Path | None) -> Path:
    root = (project_root or Path.cwd()).resolve()
    if not root.is_dir():
        raise UsageError(f"--project-root {root} is not a directory")
    return root


def stack_file_of(root: Path, stack_file: Path | None) -> Path:
    return stack_file if stack_file is not None else root / "hippodrome.yaml"


def plan_from_flags(root: Path, stack_file: Path | None, profile: str | None, cell: str | None,
                    table_prefix: str | None, confirm_prod: bool, seed: str | None = None) -> Plan:
    """Load, validate and resolve; everything that can be wrong with the input fails here, before anything starts."""
    from ..gitinfo import current_branch

    stack = load_stack(stack_file_of(root, stack_file))
    chosen_cell = Cell(cell) if cell else stack.spec.cell
    require_prod_confirmation(chosen_cell, confirm_prod)
    seed = seed or os.environ.get("HIPPODROME_RANDOM_SEED") or stack.spec.seed
    if not seed:
        seed = str(secrets.randbelow(10**9))
        click.echo(f"seed: {seed} (random; export HIPPODROME_RANDOM_SEED=<n> for the same seed data every run)", err=True)
    secret = os.environ.get("HIPPODROME_ENCRYPTION_SECRET")
    if not secret:
        secret = DEFAULT_ENCRYPTION_SECRET
        if not os.environ.get(CHILD_ENV):
            click.echo("note: HIPPODROME_ENCRYPTION_SECRET is not set; using the documented local default "
                       "(keys stored by one secret cannot be read with another)", err=True)
    options = ResolveOptions(
        profile=Profile(profile) if profile else None,
        cell=chosen_cell,
        table_prefix=table_prefix,
        git_branch=current_branch(root) if table_prefix is None and stack.spec.tablePrefix is None else None,
        seed=seed,
        encryption_secret=secret,
        project_root=str(root),
        state_dir=str(hippodrome_dir(root) / "state"),
    )
    plan = resolve(stack, options)
    for warning in plan.warnings:
        click.secho(warning, fg="red", bold=True, err=True)
    return plan


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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
@click.option("--profile", type=click.Choice([p.value for p in Profile]), default=None,
              help="Which services to run (default: the stack file's spec.profile, normally full).")
@click.option("--cell", type=click.Choice([c.value for c in Cell]), default=None,
              help="local runs fake_cell; staging/prod point CELL_URL at a real cell and start no fake_cell.")
@click.option("--table-prefix", default=None, help="DynamoDB table prefix (default: dev-<sanitized git branch>-).")
@_root_option
@_file_option
@click.option("--detach", is_flag=True, help="Run the supervisor in the background; return once every service is running.")
@click.option("--wait-timeout", type=float, default=900.0, show_default=True, help="With --detach: seconds to wait for the stack.")
@click.option("--i-understand-this-is-prod", "confirm_prod", is_flag=True, help="Required with --cell prod.")
def up(profile, cell, table_prefix, project_root, stack_file, detach, wait_timeout, confirm_prod) -> None:
    """Start the stack as local processes, layer by layer, gated by HTTP health checks.

    In the foreground, service output is shown with coloured prefixes and Ctrl-C
    shuts everything down in reverse layer order. Logs go to
    .hippodrome/logs/<run>/<service>.log (.hippodrome/logs/latest points at the newest run).
    """
    root = project_root_of(project_root)
    plan = plan_from_flags(root, stack_file, profile, cell, table_prefix, confirm_prod)
    _refuse_if_running(root)
    ports = {plan.dashboard_port: "the dashboard"} | {s.port: f"service {s.name!r}" for s in plan.services}
    check_ports_free(ports)
    if detach and not os.environ.get(CHILD_ENV):
        sys.exit(_detach(root, plan))
    sys.exit(_run_foreground(root, plan))


def _refuse_if_running(root: Path) -> None:
    try:
        info = read_run_info(root)
    except NotRunningError:
        return
    raise HippodromeError(f"a stack is already running for {root} (supervisor pid {info['pid']}, {info['dashboardUrl']}); "
                          "`hippodrome control shutdown` stops it")


def _run_foreground(root: Path, plan: Plan) -> int:
    from ..local.supervisor import Supervisor
    from ..seeding import register_cell_api_keys

    async def main() -> int:
        supervisor = Supervisor(plan, project_root=root, console=sys.stdout, seeders=[register_cell_api_keys])

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

    return asyncio.run(main())


def _detach(root: Path, plan: Plan) -> int:
    log_path = hippodrome_dir(root) / "supervisor.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = [a for a in sys.argv[1:] if a != "--detach"]
    env = dict(os.environ, **{CHILD_ENV: "1", "HIPPODROME_RANDOM_SEED": plan.seed, "NO_COLOR": "1"})
    with open(log_path, "ab") as log:
        child = subprocess.Popen([sys.executable, "-m", "hippodrome_k8s.cli.main", *argv], cwd=os.getcwd(), env=env,
                                 stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    click.echo(f"supervisor started (pid {child.pid}); its output: {log_path}")
    return wait_for_stack(root, child, plan, timeout=_wait_timeout())


def _wait_timeout() -> float:
    ctx = click.get_current_context()
    return float(ctx.params.get("wait_timeout") or 900.0)


def wait_for_stack(root: Path, child: subprocess.Popen, plan: Plan, timeout: float) -> int:
    from ..client import DashboardClient

    deadline = time.monotonic() + timeout
    seen: dict[str, str] = {}
    client: DashboardClient | None = None
    while time.monotonic() < deadline:
        if child.poll() is not None:
            click.echo(f"Error: the supervisor exited with code {child.returncode}; see "
                       f"{hippodrome_dir(root) / 'supervisor.log'}", err=True)
            _tail(hippodrome_dir(root) / "supervisor.log")
            return 1
        try:
            client = client or DashboardClient.for_project(root)
            status, stack = client.status(), client.stack()
        except HippodromeError:
            time.sleep(0.2)
            continue
        for name, s in status.items():
            label = s["status"]
            if seen.get(name) != label:
                seen[name] = label
                click.echo(f"  layer {s['layer']}  {name:<16} {label}")
        if stack["phase"] == "running":
            # Blocking services are up; give non-blocking ones (the console's npm ci...) their chance too,
            # unless they crash-loop or failed: they never gate, so they only get a warning.
            lagging = [n for n, s in status.items() if s["status"] != "running"]
            settled = [n for n in lagging if status[n]["status"] == "failed" or status[n]["restarts"] >= 3]
            if lagging and len(settled) < len(lagging):
                time.sleep(0.25)
                continue
            for name in settled:
                click.echo(f"warning: non-blocking service {name} is {status[name]['status']}: {status[name]['message']}", err=True)
            running = len(status) - len(settled)
            summary = f"All {running} services running" if not settled else f"{running} of {len(status)} services running"
            click.echo(f"{summary}. Dashboard: {client.url}  (stop with `hippodrome control shutdown`)")
            return 0
        if stack["phase"] in ("failed", "stopped", "stopping"):
            click.echo(f"Error: the stack failed to start: {stack.get('failure')}", err=True)
            child.wait(timeout=60)
            return 1
        time.sleep(0.25)
    click.echo(f"Error: the stack was not running after {timeout:g}s; it keeps starting in the background "
               "(`hippodrome status`, `hippodrome control shutdown`)", err=True)
    return 1


def _tail(path: Path, lines: int = 20) -> None:
    try:
        for line in path.read_text(errors="replace").splitlines()[-lines:]:
            click.echo("  " + line, err=True)
    except FileNotFoundError:
        pass


@cli.command()
@_root_option
@click.option("--json", "as_json", is_flag=True, help="Print /api/status as JSON.")
def status(project_root, as_json) -> None:
    """Show every service: layer, status, readiness, port, restarts, uptime."""
    from ..client import DashboardClient

    client = DashboardClient.for_project(project_root_of(project_root))
    data = client.status()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(fmt.stack_line(client.stack()))
    click.echo(fmt.status_table(data))


@cli.command()
@click.argument("action", type=click.Choice(["restart", "stop", "start", "shutdown"]))
@click.argument("service", required=False)
@_root_option
def control(action, service, project_root) -> None:
    """Restart, stop or start SERVICE (every service when omitted), or shut the stack down.

    Without SERVICE, stop goes in reverse layer order and start in layer order,
    gated by health checks. shutdown stops everything and waits for the supervisor to exit.
    """
    from ..client import DashboardClient

    root = project_root_of(project_root)
    if action == "shutdown" and service:
        raise UsageError("shutdown takes no SERVICE (it stops the whole stack)")
    info = read_run_info(root)
    client = DashboardClient(info["dashboardUrl"], info.get("token"))
    result = client.control(action, service)
    if action != "shutdown":
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
@_root_option
@_file_option
@click.option("--profile", type=click.Choice([p.value for p in Profile]), default=None)
@click.option("--cell", type=click.Choice([c.value for c in Cell]), default=None)
@click.option("--table-prefix", default=None)
def env(project_root, stack_file, profile, cell, table_prefix) -> None:
    """Print the env an E2E suite needs (service URLs, dummy AWS creds, seed, seeded ids) as KEY=VALUE.

    Reads the running stack when there is one; otherwise resolves the stack file
    with the same flags as `up`. Save it for your tests:  hippodrome env > .env.e2e
    """
    root = project_root_of(project_root)
    try:
        values = read_run_info(root)["testEnv"]
    except NotRunningError:
        click.echo("(no stack running: values resolved from the stack file)", err=True)
        values = dict(plan_from_flags(root, stack_file, profile, cell, table_prefix, confirm_prod=True).test_env)
    click.echo(fmt.env_lines(values))


@cli.command()
@_root_option
@_file_option
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
@_root_option
def smoke(project_root) -> None:
    """Run light, read-only checks of every running service and of the seeded data (safe beside other work)."""
    from ..client import DashboardClient
    from ..smoke import build_checks, format_results, run_checks

    root = project_root_of(project_root)
    info = read_run_info(root)
    started = time.perf_counter()
    status = DashboardClient(info["dashboardUrl"], info.get("token")).status()
    results = run_checks(build_checks(info.get("testEnv", {}), status))
    click.echo(format_results(results, time.perf_counter() - started))
    if not all(r.ok for r in results):
        sys.exit(1)


cli.add_command(logs)
cli.add_command(k8s)


def main(argv: list[str] | None = None) -> None:
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
