"""moto's own state, saved and restored through its backends; writes made replayable.

Snapshot: moto keeps each service's state in ``BackendDict`` objects (account -> region ->
backend, plus a few attributes of their own such as S3's bucket -> account map); the ones in use
are listed in ``BackendDict._instances``.  A snapshot pickles those backends as they are: moto's
own model objects, so a restored moto has the same ids, versions and timestamps.  moto's runtime
config (``/moto-api/config``: Step Functions execution is switched on there) goes with them.  Locks,
conditions and events inside the models are pickled as new, unlocked ones.  After a restart two
things are settled, because nothing resumes what was in progress: SQS messages in flight are
visible again, Step Functions executions that were running read ABORTED.

Replay needs each write to do the same thing again.  Two things would differ:

* randomness: moto draws every id (SQS message ids, SNS subscription ARNs, secret versions, S3
  version ids, ...) from one ``MotoRandom`` singleton shared by all threads.  It is made per-thread
  here, and each journalled write runs with a fresh seed that the journal keeps; its replay runs
  with the same seed, so it draws the same ids whatever other requests did meanwhile.  (S3 makes
  multipart upload ids with ``os.urandom``; that one call is pointed at the same generator.)
* SQS receipt handles: a replay does not receive, so a recorded ``DeleteMessage`` names a handle
  the replayed queue never issued.  The journal keeps which message each handle stood for; before
  the delete is replayed the handle is given back to that message (moto accepts any handle a
  message ever had).

Timestamps of replayed writes (SQS SentTimestamp, S3 LastModified, ...) are those of the replay.
"""

from __future__ import annotations

import base64
import copy
import copyreg
import datetime
import importlib
import io
import os
import pickle
import random
import sys
import threading
import types
from typing import IO, Any, Iterable
from urllib.parse import unquote, urlsplit

import moto
from moto.core.base_backend import BackendDict
from moto.core.config import default_user_config
from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY, environ_key_for_header, \
    should_preserve_original_header_name
from moto.moto_api._internal import mock_random
from moto.moto_api._internal.moto_random import MotoRandom

# --- per-thread, seedable randomness ------------------------------------------------------------------


class _PerThreadRandom(MotoRandom):
    """``MotoRandom`` whose state is per thread.  ``use_seed`` gives this thread a generator seeded
    from a journalled value; other threads get one seeded from the source (``/moto-api/seed`` seeds
    the source, so moto's own determinism switch still works)."""

    _source: random.Random = random.SystemRandom()
    _local = threading.local()

    def _rng(self) -> random.Random:
        rng = getattr(self._local, "rng", None)
        if rng is None:
            rng = self._local.rng = random.Random(type(self)._source.getrandbits(64))
        return rng

    def getrandbits(self, k: int) -> int:  # uuid4, choice, randint, ... all come through here
        return self._rng().getrandbits(k)

    def random(self) -> float:
        return self._rng().random()

    def seed(self, a: Any = None, version: int = 2) -> None:
        type(self)._source = random.Random(a) if a is not None else random.SystemRandom()
        self._local.rng = None

    def new_seed(self) -> int:
        return type(self)._source.getrandbits(63)

    def use_seed(self, seed: int | None) -> None:
        """Give this thread a generator seeded with ``seed`` (None: a fresh one on next use)."""
        self._local.rng = random.Random(seed) if seed is not None else None


class _OsWithMotoUrandom(types.ModuleType):
    """``os`` for moto's S3 models, whose multipart upload ids come from ``os.urandom``."""

    def __getattr__(self, name: str) -> Any:
        return getattr(os, name)

    @staticmethod
    def urandom(n: int) -> bytes:
        return mock_random.getrandbits(n * 8).to_bytes(n, "little")


def install_replayable_randomness() -> _PerThreadRandom:
    """Idempotent.  Returns moto's random singleton, now per-thread."""
    global _main_pid
    _main_pid = os.getpid()
    if not isinstance(mock_random, _PerThreadRandom):
        mock_random.__class__ = _PerThreadRandom
    import moto.s3.models as s3_models

    if not isinstance(s3_models.os, _OsWithMotoUrandom):
        s3_models.os = _OsWithMotoUrandom("os")
    return mock_random  # type: ignore[return-value]


# --- snapshot of moto's backends ------------------------------------------------------------------

_LOCK_TYPES = {type(threading.Lock()): threading.Lock, type(threading.RLock()): threading.RLock}


def _spooled_bytes(buffer: Any, expected: int | None) -> bytes:
    """The bytes of an S3 object's SpooledTemporaryFile without its lock or its file offset: in a
    forked child, a lock may be held by a thread that no longer exists, and the file offset is
    shared with the parent (moving it would corrupt a read there)."""
    inner = buffer._file
    if isinstance(inner, io.BytesIO):
        try:
            return inner.getvalue()
        except ValueError:  # closed: the key was deleted (moto's own __getstate__ does the same)
            return b""
    try:
        fd = inner.fileno()
    except (ValueError, OSError):
        return b""
    data = os.pread(fd, os.fstat(fd).st_size, 0)
    if expected is not None and len(data) != expected:  # bytes still in a write buffer: do not guess
        raise RuntimeError(f"an S3 object's file holds {len(data)} of its {expected} bytes")
    return data


