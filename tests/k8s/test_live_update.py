"""Tilt's live_update against the images it syncs into: the Tiltfile and the Dockerfiles read together.

Regression: Tilt synced as the container user into a root-owned /app (and the operator ran with a
read-only root filesystem), the operator's synced package was not on sys.path, and no container ran a
reloader, so a sync either failed (and Tilt fell back to a full rebuild) or changed nothing.

For every image the Tiltfile builds with a live_update, and every container that runs it (the chart's,
rendered by real helm as Tilt renders it, and the operator's children built from the stack Tilt
applies, in the mode the chart tells the operator), this checks: the synced paths exist in the image
built from the stage Tilt builds, come from the same project files, are owned by the image's user;
each container runs a reloader whose paths Tilt syncs, the module it runs is imported from the synced
tree, and every synced path is watched by some container.  A Docker engine proves it for real in the
kind tier; here no Docker engine exists, so the images are read from their Dockerfiles.
"""

from __future__ import annotations

import shlex
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

pytest.importorskip("starlark")

from dockerfiles import parse  # noqa: E402
from hippodrome_operator.desired import desired_from_body  # noqa: E402
from test_tiltfile import FIXTURE, ROOT, STACKS, run_tilt  # noqa: E402

WATCHFILES_OPTIONS = {"--target-type", "--filter", "--ignore-paths", "--args", "--verbosity", "--sigint-timeout",
                      "--grace-period", "--sigkill-timeout"}


def under(path: str, root: str) -> bool:
    p, r = PurePosixPath(path), PurePosixPath(root)
    return p == r or r in p.parents


def reloader(container: dict[str, Any], workdir: str) -> tuple[list[str], list[str]] | None:
    """(the command it restarts, the paths it watches) or None when the container runs no reloader."""
    command = container.get("command") or []
    if command[:1] == ["watchfiles"]:
        rest, positional = command[1:], []
        while rest:
            word = rest.pop(0)
            if word in WATCHFILES_OPTIONS:
                rest.pop(0)
            elif not word.startswith("--"):
                positional.append(word)
        target, *paths = positional
        return shlex.split(target), paths or [workdir]
    if command[:2] == ["node", "--watch"]:
        script = command[2]
        return command, [script if script.startswith("/") else f"{container.get('workingDir', workdir)}/{script}"]
    return None


def containers_of(tilt, repository: str) -> list[tuple[str, dict[str, Any]]]:
    """Every container Tilt's deploy would run from ``repository``: the chart's, and the operator's children."""
    found = []
    for obj in tilt.objects:
        if obj.kind == "Deployment":
            for c in obj.body["spec"]["template"]["spec"]["containers"]:
                if c["image"].rsplit(":", 1)[0] == repository:
                    found.append((f"chart {obj.name}", c))
    operator = next(o.body for o in tilt.objects if o.kind == "Deployment" and o.name == "hippodrome-operator")
    env = {e["name"]: e.get("value") for e in operator["spec"]["template"]["spec"]["containers"][0]["env"]}
    body = next(o.body for o in tilt.objects if o.kind == "HippodromeStack")
    body = {**body, "metadata": {**body["metadata"], "uid": "u1", "generation": 1}}
    desired = desired_from_body(body, default_image=env["HIPPODROME_DEFAULT_IMAGE"] + ":tilt-built",
                                live_update=env["HIPPODROME_LIVE_UPDATE"] == "true")
    assert desired.error is None, desired.error
    for ps in desired.services:
        for c in desired.deployment(ps, 1)["spec"]["template"]["spec"]["containers"]:
            if c["image"].rsplit(":", 1)[0] == repository:
                found.append((f"service {ps.name}", c))
    return found


def live_update_images(stack: Path):
    tilt = run_tilt(stack, "full")
    return tilt, [b for b in tilt.by("docker_build") if b["live_update"]]


