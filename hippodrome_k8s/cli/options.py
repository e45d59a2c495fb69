"""What the `hippodrome` commands share: their common options, where the project is, and
``load_and_plan``, the one place a stack file is loaded, validated and resolved for a run (both
engines: `up` and `k8s up`), so every command reads its input the same way.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from hippodrome_k8s.core.errors import NotRunningError, UsageError
from hippodrome_k8s.core.loader import load_stack
from hippodrome_k8s.core.model import Cell, HippodromeStack, Profile
from hippodrome_k8s.core.resolver import Plan, ResolveOptions, require_prod_confirmation, resolve
from hippodrome_k8s.host.project import (SECRET_ENV, ProjectPaths, choose_secret, choose_seed, find_project_root,
                                          make_private, new_secret, new_seed, read_recorded_secret, read_recorded_seed,
                                          record_secret, record_seed, state_without_secret)

CHILD_ENV = "HIPPODROME_SUPERVISOR_CHILD"


def root_option(f):
    return click.option("--project-root", "project_root", type=click.Path(file_okay=False, path_type=Path),
                        default=None, help="Project root holding hippodrome.yaml and .hippodrome/ (default: the nearest "
                        "directory from here upwards that holds either).")(f)


def file_option(f):
    return click.option("-f", "--file", "stack_file", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="Stack file (default: <project root>/hippodrome.yaml).")(f)


def project_root_of(project_root: Path | None) -> Path:
    """--project-root, else the nearest directory upwards holding hippodrome.yaml or .hippodrome/, else here."""
    if project_root is None:
        return find_project_root(Path.cwd()) or Path.cwd().resolve()
    root = project_root.resolve()
    if not root.is_dir():
        raise UsageError(f"--project-root {root} is not a directory")
    return root


def stack_file_of(root: Path, stack_file: Path | None) -> Path:
    return stack_file if stack_file is not None else root / "hippodrome.yaml"


def load_and_plan(root: Path, stack_file: Path | None, profile: str | None, cell: str | None,
                  table_prefix: str | None, confirm_prod: bool, seed: str | None = None,
                  seed_from: str = "recorded-or-new") -> tuple[HippodromeStack, Plan]:
    """Load, validate and resolve; everything that can be wrong with the input fails here, before anything starts.

    ``seed_from``: "recorded-or-new" (a run: the last run's seed, or a new one), "new" (``up --fresh``:
    the recorded seed is about to be removed), "recorded" (``env --offline``: never make one up).
    The encryption secret is chosen the same way. Both are recorded by the caller, once the run really
    starts (``record_project``).
    """
    from hippodrome_k8s.host.gitinfo import current_branch

    stack = load_stack(stack_file_of(root, stack_file))
    chosen_cell = Cell(cell) if cell else stack.spec.cell
    require_prod_confirmation(chosen_cell, confirm_prod)
    recorded = read_recorded_seed(ProjectPaths(root)) if seed_from != "new" else None
    choice = choose_seed(seed or os.environ.get("HIPPODROME_RANDOM_SEED"), stack.spec.seed, recorded,
                         None if seed_from == "recorded" else new_seed())
    if choice is None:
        raise NotRunningError(f"no seed is recorded for {root} yet (no run so far): set HIPPODROME_RANDOM_SEED, "
                              "or start the stack once with `hippodrome up`")
    paths = ProjectPaths(root)
    secret = choose_secret(os.environ.get(SECRET_ENV), read_recorded_secret(paths) if seed_from != "new" else None,
                           seed_from != "new" and state_without_secret(paths),
                           None if seed_from == "recorded" else new_secret())
    if not os.environ.get(CHILD_ENV):
        click.echo(choice.describe(), err=True)
        if secret is not None and secret.note():
            click.echo(secret.note(), err=True)
    options = ResolveOptions(
        profile=Profile(profile) if profile else None,
        cell=chosen_cell,
        table_prefix=table_prefix,
        git_branch=current_branch(root) if table_prefix is None and stack.spec.tablePrefix is None else None,
        seed=choice.seed,
        encryption_secret=secret.secret if secret else "",
        project_root=str(root),
        state_dir=str(ProjectPaths(root).state_dir),
    )
    plan = resolve(stack, options)
    for warning in plan.warnings:
        click.secho(warning, fg="red", bold=True, err=True)
    return stack, plan


def record_project(root: Path, plan: Plan) -> None:
    """What a run that really starts leaves in the project: private modes, its seed and (unless the env gives it)
    its encryption secret, which the project's state is now written with."""
    paths = ProjectPaths(root)
    make_private(paths)
    record_seed(paths, plan.seed)
    if not os.environ.get(SECRET_ENV) and plan.encryption_secret:
        record_secret(paths, plan.encryption_secret)


def profile_option(f):
    return click.option("--profile", type=click.Choice([p.value for p in Profile]), default=None,
                        help="Which services to run (default: the stack file's spec.profile, normally full).")(f)


def cell_option(f):
    return click.option("--cell", type=click.Choice([c.value for c in Cell]), default=None,
                        help="local runs fake_cell; staging/prod point CELL_URL at a real cell and start no fake_cell.")(f)


def table_prefix_option(f):
    return click.option("--table-prefix", default=None,
                        help="DynamoDB table prefix (default: dev-<sanitized git branch>-).")(f)


def prod_option(f):
    return click.option("--i-understand-this-is-prod", "confirm_prod", is_flag=True, help="Required with --cell prod.")(f)
