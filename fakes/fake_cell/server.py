"""The HTTP surface of fake_cell: routing, the Marqo error envelope, API-key checks.

Why: handlers only parse the request, hand the work to the store's threads (one writer, a few
readers; a small LEXICAL search, cheaper than the hand-off, runs on the loop under a time
budget, see Cell.search_inline, and so does an add of documents when nothing else is in
flight, see Cell.add) and shape the response; everything Marqo-specific below
HTTP lives in search.py, documents.py and store.py. Two middlewares make the resilience
contract hold for every path: `envelope` turns any failure (CellError, aiohttp's
404/405/413, an unexpected exception) into Marqo's JSON error body, and `authenticate`
enforces `x-api-key` when the stack asks for it.
"""

from __future__ import annotations

import asyncio
import functools
import hmac
import json
import logging
import queue
import sqlite3
import threading
import time
from typing import Any, Awaitable, Callable

from aiohttp import web

from fakes.common.web import guard, json_errors
from hippodrome_k8s.core import jsonbody
from hippodrome_k8s.core.errors import InvalidBody
from hippodrome_k8s.core.origins import Policy

from . import VERSION, documents, models, query, search, seeding, settings, telemetry
from .accounts import EVERYTHING, Scope
from .apikeys import KeyRing
from .config import Config
from .errors import CellError, bad_request, batch_apis_disabled, invalid, unauthorized
from .openapi import document as openapi_document
from .store import Store, compact_json, elapsed_ms, now_iso

log = logging.getLogger("fake_cell")

PUBLIC = {"/healthz", "/openapi.json"}
HEALTH = {"status": "green", "inference": {"status": "green"},
          "backend": {"status": "green", "memoryIsAvailable": True, "storageIsAvailable": True}}
MAX_BODY = 64 * 1024 * 1024
MAX_DELETE = 10_000  # MARQO_MAX_DELETE_DOCS_COUNT
INLINE_LIMIT = 100  # hits: a LEXICAL search for at most this many may run on the event loop
INLINE_BUDGET = 0.002  # s of SQLite work before an inline search is handed to a reader thread
INLINE_CHECK = 10_000  # SQLite VM steps between two looks at the clock
_MISSING = object()
_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large",
               400: "invalid_argument"}


def reply(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=compact_json(obj).encode("utf-8"), status=status,
                        content_type="application/json")


async def json_body(request: web.Request, default: Any = _MISSING) -> Any:
    raw = await request.read()
    if not raw.strip():
        if default is not _MISSING:
            return default
        raise invalid("Request body is empty: a JSON body is required")
    try:
        return jsonbody.parse(raw)  # depth at most 64, no lone surrogate: a 400 naming the field, never a 500
    except InvalidBody as exc:
        raise invalid(exc.message if exc.kind != "not_json" else f"Request body is not valid JSON: {exc.message}",
                      field=exc.field) from None


def flag(request: web.Request, *names: str) -> bool:
    for name in names:
        value = request.query.get(name)
        if value is not None:
            return value.strip().lower() in ("true", "1", "yes")
    return False


def _settle(future: asyncio.Future, ok: bool, value: Any) -> None:
    if not future.done():  # the request may have been cancelled (client gone)
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


