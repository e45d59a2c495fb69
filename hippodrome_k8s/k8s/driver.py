"""The ``hippodrome k8s up`` sequence, with every side effect behind an injected seam.

    preflight -> cluster (create | reuse, API ready) -> images (build, pin, kind load) -> CRDs
    -> helm install/upgrade -> the encryption Secret -> apply the HippodromeStack
    -> wait for Ready (live progress)

On an existing cluster (``UpOptions.context``, ``k8s up --context NAME``) there is no kind: the
cluster is only waited for, and images are not loaded: built and content-tagged in the local docker
(which Docker Desktop's cluster sees), or with ``--no-build`` not touched at all (the cluster has
them already or pulls them), so that nothing there needs docker.

then the CLI either runs the supervised port-forwards in the foreground or
starts them in the background (``--detach``).  The driver decides nothing the
resolver already decided: the plan says which services, ports and layers.
State for later commands (cluster, context, namespace, stack, forwards, log
directory, test env) goes to ``.hippodrome/k8s/state.json``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from hippodrome_k8s.core.contract import ENCRYPTION_SECRET, ENCRYPTION_SECRET_KEY
from hippodrome_k8s.core.errors import K8sError
from hippodrome_k8s.core.model import HippodromeStack
from hippodrome_k8s.core.resolver import Plan, dns_name
from hippodrome_k8s.host.project import ProjectPaths, write_atomic
from hippodrome_k8s.k8s.api import ClusterApi
from hippodrome_k8s.k8s.cluster import DEFAULT_CLUSTER, ExistingCluster, KindCluster
from hippodrome_k8s.k8s.helm import CHART_DIR, NAMESPACE, RELEASE, ChartInstaller
from hippodrome_k8s.k8s.images import HIPPODROME_REPOSITORY, OPERATOR_REPOSITORY, ImageBuilder, images_for
from hippodrome_k8s.k8s.portforward import ForwardSpec
from hippodrome_k8s.k8s.preflight import Tools, checks_for, preflight
from hippodrome_k8s.k8s.progress import WaitOptions, wait_ready
from hippodrome_k8s.k8s.runner import Runner
from hippodrome_k8s.k8s.stackres import stack_resource

DASHBOARD_SERVICE = "hippodrome-dashboard"
DASHBOARD_PORT = 9000


@dataclass(frozen=True)
class UpOptions:
    cluster: str = DEFAULT_CLUSTER
    namespace: str = NAMESPACE
    build: bool = True
    wait: WaitOptions = WaitOptions()
    chart: Path = CHART_DIR
    context: str | None = None  # an existing cluster's kubeconfig context: no kind, no image loading


@dataclass
class Seams:
    runner: Runner
    helm_for: Callable[[str], ChartInstaller]  # kube context -> installer
    api_for: Callable[[str], ClusterApi]  # kube context -> API
    echo: Callable[[str], None] = print
    preflight: Callable[..., Tools] = preflight  # (runner, checks) -> Tools
    sleep: Callable[[float], None] | None = None
    steps: list[str] = field(default_factory=list)  # what ran, in order (read by tests and the summary)


@dataclass(frozen=True)
class UpResult:
    cluster: str  # the kind cluster's name; "" on an existing cluster (--context)
    context: str
    cluster_state: str  # created | reused | existing
    namespace: str
    stack: str
    status: dict[str, Any]
    forwards: tuple[ForwardSpec, ...]


def forward_specs(plan: Plan) -> tuple[ForwardSpec, ...]:
    """The dashboard on its port, then every selected service on its own, all on 127.0.0.1."""
    specs = [ForwardSpec("dashboard", DASHBOARD_SERVICE, DASHBOARD_PORT, plan.dashboard_port)]
    specs += [ForwardSpec(s.name, dns_name(plan.stack_name, s.name), s.port, s.port) for s in plan.services]
    return tuple(specs)


def chart_values(pinned: dict[str, str], stack_name: str) -> dict[str, Any]:
    """Helm values (keys from charts/hippodrome/values.yaml, whose schema refuses unknown keys):
    the content-pinned operator and fakes/dashboard images, and the stack the dashboard shows."""
    def ref(repository: str) -> str:
        return pinned.get(f"{repository}:dev", f"{repository}:dev")

    def image(repository: str) -> dict[str, str]:
        return {"repository": repository, "tag": ref(repository).rsplit(":", 1)[1]}

    return {
        "imagePullPolicy": "IfNotPresent",
        "operator": {"image": image(OPERATOR_REPOSITORY), "defaultServiceImage": ref(HIPPODROME_REPOSITORY)},
        "dashboard": {"image": image(HIPPODROME_REPOSITORY), "stackName": stack_name},
    }


def up(stack: HippodromeStack, plan: Plan, root: Path, options: UpOptions, seams: Seams) -> UpResult:
    echo, steps = seams.echo, seams.steps

    steps.append("preflight")
    tools = seams.preflight(seams.runner, checks_for(existing_cluster=options.context is not None, build=options.build))
    echo(f"preflight: {tools.summary()}")

    steps.append("cluster")
    sleep = {"sleep": seams.sleep} if seams.sleep else {}
    cluster: KindCluster | ExistingCluster
    if options.context is not None:
        cluster = ExistingCluster(seams.runner, options.context, **sleep)
        state = cluster.ensure()
        echo(f"cluster: the existing cluster of context {options.context!r} (nothing is created or loaded there)")
    else:
        cluster = KindCluster(seams.runner, options.cluster, **sleep)
        state = cluster.ensure()
        echo(f"cluster: {state} kind cluster {options.cluster!r} (context {cluster.context})")

    pinned = _images(plan, root, options, seams, cluster)

    crds = options.chart / "crds"
    if crds.is_dir():
        steps.append("crds")
        seams.runner.run(["kubectl", "--context", cluster.context, "apply", "--server-side", "--force-conflicts",
                          "-f", str(crds)], timeout=120).check()

    steps.append("helm")
    revision = seams.helm_for(cluster.context).install_or_upgrade(options.chart, RELEASE, options.namespace,
                                                                  chart_values(pinned, plan.stack_name))
    echo(f"helm: {revision}")

    api = seams.api_for(cluster.context)
    steps.append("secret")
    api.apply_secret(options.namespace, ENCRYPTION_SECRET, {ENCRYPTION_SECRET_KEY: plan.encryption_secret})

    steps.append("apply")
    body = stack_resource(stack, plan, options.namespace, pinned)
    applied = api.apply_stack(body)
    generation = int(applied.get("metadata", {}).get("generation") or 1)
    echo(f"stack: applied HippodromeStack {options.namespace}/{plan.stack_name} (generation {generation}): "
         f"profile {plan.profile.value}, cell {plan.cell.value}, {len(plan.services)} services in "
         f"{len(plan.layers)} layers")

    steps.append("wait")
    status = wait_ready(api, options.namespace, plan.stack_name, generation, echo, options.wait, **sleep)
    echo(f"stack: Ready ({status.get('readyServices', '?')} services)")
    return UpResult("" if options.context is not None else options.cluster, cluster.context, state,
                    options.namespace, plan.stack_name, status, forward_specs(plan))


def _images(plan: Plan, root: Path, options: UpOptions, seams: Seams,
            cluster: KindCluster | ExistingCluster) -> dict[str, str]:
    """Build (unless --no-build), content-tag and load the images; returns ``{"repo:dev": "repo:dev-<id12>"}``.
    On an existing cluster nothing is loaded, and with --no-build docker is not touched (no pinning)."""
    echo, steps = seams.echo, seams.steps
    images = images_for(plan)
    if options.context is not None and not options.build:
        echo(f"images: not built or loaded (--no-build): the cluster of context {options.context!r} must have or "
             f"pull {', '.join(i.ref for i in images)}")
        return {}
    builder = ImageBuilder(seams.runner, root)
    if options.build:
        steps.append("build")
        echo(f"images: building {', '.join(i.ref for i in images)}")
        builder.build(images)
    steps.append("load" if isinstance(cluster, KindCluster) else "pin")
    pinned = builder.pin(images)
    if isinstance(cluster, KindCluster):
        how = cluster.load_images(sorted(pinned.values()))
        echo(f"images: loaded {', '.join(sorted(pinned.values()))} (kind load {how})")
    else:
        echo(f"images: tagged {', '.join(sorted(pinned.values()))} in the local docker, not loaded: the cluster of "
             f"context {options.context!r} must see them (Docker Desktop does; else load them, or push)")
    return pinned


# --- state for later commands -----------------------------------------------------------------


@dataclass(frozen=True)
class RunState:
    """What `hippodrome k8s up` brought up, for the later commands (``.hippodrome/k8s/state.json``)."""

    cluster: str
    context: str
    namespace: str
    stack: str
    profile: str
    cell: str
    seed: str
    tablePrefix: str
    runDir: str
    testEnv: dict[str, str]
    forwards: tuple[ForwardSpec, ...]

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["forwards"] = [asdict(f) for f in self.forwards]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "RunState":
        values = {f.name: data[f.name] for f in fields(cls) if f.name != "forwards"}
        return cls(**values, forwards=tuple(ForwardSpec(**f) for f in data.get("forwards", [])))


def state_path(root: Path) -> Path:
    return ProjectPaths(root).k8s_state


def forwards_path(root: Path) -> Path:
    return ProjectPaths(root).k8s_forwards


def write_state(root: Path, result: UpResult, plan: Plan, run_dir: Path) -> None:
    state = RunState(cluster=result.cluster, context=result.context, namespace=result.namespace, stack=result.stack,
                     profile=plan.profile.value, cell=plan.cell.value, seed=plan.seed, tablePrefix=plan.table_prefix,
                     runDir=str(run_dir), testEnv=dict(plan.test_env), forwards=tuple(result.forwards))
    write_atomic(state_path(root), json.dumps(state.to_json(), indent=2))


def read_state(root: Path) -> RunState:
    try:
        return RunState.from_json(json.loads(state_path(root).read_text()))
    except FileNotFoundError:
        raise K8sError(f"no k8s stack was brought up from {root} (run `hippodrome k8s up` first)") from None
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise K8sError(f"cannot read {state_path(root)}: {e} (run `hippodrome k8s up` again)") from None


def specs_of(state: RunState) -> tuple[ForwardSpec, ...]:
    return state.forwards


def forwards_changed(running: tuple[ForwardSpec, ...], wanted: tuple[ForwardSpec, ...]) -> bool:
    """Whether background forwards started for ``running`` must be replaced to serve ``wanted``
    (another profile, stack or port: the old process would hold ports for services that are gone and
    miss the new ones)."""
    return set(running) != set(wanted)
