"""``plan(desired, observed) -> Decision``: the operator's one decision, pure.

Rules (in one place):

- Layer gating: layer N+1's children are created (or rolled) only when every
  blocking, not-stopped service in layers <= N has a Deployment that is rolled
  out (``rolled_out``: kubectl's rule) and carries the wanted spec hash.
  Non-blocking and stopped services never gate.
- Convergence: a child whose spec hash differs is patched (it rolls); children
  of services no longer selected are deleted, highest layer first, one layer
  per round (the next round comes when their DELETED events arrive).
- Control requests (restart / stop / start, from the ``hippodrome.dev/control``
  annotation) are applied once per id; stop/start edit the stopped set that
  the ``hippodrome.dev/stopped`` annotation remembers.
- Deletion: ``teardown(observed)`` deletes the highest layer still present and
  waits for it to be gone before the next; done when no child is left.
- State: a stateful service's PersistentVolumeClaim is created with its layer
  (before its Deployment can be ready) and never patched or deleted here: a
  removed service, and a deleted stack, keep their data.
- An invalid spec (``desired.error``) plans nothing: the children stay as they
  are and the status says ``Failed``.
- A spec the API server refused (a 4xx on create/patch, ``rejected``) is not
  retried: once the status records the refused generation, nothing is planned
  for it; a new generation (the spec changed) is planned again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from hippodrome_k8s.core.contract import STOPPED_ANNOTATION, ControlAction, ControlRequest, ControlResult
from hippodrome_k8s.core.resolver import PlannedService

from hippodrome_operator import children
from hippodrome_operator.children import ANNOTATION_HASH, ANNOTATION_RESTARTED_AT, LABEL_LAYER, LABEL_SERVICE, StackRef

ACTIONS = tuple(a.value for a in ControlAction.for_cluster())

Verb = Literal["create", "patch", "delete"]
Kind = Literal["Deployment", "Service", "PersistentVolumeClaim", "HippodromeStack"]


# --- inputs ----------------------------------------------------------------------------------


def parse_stopped(raw: str | None) -> frozenset[str]:
    return frozenset(s.strip() for s in (raw or "").split(",") if s.strip())


def format_stopped(names: Iterable[str]) -> str | None:
    return ",".join(sorted(names)) or None


@dataclass(frozen=True)
class Desired:
    stack: StackRef
    services: tuple[PlannedService, ...] = ()  # selected, in layer order
    error: str | None = None  # the spec fails the model's validators / cannot be resolved
    stopped: frozenset[str] = frozenset()
    control: ControlRequest | None = None
    control_error: str | None = None  # the control annotation is malformed (``control`` is then a stand-in)
    default_image: str = "hippodrome/fakes:dev"
    live_update: bool = False  # Tilt's dev mode: reloading services run under a reloader (children.command_of)
    state_storage: str = "pvc"  # stateful services' state: "pvc" (a claim) or "emptyDir"
    state_size: str = "1Gi"
    secret_hash: str | None = None  # of the encryption Secret, from the stack's annotation: a change rolls pods
    profile: str = ""
    cell: str = ""
    now: str = "1970-01-01T00:00:00Z"  # for restart annotations
    generation: int = 0  # metadata.generation of the stack this was built from
    # The children's manifests, built once per Desired (building and hashing them is most of plan()'s cost).
    manifests: dict[tuple[Any, ...], dict[str, Any]] = field(default_factory=dict, init=False, compare=False, repr=False)

    def deployment(self, ps: PlannedService, replicas: int) -> dict[str, Any]:
        key = ("Deployment", ps.name, replicas)
        if key not in self.manifests:
            self.manifests[key] = children.deployment(self.stack, ps, default_image=self.default_image, replicas=replicas,
                                                      live_update=self.live_update, state_storage=self.state_storage,
                                                      secret_hash=self.secret_hash)
        return self.manifests[key]

    def service(self, ps: PlannedService) -> dict[str, Any]:
        key = ("Service", ps.name)
        if key not in self.manifests:
            self.manifests[key] = children.service(self.stack, ps)
        return self.manifests[key]


@dataclass(frozen=True)
class ChildState:
    """What the plan needs to know of one observed Deployment (or Service)."""

    name: str
    service: str
    layer: int
    spec_hash: str | None = None
    replicas: int = 1  # desired, from spec
    pods: int = 0  # status.replicas: pods that still exist
    available: bool = False  # available for its current generation
    deleting: bool = False
    failure: str | None = None  # e.g. ProgressDeadlineExceeded: ...


@dataclass(frozen=True)
class Observed:
    deployments: Mapping[str, ChildState] = field(default_factory=dict)  # by service name
    services: Mapping[str, ChildState] = field(default_factory=dict)
    restarts: Mapping[str, int] = field(default_factory=dict)
    last_control_id: str | None = None
    rejected_generation: int | None = None  # status.rejectedGeneration: the API server refused that spec
    claims: frozenset[str] = frozenset()  # services whose PersistentVolumeClaim exists


def _labels(obj: Mapping[str, Any]) -> Mapping[str, str]:
    return obj.get("metadata", {}).get("labels") or {}


def rolled_out(obj: Mapping[str, Any]) -> bool:
    """The rule ``kubectl rollout status`` uses: the controller has seen this generation, every wanted
    replica runs the new template, no old pod is left, and the new ones are available.  Counting
    ``availableReplicas`` alone trusts an old pod in the middle of a rolling update."""
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    wanted = int(spec.get("replicas", 1))
    updated = int(status.get("updatedReplicas") or 0)
    return (int(status.get("observedGeneration") or 0) >= int(meta.get("generation") or 0)
            and updated >= wanted
            and int(status.get("replicas") or 0) <= updated
            and int(status.get("availableReplicas") or 0) >= updated)


def deployment_state(obj: Mapping[str, Any]) -> ChildState:
    meta, spec, status = obj.get("metadata", {}), obj.get("spec", {}), obj.get("status") or {}
    replicas = int(spec.get("replicas", 1))
    available = replicas > 0 and rolled_out(obj)
    failure = None
    for cond in status.get("conditions") or []:
        if cond.get("type") == "Progressing" and cond.get("status") == "False":
            failure = f"{cond.get('reason', 'ProgressDeadlineExceeded')}: {cond.get('message', '')}".rstrip(": ")
        if cond.get("type") == "ReplicaFailure" and cond.get("status") == "True":
            failure = f"{cond.get('reason', 'ReplicaFailure')}: {cond.get('message', '')}".rstrip(": ")
    labels = _labels(obj)
    return ChildState(
        name=meta.get("name", ""), service=labels.get(LABEL_SERVICE, ""), layer=int(labels.get(LABEL_LAYER, 0)),
        spec_hash=(meta.get("annotations") or {}).get(ANNOTATION_HASH), replicas=replicas,
        pods=int(status.get("replicas") or 0), available=available,
        deleting=bool(meta.get("deletionTimestamp")), failure=failure,
    )


def service_state(obj: Mapping[str, Any]) -> ChildState:
    meta = obj.get("metadata", {})
    labels = _labels(obj)
    return ChildState(name=meta.get("name", ""), service=labels.get(LABEL_SERVICE, ""),
                      layer=int(labels.get(LABEL_LAYER, 0)),
                      spec_hash=(meta.get("annotations") or {}).get(ANNOTATION_HASH),
                      deleting=bool(meta.get("deletionTimestamp")))


def observe(deployments: Iterable[Mapping[str, Any]], services: Iterable[Mapping[str, Any]],
            pods: Iterable[Mapping[str, Any]] = (), status: Mapping[str, Any] | None = None,
            claims: Iterable[Mapping[str, Any]] = ()) -> Observed:
    restarts: dict[str, int] = {}
    for pod in pods:
        name = _labels(pod).get(LABEL_SERVICE)
        if name:
            count = sum(int(c.get("restartCount") or 0) for c in (pod.get("status") or {}).get("containerStatuses") or [])
            restarts[name] = restarts.get(name, 0) + count
    last = ((status or {}).get("lastControl") or {}).get("id")
    rejected = (status or {}).get("rejectedGeneration")
    return Observed(
        deployments={s.service: s for s in map(deployment_state, deployments) if s.service},
        services={s.service: s for s in map(service_state, services) if s.service},
        restarts=restarts,
        last_control_id=last,
        rejected_generation=int(rejected) if isinstance(rejected, int) else None,
        claims=frozenset(_labels(c).get(LABEL_SERVICE, "") for c in claims) - {""},
    )


def rejected(http_status: int | None) -> bool:
    """An API answer that retrying the same request cannot change: a 4xx, except 404 (gone: the next round
    sees it), 408 (timeout), 409 (a conflict or an existing object: the next round sees the truth) and 429
    (throttled)."""
    return http_status is not None and 400 <= http_status < 500 and http_status not in (404, 408, 409, 429)


# --- outputs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    verb: Verb
    kind: Kind
    name: str
    layer: int = 0
    body: Mapping[str, Any] | None = None  # a manifest (create) or a JSON merge patch (patch)
    reason: str = ""
    service: str = ""  # the stack's service this child belongs to ("" for the stack itself)

    def __str__(self) -> str:
        return f"{self.verb} {self.kind}/{self.name} (layer {self.layer}): {self.reason}"


@dataclass(frozen=True)
class Decision:
    actions: tuple[Action, ...] = ()
    stopped: frozenset[str] = frozenset()
    control_result: ControlResult | None = None  # for status.lastControl, when a control was applied
    gated_from: int | None = None  # the first layer held back by the gate (None: none)
    hashes: Mapping[str, str] = field(default_factory=dict)  # service -> wanted Deployment spec hash (every service)
    held: bool = False  # nothing planned: the API server refused this generation (see ``rejected``)


def is_ready(ps: PlannedService, observed: Observed, want_hash: str) -> bool:
    d = observed.deployments.get(ps.name)
    return bool(d and d.available and not d.deleting and d.spec_hash == want_hash)


def _apply_control(desired: Desired, observed: Observed) -> tuple[frozenset[str], list[Action], ControlResult | None]:
    control = desired.control
    if control is None or control.id == observed.last_control_id:
        return desired.stopped, [], None

    def refused(message: str) -> tuple[frozenset[str], list[Action], ControlResult]:
        return desired.stopped, [], ControlResult(control.id, control.action, control.service, False, message)

    selected = [s.name for s in desired.services]
    if desired.control_error is not None:
        return refused(desired.control_error)
    if control.action not in ACTIONS:
        return refused(f"unknown action {control.action!r} (allowed: {', '.join(ACTIONS)})")
    if control.service is not None and control.service not in selected:
        return refused(f"no selected service named {control.service!r}")
    targets = [control.service] if control.service else selected
    stopped = set(desired.stopped)
    actions: list[Action] = []
    if control.action == ControlAction.stop:
        stopped |= set(targets)
    elif control.action == ControlAction.start:
        stopped -= set(targets)
    else:  # restart: a new pod template annotation rolls the pods; a stopped service starts again
        stopped -= set(targets)
        for ps in desired.services:
            d = observed.deployments.get(ps.name)
            if ps.name in targets and d and not d.deleting:
                patch = {"spec": {"template": {"metadata": {"annotations": {ANNOTATION_RESTARTED_AT: desired.now}}}}}
                actions.append(Action("patch", "Deployment", d.name, ps.layer, patch, "restart requested", ps.name))
    if stopped != desired.stopped:
        patch = {"metadata": {"annotations": {STOPPED_ANNOTATION: format_stopped(stopped)}}}
        actions.append(Action("patch", "HippodromeStack", desired.stack.name, 0, patch, f"{control.action} {', '.join(targets)}"))
    return frozenset(stopped), actions, ControlResult(control.id, control.action, control.service, True)


def _removals(desired: Desired, observed: Observed) -> list[Action]:
    selected = {s.name for s in desired.services}
    leftovers = [c for c in [*observed.deployments.values(), *observed.services.values()] if c.service not in selected]
    if not leftovers:
        return []
    top = max(c.layer for c in leftovers)
    kinds = {id(c): "Deployment" for c in observed.deployments.values()}
    return [
        Action("delete", kinds.get(id(c), "Service"), c.name, c.layer, None, "service no longer selected",  # type: ignore[arg-type]
               c.service)
        for c in leftovers if c.layer == top and not c.deleting
    ]


def plan(desired: Desired, observed: Observed) -> Decision:
    if desired.error is not None:
        return Decision(stopped=desired.stopped)
    if observed.rejected_generation is not None and observed.rejected_generation == desired.generation:
        return Decision(stopped=desired.stopped, held=True)
    stopped, actions, control_result = _apply_control(desired, observed)
    restarting = {a.name for a in actions if a.kind == "Deployment"}
    actions += _removals(desired, observed)

    layers: dict[int, list[PlannedService]] = {}
    for ps in desired.services:
        layers.setdefault(ps.layer, []).append(ps)
    gated_from = None
    hashes: dict[str, str] = {}
    for layer in sorted(layers):
        gate_open = True
        for ps in layers[layer]:
            replicas = 0 if ps.name in stopped else 1
            if ps.spec.stateful and desired.state_storage == "pvc" and ps.name not in observed.claims:
                want_claim = children.claim(desired.stack, ps, desired.state_size)
                actions.append(Action("create", "PersistentVolumeClaim", want_claim["metadata"]["name"], layer,
                                      want_claim, "keeps the service's state", ps.name))
            want = desired.deployment(ps, replicas)
            want_hash = hashes[ps.name] = want["metadata"]["annotations"][ANNOTATION_HASH]
            have = observed.deployments.get(ps.name)
            if have is None:
                actions.append(Action("create", "Deployment", want["metadata"]["name"], layer, want, "new service", ps.name))
            elif not have.deleting and (have.spec_hash != want_hash or have.replicas != replicas):
                why = "spec changed" if have.spec_hash != want_hash else ("stop" if replicas == 0 else "start")
                actions.append(Action("patch", "Deployment", have.name, layer, children.update_patch(want), why, ps.name))
            svc = desired.service(ps)
            have_svc = observed.services.get(ps.name)
            if have_svc is None:
                actions.append(Action("create", "Service", svc["metadata"]["name"], layer, svc, "new service", ps.name))
            elif not have_svc.deleting and have_svc.spec_hash != svc["metadata"]["annotations"][ANNOTATION_HASH]:
                actions.append(Action("patch", "Service", have_svc.name, layer, children.update_patch(svc), "spec changed",
                                      ps.name))
            gates = ps.blocking and ps.name not in stopped
            if gates and (not is_ready(ps, observed, want_hash) or have is None or have.name in restarting
                          or have.replicas != replicas):
                gate_open = False
        if not gate_open:
            gated_from = next((n for n in sorted(layers) if n > layer), None)
            break
    for ps in desired.services:  # above a closed gate nothing is acted on, but what runs there is still judged
        if ps.name not in hashes:
            want = desired.deployment(ps, 0 if ps.name in stopped else 1)
            hashes[ps.name] = want["metadata"]["annotations"][ANNOTATION_HASH]
    return Decision(tuple(actions), stopped, control_result, gated_from, hashes)


def teardown(observed: Observed) -> tuple[tuple[Action, ...], bool]:
    """Reverse layer order: delete the highest layer still present; ``done`` when nothing is left."""
    everything = [("Deployment", c) for c in observed.deployments.values()] + \
                 [("Service", c) for c in observed.services.values()]
    if not everything:
        return (), True
    top = max(c.layer for _, c in everything)
    actions = tuple(
        Action("delete", kind, c.name, c.layer, None, "stack deleted", c.service)  # type: ignore[arg-type]
        for kind, c in everything if c.layer == top and not c.deleting
    )
    return actions, False