class Workers:
    """Threads that run blocking calls for the event loop, like run_in_executor, lighter.

    Why not ThreadPoolExecutor: with run_in_executor a call's round trip (concurrent.futures
    future, chained asyncio future, two thread wake-ups) measured 0.10-0.15 ms on the 2-core
    bench machine, a third of a LEXICAL query; here a call is one put on a SimpleQueue and one
    call_soon_threadsafe back, 0.04-0.08 ms (mostly the wake-ups). A call whose request was
    cancelled before a thread took it is skipped, as the executor would.

    Calls are handed over from the event loop's thread only; `idle` (asked there) says whether
    every call handed over so far is done: each thread counts the calls it is done with in a
    slot of its own, so no count is shared between threads.
    """

    def __init__(self, count: int, name: str) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._handed_over = 0
        self._done = [0] * count
        self._threads = [threading.Thread(target=self._work, args=(n,), name=f"{name}_{n}", daemon=True)
                         for n in range(count)]
        for thread in self._threads:
            thread.start()

    @property
    def idle(self) -> bool:
        return self._handed_over == sum(self._done)

    def run(self, fn: Callable[[], Any]) -> asyncio.Future:
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._handed_over += 1
        self._queue.put((loop, future, fn))
        return future

    def _work(self, slot: int) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                self._call(*item)
            finally:
                self._done[slot] += 1  # after the call returned: the loop may then take its place

    @staticmethod
    def _call(loop: asyncio.AbstractEventLoop, future: asyncio.Future, fn: Callable[[], Any]) -> None:
        if future.cancelled():
            return
        try:
            result = fn()
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting handler
            outcome: tuple[bool, Any] = (False, exc)
        else:
            outcome = (True, result)
        try:
            loop.call_soon_threadsafe(_settle, future, *outcome)
        except RuntimeError:  # the loop is closed: nobody awaits the result any more
            pass

    def shutdown(self) -> None:
        """Finish the queued calls, then stop the threads."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()


class Cell:
    """The running service: store, keyring and the threads that touch SQLite."""

    def __init__(self, config: Config) -> None:
        self.config = config
        config.state_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(str(config.db_path))
        self.keys = KeyRing(config.secret)
        self.models = models.LoadedModels()
        self.keys.load(self.store.writer)
        if config.seed_accounts is not None:  # before the app serves: /healthz 200 means seeded
            for line in self.store.write(lambda conn: seeding.apply(conn, self.keys, config.seed_accounts)):
                log.info("%s", line)
            self.keys.refresh(self.store.writer)
        self._writer = Workers(1, "fake_cell-writer")
        self._readers = Workers(2, "fake_cell-reader")

    async def write(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self._writer.run(functools.partial(fn, *args))

    async def read(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await self._readers.run(functools.partial(fn, *args))

    async def add(self, name: str, body: Any, timings: telemetry.Timings = telemetry.NO_TIMINGS
                  ) -> dict[str, Any]:
        """Add a batch of documents: right here on the event loop when nothing else is in flight and
        the batch needs no I/O but SQLite's, else on the writer thread.

        Why: the hand-off buys overlap with other requests, and with none in flight it buys
        nothing but costs two thread wake-ups and the batch's objects moving to another core:
        `bench_fake_cell.py` adds, API ÷ raw SQLite, 3.60 with every add on the writer thread and
        3.38 this way (medians of 7 pairs of runs, faster in all 7). Such a batch is bounded
        (documents.MAX_BATCH documents, the hashed embedding, no image to fetch:
        IndexInfo.adds_without_io): the loop is held ~5 ms for 100 short documents, ~20 ms when
        the commit also merges the pending filter values (every store.MERGE_PENDING rows). With
        the writer idle nothing else touches its connection meanwhile: only this thread hands it
        work.
        """
        info = self.store.indexes.get(name)
        if info is not None and info.adds_without_io and self._writer.idle and self._readers.idle:
            return self.add_documents(name, body, timings)
        return await self.write(self.add_documents, name, body, timings)

    def uses_model(self, name: str) -> None:
        """The index's model is loaded by its first use, as in Marqo (GET /models lists it)."""
        info = self.store.indexes.get(name)
        if info is not None:
            self.models.use(info.settings.get("model", models.DEFAULT_MODEL))

    def search_inline(self, name: str, req: search.SearchRequest,
                      timings: telemetry.Timings = telemetry.NO_TIMINGS) -> dict[str, Any] | None:
        """A small LEXICAL search run right here on the event loop; None when it is not small.

        Why: such a query takes ~0.3 ms, and handing it to a reader thread and back costs two
        thread wake-ups, ~0.15 ms measured, more under CPU contention. To keep the loop
        responsive, SQLite interrupts the query once it has run INLINE_BUDGET (a progress
        handler), and the search then runs again on a reader thread; results are capped at
        INLINE_LIMIT hits, so decoding them stays short too.
        """
        conn = self.store.reader()  # this thread's own connection
        deadline = time.perf_counter() + INLINE_BUDGET
        conn.set_progress_handler(lambda: time.perf_counter() > deadline, INLINE_CHECK)
        try:
            return search.run_search(self.store, name, req, timings)
        except sqlite3.OperationalError as exc:
            if "interrupt" not in str(exc):
                raise
            return None
        finally:
            conn.set_progress_handler(None, 0)

    def close(self) -> None:
        self._writer.shutdown()
        self._readers.shutdown()
        self.store.close()

    # -- documents (run on the writer thread) ----------------------------------------------
    def add_documents(self, name: str, body: Any, timings: telemetry.Timings = telemetry.NO_TIMINGS
                      ) -> dict[str, Any]:
        start = time.perf_counter()
        docs = _document_list(body)
        info = self.store.index(name)
        self.uses_model(name)
        tensor_fields, mappings = body.get("tensorFields"), body.get("mappings")
        documents.check_batch_options(info.settings, tensor_fields, mappings)
        if not isinstance(body.get("useExistingTensors", False), bool):
            raise invalid("Invalid value for 'useExistingTensors': must be a boolean")
        with timings.time("add_documents.processing_before_vespa"):
            prepared = [documents.prepare(d, info.settings, tensor_fields, mappings) for d in docs]
        with timings.time("add_documents.vespa._bulk"):
            items = self.store.add_documents(name, prepared)
        return _batch_reply(name, items, start)

    def update_documents(self, name: str, body: Any) -> dict[str, Any]:
        start = time.perf_counter()
        docs = _document_list(body, "update_documents")
        items = self.store.update_documents(name, docs)
        return _batch_reply(name, items, start)

    def delete_documents(self, name: str, ids: Any) -> dict[str, Any]:
        started = now_iso()
        start = time.perf_counter()
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise query.unprocessable("documentIds", "value is not a valid list of strings", "type_error.list")
        self.store.index(name)
        if not ids:
            raise CellError(400, "invalid_document_id", "doc_ids can't be empty!")
        if len(ids) > MAX_DELETE:
            raise invalid(f"The number of documentIds to delete `{len(ids)}` is greater than the limit "
                          f"`{MAX_DELETE}` set by the env var `MARQO_MAX_DELETE_DOCS_COUNT`. ")
        if not all(ids):
            raise CellError(400, "invalid_document_id", "Document _id must be a non-empty string")
        items = self.store.delete_documents(name, ids)
        deleted = sum(1 for i in items if i["status"] == 200)
        return {"index_name": name, "status": "succeeded", "type": "documentDeletion",
                "items": items, "details": {"receivedDocumentIds": len(ids), "deletedDocuments": deleted},
                "duration": f"PT{(time.perf_counter() - start):.3f}S",
                "startedAt": started, "finishedAt": now_iso()}

    def create_key(self, body: Any) -> tuple[int, dict[str, str]]:
        result = self.store.write(lambda conn: self.keys.create(conn, body))
        self.keys.refresh(self.store.writer)
        return result

    def delete_key(self, name: str) -> bool:
        deleted = self.store.write(lambda conn: self.keys.delete(conn, name))
        self.keys.refresh(self.store.writer)
        return deleted


