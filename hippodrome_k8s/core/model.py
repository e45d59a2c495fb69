"""The stack model: the one source of truth for a ``HippodromeStack`` document.

The same document runs on both engines: ``hippodrome up`` (local processes) and
``hippodrome k8s up`` (a kopf operator on kind).  The JSON Schema for editors
and the CRD's openAPIV3Schema are generated from these classes
(``hippodrome_k8s.core.schema``); nothing here knows how a service is run.

Field names are camelCase, as in every Kubernetes object, so one file is both
a stack file and a custom resource.  Cross-field rules (unique names, ports,
layers, references) live in ``hippodrome_k8s.core.validators``.
"""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "hippodrome.dev/v1alpha1"
KIND = "HippodromeStack"

PORT_RANGE = range(9000, 9020)  # the contract: 9000-9019

NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
STACK_NAME_PATTERN = r"^[a-z]([-a-z0-9]{0,51}[a-z0-9])?$"
RESOURCE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
ENV_NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
ORIGIN_PATTERN = r"^https?://[A-Za-z0-9.\-]+(:[0-9]{1,5})?$|^https?://\[[0-9A-Fa-f:.]+\](:[0-9]{1,5})?$"


class Profile(str, Enum):
    core = "core"
    ecom = "ecom"
    full = "full"


class Cell(str, Enum):
    local = "local"
    staging = "staging"
    prod = "prod"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


# --- services -------------------------------------------------------------------------------


class HealthCheck(_Model):
    """An HTTP probe; 200 means ready.  A listening TCP port is not health."""

    path: str = Field("/healthz", pattern=r"^/", description="HTTP path answering 200 when the service is ready.")
    startingPeriodSeconds: float = Field(
        0.05, gt=0, le=60, description="Probe interval while the service is starting (fast)."
    )
    periodSeconds: float = Field(5.0, gt=0, le=600, description="Probe interval once the service is running (slow).")
    timeoutSeconds: float = Field(2.0, gt=0, le=60, description="Timeout of one probe request.")
    failureThreshold: int = Field(3, ge=1, le=100, description="Consecutive failures before a running service counts as unhealthy.")
    startTimeoutSeconds: float = Field(
        180.0, gt=0, le=3600, description="How long a starting service may take to become healthy before it is failed."
    )


class LocalRun(_Model):
    """How the local engine runs the service as a process."""

    command: list[str] = Field(..., min_length=1, description="argv; `${...}` references are rendered.")
    cwd: str = Field(".", description="Working directory, relative to the project root.")
    reload: bool = Field(False, description="Restart the service when a file under `watch` changes.")
    watch: list[str] = Field(default_factory=list, description="Paths (relative to the project root) watched for reload.")
    nodeModules: bool = Field(
        False, description="A Node.js service: run `npm ci` in `cwd` first when `node_modules/` is missing."
    )
    stopTimeoutSeconds: float = Field(5.0, gt=0, le=120, description="SIGTERM, then SIGKILL after this long.")


class ImageBuild(_Model):
    context: str = Field(".", description="Build context, relative to the project root.")
    dockerfile: str = Field(..., description="Dockerfile path, relative to the project root.")
    target: str | None = Field(None, description="Optional multi-stage build target.")


class ContainerSpec(_Model):
    """How the Kubernetes engine runs the service as a container."""

    repository: str = Field(..., description="Image repository, e.g. `hippodrome/fakes`.")
    tag: str = Field("dev", description="Image tag.")
    build: ImageBuild | None = Field(None, description="How to build the image on the developer's machine.")
    command: list[str] | None = Field(None, description="Container command; defaults to `run.command`.")
    sync: list[str] = Field(default_factory=list, description="Source paths Tilt live-syncs into the container.")


