"""What both engines and every client agree on: one definition of each shared word.

The local engine (`/api/status`, `/api/stack`, `.hippodrome/run.json`), the operator (the
custom resource's status and annotations), the in-cluster dashboard and the CLI all read and
write these values; each is spelled here once and imported everywhere, so a change cannot reach
one engine and miss the other. Where the two engines show a value differently (the stack phase:
lowercase in the local `/api/stack`, capitalised in the CR's status, as Kubernetes conditions
are), the enum holds both spellings and the mapping.

- ``ServiceState``: one service's lifecycle state (`/api/status` `status`, CR `status.services`).
- ``StackPhase``: the stack as a whole.
- ``ControlAction``, ``ControlRequest``, ``ControlResult``: a control request (restart / stop /
  start a service or all of them; shutdown is local only) and its outcome, with their encodings
  in the ``hippodrome.dev/control`` annotation and the CR's ``status.lastControl``.
- Label and annotation names of the Kubernetes engine.
- ``ServiceView``: one `/api/status` entry (and one CR ``status.services`` value); the CRD's status
  schema is generated from it.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from enum import Enum
from typing import Any, Mapping

GROUP = "hippodrome.dev"


class ServiceState(str, Enum):
    pending = "pending"  # selected, its layer not started yet
    starting = "starting"  # process spawned / pod created (or waiting to respawn), not yet healthy
    running = "running"  # healthy at least once since it started
    stopping = "stopping"  # asked to stop
    stopped = "stopped"  # stopped on request
    failed = "failed"  # gave up, or cannot be started
    disabled = "disabled"  # declared but not selected by this profile/cell


class StackPhase(Enum):
    """The stack's phase; ``local`` is the local engine's `/api/stack` value, ``cr`` the CR's
    `status.phase` (None where that engine never shows the phase)."""

    PENDING = (None, "Pending")  # nothing created yet (the operator has not acted)
    STARTING = ("starting", "Progressing")
    RUNNING = ("running", "Ready")
    DEGRADED = ("degraded", "Degraded")  # up, but a blocking service is not
    STOPPING = ("stopping", "Terminating")
    STOPPED = ("stopped", None)
    FAILED = ("failed", "Failed")

    def __init__(self, local: str | None, cr: str | None) -> None:
        self.local = local
        self.cr = cr

    @classmethod
    def from_local(cls, value: str) -> "StackPhase":
        return next(p for p in cls if p.local == value)

    @classmethod
    def from_cr(cls, value: str) -> "StackPhase":
        return next(p for p in cls if p.cr == value)

    @classmethod
    def local_values(cls) -> list[str]:
        return [p.local for p in cls if p.local]

    @classmethod
    def cr_values(cls) -> list[str]:
        return [p.cr for p in cls if p.cr]


class ControlAction(str, Enum):
    restart = "restart"
    stop = "stop"
    start = "start"
    shutdown = "shutdown"  # the local engine only: stop everything and exit

    @classmethod
    def for_cluster(cls) -> list["ControlAction"]:
        return [a for a in cls if a is not cls.shutdown]


TOKEN_HEADER = "X-Hippodrome-Token"  # the control token, on POST /api/control/... (the dashboard checks it)


# --- Kubernetes names ----------------------------------------------------------------------

CONTROL_ANNOTATION = f"{GROUP}/control"  # a ControlRequest, as JSON, set by the CLI / dashboard
STOPPED_ANNOTATION = f"{GROUP}/stopped"  # services stopped on request (comma-separated), kept by the operator
FORWARDS_ANNOTATION = f"{GROUP}/forwards"  # port-forward health published by the CLI
SECRET_HASH_ANNOTATION = f"{GROUP}/encryption-secret-hash"  # on the stack and pod templates: a new secret rolls pods
SPEC_HASH_ANNOTATION = f"{GROUP}/spec-hash"  # on a child: the hash of the spec it was made from
RESTARTED_AT_ANNOTATION = f"{GROUP}/restartedAt"  # on a pod template: a restart request rolls the pods
STACK_LABEL = f"{GROUP}/stack"
SERVICE_LABEL = f"{GROUP}/service"
LAYER_LABEL = f"{GROUP}/layer"
ENCRYPTION_SECRET = "hippodrome-encryption"  # the Secret (in the stack's namespace) holding the key below
ENCRYPTION_SECRET_KEY = "HIPPODROME_ENCRYPTION_SECRET"
CONDITION_TYPES = ("Ready", "Progressing", "Degraded")


@dataclass(frozen=True)
class ControlRequest:
    id: str
    action: str  # a ControlAction value when valid; kept as given so a bad one can be reported
    service: str | None = None

    def encode(self) -> str:
        return json.dumps({"id": self.id, "action": self.action, "service": self.service})

    @classmethod
    def decode(cls, raw: str | None) -> "ControlRequest | None":
        """None when absent; ValueError (naming the annotation) when malformed. See ``invalid``."""
        if not raw:
            return None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            raise ValueError(f"{CONTROL_ANNOTATION} is not JSON") from None
        if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"]:
            raise ValueError(f"{CONTROL_ANNOTATION} must be an object with a string id")
        service = data.get("service")
        if service is not None and not isinstance(service, str):
            raise ValueError(f"{CONTROL_ANNOTATION}: service must be a string or null")
        return cls(data["id"], str(data.get("action")), service)


    @classmethod
    def invalid(cls, raw: str) -> "ControlRequest":
        """A stand-in for a malformed annotation, with a stable id, so its error is reported once."""
        import hashlib

        return cls("invalid-" + hashlib.sha256(raw.encode()).hexdigest()[:12], "")


@dataclass(frozen=True)
class ControlResult:
    """The outcome of one request, as the CR's ``status.lastControl`` holds it."""

    id: str
    action: str
    service: str | None
    ok: bool
    message: str = ""  # why it failed

    OK = "ok"
    ERROR_PREFIX = "error: "

    def to_status(self) -> dict[str, Any]:
        return {"id": self.id, "action": self.action, "service": self.service,
                "result": self.OK if self.ok else self.ERROR_PREFIX + self.message}

    @classmethod
    def from_status(cls, data: Mapping[str, Any]) -> "ControlResult":
        result = str(data.get("result", ""))
        ok = result == cls.OK
        message = "" if ok else (result[len(cls.ERROR_PREFIX):] if result.startswith(cls.ERROR_PREFIX) else result)
        return cls(str(data.get("id", "")), str(data.get("action", "")), data.get("service"), ok, message)