CELL = web.AppKey("cell", Cell)


def _document_list(body: Any, operation: str = "add documents") -> list[Any]:
    """The `documents` of an add or update body; Marqo's `bad_request` when empty or too many."""
    if not isinstance(body, dict):
        raise invalid("Body must be a JSON object with a 'documents' list")
    docs = body.get("documents")
    if not isinstance(docs, list):
        raise invalid("Field 'documents' is required and must be a list")
    if not docs:
        raise bad_request("Received empty add documents request")
    if len(docs) > documents.MAX_BATCH:
        raise bad_request(f"Number of docs in {operation} request ({len(docs)}) exceeds limit of "
                          f"{documents.MAX_BATCH}. If using the Python client, break up your "
                          f"`{operation.replace(' ', '_')}` request into smaller batches using its "
                          "`client_batch_size` parameter.")
    return docs


def _batch_reply(name: str, items: list[dict[str, Any]], start: float) -> dict[str, Any]:
    return {"errors": any(i["status"] >= 400 for i in items), "processingTimeMs": elapsed_ms(start),
            "index_name": name, "items": items}


# -- middlewares ---------------------------------------------------------------------------
TIMINGS = "fake_cell.timings"
SCOPE = "fake_cell.scope"


def _scope(request: web.Request) -> Scope:
    return request.get(SCOPE, EVERYTHING)