class Service(_Model):
    name: str = Field(..., pattern=NAME_PATTERN, description="Service name; also `<NAME>_URL` in every service's env.")
    description: str = ""
    port: int = Field(..., ge=1, le=65535, description="Port the service listens on (9000-9019 by contract).")
    allowPortOutsideRange: bool = Field(False, description="Allow a port outside 9000-9019 for this service.")
    layer: int = Field(..., ge=0, le=20, description="Startup layer; layer N+1 starts when layers <= N are healthy.")
    profiles: list[Profile] = Field(
        default_factory=lambda: [Profile.core, Profile.ecom, Profile.full],
        description="Profiles that select this service.",
    )
    cells: list[Cell] = Field(
        default_factory=lambda: [Cell.local, Cell.staging, Cell.prod],
        description="Cells with which this service runs (fake_cell: only `local`).",
    )
    blocking: bool = Field(True, description="A blocking service gates the next layer; a non-blocking one never does.")
    stateful: bool = Field(
        False,
        description="The service keeps data in HIPPODROME_STATE_DIR that must outlive a restart. On Kubernetes it "
                    "gets a PersistentVolumeClaim (or an emptyDir, by chart value) and is replaced, never rolled "
                    "(two copies would split its data); under Tilt it is rebuilt, not live-reloaded.",
    )
    health: HealthCheck = Field(default_factory=HealthCheck)
    env: dict[str, str] = Field(
        default_factory=dict,
        description="Extra env, rendered: `${services.X.url}`, `${tables.T}`, `${queues.Q.url}`, `${cell.url}`, `${seed}`...",
    )
    run: LocalRun
    image: ContainerSpec | None = None


# --- AWS resources (created in moto at startup) ----------------------------------------------


class KeyAttribute(_Model):
    name: str = Field(..., min_length=1)
    type: Literal["S", "N", "B"] = "S"


class SecondaryIndex(_Model):
    name: str = Field(..., pattern=RESOURCE_NAME_PATTERN)
    hashKey: KeyAttribute
    rangeKey: KeyAttribute | None = None


class Table(_Model):
    name: str = Field(..., pattern=RESOURCE_NAME_PATTERN, description="Logical name; the real name is prefixed.")
    hashKey: KeyAttribute
    rangeKey: KeyAttribute | None = None
    globalSecondaryIndexes: list[SecondaryIndex] = Field(default_factory=list)
    items: list[dict[str, Any]] = Field(
        default_factory=list, description="Seed items (plain JSON values; `${...}` references rendered)."
    )


class Bucket(_Model):
    name: str = Field(..., pattern=r"^[a-z0-9][a-z0-9.-]{1,40}$", description="Logical name; the real name is prefixed.")


class Queue(_Model):
    name: str = Field(..., pattern=RESOURCE_NAME_PATTERN)
    fifo: bool = False
    attributes: dict[str, str] = Field(default_factory=dict, description="SQS queue attributes.")


class Subscription(_Model):
    queue: str = Field(..., description="Name of a declared queue subscribed to the topic.")
    rawMessageDelivery: bool = True


class Topic(_Model):
    name: str = Field(..., pattern=RESOURCE_NAME_PATTERN)
    subscriptions: list[Subscription] = Field(default_factory=list)


class Secret(_Model):
    name: str = Field(..., pattern=r"^[A-Za-z0-9/_+=.@-]{1,200}$")
    value: str = Field(..., description="Secret string; `${...}` references rendered.")


class StateMachine(_Model):
    name: str = Field(..., pattern=RESOURCE_NAME_PATTERN)
    definition: dict[str, Any] = Field(..., description="Amazon States Language; `${...}` references rendered.")


class AwsResources(_Model):
    region: str = Field("us-east-1", pattern=r"^[a-z]{2}-[a-z]+-\d$")
    endpointService: str = Field("moto", pattern=NAME_PATTERN, description="The service emulating AWS.")
    tables: list[Table] = Field(default_factory=list)
    buckets: list[Bucket] = Field(default_factory=list)
    queues: list[Queue] = Field(default_factory=list)
    topics: list[Topic] = Field(default_factory=list)
    secrets: list[Secret] = Field(default_factory=list)
    stateMachines: list[StateMachine] = Field(default_factory=list)


# --- identity and seed data ------------------------------------------------------------------


class CognitoClient(_Model):
    name: str = Field(..., pattern=RESOURCE_NAME_PATTERN)


class CognitoGroup(_Model):
    name: str = Field(..., pattern=RESOURCE_NAME_PATTERN)
    description: str = ""


class CognitoUser(_Model):
    username: str = Field(..., min_length=1)
    password: str = Field(..., min_length=8)
    email: str | None = None
    groups: list[str] = Field(default_factory=list)
    attributes: dict[str, str] = Field(default_factory=dict)


class UserPool(_Model):
    name: str = Field(..., pattern=RESOURCE_NAME_PATTERN)
    clients: list[CognitoClient] = Field(default_factory=list)
    groups: list[CognitoGroup] = Field(default_factory=list)
    users: list[CognitoUser] = Field(default_factory=list)


