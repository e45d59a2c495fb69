"""moto's WSGI app, with ``/healthz``, a journal of acknowledged writes, and a quiet access log.

* ``/healthz``: moto's own ``/moto-api/`` answers as soon as the socket listens; health here means
  "state restored and the bootstrap finished", which only this process knows.
* ``JournallingDispatcher`` is moto's ``DomainDispatcherApplication`` that, for each request that
  changes state (classify.py), runs it under one write lock with a journalled random seed and
  appends it to the journal *before* the reply leaves: acknowledged means written.  The lock also
  makes the journal's order the order the writes were applied.  Reads, receives and executions go
  straight through, concurrently, as before.  ``replay`` runs a journalled write again, in-process.
* The access log leaves out health probes (``/healthz``), moto's own API (``/moto-api/...``) and the
  bootstrap's requests (marked by ``BOOTSTRAP_AGENT`` in their User-Agent); services' calls,
  SQS polls included, are logged as before.
* The edge (``fakes.common.wsgi``): only the stack's origins may call moto from a browser, and only by a
  loopback (or the stack's) Host, since moto answers anyone who signs with the dummy credentials; moto's
  own CORS headers are replaced; what the HTTP server or werkzeug refuse in HTML is answered in JSON.
* ``MotoErrors``: an action moto does not implement is a 400 in JSON, not werkzeug's 500 HTML page.
* ``ExecutionNames``: a Step Functions execution started without a name is given a UUID, as AWS names it
  (moto's interpreter named every such execution "None", so a second one was refused as existing).
* ``JsonLimits``: a body of the AWS JSON protocol (``X-Amz-Target``) nested deeper than 64 levels, or
  holding a lone surrogate, is a 400 before moto parses it (moto answered 500 with an HTML page).
"""

from __future__ import annotations

import io
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from botocore.model import OperationNotFoundError

from .lazy import defer_unused_packages

defer_unused_packages()  # before moto loads anything (lazy.py: Batch's package pulls all of EC2 in)

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app  # noqa: E402
from werkzeug.serving import BaseWSGIServer, make_server  # noqa: E402

from fakes.common.wsgi import Guard, JsonErrors, json_error
from hippodrome_k8s.core import jsonbody
from hippodrome_k8s.core.errors import InvalidBody
from hippodrome_k8s.core.origins import Policy

from . import motostate
from .classify import Kind, classify, form_action, operation, sqs_receipts
from .journal import Journal
from .motomodels import share_moto_loader

share_moto_loader()  # one botocore Loader for moto's models (motomodels.py)
BOOTSTRAP_AGENT = "hippodrome-bootstrap"
log = logging.getLogger("fake_aws")
AMZ_JSON = "application/x-amz-json-1.1"
_KINDS = {400: "SerializationException", 403: "AccessDeniedException", 404: "NotFoundException",
          405: "MethodNotAllowedException", 413: "RequestEntityTooLargeException", 414: "RequestURITooLong",
          431: "RequestHeaderFieldsTooLarge"}


def error_body(status: int, message: str, field: str | None = None) -> tuple[dict[str, Any], str]:
    """The AWS JSON error shape, for what fake_aws itself refuses (moto's own AWS errors pass unchanged)."""
    return {"__type": _KINDS.get(status, "InternalFailure" if status >= 500 else "BadRequest"),
            "message": message}, AMZ_JSON


class Readiness:
    """What /healthz reports: starting, ready (with a summary) or failed (with the reason)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {"status": "starting"}

    def set(self, **state: Any) -> None:
        with self._lock:
            self._state = state

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return dict(self._state)


class HealthMiddleware:
    def __init__(self, app: Callable[..., Iterable[bytes]], readiness: Readiness):
        self.app = app
        self.readiness = readiness

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == "/healthz":
            state = self.readiness.snapshot()
            status = "200 OK" if state["status"] == "ready" else "503 Service Unavailable"
            return _json(start_response, status, state)
        return self.app(environ, start_response)


class MotoErrors:
    """What moto raises instead of answering (its Flask app runs in debug mode, so werkzeug answered 500 with an
    HTML page): an action it does not know or implement is the caller's mistake (400 UnknownOperationException,
    as AWS answers an unknown target); anything else is a logged 500, in JSON."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        try:
            return self.app(environ, start_response)
        except (NotImplementedError, OperationNotFoundError) as e:
            return _aws_error(start_response, 400, "UnknownOperationException", f"{e}: moto does not implement it")
        except Exception as e:  # noqa: BLE001 - the last line of defence: JSON, logged
            log.exception("moto failed on %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"))
            return json_error(start_response, error_body, 500, f"moto failed: {type(e).__name__}")