def _index(request: web.Request) -> str:
    """The path's index name, if the request's key may see that index (else Marqo's 404)."""
    return _scope(request).existing(request.match_info["name"])


def _timings(request: web.Request) -> telemetry.Timings:
    return request.get(TIMINGS, telemetry.NO_TIMINGS)


@web.middleware
async def with_telemetry(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
    """`?telemetry=true` adds Marqo's `telemetry` object to a JSON object response (errors too)."""
    if not request.query_string or not telemetry.requested(request.query):
        return await handler(request)
    timings = request[TIMINGS] = telemetry.Timings()
    response = await handler(request)
    if not isinstance(response, web.Response) or response.content_type != "application/json":
        return response
    data = json.loads(response.body) if response.body else None
    if not isinstance(data, dict):
        return response
    data["telemetry"] = timings.json()
    out = reply(data, response.status)
    if "Allow" in response.headers:
        out.headers["Allow"] = response.headers["Allow"]
    return out


def error_body(status: int, message: str, field: str | None = None) -> tuple[dict[str, Any], str]:
    """Marqo's error shape, for what the shared edge refuses and for aiohttp's own errors."""
    body = CellError(status, _HTTP_CODES.get(status, "internal" if status >= 500 else "http_error"), message).body()
    if field:
        body["field"] = field
    return body, "application/json"


def _cell_error(exc: Exception) -> web.StreamResponse | None:
    return reply(exc.body(), exc.status) if isinstance(exc, CellError) else None


envelope = json_errors(error_body, _cell_error, log)  # every failure in Marqo's JSON error shape


@web.middleware
async def authenticate(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                       ) -> web.StreamResponse:
    cell: Cell = request.app[CELL]
    path = request.path
    if path.startswith("/_hippodrome/"):
        given = request.headers.get("x-hippodrome-admin-secret", "")
        if not hmac.compare_digest(given.encode("utf-8"), cell.config.secret.encode("utf-8")):
            raise unauthorized("Missing or wrong x-hippodrome-admin-secret header")
    elif path not in PUBLIC:
        key = request.headers.get("x-api-key")
        scope = cell.keys.check(key) if key else None
        if scope is None:
            if cell.config.require_api_key:
                raise unauthorized()
        elif not scope.unrestricted:  # the key's account sees only its own indexes
            request[SCOPE] = scope
    return await handler(request)


# -- handlers ------------------------------------------------------------------------------
routes = web.RouteTableDef()


def _cell(request: web.Request) -> Cell:
    return request.app[CELL]


@routes.get("/")
async def root(request: web.Request) -> web.Response:
    return reply({"message": "Welcome to Marqo", "version": VERSION})


@routes.get("/healthz")
async def healthz(request: web.Request) -> web.Response:
    return reply({"status": "ok"})


@routes.get("/health")
async def health(request: web.Request) -> web.Response:
    return reply(HEALTH)


@routes.get("/openapi.json")
async def openapi(request: web.Request) -> web.Response:
    return reply(openapi_document())


@routes.get("/models")
async def loaded_models(request: web.Request) -> web.Response:
    return reply(_cell(request).models.listing())


@routes.delete("/models")
async def eject_model(request: web.Request) -> web.Response:
    missing = [name for name in ("model_name", "model_device") if name not in request.query]
    if missing:  # FastAPI's answer for a required query parameter that is absent
        raise CellError(422, "unprocessable_entity", f"Missing query parameter(s): {', '.join(missing)}",
                        extra={"detail": [{"loc": ["query", name], "msg": "field required",
                                           "type": "value_error.missing"} for name in missing]})
    return reply(_cell(request).models.eject(request.query["model_name"], request.query["model_device"]))


@routes.get("/device/cpu")
async def cpu(request: web.Request) -> web.Response:
    return reply({"cpu_usage_percent": "0.0 %", "memory_used_percent": "0.0 %", "memory_used_gb": "0.0"})


@routes.get("/device/cuda")
async def cuda(request: web.Request) -> web.Response:
    raise CellError(400, "hardware_compatability_error", "ERROR: cuda is not supported in your machine!!")


@routes.get("/indexes")
async def list_indexes(request: web.Request) -> web.Response:
    names = _scope(request).visible(sorted(_cell(request).store.indexes))
    return reply({"results": [{"indexName": n} for n in names]})


@routes.post("/indexes/{name}")
async def create_index(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    settings.check_index_name(name)
    _scope(request).creatable(name)
    body = settings.normalise(await json_body(request, default={}))
    cell = _cell(request)
    await cell.write(cell.store.create_index, name, body)
    return reply({"acknowledged": True, "index": name})


@routes.delete("/indexes/{name}")
async def delete_index(request: web.Request) -> web.Response:
    cell = _cell(request)
    await cell.write(cell.store.delete_index, _index(request))
    return reply({"acknowledged": True})


@routes.get("/indexes/{name}/settings")
async def get_settings(request: web.Request) -> web.Response:
    return reply(settings.public(_cell(request).store.index(_index(request)).settings))


@routes.get("/indexes/{name}/health")
async def index_health(request: web.Request) -> web.Response:
    _cell(request).store.index(_index(request))
    return reply(HEALTH)


@routes.get("/indexes/{name}/status")
async def index_status(request: web.Request) -> web.Response:
    """The client polls this after create_index whenever it was given an api_key."""
    _cell(request).store.index(_index(request))
    return reply({"indexStatus": "READY"})


@routes.get("/indexes/{name}/stats")
async def stats(request: web.Request) -> web.Response:
    cell = _cell(request)
    docs, vectors = await cell.read(cell.store.stats, _index(request))
    return reply({"numberOfDocuments": docs, "numberOfVectors": vectors,
                  "backend": {"memoryUsedPercentage": 0.0, "storageUsedPercentage": 0.0}})


@routes.post("/indexes/{name}/documents")
async def add_documents(request: web.Request) -> web.Response:
    cell = _cell(request)
    body = await json_body(request)
    name = _index(request)
    timings = _timings(request)
    with timings.time(f"POST /indexes/{name}/documents"):
        return reply(await cell.add(name, body, timings))


@routes.patch("/indexes/{name}/documents")
async def update_documents(request: web.Request) -> web.Response:
    cell = _cell(request)
    body = await json_body(request)
    return reply(await cell.write(cell.update_documents, _index(request), body))


@routes.get("/indexes/{name}/documents")
async def get_documents(request: web.Request) -> web.Response:
    cell = _cell(request)
    ids = await json_body(request)
    facets = flag(request, "expose_facets", "show_vectors")
    return reply(await cell.read(search.get_documents, cell.store, _index(request), ids, facets))


@routes.get("/indexes/{name}/documents/{doc_id}")
async def get_document(request: web.Request) -> web.Response:
    cell = _cell(request)
    facets = flag(request, "expose_facets", "show_vectors")
    return reply(await cell.read(search.get_document, cell.store, _index(request),
                                 request.match_info["doc_id"], facets))


@routes.post("/indexes/{name}/documents/delete-batch")
async def delete_documents(request: web.Request) -> web.Response:
    cell = _cell(request)
    ids = await json_body(request)
    return reply(await cell.write(cell.delete_documents, _index(request), ids))


@routes.post("/indexes/{name}/search")
async def search_index(request: web.Request) -> web.Response:
    cell = _cell(request)
    req = search.parse_search(await json_body(request))
    name = _index(request)
    timings = _timings(request)
    with timings.time(f"POST /indexes/{name}/search"):
        if req.method == "LEXICAL" and req.limit + req.offset <= INLINE_LIMIT and not req.modifiers:
            out = cell.search_inline(name, req, timings)
            if out is not None:
                return reply(out)
        if req.method != "LEXICAL":
            cell.uses_model(name)
        return reply(await cell.read(search.run_search, cell.store, name, req, timings))


@routes.post("/indexes/{name}/recommend")
async def recommend(request: web.Request) -> web.Response:
    cell = _cell(request)
    body = await json_body(request)
    name = _index(request)
    timings = _timings(request)
    with timings.time(f"POST /indexes/{name}/search"):  # (Marqo times recommend under this key)
        return reply(await cell.read(search.run_recommend, cell.store, name, body, timings))


@routes.post("/indexes/{name}/embed")
async def embed(request: web.Request) -> web.Response:
    cell = _cell(request)
    body = await json_body(request)
    name = _index(request)
    cell.uses_model(name)
    timings = _timings(request)
    with timings.time(f"POST /indexes/{name}/embed"):
        return reply(await cell.read(search.run_embed, cell.store, name, body, timings))


# -- Marqo's internal batch APIs (MARQO_ENABLE_BATCH_APIS; here FAKE_CELL_ENABLE_BATCH_APIS) ---
def _batch_apis(request: web.Request) -> Cell:
    cell = _cell(request)
    if not cell.config.enable_batch_apis:
        raise batch_apis_disabled()
    return cell


@routes.post("/batch/indexes/create")
async def batch_create_indexes(request: web.Request) -> web.Response:
    cell = _batch_apis(request)
    items = settings.batch_create_body(await json_body(request))
    for name, _ in items:
        _scope(request).creatable(name)
    await cell.write(cell.store.create_indexes, items)
    return reply({"acknowledged": True, "index_names": [name for name, _ in items]})


@routes.post("/batch/indexes/delete")
async def batch_delete_indexes(request: web.Request) -> web.Response:
    cell = _batch_apis(request)
    names = await json_body(request)
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise invalid("Body must be a JSON list of index names")
    for name in names:
        _scope(request).existing(name)
    await cell.write(cell.store.delete_indexes, names)
    return reply({"acknowledged": True, "index_names": names})


@routes.delete("/indexes/{name}/documents/delete-all")
async def delete_all_documents(request: web.Request) -> web.Response:
    cell = _batch_apis(request)
    count = await cell.write(cell.store.delete_all_documents, _index(request))
    return reply({"documentCount": count})


# -- Hippodrome admin: API keys ------------------------------------------------------------
@routes.post("/_hippodrome/api-keys")
async def create_api_key(request: web.Request) -> web.Response:
    cell = _cell(request)
    status, out = await cell.write(cell.create_key, await json_body(request))
    return reply(out, status)


@routes.get("/_hippodrome/api-keys")
async def list_api_keys(request: web.Request) -> web.Response:
    cell = _cell(request)
    keys = await cell.read(lambda: cell.keys.list(cell.store.reader()))
    return reply({"results": keys})


@routes.delete("/_hippodrome/api-keys/{name}")
async def delete_api_key(request: web.Request) -> web.Response:
    cell = _cell(request)
    name = request.match_info["name"]
    if not await cell.write(cell.delete_key, name):
        raise CellError(404, "api_key_not_found", f"No API key named {name!r}")
    return reply({"deleted": name})


def make_app(config: Config, policy: Policy | None = None) -> web.Application:
    """``policy``: who may call (Origin, Host); the stack's, from the env, in a real process."""
    edge = guard(policy or Policy.of(), error_body)
    app = web.Application(middlewares=[edge, with_telemetry, envelope, authenticate], client_max_size=MAX_BODY)
    cell = Cell(config)
    app[CELL] = cell
    app.add_routes(routes)

    async def on_cleanup(app: web.Application) -> None:
        await asyncio.get_running_loop().run_in_executor(None, cell.close)

    app.on_cleanup.append(on_cleanup)
    return app