@pytest.mark.parametrize("stack", STACKS, ids=lambda p: p.name)
def test_synced_paths_exist_in_the_image_and_belong_to_its_user(stack: Path) -> None:
    _, builds = live_update_images(stack)
    assert builds, "the Tiltfile syncs into no image at all"
    for build in builds:
        dockerfile = parse(ROOT / build["dockerfile"])
        assert build["target"] in dockerfile.stages, f"{build['dockerfile']} has no stage {build['target']!r}"
        stage = dockerfile.stage(build["target"])
        user = stage.effective_user()
        assert user and user.isdigit() and user != "0", f"{build['ref']}: the user must be numeric, not root"
        context = ROOT / build["context"]
        for step in build["live_update"][1:]:
            local, remote = ROOT / step["local_path"], step["remote_path"]
            assert local.exists(), step
            assert dockerfile.exists(stage, remote, context), f"{build['ref']}: {remote} is not in the image"
            source = dockerfile.source_of(stage, remote, context)
            assert source is None or source.resolve() == local.resolve(), \
                f"{build['ref']}: {remote} holds {source} in the image, but Tilt syncs {local} there"
            assert dockerfile.owner(stage, remote) == user, \
                f"{build['ref']}: {remote} is not owned by the image's user {user}: Tilt's sync would fail"


@pytest.mark.parametrize("stack", STACKS, ids=lambda p: p.name)
def test_every_container_of_a_synced_image_reloads_what_is_synced(stack: Path) -> None:
    tilt, builds = live_update_images(stack)
    for build in builds:
        dockerfile = parse(ROOT / build["dockerfile"])
        stage = dockerfile.stage(build["target"])
        context = ROOT / build["context"]
        synced = [s["remote_path"] for s in build["live_update"][1:]]
        containers = containers_of(tilt, build["ref"])
        assert containers, f"nothing runs {build['ref']}"
        watched_anywhere: list[str] = []
        for who, container in containers:
            workdir = container.get("workingDir") or stage.effective_workdir()
            found = reloader(container, workdir)
            assert found, f"{who} runs {container['command']} with no reloader: a sync into it changes nothing"
            command, watched = found
            watched_anywhere += watched
            for path in watched:
                assert any(under(path, s) for s in synced), f"{who} watches {path}, which Tilt does not sync"
                assert dockerfile.exists(stage, path, context), f"{who} watches {path}, missing from the image"
            if command[:2] == ["python", "-m"]:
                module = command[2].replace(".", "/")
                package = module.split("/")[0]
                search = [workdir] + [p for p in stage.effective_env().get("PYTHONPATH", "").split(":") if p]
                root = next((p for p in search if dockerfile.source_of(stage, f"{p}/{package}", context) is not None),
                            None)  # sys.path: the working directory (python -m), PYTHONPATH, then site-packages
                assert root is not None, f"{who}: {package} would be imported from site-packages, not the synced source"
                home = next(f"{root}/{module}{suffix}" for suffix in ("", ".py")
                            if dockerfile.source_of(stage, f"{root}/{module}{suffix}", context) is not None)
                assert any(under(home, s) for s in synced), f"{who}: {command[2]} runs from {home}, which is not synced"
        for path in synced:
            assert any(under(w, path) or under(path, w) for w in watched_anywhere), \
                f"{build['ref']}: nothing reloads what Tilt syncs to {path}"


def test_the_operator_may_write_its_synced_source_only_in_live_update_mode() -> None:
    tilt = run_tilt(FIXTURE, "core")
    operator = next(o.body for o in tilt.objects if o.kind == "Deployment" and o.name == "hippodrome-operator")
    assert operator["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"] is False


def test_without_live_update_the_children_run_their_plain_command() -> None:
    tilt = run_tilt(FIXTURE, "full")
    body = next(o.body for o in tilt.objects if o.kind == "HippodromeStack")
    body = {**body, "metadata": {**body["metadata"], "uid": "u1"}}
    desired = desired_from_body(body, live_update=False)
    for ps in desired.services:
        command = desired.deployment(ps, 1)["spec"]["template"]["spec"]["containers"][0]["command"]
        assert command == list(ps.container_command)
