"""Pure builders of a stack's children: a Deployment and a ClusterIP Service per service, and a
PersistentVolumeClaim per ``stateful`` service.

Input is the resolver's ``PlannedService`` (env already rendered with cluster
DNS addressing); output is a plain manifest dict.  Every child carries the
``app.kubernetes.io/*`` and ``hippodrome.dev/{stack,service,layer}`` labels, an
ownerReference to the stack, and ``hippodrome.dev/spec-hash``: the hash of what
we asked for, so ``plan()`` can tell "changed" from "unchanged" without diffing
fields the API server fills in.

A stateful service's data must outlive its pod and never be split: its Deployment uses ``Recreate``
(a rolling update would run two copies with two databases behind one Service) and mounts a claim
(``state_storage="pvc"``; "emptyDir" for clusters without a storage provisioner).  The claim has no
ownerReference: deleting the stack keeps it (``hippodrome k8s down --delete-data`` removes it).
"""

from __future__ import annotations

import hashlib
import json
import math
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hippodrome_k8s.core.contract import (ENCRYPTION_SECRET, ENCRYPTION_SECRET_KEY, LAYER_LABEL, RESTARTED_AT_ANNOTATION,
                                     SECRET_HASH_ANNOTATION, SERVICE_LABEL, SPEC_HASH_ANNOTATION, STACK_LABEL)
from hippodrome_k8s.core.crd import GROUP, VERSION
from hippodrome_k8s.core.model import KIND
from hippodrome_k8s.core.origins import POD_IP_ENV
from hippodrome_k8s.core.resolver import PlannedService, dns_name

MANAGED_BY = "hippodrome-operator"
PART_OF = "hippodrome"
LABEL_STACK, LABEL_SERVICE, LABEL_LAYER = STACK_LABEL, SERVICE_LABEL, LAYER_LABEL  # short names, from the contract
ANNOTATION_HASH, ANNOTATION_RESTARTED_AT = SPEC_HASH_ANNOTATION, RESTARTED_AT_ANNOTATION
STATE_DIR = "/var/lib/hippodrome"  # the resolver's state dir inside containers (a claim or an emptyDir)
STATE_STORAGE = ("pvc", "emptyDir")
PROJECT_ROOT = "/app"  # where the images put the project

REQUESTS = {"cpu": "10m", "memory": "64Mi"}


@dataclass(frozen=True)
class StackRef:
    """The owner of the children."""

    name: str
    namespace: str
    uid: str

    def owner_reference(self) -> dict[str, Any]:
        return {"apiVersion": f"{GROUP}/{VERSION}", "kind": KIND, "name": self.name, "uid": self.uid,
                "controller": True, "blockOwnerDeletion": True}


def object_name(stack: StackRef, service: str) -> str:
    return dns_name(stack.name, service)


def selector(stack: StackRef, service: str) -> dict[str, str]:
    return {"app.kubernetes.io/instance": stack.name, LABEL_SERVICE: service}


def labels(stack: StackRef, ps: PlannedService) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": ps.name.replace("_", "-"),
        "app.kubernetes.io/instance": stack.name,
        "app.kubernetes.io/part-of": PART_OF,
        "app.kubernetes.io/managed-by": MANAGED_BY,
        LABEL_STACK: stack.name,
        LABEL_SERVICE: ps.name,
        LABEL_LAYER: str(ps.layer),
    }


def spec_hash(value: Mapping[str, Any]) -> str:
    # Key order is fixed by the builders below (env is sorted), so no sort_keys: 2x faster.
    return hashlib.sha256(json.dumps(value, separators=(",", ":")).encode()).hexdigest()[:16]


def image_of(ps: PlannedService, default_image: str) -> str:
    spec = ps.spec.image
    return f"{spec.repository}:{spec.tag}" if spec else default_image


def live_reloads(ps: PlannedService) -> bool:
    """Under Tilt, a service built from the project reloads when Tilt syncs into its image, unless it keeps
    state (it is rebuilt and replaced instead): Tilt syncs into every container of an image, and one that
    did not reload would go on running the old code while Tilt reports the update done.  The Tiltfile
    syncs the ``image.sync`` paths of exactly these services; the reloader watches ``run.watch`` (else
    ``image.sync``), so a service with neither has nothing to reload on."""
    image = ps.spec.image
    return bool(image and image.build and not ps.spec.stateful and (ps.spec.run.watch or image.sync))


def command_of(ps: PlannedService, live_update: bool = False) -> list[str]:
    """The container's command, rendered by the resolver like the env.  With ``live_update`` (Tilt's dev
    images) a service that ``live_reloads`` runs under a reloader watching what Tilt syncs into it."""
    command = list(ps.container_command)
    if not (live_update and live_reloads(ps) and command):
        return command
    if command[0] == "node":  # Node.js restarts on changes to the entry script and what it imports
        return ["node", "--watch", *command[1:]]
    return ["watchfiles", "--target-type", "command", "--filter", "python", shlex.join(command), *watched_paths(ps)]


def container_path(path: str, context: str) -> str:
    """Where a project path lands in an image built from ``context``: the Dockerfiles copy the build
    context to /app (the Tiltfile's ``in_container`` is the same rule)."""
    context = context.strip("/")
    if context in ("", "."):
        return f"{PROJECT_ROOT}/{path}".rstrip("/")
    return f"{PROJECT_ROOT}/{path[len(context) + 1:]}".rstrip("/")


