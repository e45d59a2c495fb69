"""`hippodrome k8s ...` with fakes at every seam: runner (docker/kind/kubectl), pyhelm3, the Kubernetes API.

The CLI is driven through ``main`` exactly as a user would; nothing touches docker, kind or a cluster.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hippodrome_k8s.cli.main import main
from hippodrome_k8s.core.errors import K8sError
from hippodrome_k8s.cli import k8s as k8s_cli
from hippodrome_k8s.k8s import driver
from hippodrome_k8s.core.contract import CONTROL_ANNOTATION
from hippodrome_k8s.k8s.api import FakeClusterApi, PodInfo, selector
from hippodrome_k8s.k8s.helm import FakeHelm
from hippodrome_k8s.k8s.preflight import preflight
from hippodrome_k8s.k8s.runner import Completed, FakeRunner
from hippodrome_k8s.core.loader import load_stack
from hippodrome_k8s.core.resolver import ResolveOptions, resolve

FIXTURE = Path(__file__).parent / "fixtures" / "stack.yaml"
IMAGE_ID = "sha256:0123456789abcdef0123456789abcdef"
CRDS = ["crds"] if (driver.CHART_DIR / "crds").is_dir() else []  # the real chart's, when it is there


def ready_status(obj: dict, services: list[str]) -> dict:
    return {
        "phase": "Ready", "observedGeneration": obj["metadata"]["generation"], "currentLayer": 3,
        "readyServices": f"{len(services)}/{len(services)}",
        "services": {n: {"status": "running", "layer": 0, "ready": True, "restarts": 0} for n in services},
    }


class World:
    """The fakes behind one CLI invocation, and what they saw."""

    def __init__(self, root: Path, *, clusters: str = "", ready: bool = True):
        self.root = root
        self.runner = FakeRunner()
        self.runner.answer("docker", "version", stdout="27.3.1")
        self.runner.answer("kind", "version", stdout="kind v0.33.0 go1.26.1 linux/amd64")
        self.runner.answer("kubectl", "--context", "kind-hippodrome", "get", "--raw", "/readyz", stdout="ok")
        self.runner.answer("kubectl", "version", stdout=json.dumps({"clientVersion": {"gitVersion": "v1.37.1"}}))
        self.runner.answer("helm", "version", stdout="v3.16.2")
        self.runner.answer("kind", "get", "clusters", stdout=clusters)
        self.runner.answer("docker", "image", "inspect", stdout=IMAGE_ID)
        self.helm = FakeHelm()
        self.api = FakeClusterApi()
        if ready:
            self.api.on_apply = lambda api, obj: obj.__setitem__(
                "status", ready_status(obj, [s["name"] for s in obj["spec"]["services"]]))
        self.steps: list[str] = []
        self.forwarded: list = []  # the RunState each foreground `up` forwarded
        self.spawned: list[Path] = []
        self.stopped: list[int] = []
        self.processes: list[subprocess.Popen] = []
        self.seams_made = 0

    def install(self, monkeypatch) -> None:
        def make_seams(echo):
            self.seams_made += 1
            return driver.Seams(runner=self.runner, helm_for=lambda ctx: self.helm, api_for=lambda ctx: self.api,
                                echo=echo, sleep=lambda s: None, steps=self.steps)

        monkeypatch.setattr(k8s_cli, "make_seams", make_seams)
        monkeypatch.setattr(k8s_cli, "make_api", lambda ctx: self.api)
        monkeypatch.setattr(k8s_cli, "run_forwards", lambda root, state, echo: self.forwarded.append(state) or 0)
        monkeypatch.setattr(k8s_cli, "spawn_forwarder", self.spawn)
        monkeypatch.setattr(k8s_cli, "stop_forwarder", self.stop)

    def spawn(self, root: Path) -> int:
        """Like the real forwarder: a live process whose pid the health file names (the CLI checks it is alive)."""
        child = subprocess.Popen(["sleep", "300"])
        self.processes.append(child)
        self.spawned.append(root)
        path = driver.forwards_path(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"pid": child.pid, "forwards": {}}))
        return child.pid

    def stop(self, pid: int) -> None:
        self.stopped.append(pid)
        child = next(c for c in self.processes if c.pid == pid)
        child.terminate()
        child.wait(10)

    def close(self) -> None:
        for child in self.processes:
            if child.poll() is None:
                child.kill()
                child.wait(10)


@pytest.fixture
def world(tmp_path, monkeypatch):
    shutil.copy(FIXTURE, tmp_path / "hippodrome.yaml")
    monkeypatch.setenv("HIPPODROME_RANDOM_SEED", "42")
    w = World(tmp_path)
    w.install(monkeypatch)
    yield w
    w.close()


def run(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
        raise SystemExit(0)
    captured = capsys.readouterr()
    return int(info.value.code or 0), captured.out, captured.err


def up(capsys, world: World, *flags: str) -> tuple[int, str, str]:
    return run(capsys, "k8s", "up", "--project-root", str(world.root), *flags)


def test_up_runs_every_step_in_order_then_forwards_in_the_foreground(world, capsys):
    code, out, err = up(capsys, world, "--profile", "ecom")
    assert code == 0, err
    assert world.steps == ["preflight", "cluster", "build", "load", *CRDS, "helm", "secret", "apply", "wait"]
    commands = world.runner.commands()
    create = commands.index(next(c for c in commands if c.startswith("kind create cluster --name hippodrome")))
    builds = [i for i, c in enumerate(commands) if c.startswith("docker build")]
    load = commands.index(next(c for c in commands if c.startswith("kind load docker-image")))
    assert create < builds[0] and builds[-1] < load
    built = [commands[i].split()[3] for i in builds]
    assert built == ["hippodrome/operator:dev", "hippodrome/fakes:dev", "hippodrome/examples:dev"]  # once each
    assert "hippodrome/console:dev" not in built  # console is not in the ecom profile
    pinned = "dev-0123456789ab"
    assert f"hippodrome/examples:{pinned}" in commands[load]
    (_, release, namespace, values), = world.helm.calls
    assert (release, namespace) == ("hippodrome", "hippodrome")
    assert values["operator"]["image"] == {"repository": "hippodrome/operator", "tag": pinned}
    assert values["dashboard"] == {"image": {"repository": "hippodrome/fakes", "tag": pinned}, "stackName": "dev"}
    assert values["imagePullPolicy"] == "IfNotPresent"
    cr = world.api.stacks[("hippodrome", "dev")]
    assert cr["spec"]["profile"] == "ecom" and cr["spec"]["cell"] == "local" and cr["spec"]["seed"] == "42"
    assert cr["spec"]["tablePrefix"].startswith("dev-")
    tags = {s["name"]: s["image"]["tag"] for s in cr["spec"]["services"]}
    assert tags.pop("console") == "dev" and tags.pop("admin_server") == pinned  # not selected; shares an image
    assert set(tags.values()) == {pinned}
    assert "stack: Ready" in out
    (state,), = [world.forwarded]
    forwards = {f.name: (f.service, f.local_port) for f in state.forwards}
    assert forwards == {
        "dashboard": ("hippodrome-dashboard", 9000), "moto": ("dev-moto", 9003), "fake_cognito": ("dev-fake-cognito", 9012),
        "fake_cell": ("dev-fake-cell", 9001), "controller": ("dev-controller", 9002),
        "ecom_ingest": ("dev-ecom-ingest", 9019), "ecom_indexer": ("dev-ecom-indexer", 9018),
    }
    assert world.spawned == []
    assert json.loads((world.root / ".hippodrome/k8s/state.json").read_text())["context"] == "kind-hippodrome"


def test_an_existing_cluster_is_reused_not_recreated(world, capsys):
    world.runner.answer("kind", "get", "clusters", stdout="other\nhippodrome\n")
    world.runner.answer("docker", "inspect", "-f", stdout="true\n")
    code, out, _ = up(capsys, world)
    assert code == 0
    commands = world.runner.commands()
    assert not any(c.startswith("kind create") for c in commands)
    assert "kind export kubeconfig --name hippodrome" in commands
    assert "docker start hippodrome-control-plane" not in commands
    assert "cluster: reused kind cluster 'hippodrome'" in out


def test_a_stopped_cluster_node_is_started_again(world, capsys):
    world.runner.answer("kind", "get", "clusters", stdout="hippodrome\n")
    world.runner.answer("docker", "inspect", "-f", stdout="false\n")
    assert up(capsys, world)[0] == 0
    assert "docker start hippodrome-control-plane" in world.runner.commands()


def test_cluster_name_flag(world, capsys):
    assert up(capsys, world, "--cluster", "mine")[0] == 0
    assert any(c.startswith("kind create cluster --name mine --config") and c.endswith("--wait 120s")
               for c in world.runner.commands())


def test_detach_starts_background_forwards_and_returns(world, capsys):
    code, out, _ = up(capsys, world, "--detach")
    assert code == 0
    assert world.forwarded == [] and world.spawned == [world.root]
    assert f"port-forwards running in the background (pid {world.processes[0].pid})" in out


def test_no_build_skips_docker_build_but_still_loads(world, capsys):
    assert up(capsys, world, "--no-build")[0] == 0
    assert "build" not in world.steps
    assert not any(c.startswith("docker build") for c in world.runner.commands())
    assert any(c.startswith("kind load docker-image") for c in world.runner.commands())


def test_no_build_with_a_missing_image_says_so(world, capsys):
    world.runner.answer("docker", "image", "inspect", returncode=1, stderr="No such image")
    code, _, err = up(capsys, world, "--no-build")
    assert code == 1 and "image hippodrome/operator:dev is not in the local docker (drop --no-build" in err


def test_cell_prod_needs_the_confirmation_before_anything_runs(world, capsys):
    code, _, err = up(capsys, world, "--cell", "prod")
    assert code == 2 and "--i-understand-this-is-prod" in err
    assert world.seams_made == 0 and world.runner.calls == []


def test_cell_prod_with_the_confirmation_warns_and_runs(world, capsys):
    code, _, err = up(capsys, world, "--cell", "prod", "--i-understand-this-is-prod")
    assert code == 0 and "PRODUCTION" in err
    cr = world.api.stacks[("hippodrome", "dev")]
    assert cr["spec"]["cell"] == "prod"
    assert "fake_cell" not in {f.name for f in world.forwarded[0].forwards}


def test_preflight_failure_stops_before_the_cluster(world, capsys):
    world.runner.programs["kind"] = None
    code, _, err = up(capsys, world)
    assert code == 2 and "kind: not found on PATH" in err and "Traceback" not in err
    assert world.steps == ["preflight"]
    assert not any(c.startswith("kind ") for c in world.runner.commands())


def test_helm_failure_is_a_clear_error(world, capsys):
    world.helm.fail_with = "helm install/upgrade of 'hippodrome' in 'hippodrome' failed: timed out waiting"
    code, _, err = up(capsys, world)
    assert code == 1 and "timed out waiting" in err and "apply" not in world.steps


def test_a_failing_service_is_named_with_its_pod_state_and_log(world, capsys):
    world.api.on_apply = None
    world.api.status_script = [
        {"phase": "Progressing", "observedGeneration": 1, "currentLayer": 0, "readyServices": "0/7",
         "services": {"moto": {"status": "starting", "layer": 0, "ready": False, "restarts": 0}}},
        {"phase": "Degraded", "observedGeneration": 1, "currentLayer": 1, "readyServices": "3/7",
         "services": {"moto": {"status": "running", "layer": 0, "ready": True, "restarts": 0},
                      "controller": {"status": "starting", "layer": 1, "ready": False, "restarts": 4,
                                     "message": "CrashLoopBackOff"}}},
    ]
    world.api.pod_table[selector("dev", "controller")] = [
        PodInfo("dev-controller-7d9f-abcde", "Running", False, restarts=4,
                state="waiting: CrashLoopBackOff (back-off 40s restarting failed container)", created="2026-01-01T00:00:00")]
    world.api.logs["dev-controller-7d9f-abcde"] = "\n".join(f"line {i}" for i in range(50)) + "\nKeyError: 'ACCOUNTS_TABLE'"
    code, out, err = up(capsys, world)
    assert code == 1
    assert "layer 0  moto" in out and "Degraded · layer 1 · 3/7 ready" in out
    assert "service 'controller' of stack 'dev' is failing: restarted 4 times without becoming ready" in err
    assert "pod dev-controller-7d9f-abcde: Running, not ready, 4 restarts, waiting: CrashLoopBackOff" in err
    assert "KeyError: 'ACCOUNTS_TABLE'" in err and "line 31" in err and "line 30" not in err
    assert world.forwarded == []


def test_status_waits_for_the_current_generation(world, capsys):
    """A Ready status from the previous generation is not believed."""
    world.api.on_apply = None
    world.api.status_script = [
        {"phase": "Ready", "observedGeneration": 0},
        {"phase": "Ready", "observedGeneration": 1, "readyServices": "7/7", "services": {}},
    ]
    assert up(capsys, world)[0] == 0
    assert sum(1 for c in world.api.calls if c.startswith("get ")) >= 2


def test_crds_are_applied_before_helm_when_the_chart_has_them(tmp_path):
    chart = tmp_path / "chart"
    (chart / "crds").mkdir(parents=True)
    w = World(tmp_path)
    stack = load_stack(FIXTURE)
    plan = resolve(stack, ResolveOptions(seed="1", git_branch="main"))
    seams = driver.Seams(runner=w.runner, helm_for=lambda ctx: w.helm, api_for=lambda ctx: w.api, echo=lambda s: None,
                         preflight=preflight, sleep=lambda s: None, steps=w.steps)
    result = driver.up(stack, plan, tmp_path, driver.UpOptions(chart=chart), seams)
    assert w.steps == ["preflight", "cluster", "build", "load", "crds", "helm", "secret", "apply", "wait"]
    assert f"kubectl --context kind-hippodrome apply --server-side --force-conflicts -f {chart / 'crds'}" in \
        w.runner.commands()
    assert result.cluster_state == "created"


def test_up_on_an_existing_context_needs_neither_kind_nor_docker(world, capsys):
    """`k8s up --context NAME --no-build`: an existing cluster that has the images; kind and docker are not even
    installed (the real path is tests/cluster/test_cli_context.py)."""
    world.runner.programs.update(kind=None, docker=None)
    world.runner.answer("kubectl", "--context", "shared", "get", "--raw", "/readyz", stdout="ok")
    code, out, err = up(capsys, world, "--context", "shared", "--no-build", "--detach")
    assert code == 0, err
    assert world.steps == ["preflight", "cluster", *CRDS, "helm", "secret", "apply", "wait"]
    assert not [c for c in world.runner.commands() if c.startswith(("kind ", "docker "))]
    assert "preflight: kubectl v1.37.1, helm v3.16.2" in out and "not built or loaded (--no-build)" in out
    values = world.helm.calls[0][3]
    assert values["operator"]["image"] == {"repository": "hippodrome/operator", "tag": "dev"}
    state = driver.read_state(world.root)
    assert (state.cluster, state.context) == ("", "shared")
    code, out, _ = run(capsys, "k8s", "status", "--project-root", str(world.root))
    assert code == 0 and "context shared" in out


def test_up_on_an_existing_context_builds_and_tags_but_loads_nothing(world, capsys):
    world.runner.programs["kind"] = None
    world.runner.answer("kubectl", "--context", "desktop", "get", "--raw", "/readyz", stdout="ok")
    code, _, err = up(capsys, world, "--context", "desktop", "--detach")
    assert code == 0, err
    assert world.steps == ["preflight", "cluster", "build", "pin", *CRDS, "helm", "secret", "apply", "wait"]
    assert any(c.startswith("docker build") for c in world.runner.commands())
    assert not any(c.startswith("kind ") for c in world.runner.commands())
    assert world.helm.calls[0][3]["operator"]["image"]["tag"] == "dev-0123456789ab"


def test_down_never_deletes_a_cluster_it_did_not_create(world, capsys):
    world.runner.answer("kubectl", "--context", "shared", "get", "--raw", "/readyz", stdout="ok")
    assert up(capsys, world, "--context", "shared", "--no-build", "--detach")[0] == 0
    code, _, err = run(capsys, "k8s", "down", "--delete-cluster", "--project-root", str(world.root))
    assert code == 2 and "did not create and will not delete" in err
    assert ("hippodrome", "dev") in world.api.stacks and not any(c.startswith("kind ") for c in world.runner.commands())


def test_cluster_and_context_together_are_a_usage_error(world, capsys):
    code, _, err = up(capsys, world, "--context", "shared", "--cluster", "other")
    assert code == 2 and "give one of them" in err and world.runner.calls == []


# --- the other commands, against the state `up` left -----------------------------------------


def test_status_shows_services_and_forward_health(world, capsys):
    up(capsys, world, "--detach")
    from hippodrome_k8s.k8s.portforward import ForwardHealth, ForwardState, write_health_file

    write_health_file(driver.forwards_path(world.root), {
        "controller": ForwardHealth("controller", "127.0.0.1:9002", ForwardState.reconnecting, None,
                                    "target changed to dev-controller-2:9002", "connection refused", 3)})
    code, out, _ = run(capsys, "k8s", "status", "--project-root", str(world.root))
    assert code == 0
    assert "dev: Ready · 8/8 ready" in out and "controller" in out
    assert "reconnecting" in out and "(last error: connection refused)" in out


def test_control_sets_the_annotation_and_waits_for_the_ack(world, capsys):
    up(capsys, world, "--detach")

    def operator(api, obj):
        request = json.loads(obj["metadata"]["annotations"][CONTROL_ANNOTATION])
        obj["status"]["lastControl"] = dict(request, result="ok")

    world.api.on_annotate = operator
    code, out, _ = run(capsys, "k8s", "control", "restart", "controller", "--project-root", str(world.root))
    assert code == 0 and "restart: controller: ok" in out
    request = json.loads(world.api.stacks[("hippodrome", "dev")]["metadata"]["annotations"][CONTROL_ANNOTATION])
    assert request["action"] == "restart" and request["service"] == "controller" and len(request["id"]) == 36


def test_a_refused_control_request_is_an_error_naming_the_reason(world, capsys):
    up(capsys, world, "--detach")

    def operator(api, obj):
        request = json.loads(obj["metadata"]["annotations"][CONTROL_ANNOTATION])
        obj["status"]["lastControl"] = dict(request, result="error: no selected service named 'nope'")

    world.api.on_annotate = operator
    code, _, err = run(capsys, "k8s", "control", "stop", "nope", "--project-root", str(world.root))
    assert code == 1 and "stop nope: no selected service named 'nope'" in err


def test_logs_are_printed_and_mirrored_into_the_run_dir(world, capsys):
    up(capsys, world, "--detach")
    world.api.pod_table[selector("dev", "controller")] = [PodInfo("dev-controller-1", "Running", True, created="a")]
    world.api.logs["dev-controller-1"] = "hello\nworld\n"
    code, out, _ = run(capsys, "k8s", "logs", "controller", "--project-root", str(world.root))
    assert code == 0 and "hello\nworld" in out
    run_dir = Path(json.loads(driver.state_path(world.root).read_text())["runDir"])
    assert (run_dir / "controller.log").read_text() == "hello\nworld\n"
    assert (world.root / ".hippodrome/logs/latest").resolve() == run_dir.resolve()


def test_down_deletes_the_stack_and_optionally_the_cluster(world, capsys):
    up(capsys, world, "--detach")
    world.runner.answer("kind", "get", "clusters", stdout="hippodrome\n")
    code, out, _ = run(capsys, "k8s", "down", "--delete-cluster", "--project-root", str(world.root))
    assert code == 0 and "stack deleted." in out
    assert ("hippodrome", "dev") not in world.api.stacks
    assert "kind delete cluster --name hippodrome" in world.runner.commands()
    assert not driver.state_path(world.root).exists()


def test_commands_before_up_say_what_to_do(world, capsys):
    code, _, err = run(capsys, "k8s", "status", "--project-root", str(world.root))
    assert code == 1 and "run `hippodrome k8s up` first" in err


def test_env_prints_localhost_urls(world, capsys):
    up(capsys, world, "--detach")
    code, out, _ = run(capsys, "k8s", "env", "--project-root", str(world.root))
    assert code == 0 and "CONTROLLER_URL=http://127.0.0.1:9002" in out and "HIPPODROME_RANDOM_SEED=42" in out


def test_runner_fake_answers_by_longest_prefix():
    runner = FakeRunner()
    runner.answer("kind", stdout="short")
    runner.answer("kind", "get", fn=lambda argv: Completed(argv, 0, "long"))
    assert runner.run(["kind", "get", "clusters"], timeout=1).stdout == "long"
    assert runner.run(["kind", "version"], timeout=1).stdout == "short"


# --- the encryption secret, the background forwards, the data ----------------------------------------


def test_a_custom_encryption_secret_reaches_the_cluster_as_a_secret(world, capsys, monkeypatch):
    """Regression: a custom HIPPODROME_ENCRYPTION_SECRET never reached the cluster."""
    monkeypatch.setenv("HIPPODROME_ENCRYPTION_SECRET", "my-own-secret")
    assert up(capsys, world, "--detach")[0] == 0
    assert world.api.secrets[("hippodrome", "hippodrome-encryption")] == {"HIPPODROME_ENCRYPTION_SECRET": "my-own-secret"}
    assert world.api.calls.index("secret hippodrome/hippodrome-encryption") < world.api.calls.index("apply hippodrome/dev")
    first = world.api.stacks[("hippodrome", "dev")]["metadata"]["annotations"]["hippodrome.dev/encryption-secret-hash"]
    assert "my-own-secret" not in json.dumps(world.api.stacks[("hippodrome", "dev")])
    monkeypatch.setenv("HIPPODROME_ENCRYPTION_SECRET", "another-secret")
    assert up(capsys, world, "--detach")[0] == 0
    second = world.api.stacks[("hippodrome", "dev")]["metadata"]["annotations"]["hippodrome.dev/encryption-secret-hash"]
    assert second != first, "a changed secret changes the hash the operator rolls the pods on"
    assert world.api.secrets[("hippodrome", "hippodrome-encryption")] == {"HIPPODROME_ENCRYPTION_SECRET": "another-secret"}


def test_without_a_custom_secret_the_projects_generated_one_is_passed(world, capsys, monkeypatch):
    """Issue 14: it was the published default, with which anyone who knew the seed could forge a token."""
    monkeypatch.delenv("HIPPODROME_ENCRYPTION_SECRET", raising=False)
    code, _, err = up(capsys, world, "--detach")
    assert code == 0 and "encryption secret: generated for this project" in err
    secret_file = world.root / ".hippodrome" / "state" / "encryption-secret"
    generated = secret_file.read_text().strip()
    assert len(generated) >= 32 and generated != "1234567890ABCDEF" and secret_file.stat().st_mode & 0o777 == 0o600
    assert world.api.secrets[("hippodrome", "hippodrome-encryption")] == {"HIPPODROME_ENCRYPTION_SECRET": generated}
    assert up(capsys, world, "--detach")[0] == 0  # the next run: the same one
    assert world.api.secrets[("hippodrome", "hippodrome-encryption")] == {"HIPPODROME_ENCRYPTION_SECRET": generated}


def test_state_written_under_the_old_default_keeps_it_with_a_note(world, capsys, monkeypatch):
    monkeypatch.delenv("HIPPODROME_ENCRYPTION_SECRET", raising=False)
    state = world.root / ".hippodrome" / "state"
    state.mkdir(parents=True)
    (state / "fake_cell.sqlite3").write_bytes(b"keys encrypted with the old default")
    code, _, err = up(capsys, world, "--detach")
    assert code == 0 and "written with the old published encryption secret, so it keeps using it" in err
    assert world.api.secrets[("hippodrome", "hippodrome-encryption")] == {"HIPPODROME_ENCRYPTION_SECRET": "1234567890ABCDEF"}


def test_detach_again_with_another_profile_replaces_the_background_forwards(world, capsys):
    """Regression: the old forward process kept running, holding the old ports and missing the new ones."""
    assert up(capsys, world, "--detach", "--profile", "core")[0] == 0
    old = world.processes[0].pid
    code, out, _ = up(capsys, world, "--detach", "--profile", "ecom")
    new = world.processes[1].pid
    assert code == 0 and world.stopped == [old] and len(world.spawned) == 2
    assert f"the set changed; stopped the old ones (pid {old})" in out
    assert f"port-forwards running in the background (pid {new})" in out
    code, out, _ = up(capsys, world, "--detach", "--profile", "ecom")
    assert code == 0 and world.stopped == [old] and len(world.spawned) == 2, "same forwards: the process is kept"
    assert f"(pid {new})" in out


@pytest.mark.parametrize("before, after, changed", [
    ((), (), False),
    (("a", 9001), ("a", 9001), False),
    (("a", 9001), ("a", 9002), True),                      # another port
    (("a", 9001), ("b", 9001), True),                      # another service
])
def test_forwards_changed(before, after, changed):
    from hippodrome_k8s.k8s.portforward import ForwardSpec

    def specs(pair):
        return (ForwardSpec(pair[0], f"dev-{pair[0]}", pair[1], pair[1]),) if pair else ()
    assert driver.forwards_changed(specs(before), specs(after)) is changed


def test_down_keeps_the_stateful_data_unless_asked(world, capsys):
    up(capsys, world, "--detach")
    claims = "hippodrome.dev/stack=dev,app.kubernetes.io/managed-by=hippodrome-operator"
    world.api.claim_table[claims] = ["dev-fake-cell-state", "dev-moto-state"]
    code, out, _ = run(capsys, "k8s", "down", "--project-root", str(world.root))
    assert code == 0 and "kept 2 PersistentVolumeClaim(s)" in out and "--delete-data" in out
    assert world.api.claim_table[claims] == ["dev-fake-cell-state", "dev-moto-state"]
    up(capsys, world, "--detach")
    code, out, _ = run(capsys, "k8s", "down", "--delete-data", "--project-root", str(world.root))
    assert code == 0 and "deleted 2 PersistentVolumeClaim(s)" in out and claims not in world.api.claim_table


def test_stop_forwarder_waits_for_the_process_to_be_gone():
    child = subprocess.Popen(["sleep", "300"])
    real_stop = k8s_cli.stop_forwarder  # no `world` fixture here: the real one
    real_stop(child.pid)
    assert child.wait(5) == -15
    stubborn = subprocess.Popen([sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, "
                                 "signal.SIG_IGN); print('ready', flush=True); time.sleep(300)"], stdout=subprocess.PIPE)
    assert stubborn.stdout.readline().strip() == b"ready"
    try:
        with pytest.raises(K8sError, match=f"did not stop within 0.5s; `kill {stubborn.pid}`"):
            real_stop(stubborn.pid, timeout=0.5)
    finally:
        stubborn.kill()
        stubborn.wait(5)
        stubborn.stdout.close()


def test_up_uses_and_records_the_projects_seed(world, capsys, monkeypatch):
    """The Kubernetes engine uses the seed the local engine recorded (and records its own), so Tilt,
    `hippodrome up` and `hippodrome k8s up` agree on the seed data."""
    monkeypatch.delenv("HIPPODROME_RANDOM_SEED")
    stack = yaml.safe_load((world.root / "hippodrome.yaml").read_text())
    stack["spec"].pop("seed", None)
    (world.root / "hippodrome.yaml").write_text(yaml.safe_dump(stack))
    (world.root / ".hippodrome" / "state").mkdir(parents=True)
    (world.root / ".hippodrome" / "state" / "seed").write_text("777\n")
    code, _, err = up(capsys, world, "--detach")
    assert code == 0, err
    assert world.api.stacks[("hippodrome", "dev")]["spec"]["seed"] == "777"
    assert "seed: 777 (from the last run;" in err
    monkeypatch.setenv("HIPPODROME_RANDOM_SEED", "9")
    code, _, err = up(capsys, world, "--detach")
    assert code == 0, err
    assert (world.root / ".hippodrome" / "state" / "seed").read_text().strip() == "9"


def test_the_background_forwarder_really_starts_and_its_early_exit_is_reported(tmp_path):
    """Regression (found by tests/cluster/test_cli_context.py): `k8s up --detach` died with AttributeError
    (`driver.k8s_dir`, gone in a refactor) after the stack was Ready, because every test here replaced
    spawn_forwarder. Unreplaced: the real child starts, finds no stack and exits, and that is reported."""
    with pytest.raises(K8sError) as caught:
        k8s_cli.spawn_forwarder(tmp_path)
    assert "the background port-forwards exited" in str(caught.value)
    assert "no k8s stack was brought up" in str(caught.value)
    assert (tmp_path / ".hippodrome" / "k8s" / "port-forward.log").exists()