class _Pickler(pickle.Pickler):
    """Pickles moto's models; runtime objects (locks, conditions, events, threads) become new ones.

    ``forked``: this is the compaction child, where S3 objects are read without their locks."""

    def __init__(self, file: IO[bytes], forked: bool) -> None:
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.forked = forked
        from moto.s3.models import FakeKey

        self._fake_key = FakeKey

    def reducer_override(self, obj: Any) -> Any:
        kind = type(obj)
        if self.forked and kind is self._fake_key:  # what FakeKey.__getstate__ gives, minus its lock
            state = {k: v for k, v in obj.__dict__.items() if k not in ("_value_buffer", "lock")}
            state["value"] = _spooled_bytes(obj._value_buffer, getattr(obj, "contentsize", None))
            return copyreg.__newobj__, (kind,), state
        if isinstance(obj, dict) and kind is not dict and kind.__module__.startswith("moto.") \
                and (kind.items is not dict.items or kind.__setitem__ is not dict.__setitem__):
            # a dict whose items() hides what it stores (S3's versioned key store: only the latest
            # version), or whose __setitem__ does work (DynamoDB's item size check, quadratic):
            # pickle what is really stored, put it back as it was
            return _rebuild_dict, (kind, dict.copy(obj)), getattr(obj, "__dict__", None) or None
        if kind in _LOCK_TYPES:
            return _LOCK_TYPES[kind], ()
        if kind is threading.Condition:
            return threading.Condition, ()
        if kind is threading.Event:
            return threading.Event, ()
        if kind is threading.Semaphore or kind is threading.BoundedSemaphore:
            return kind, (obj._value,)
        if isinstance(obj, threading.Thread):  # a running execution's worker: not state
            return type(None), ()
        return NotImplemented


def _rebuild_dict(kind: type, stored: dict[Any, Any]) -> dict[Any, Any]:
    rebuilt = kind.__new__(kind)
    dict.update(rebuilt, stored)
    return rebuilt


_names: dict[int, tuple[str, str]] = {}


def _where(backend_dict: BackendDict) -> tuple[str, str]:
    """(module, attribute) that holds this BackendDict, so a snapshot can put it back."""
    key = id(backend_dict)
    if key not in _names:
        candidates = [sys.modules.get(backend_dict.backend.__module__)]
        candidates += [m for n, m in list(sys.modules.items()) if n.startswith("moto.")]
        for module in candidates:
            for attr, value in vars(module or types.ModuleType("none")).items():
                if value is backend_dict:
                    _names[key] = (module.__name__, attr)  # type: ignore[union-attr]
                    break
            if key in _names:
                break
        else:
            raise RuntimeError(f"cannot find the module holding moto's {backend_dict.service_name} backends")
    return _names[key]


_main_pid = os.getpid()


# what every BackendDict is constructed with; anything else in its __dict__ is state (S3's bucket_accounts)
_CONSTRUCTION = frozenset({"backend", "service_name", "_use_boto3_regions", "_additional_regions", "_id"})


def dump_state(file: IO[bytes]) -> None:
    state = {
        "config": copy.deepcopy(default_user_config),
        "backends": {_where(bd): dict(bd) for bd in list(BackendDict._instances)},
        "attributes": {_where(bd): {k: v for k, v in vars(bd).items() if k not in _CONSTRUCTION}
                       for bd in list(BackendDict._instances)},
    }
    _Pickler(file, forked=os.getpid() != _main_pid).dump(state)


def load_state(file: IO[bytes]) -> None:
    state = pickle.load(file)
    default_user_config.clear()
    default_user_config.update(state["config"])
    for (module_name, attr), accounts in state["backends"].items():
        backend_dict = getattr(importlib.import_module(module_name), attr)
        dict.clear(backend_dict)
        dict.update(backend_dict, accounts)
        vars(backend_dict).update(state["attributes"].get((module_name, attr), {}))
        if backend_dict not in BackendDict._instances:
            BackendDict._instances.append(backend_dict)


def snapshot_header() -> dict[str, Any]:
    return {"moto": moto.__version__, "python": "%d.%d" % sys.version_info[:2]}


# --- SQS receipt handles ------------------------------------------------------------------------------


def _queues(name: str) -> Iterable[Any]:
    from moto.sqs.models import sqs_backends

    for _, _, backend in sqs_backends.iter_backends():
        queue = backend.queues.get(name)
        if queue is not None:
            yield queue


