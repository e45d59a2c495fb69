"""The images' build inputs: numeric non-root users (so runAsNonRoot can be checked) and build contexts
without caches or local state (so an unchanged tree rebuilds to the same image id and `k8s up` rolls nothing).

No Docker engine here: the Dockerfiles and .dockerignore files are read, with Docker's rules.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from dockerfiles import parse
from hippodrome_k8s.k8s.images import PLATFORM_IMAGES
from hippodrome_k8s.core.loader import load_stack

ROOT = Path(__file__).resolve().parents[2]


def dockerfiles() -> list[Path]:
    paths = {ROOT / i.dockerfile for i in PLATFORM_IMAGES if i.dockerfile}
    for service in load_stack(ROOT / "hippodrome.yaml").spec.services:
        if service.image and service.image.build:
            paths.add(ROOT / service.image.build.dockerfile)
    return sorted(paths)


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: str(p.relative_to(ROOT)))
def test_every_buildable_stage_runs_as_a_numeric_non_root_user(dockerfile: Path) -> None:
    """Regression: `USER app` / `USER node` (names) could not be checked by runAsNonRoot."""
    parsed = parse(dockerfile)
    targets = {parsed.last.name} | ({"dev"} if "dev" in parsed.stages else set())
    for target in targets:
        user = parsed.stage(target).effective_user()
        assert user is not None and re.fullmatch(r"[1-9][0-9]*(:[0-9]+)?", user), f"{dockerfile}: {target}: USER {user}"


@pytest.mark.parametrize("dockerfile", dockerfiles(), ids=lambda p: str(p.relative_to(ROOT)))
def test_a_plain_docker_build_is_the_release_image_not_the_dev_one(dockerfile: Path) -> None:
    parsed = parse(dockerfile)
    assert parsed.last.name != "dev", "`docker build` without --target builds the last stage: the release one"
    assert not parsed.last.all_owned(), "the release image keeps /app owned by root (read-only to the service)"


def dockerignore_excludes(patterns: list[str], path: str) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parent directories decides."""
    def regex(pattern: str) -> re.Pattern[str]:
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return re.compile(out + r"\Z")

    parts = path.split("/")
    excluded = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw[1:] if negate else raw
        if any(regex(pattern.strip("/")).match("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


def patterns(ignore_file: Path) -> list[str]:
    return [line.strip() for line in ignore_file.read_text().splitlines() if line.strip() and not line.startswith("#")]


@pytest.mark.parametrize("path, excluded", [
    (".hippodrome/state/fake_cell.db", True),          # local state: changes on every run
    (".hippodrome/logs/latest/controller.log", True),
    ("fakes/fake_cell/__pycache__/server.cpython-311.pyc", True),
    ("hippodrome_k8s/__pycache__/model.cpython-311.pyc", True),
    ("examples/console/node_modules/x/index.js", True),
    (".git/HEAD", True), (".venv/bin/python", True), (".tools/helm3/helm", True),
    (".pytest_cache/v/cache/nodeids", True), ("test-artifacts/dashboard.png", True),
    ("hippodrome.egg-info/PKG-INFO", True),
    ("fakes/fake_cell/server.py", False),              # what the images are made of stays
    ("hippodrome_k8s/core/model.py", False), ("operator/hippodrome_operator/plan.py", False),
    ("examples/controller/app.py", False), ("pyproject.toml", False), ("README.md", False),
])
def test_the_project_build_context_leaves_out_caches_and_state(path: str, excluded: bool) -> None:
    """Regression: no .dockerignore: __pycache__ and .hippodrome went into the context, image ids churned
    and `k8s up` rolled pods needlessly."""
    assert dockerignore_excludes(patterns(ROOT / ".dockerignore"), path) is excluded


def test_the_console_build_context_leaves_out_node_modules() -> None:
    ignore = patterns(ROOT / "examples" / "console" / ".dockerignore")
    assert dockerignore_excludes(ignore, "node_modules/express/index.js")
    assert not dockerignore_excludes(ignore, "server.js") and not dockerignore_excludes(ignore, "public/app.js")