class Cognito(_Model):
    service: str = Field("fake_cognito", pattern=NAME_PATTERN, description="The service emulating Cognito.")
    userPools: list[UserPool] = Field(default_factory=list)


class Account(_Model):
    """A seeded control-plane account; its ids and API keys derive from the seed."""

    name: str = Field(..., pattern=RESOURCE_NAME_PATTERN)
    apiKeys: list[str] = Field(default_factory=lambda: ["default"], description="Names of API keys to create.")
    owner: str | None = Field(None, description="Username of a declared Cognito user owning the account.")
    cellIndexPrefix: str | None = Field(
        None, max_length=128,
        description="Prefix of the cell index names that belong to this account, as your control plane names "
                    "them; `${...}` references are rendered (e.g. `${accounts.demo.id}-`). fake_cell binds the "
                    "account's API keys to it: they see and touch only those indexes. Unset: they see every "
                    "index (a system account).")


class Seed(_Model):
    accounts: list[Account] = Field(default_factory=list)


# --- cells and the stack ---------------------------------------------------------------------


class RemoteCell(_Model):
    url: str = Field(..., pattern=r"^https?://", description="Base URL of a real deployed cell.")


class Cells(_Model):
    localService: str = Field("fake_cell", pattern=NAME_PATTERN, description="Service standing in for the cell with `cell: local`.")
    staging: RemoteCell | None = None
    prod: RemoteCell | None = None


class Dashboard(_Model):
    port: int = Field(9000, ge=1, le=65535)
    allowPortOutsideRange: bool = Field(False, description="Allow a dashboard port outside 9000-9019.")
    host: str = Field("127.0.0.1", description="Bind address; keep it on loopback.")


class StackSpec(_Model):
    profile: Profile = Field(Profile.full, description="Default profile; `--profile` overrides.")
    cell: Cell = Field(Cell.local, description="Default cell; `--cell` overrides.")
    tablePrefix: str | None = Field(
        None, pattern=r"^[A-Za-z0-9._-]{0,60}$", description="Default `dev-<git branch>-`; `--table-prefix` overrides."
    )
    seed: str | None = Field(None, description="Default seed when HIPPODROME_RANDOM_SEED is unset (random if neither).")
    dashboard: Dashboard = Field(default_factory=Dashboard)
    cells: Cells = Field(default_factory=Cells)
    aws: AwsResources = Field(default_factory=AwsResources)
    cognito: Cognito = Field(default_factory=Cognito)
    seedData: Seed = Field(default_factory=Seed)
    env: dict[str, str] = Field(default_factory=dict, description="Env for every service, rendered like a service's env.")
    smokeChecks: str | None = Field(
        None, pattern=r"^[A-Za-z_][A-Za-z0-9_.]*:[A-Za-z_][A-Za-z0-9_]*$",
        description="`module:function` adding this stack's own checks to `hippodrome smoke`: called with the "
                    "`hippodrome env` values and /api/status, it returns [(name, check)], each check a callable "
                    "returning a short detail and raising to fail.")
    allowedOrigins: list[Annotated[str, Field(pattern=ORIGIN_PATTERN)]] = Field(
        default_factory=list,
        description="Browser origins (scheme://host[:port], no path, no wildcard) allowed to call the stack's services, "
                    "besides the stack's own loopback origins (http://127.0.0.1:<port> and http://localhost:<port> for "
                    "its ports); their host names are allowed as a Host too. Every other Origin is refused with 403.",
    )
    services: list[Service] = Field(..., min_length=1)


class Metadata(_Model):
    model_config = ConfigDict(extra="allow", populate_by_name=True, frozen=True)

    # What a Service name allows (RFC 1035: a letter first), not only a Deployment's (RFC 1123): every
    # child is named <stack>-<service>, and a digit first made every Service a 422 from the API server.
    name: str = Field(..., pattern=STACK_NAME_PATTERN,
                      description="Stack name: a letter, then letters, digits or '-' (at most 53); prefixes every child's name.")
    namespace: str | None = None


class HippodromeStack(_Model):
    apiVersion: Literal["hippodrome.dev/v1alpha1"]
    kind: Literal["HippodromeStack"]
    metadata: Metadata
    spec: StackSpec

    def service(self, name: str) -> Service | None:
        return next((s for s in self.spec.services if s.name == name), None)
