"""Which requests change moto's state, and so go to the journal: a pure decision.

The journal keeps *acknowledged writes* only.  A read (Get*, List*, Describe*, Query, Scan, ...)
changes nothing and is not kept, so the stack's polling never grows the journal.  Some calls do
change state but are side effects that must not run twice, so they are not kept either:

* SQS ``ReceiveMessage`` and ``ChangeMessageVisibility``: a receive is not an acknowledgement.  A
  message is consumed only by ``DeleteMessage``; after a crash, a message that was received but not
  deleted is visible again at once (as when its visibility timeout runs out early).  The deletes are
  kept, with the id of the message each receipt handle stood for (``SQS_DELETE``), because a replay
  never receives, so it has no receipt handles of its own.
* Step Functions ``StartExecution`` (and the calls that drive or stop an execution): the
  definition persists, an execution is not run again.  What an execution *did* (a DynamoDB item put,
  an SQS message sent) reached moto as ordinary requests and is kept as such.

Everything else that is not a read is kept: an unknown operation is treated as a write (replaying a
read costs time but changes nothing; dropping a write would lose it).
"""

from __future__ import annotations

import json
from enum import Enum
from typing import Any, Mapping
from urllib.parse import parse_qs, urlsplit


class Kind(Enum):
    SKIP = "skip"  # not kept: a read, or a side effect that must not run twice
    RECORD = "record"  # kept, replayed as it came
    SQS_DELETE = "sqs-delete"  # kept with receipt handle -> message id, so a replay can find the message


READ_PREFIXES = (
    "Get", "List", "Describe", "Query", "Scan", "BatchGet", "TransactGet", "Receive", "Head", "Search",
    "Select", "Lookup", "Check", "Validate", "Test", "Estimate", "Preview", "Simulate", "Filter", "Download",
    "Poll",
)
NOT_REPLAYED = frozenset({
    "ChangeMessageVisibility", "ChangeMessageVisibilityBatch",  # SQS: receive state
    "StartExecution", "StartSyncExecution", "StopExecution", "RedriveExecution",  # Step Functions executions
    "SendTaskSuccess", "SendTaskFailure", "SendTaskHeartbeat",
})
SQS_DELETES = frozenset({"DeleteMessage", "DeleteMessageBatch"})
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# moto's own API (/moto-api/...): POSTs change moto (config, reset, static results) except these
MOTO_API_NOT_STATE = ("/moto-api/recorder/", "/moto-api/seed", "/moto-api/proxy/")


def operation(target: str | None, action: str | None) -> str | None:
    """The AWS operation name: from ``X-Amz-Target`` (JSON protocols) or ``Action`` (query protocol)."""
    if target:
        return target.rsplit(".", 1)[-1] or None
    return action or None


def classify(backend: str, method: str, path: str, target: str | None = None, action: str | None = None) -> Kind:
    """Decide for one request.  ``backend`` is moto's name for the service that handles it
    (``dynamodb``, ``s3``, ``sqs``, ..., or ``moto_api``)."""
    method = method.upper()
    if backend == "moto_api":
        if method in READ_METHODS or path.startswith(MOTO_API_NOT_STATE):
            return Kind.SKIP
        return Kind.RECORD
    op = operation(target, action)
    if op is None:  # REST protocols (S3, ...): the method says it
        return Kind.SKIP if method in READ_METHODS else Kind.RECORD
    if op in NOT_REPLAYED or op.startswith(READ_PREFIXES):
        return Kind.SKIP
    if backend == "sqs" and op in SQS_DELETES:
        return Kind.SQS_DELETE
    return Kind.RECORD


def form_action(query_string: str, content_type: str, body: bytes) -> str | None:
    """``Action`` of a query-protocol request: in the query string, or in a form-encoded body."""
    values = parse_qs(query_string).get("Action")
    if values:
        return values[0]
    if content_type.startswith("application/x-www-form-urlencoded") and body:
        values = parse_qs(body.decode("utf-8", "replace")).get("Action")
        if values:
            return values[0]
    return None


def sqs_receipts(path: str, content_type: str, body: bytes) -> tuple[str | None, list[str]]:
    """(queue name, receipt handles) of an SQS DeleteMessage / DeleteMessageBatch, JSON or query protocol.

    The queue comes from ``QueueUrl`` or, in the query protocol, from the path (``/<account>/<queue>``).
    """
    params: Mapping[str, Any]
    handles: list[str] = []
    if content_type.startswith("application/x-www-form-urlencoded"):
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        params = form
        if "ReceiptHandle" in form:
            handles.append(form["ReceiptHandle"])
        handles += [v for k, v in sorted(form.items(), key=lambda kv: _entry_index(kv[0]))
                    if k.startswith("DeleteMessageBatchRequestEntry.") and k.endswith(".ReceiptHandle")]
    else:
        try:
            params = json.loads(body or b"{}")
        except ValueError:
            return None, []
        if not isinstance(params, dict):
            return None, []
        if isinstance(params.get("ReceiptHandle"), str):
            handles.append(params["ReceiptHandle"])
        for entry in params.get("Entries") or []:
            if isinstance(entry, dict) and isinstance(entry.get("ReceiptHandle"), str):
                handles.append(entry["ReceiptHandle"])
    url = params.get("QueueUrl") if isinstance(params.get("QueueUrl"), str) else None
    queue_path = urlsplit(url).path if url else path
    name = queue_path.rstrip("/").rsplit("/", 1)[-1] or None
    return name, handles


def _entry_index(key: str) -> int:
    parts = key.split(".")
    return int(parts[1]) if len(parts) > 2 and parts[1].isdigit() else 0