def watched_paths(ps: PlannedService) -> list[str]:
    """The reloader's paths in the container: ``run.watch`` (else ``image.sync``), moved into the image."""
    image = ps.spec.image
    context = image.build.context if image and image.build else "."
    paths = ps.spec.run.watch or (image.sync if image else [])
    return [container_path(p, context) for p in paths]


def _seconds(value: float, low: int = 1) -> int:
    return max(low, math.ceil(value))


def readiness_probe(ps: PlannedService) -> dict[str, Any]:
    """The health spec as a probe: the fast (starting) period, so layers gate quickly."""
    h = ps.health
    return {
        "httpGet": {"path": h.path, "port": "http"},
        "periodSeconds": _seconds(h.startingPeriodSeconds),
        "timeoutSeconds": _seconds(h.timeoutSeconds),
        "failureThreshold": h.failureThreshold,
        "successThreshold": 1,
    }


def env_of(ps: PlannedService) -> list[dict[str, Any]]:
    """Every variable the resolver rendered for the service, by name; the encryption secret comes from
    the Secret the CLI (or the Tiltfile) writes, when there is one, else the service's default. Last, the
    pod's address (the downward API): the service allows it as a Host, so the kubelet's probes and calls
    by the pod's IP are answered (hippodrome_k8s.core.origins)."""
    env: list[dict[str, Any]] = []
    for key, value in sorted(ps.env.items()):
        if key == ENCRYPTION_SECRET_KEY:
            env.append({"name": key, "valueFrom": {"secretKeyRef": {
                "name": ENCRYPTION_SECRET, "key": ENCRYPTION_SECRET_KEY, "optional": True}}})
        else:
            env.append({"name": key, "value": value})
    env.append({"name": POD_IP_ENV, "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}})
    return env


def claim_name(stack: StackRef, service: str) -> str:
    return f"{object_name(stack, service)[:57].rstrip('-')}-state"


def state_volume(stack: StackRef, ps: PlannedService, state_storage: str) -> dict[str, Any]:
    if ps.spec.stateful and state_storage == "pvc":
        return {"name": "state", "persistentVolumeClaim": {"claimName": claim_name(stack, ps.name)}}
    return {"name": "state", "emptyDir": {}}


def deployment(stack: StackRef, ps: PlannedService, *, default_image: str, replicas: int = 1,
               live_update: bool = False, state_storage: str = "pvc", secret_hash: str | None = None) -> dict[str, Any]:
    name = object_name(stack, ps.name)
    meta_labels = labels(stack, ps)
    template_meta: dict[str, Any] = {"labels": meta_labels}
    if secret_hash:
        template_meta["annotations"] = {SECRET_HASH_ANNOTATION: secret_hash}  # a new secret rolls the pods
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector(stack, ps.name)},
        "revisionHistoryLimit": 2,
        "progressDeadlineSeconds": _seconds(ps.health.startTimeoutSeconds, low=10),
        **({"strategy": {"type": "Recreate"}} if ps.spec.stateful else {}),
        "template": {
            "metadata": template_meta,
            "spec": {
                "enableServiceLinks": False,  # <SERVICE>_PORT=tcp://... would shadow our env contract
                "automountServiceAccountToken": False,
                "terminationGracePeriodSeconds": _seconds(ps.stop_timeout),
                "securityContext": {"runAsNonRoot": True},  # the images' USERs are numeric: the kubelet checks
                "containers": [{
                    "name": ps.name.replace("_", "-")[:63],
                    "image": image_of(ps, default_image),
                    "imagePullPolicy": "IfNotPresent",
                    "command": command_of(ps, live_update),
                    "workingDir": PROJECT_ROOT,
                    "env": env_of(ps),
                    "ports": [{"name": "http", "containerPort": ps.port, "protocol": "TCP"}],
                    "readinessProbe": readiness_probe(ps),
                    "resources": {"requests": dict(REQUESTS)},
                    "securityContext": {"allowPrivilegeEscalation": False},
                    "volumeMounts": [{"name": "state", "mountPath": STATE_DIR}],
                }],
                "volumes": [state_volume(stack, ps, state_storage)],
            },
        },
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": stack.namespace,
            "labels": meta_labels,
            "annotations": {ANNOTATION_HASH: spec_hash(spec)},
            "ownerReferences": [stack.owner_reference()],
        },
        "spec": {"replicas": replicas, **spec},
    }


def service(stack: StackRef, ps: PlannedService) -> dict[str, Any]:
    spec = {
        "type": "ClusterIP",
        "selector": selector(stack, ps.name),
        "ports": [{"name": "http", "port": ps.port, "targetPort": "http", "protocol": "TCP"}],
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {
            "name": object_name(stack, ps.name),
            "namespace": stack.namespace,
            "labels": labels(stack, ps),
            "annotations": {ANNOTATION_HASH: spec_hash(spec)},
            "ownerReferences": [stack.owner_reference()],
        },
        "spec": spec,
    }


def claim(stack: StackRef, ps: PlannedService, size: str) -> dict[str, Any]:
    """The stateful service's PersistentVolumeClaim: no ownerReference, so deleting the stack keeps the data."""
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": claim_name(stack, ps.name), "namespace": stack.namespace, "labels": labels(stack, ps)},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}},
    }


def update_patch(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch bringing an existing child to ``manifest`` (lists are replaced whole;
    keys the API server added, and the restart annotation, are kept)."""
    return {"metadata": {"labels": manifest["metadata"]["labels"],
                         "annotations": manifest["metadata"]["annotations"]},
            "spec": manifest["spec"]}
