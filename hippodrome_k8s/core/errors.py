"""The one exception tree of Hippodrome.

Library exceptions (botocore, aiohttp, kubernetes, yaml, pydantic) are wrapped
where they are caught; the CLI prints ``Error: <message>`` and exits from one
place with the error's ``exit_code``::

    HippodromeError                 exit 1 unless said otherwise
    ├── UsageError                  exit 2: bad flags, a confirmation missing
    │   └── StackFileError          exit 2: a stack file that cannot be loaded
    ├── NotRunningError             no supervisor answers for this project
    ├── PortInUseError              a port the stack needs is taken
    ├── ControlError                the dashboard refused or failed a control request
    ├── ServiceFailedError          a blocking service failed to become healthy
    ├── BootstrapError              an AWS resource could not be created
    ├── RequestRefused              a service refuses a request: ``status`` (400, 403, 413) and ``field``
    │   └── InvalidBody             400: a request body that is not JSON, too deep, or not valid Unicode
    └── K8sError                    the Kubernetes engine failed a step
        ├── PreflightError          exit 2: a tool the k8s engine needs is missing
        └── KubeApiError            a call to the Kubernetes API failed; ``status`` is its HTTP status
            ├── KubeUnreachable     no answer: no kubeconfig, a transport error, a timeout (status None)
            ├── KubeForbidden       401, 403: not authenticated, or RBAC refused it
            ├── KubeNotFound        404
            ├── KubeConflict        409: exists already, or a stale resourceVersion
            └── KubeInvalid         422: the API server refused the object

The Kubernetes ones are raised only by the one adapter (``hippodrome_k8s.kube``), from
``kube_api_error``, so callers branch on the class, never on a message.
"""

from __future__ import annotations

from dataclasses import dataclass


class HippodromeError(Exception):
    exit_code = 1


class UsageError(HippodromeError):
    exit_code = 2


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a stack file: where, and what."""

    path: str  # e.g. "spec.services[2].port"
    message: str
    line: int | None = None

    def render(self, file: str) -> str:
        where = f"{file}:{self.line}" if self.line else file
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class StackFileError(UsageError):
    """Every problem is kept (``problems``); the message shows the first ``SHOWN`` and the count, so a file with
    60,000 bad services says so in a screenful, not in 1.7 MB."""

    SHOWN = 50

    def __init__(self, file: str, problems: list[Problem]):
        self.file = file
        self.problems = problems
        lines = [f"invalid stack file {file}:"] + ["  " + p.render(file) for p in problems[:self.SHOWN]]
        if len(problems) > self.SHOWN:
            lines.append(f"  ... and {len(problems) - self.SHOWN:,} more ({len(problems):,} problems in all; "
                         f"the first {self.SHOWN} are shown)")
        super().__init__("\n".join(lines))


class NotRunningError(HippodromeError):
    pass


class PortInUseError(HippodromeError):
    pass


class ControlError(HippodromeError):
    pass


class ServiceFailedError(HippodromeError):
    pass


class BootstrapError(HippodromeError):
    pass


class RequestRefused(HippodromeError):
    """A request a service answers with a 4xx; each service renders it in its own JSON error shape."""

    def __init__(self, message: str, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


class InvalidBody(RequestRefused):
    """``kind``: "not_json", "too_deep" or "lone_surrogate" (jsonbody.py), for wire formats that tell them apart."""

    def __init__(self, message: str, field: str | None = None, kind: str = "not_json"):
        super().__init__(message, field, 400)
        self.kind = kind


class K8sError(HippodromeError):
    pass


class PreflightError(K8sError):
    exit_code = 2


class KubeApiError(K8sError):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


class KubeUnreachable(KubeApiError):
    pass


class KubeForbidden(KubeApiError):
    pass


class KubeNotFound(KubeApiError):
    pass


class KubeConflict(KubeApiError):
    pass


class KubeInvalid(KubeApiError):
    pass


_KUBE_BY_STATUS: dict[int, type[KubeApiError]] = {401: KubeForbidden, 403: KubeForbidden, 404: KubeNotFound,
                                                 409: KubeConflict, 422: KubeInvalid}


def kube_api_error(what: str, status: int | None, reason: str) -> KubeApiError:
    """The one mapping from an API answer (or none: ``status`` None) to the error tree."""
    if status is None:
        return KubeUnreachable(f"{what}: {reason}", None)
    return _KUBE_BY_STATUS.get(status, KubeApiError)(f"{what}: HTTP {status}: {reason}", status)