def messages_for_receipts(queue_name: str | None, handles: list[str]) -> dict[str, str]:
    """{receipt handle: message id} for the handles a live message of that queue had."""
    found: dict[str, str] = {}
    if not queue_name or not handles:
        return found
    wanted = set(handles)
    for queue in _queues(queue_name):
        for message in list(queue._messages):
            for handle in message.all_receipt_handles:
                if handle in wanted:
                    found[handle] = message.id
    return found


def give_back_receipts(queue_name: str | None, receipts: dict[str, str]) -> None:
    """Before a replayed delete: let each message accept the handle it had when the delete was made."""
    if not queue_name or not receipts:
        return
    by_id: dict[str, list[str]] = {}
    for handle, message_id in receipts.items():
        by_id.setdefault(message_id, []).append(handle)
    for queue in _queues(queue_name):
        for message in queue._messages:
            for handle in by_id.get(message.id, ()):
                if handle not in message.all_receipt_handles:
                    message._old_receipt_handles.append(handle)


def abort_interrupted_executions() -> int:
    """A Step Functions execution that was running when moto stopped does not go on (executions are
    never run again): after a restart from a snapshot it reads ABORTED instead of RUNNING forever.
    Returns how many."""
    parser = sys.modules.get("moto.stepfunctions.parser.models")
    if parser is None:
        return 0
    from moto.stepfunctions.parser.api import ExecutionStatus

    aborted = 0
    for _, _, backend in parser.stepfunctions_parser_backends.iter_backends():
        for execution in backend._get_executions(ExecutionStatus.RUNNING):
            execution.exec_status = ExecutionStatus.ABORTED
            execution.stop_date = datetime.datetime.now(tz=datetime.timezone.utc)
            execution.error, execution.cause = "Hippodrome.MotoRestarted", "moto restarted; executions are not resumed"
            aborted += 1
    return aborted


def release_in_flight() -> int:
    """After a restart every message not deleted is visible again, whether it came back from a
    snapshot (which knows it was in flight) or from the journal (which never replays receives):
    a receive is not an acknowledgement, and the consumer that held it may be gone.  Receipt
    handles a snapshot kept still delete.  Returns how many messages were released."""
    from moto.sqs.models import sqs_backends

    released = 0
    for _, _, backend in sqs_backends.iter_backends():
        for queue in backend.queues.values():
            for message in queue._messages:
                if message.visible_at:
                    message.visible_at = 0.0
                    released += 1
            queue._pending_messages = set()
    return released


# --- journal entries <-> WSGI requests ------------------------------------------------------------


def request_entry(environ: dict[str, Any], body: bytes) -> dict[str, Any]:
    """What the journal keeps of a request (moto's recorder keeps the same fields: method, url,
    headers, body, body_encoded)."""
    from moto.core.request import EnvironHeaders

    headers = {k: v for k, v in EnvironHeaders(environ).items() if k.lower() not in ("transfer-encoding", "content-length")}
    raw_uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or _uri_from(environ)
    host = environ.get("HTTP_HOST") or f"{environ.get('SERVER_NAME', 'localhost')}:{environ.get('SERVER_PORT', '80')}"
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode("ascii"), True
    return {"method": environ.get("REQUEST_METHOD", "GET"), "url": f"http://{host}{raw_uri}", "headers": headers,
            "body": text, "body_encoded": encoded}


def _uri_from(environ: dict[str, Any]) -> str:
    from urllib.parse import quote

    path = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace")
    query = environ.get("QUERY_STRING", "")
    return quote(path) + (f"?{query}" if query else "")


def entry_environ(entry: dict[str, Any]) -> dict[str, Any]:
    """A WSGI environ for a journalled request, as werkzeug's server would have built it."""
    body = base64.b64decode(entry["body"]) if entry.get("body_encoded") else (entry.get("body") or "").encode("utf-8")
    return request_environ(entry["method"], entry["url"], entry.get("headers", {}), body)


def request_environ(method: str, full_url: str, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """A WSGI environ for a request, as werkzeug's server would have built it (a journalled one replayed,
    the bootstrap's served in-process: inprocess.py)."""
    url = urlsplit(full_url)
    host, _, port = url.netloc.partition(":")
    raw_uri = url.path + (f"?{url.query}" if url.query else "")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method, "SCRIPT_NAME": "",
        "PATH_INFO": unquote(url.path).encode("utf-8").decode("latin-1"), "QUERY_STRING": url.query,
        "RAW_URI": raw_uri, "REQUEST_URI": raw_uri, "SERVER_NAME": host or "localhost", "SERVER_PORT": port or "80",
        "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "CONTENT_LENGTH": str(len(body)),
        "wsgi.version": (1, 0), "wsgi.url_scheme": url.scheme or "http", "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr, "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
    }
    preserved: dict[str, str] = {}
    for name, value in headers.items():
        key = environ_key_for_header(name)
        environ[key] = value
        if should_preserve_original_header_name(name):
            preserved[key] = name
    environ["CONTENT_LENGTH"] = str(len(body))
    environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = preserved
    return environ