# --- one /api/status entry -----------------------------------------------------------------


@dataclass(frozen=True)
class ServiceView:
    """One service as `/api/status` (and the CR's ``status.services``) shows it.

    The original system's readiness script (README, "Contracts") reads ``status``; the rest is the documented contract. Fields
    that one engine cannot know are None there (``pid`` on Kubernetes, ``uptime`` before running).
    """

    status: ServiceState
    layer: int
    port: int
    url: str
    ready: bool
    restarts: int
    since: float  # Unix time of the last state change
    message: str
    blocking: bool = True
    pid: int | None = None
    exitCode: int | None = None
    uptime: float | None = None
    name: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "ServiceView":
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["status"] = ServiceState(values["status"])
        return cls(**values)


_JSON_TYPES = {int: "integer", float: "number", str: "string", bool: "boolean"}
_DESCRIPTIONS = {"since": "Unix time of the last state change.", "status": "The service's lifecycle state."}


def service_view_schema() -> dict[str, Any]:
    """The OpenAPI schema of a ServiceView (used by the CRD's status schema)."""
    import typing

    hints = typing.get_type_hints(ServiceView)
    properties: dict[str, Any] = {}
    for f in fields(ServiceView):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        base = args[0] if args else hint
        if base is ServiceState:
            prop: dict[str, Any] = {"type": "string", "enum": [s.value for s in ServiceState]}
        else:
            prop = {"type": _JSON_TYPES[base]}
        if type(None) in typing.get_args(hint):
            prop["nullable"] = True
        if f.name in _DESCRIPTIONS:
            prop["description"] = _DESCRIPTIONS[f.name]
        properties[f.name] = prop
    return {"type": "object", "properties": properties}