class JsonLimits:
    """AWS JSON protocol bodies within the limits of ``hippodrome_k8s.core.jsonbody``, before moto parses them."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        content_type = environ.get("CONTENT_TYPE", "")
        if "HTTP_X_AMZ_TARGET" in environ or content_type.startswith("application/x-amz-json"):
            body = _read_body(environ)
            if jsonbody.suspicious(body):
                try:
                    jsonbody.parse(body)
                except InvalidBody as e:
                    kind = "ValidationException" if e.kind == "lone_surrogate" else "SerializationException"
                    return _aws_error(start_response, 400, kind, e.message)
        return self.app(environ, start_response)


class ExecutionNames:
    """A Step Functions execution started without ``name`` is named with a UUID, as AWS does. moto's interpreter
    (the backend that runs executions) kept the missing name: every such execution was named "None", its ARN
    ended in ":None", and a second one on the same state machine was refused with ExecutionAlreadyExists."""

    TARGETS = frozenset({"AWSStepFunctions.StartExecution", "AWSStepFunctions.StartSyncExecution"})

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("HTTP_X_AMZ_TARGET") in self.TARGETS:
            try:
                request = json.loads(_read_body(environ) or b"{}")
            except ValueError:
                request = None  # moto answers what is not JSON
            if isinstance(request, dict) and request.get("name") is None:
                request["name"] = str(uuid.uuid4())
                _set_body(environ, json.dumps(request).encode())
        return self.app(environ, start_response)


def _aws_error(start_response: Callable[..., Any], status: int, kind: str, message: str) -> list[bytes]:
    return json_error(start_response, lambda *_: ({"__type": kind, "message": message}, AMZ_JSON), status, message)


def _json(start_response: Callable[..., Any], status: str, body: Any) -> list[bytes]:
    data = json.dumps(body).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _read_body(environ: dict[str, Any]) -> bytes:
    """The whole request body; ``wsgi.input`` is replaced so moto reads it again."""
    stream = environ.get("wsgi.input")
    length = environ.get("CONTENT_LENGTH")
    if stream is None:
        body = b""
    elif length:
        body = stream.read(int(length))
    elif environ.get("wsgi.input_terminated") or environ.get("HTTP_TRANSFER_ENCODING", "").lower() == "chunked":
        body = stream.read()
    else:
        body = b""
    _set_body(environ, body)
    return body


def _set_body(environ: dict[str, Any], body: bytes) -> None:
    """``body`` is what the app reads next (its length, no chunked encoding)."""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)


def run_to_end(app: Callable[..., Iterable[bytes]], environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], list[bytes]]:
    """Call a WSGI app to the end: (status, headers, body chunks)."""
    response: dict[str, Any] = {}
    chunks: list[bytes] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[[bytes], None]:
        response["status"], response["headers"] = status, headers
        return chunks.append

    result = app(environ, start_response)
    try:
        chunks.extend(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    return response["status"], response["headers"], chunks


class JournallingDispatcher(DomainDispatcherApplication):
    def __init__(self, journal: Journal | None = None) -> None:
        super().__init__(create_backend_app)
        self.journal = journal
        self.write_lock = threading.Lock()
        self.random: motostate._PerThreadRandom | None = None
        self._names: dict[int, str] = {}
        if journal is not None:
            self.prepare_replay()

    def prepare_replay(self) -> None:
        """Make moto's randomness replayable (before anything is restored or journalled)."""
        self.random = motostate.install_replayable_randomness()

    def _backend_name(self, app: Any) -> str:
        name = self._names.get(id(app))
        if name is None:
            with self.lock:
                for backend, instance in self.app_instances.items():
                    self._names[id(instance)] = backend
            name = self._names.get(id(app), "")
        return name

    def _app_for(self, backend: str) -> Any:
        with self.lock:
            app = self.app_instances.get(backend)
            if app is None:
                app = self.app_instances[backend] = self.create_app(backend)  # type: ignore[arg-type]
            return app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        app = self.get_application(environ)
        journal = self.journal
        if journal is None:
            return app(environ, start_response)
        backend = self._backend_name(app)
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")
        target = environ.get("HTTP_X_AMZ_TARGET")
        content_type = environ.get("CONTENT_TYPE", "")
        body: bytes | None = None
        action = None
        if not target and backend != "moto_api":
            if content_type.startswith("application/x-www-form-urlencoded"):
                body = _read_body(environ)
            action = form_action(environ.get("QUERY_STRING", ""), content_type, body or b"")
        kind = classify(backend, method, path, target, action)
        if kind is Kind.SKIP:
            return app(environ, start_response)
        if body is None:
            body = _read_body(environ)
        assert self.random is not None
        with self.write_lock:
            if journal.closed:
                return _json(start_response, "503 Service Unavailable", {"message": "fake_aws is stopping"})
            entry = motostate.request_entry(environ, body)
            if kind is Kind.SQS_DELETE:
                queue, handles = sqs_receipts(path, content_type, body)
                entry["sqs_queue"] = queue
                entry["sqs_receipts"] = motostate.messages_for_receipts(queue, handles)
            entry["backend"] = backend
            entry["seed"] = seed = self.random.new_seed()
            self.random.use_seed(seed)
            started = time.perf_counter()
            try:
                status, headers, chunks = run_to_end(app, environ)
            finally:
                self.random.use_seed(None)
            if int(status[:3]) < 400:
                journal.append(entry, time.perf_counter() - started)  # in the file before the reply is sent
        start_response(status, headers)
        return chunks

    def replay(self, entry: dict[str, Any]) -> str | None:
        """Run one journalled write again; None when it succeeded, else what went wrong."""
        assert self.random is not None
        app = self._app_for(entry.get("backend") or "s3")
        environ = motostate.entry_environ(entry)
        if entry.get("sqs_receipts"):
            motostate.give_back_receipts(entry.get("sqs_queue"), entry["sqs_receipts"])
        self.random.use_seed(entry.get("seed"))
        try:
            status, _, chunks = run_to_end(app, environ)
        except Exception as e:  # noqa: BLE001 - one bad entry must not stop the rest
            return f"{entry.get('method')} {entry.get('url')}: {type(e).__name__}: {e}"
        finally:
            self.random.use_seed(None)
        if int(status[:3]) < 400:
            return None
        op = operation(entry.get("headers", {}).get("X-Amz-Target"), None) or entry.get("method")
        text = b"".join(chunks)[:300].decode("utf-8", "replace")
        return f"{entry.get('backend')} {op} {entry.get('url')}: {status}: {text}"


class QuietRequestHandler(JsonErrors, MotoRequestHandler):
    """moto's request handler, minus the access-log lines of probes and of the bootstrap; its own errors in JSON."""

    error_body = staticmethod(error_body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = getattr(self, "path", "").split("?", 1)[0]  # no path, no headers: the request line was refused
        agent = (getattr(self, "headers", None) or {}).get("User-Agent") or ""
        if path == "/healthz" or path.startswith("/moto-api") or BOOTSTRAP_AGENT in agent:
            return
        super().log_request(code, size)


def make_moto_server(host: str, port: int, readiness: Readiness,
                     dispatcher: JournallingDispatcher | None = None, policy: Policy | None = None) -> BaseWSGIServer:
    """``policy``: who may call from a browser (the stack's origins, from the env); loopback only by default."""
    app = HealthMiddleware(MotoErrors(JsonLimits(ExecutionNames(dispatcher or JournallingDispatcher()))), readiness)
    guarded = Guard(app, policy or Policy.of(), error_body)
    return make_server(host, port, guarded, threaded=True, request_handler=QuietRequestHandler)
