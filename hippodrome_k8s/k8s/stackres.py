"""The HippodromeStack custom resource `k8s up` applies: the stack file's spec plus the flags.

Pure: the operator reads ``spec.profile``, ``spec.cell``, ``spec.tablePrefix``
and ``spec.seed`` exactly as the local engine's resolver would; services'
image tags are replaced by the content-pinned ones the CLI just loaded.  The
encryption secret itself goes to a Secret (``driver``); the stack carries only
its hash, so that a changed secret rolls the pods that read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from hippodrome_k8s.core.contract import SECRET_HASH_ANNOTATION
from hippodrome_k8s.core.model import API_VERSION, KIND, HippodromeStack
from hippodrome_k8s.core.resolver import Plan


def stack_resource(stack: HippodromeStack, plan: Plan, namespace: str,
                   pinned: Mapping[str, str] | None = None) -> dict[str, Any]:
    spec = stack.spec.model_dump(mode="json", exclude_none=True)
    spec.update(profile=plan.profile.value, cell=plan.cell.value, tablePrefix=plan.table_prefix, seed=plan.seed)
    for service in spec["services"]:
        image = service.get("image")
        if image:
            ref = pinned.get(f"{image['repository']}:{image.get('tag', 'dev')}") if pinned else None
            if ref:
                image["tag"] = ref.rsplit(":", 1)[1]
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {
            "name": stack.metadata.name,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/managed-by": "hippodrome-cli", "app.kubernetes.io/part-of": "hippodrome"},
            "annotations": {SECRET_HASH_ANNOTATION: secret_hash(plan.encryption_secret)},
        },
        "spec": spec,
    }


def secret_hash(secret: str) -> str:
    return hashlib.sha256(f"hippodrome-encryption:{secret}".encode()).hexdigest()[:16]
