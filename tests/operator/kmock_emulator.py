"""kmock's KubernetesEmulator, with the test-side fixes kopf needs (listed below), for running kopf in-process.

kmock 0.8 gives us the HTTP server, request parsing and API discovery; its
object store is too loose for kopf, so this subclass serves objects itself:

1. create/patch stamp ``resourceVersion`` (one counter, as etcd does), ``uid``,
   ``creationTimestamp`` and ``generation`` (bumped when ``spec`` changes);
   a no-op patch changes nothing and emits no event, as on a real server;
2. list returns the collection's real resourceVersion and watch honours
   ``?resourceVersion=`` (replays history after it: no stale duplicate ADDED);
3. a watch takes its snapshot and its cursor under one lock (no lost events);
4. JSON patch is applied with ``jsonpatch``; a failed ``test`` op answers 422;
   merge patches follow RFC 7386; the ``status`` subresource only touches status;
5. ``GET /api/v1/namespaces`` is never needed: run kopf with explicit namespaces
   and ``settings.scanning.disabled = True``;
6. ``KopfThread`` runs ``kopf.operator()`` in its own thread with its own loop.

``running_emulator`` serves it over HTTP and writes a kubeconfig naming it, so
clients log in exactly as they would against a real cluster from outside.

Deletion honours finalizers (``deletionTimestamp`` first, gone when the last
finalizer is removed).  Not emulated: owner-reference garbage collection,
label selectors (the operator also filters client-side), PUT.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
import jsonpatch
import kmock
import yaml
from kmock._internal import enums

Key = tuple[str, str, str]  # group, version, plural

STACKS: Key = ("hippodrome.dev", "v1alpha1", "hippodromestacks")
DEPLOYMENTS: Key = ("apps", "v1", "deployments")
SERVICES: Key = ("", "v1", "services")
PODS: Key = ("", "v1", "pods")


def _now() -> str:
    return datetime.now(tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _error(status: int, reason: str, message: str) -> aiohttp.web.Response:
    return aiohttp.web.json_response({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Failure",
                                      "code": status, "reason": reason, "message": message}, status=status)


@attrs.define(kw_only=True)
class Emulator(kmock.KubernetesEmulator):
    store: dict[tuple[Key, str | None, str], dict[str, Any]] = attrs.field(factory=dict, init=False)
    history: list[tuple[int, Key, dict[str, Any]]] = attrs.field(factory=list, init=False)
    rv: int = attrs.field(default=1, init=False)
    changed: asyncio.Condition = attrs.field(factory=asyncio.Condition, init=False)
    created_at: dict[tuple[str, str], float] = attrs.field(factory=dict, init=False)  # (plural, name) -> monotonic
    deleted_at: dict[tuple[str, str], float] = attrs.field(factory=dict, init=False)
    hooks: list[Callable[[str, Key, dict[str, Any]], None]] = attrs.field(factory=list, init=False)
    # A test's stand-in for the API server's validation: return a message to answer 422 Invalid.
    refuse: Callable[[Key, Mapping[str, Any]], str | None] | None = attrs.field(default=None, init=False)
    closing: bool = attrs.field(default=False, init=False)

    async def close_watches(self) -> None:
        """End every open watch stream now (else the server's shutdown waits for them)."""
        self.closing = True
        async with self.changed:
            self.changed.notify_all()

    def register_stack_crd(self) -> None:
        self.resources.load_bundled()
        self.resources["hippodrome.dev/v1alpha1/hippodromestacks"] = kmock.ResourceInfo(
            kind="HippodromeStack", singular="hippodromestack", namespaced=True, shortnames={"hds"},
            verbs={"get", "list", "watch", "create", "patch", "update", "delete"}, subresources={"status"})

    # --- the store --------------------------------------------------------------------------

    async def _emit(self, kind: str, key: Key, obj: dict[str, Any]) -> None:
        self.history.append((int(obj["metadata"]["resourceVersion"]), key, {"type": kind, "object": copy.deepcopy(obj)}))
        for hook in self.hooks:
            hook(kind, key, obj)
        async with self.changed:
            self.changed.notify_all()

    def _bump(self, obj: dict[str, Any]) -> None:
        self.rv += 1
        obj["metadata"]["resourceVersion"] = str(self.rv)

    async def create(self, key: Key, namespace: str | None, body: Mapping[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(dict(body))
        meta = obj.setdefault("metadata", {})
        if namespace:
            meta["namespace"] = namespace
        name = meta.get("name") or f"{meta.get('generateName', 'obj-')}{uuid.uuid4().hex[:5]}"
        meta["name"] = name
        store_key = (key, meta.get("namespace"), name)
        if store_key in self.store:
            raise _Conflict(f"{key[2]} {name!r} already exists")
        if self.refuse is not None and (reason := self.refuse(key, obj)):
            raise _Unprocessable(reason)
        meta.update(uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1)
        self._bump(obj)
        self.store[store_key] = obj
        self.created_at[(key[2], name)] = time.monotonic()
        await self._emit("ADDED", key, obj)
        return obj

    async def patch(self, key: Key, namespace: str | None, name: str, patch: Any, *,
                    subresource: str | None = None) -> dict[str, Any]:
        store_key = (key, namespace, name)
        old = self.store.get(store_key)
        if old is None:
            raise _NotFound(f"{key[2]} {name!r} not found")
        if isinstance(patch, list):
            try:
                new = jsonpatch.apply_patch(copy.deepcopy(old), patch)
            except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException) as e:
                raise _Unprocessable(str(e)) from None
            if subresource == "status":
                new = {**old, "status": new.get("status")}
        elif subresource == "status":
            new = {**old, "status": merge_patch(old.get("status"), (patch or {}).get("status"))}
        else:
            new = merge_patch(old, {k: v for k, v in (patch or {}).items() if k != "status"})
        new["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
        if new == old:
            return old
        if subresource is None and self.refuse is not None and (reason := self.refuse(key, new)):
            raise _Unprocessable(reason)
        if subresource != "status" and new.get("spec") != old.get("spec"):
            new["metadata"]["generation"] = int(old["metadata"].get("generation", 1)) + 1
        self._bump(new)
        meta = new["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            del self.store[store_key]
            self.deleted_at[(key[2], name)] = time.monotonic()
            await self._emit("DELETED", key, new)
            return new
        self.store[store_key] = new
        await self._emit("MODIFIED", key, new)
        return new

    async def delete(self, key: Key, namespace: str | None, name: str) -> dict[str, Any]:
        store_key = (key, namespace, name)
        obj = self.store.get(store_key)
        if obj is None:
            raise _NotFound(f"{key[2]} {name!r} not found")
        if obj["metadata"].get("finalizers"):
            if not obj["metadata"].get("deletionTimestamp"):
                obj = copy.deepcopy(obj)
                obj["metadata"]["deletionTimestamp"] = _now()
                self._bump(obj)
                self.store[store_key] = obj
                await self._emit("MODIFIED", key, obj)
            return obj
        del self.store[store_key]
        self._bump(obj)
        self.deleted_at[(key[2], name)] = time.monotonic()
        await self._emit("DELETED", key, obj)
        return obj

    def get(self, key: Key, namespace: str | None, name: str) -> dict[str, Any] | None:
        return self.store.get((key, namespace, name))

    def items(self, key: Key, namespace: str | None = None) -> list[dict[str, Any]]:
        return [o for (k, ns, _), o in self.store.items() if k == key and (namespace is None or ns == namespace)]

    # --- HTTP ------------------------------------------------------------------------------

    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        res = request.resource
        if res is None or request.action is None or res.plural is None:
            return await kmock.RawHandler._handle(self, request)  # discovery: kmock's scaffold
        key: Key = (res.group or "", res.version or "", res.plural)
        ns, name, action = request.namespace, request.name, request.action
        try:
            if action == enums.action.WATCH:
                return await self._watch(request, key)
            if action == enums.action.LIST:
                return aiohttp.web.json_response({"kind": "List", "apiVersion": "v1",
                                                  "metadata": {"resourceVersion": str(self.rv)},
                                                  "items": self.items(key, ns)})
            if action == enums.action.FETCH:
                obj = self.get(key, ns, name)
                if obj is None:
                    raise _NotFound(f"{key[2]} {name!r} not found")
                return aiohttp.web.json_response(obj)
            if action == enums.action.CREATE:
                return aiohttp.web.json_response(await self.create(key, ns, request.data or {}), status=201)
            if action == enums.action.UPDATE:
                return aiohttp.web.json_response(await self.patch(key, ns, name, request.data,
                                                                  subresource=request.subresource))
            if action == enums.action.DELETE:
                return aiohttp.web.json_response(await self.delete(key, ns, name))
        except _ApiError as e:
            return _error(e.status, e.reason, str(e))
        return _error(405, "MethodNotAllowed", f"{request.method} is not emulated")

    async def _watch(self, request: kmock.Request, key: Key) -> aiohttp.web.StreamResponse:
        raw = request._raw_request
        assert raw is not None
        params = request.params
        timeout = float(params.get("timeoutSeconds") or 3600)
        deadline = time.monotonic() + timeout
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(raw)
        ns = request.namespace
        if params.get("resourceVersion"):
            cursor = int(params["resourceVersion"])
            initial: list[dict[str, Any]] = []
        else:
            cursor = self.rv  # snapshot and cursor taken together: nothing in between
            initial = [{"type": "ADDED", "object": copy.deepcopy(o)} for o in self.items(key, ns)]
        try:
            for event in initial:
                await response.write(json.dumps(event).encode() + b"\n")
            while time.monotonic() < deadline and not self.closing:
                events = [e for rv, k, e in self.history if rv > cursor and k == key
                          and (ns is None or e["object"]["metadata"].get("namespace") == ns)]
                cursor = self.rv
                for event in events:
                    await response.write(json.dumps(event).encode() + b"\n")
                async with self.changed:
                    if self.rv == cursor and not self.closing:
                        try:
                            await asyncio.wait_for(self.changed.wait(), timeout=min(1.0, max(0.01, deadline - time.monotonic())))
                        except asyncio.TimeoutError:
                            pass
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        return response


class _ApiError(Exception):
    status, reason = 500, "InternalError"


class _NotFound(_ApiError):
    status, reason = 404, "NotFound"


class _Conflict(_ApiError):
    status, reason = 409, "AlreadyExists"


class _Unprocessable(_ApiError):
    status, reason = 422, "Invalid"


class KopfThread:
    """``kopf.operator()`` in its own thread and loop (on the test's loop it would cancel the emulator's tasks)."""

    def __init__(self, registry: Any, settings: Any, namespace: str):
        self.registry, self.settings, self.namespace = registry, settings, namespace
        self.ready = threading.Event()
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="kopf", daemon=True)

    def _run(self) -> None:
        import kopf

        try:
            asyncio.run(kopf.operator(registry=self.registry, settings=self.settings, standalone=True,
                                      namespaces=[self.namespace], stop_flag=self.stop, ready_flag=self.ready))
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e

    @property
    def alive(self) -> bool:
        return self.thread.is_alive()

    async def __aenter__(self) -> "KopfThread":
        self.thread.start()
        if not await asyncio.to_thread(self.ready.wait, 15):
            raise RuntimeError(f"kopf did not become ready: {self.error!r}")
        return self

    async def __aexit__(self, *exc: Any) -> None:
        self.stop.set()
        await asyncio.to_thread(self.thread.join, 15)
        if self.thread.is_alive():
            raise RuntimeError("kopf did not stop within 15s")


def write_kubeconfig(path: Path, server: str, namespace: str = "default") -> Path:
    """A kubeconfig with one context naming ``server`` (plain HTTP, as the emulator serves)."""
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "emulator",
        "clusters": [{"name": "emulator", "cluster": {"server": server}}],
        "users": [{"name": "tester", "user": {"token": "emulator-token"}}],
        "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "tester", "namespace": namespace}}],
    }))
    return path


@contextlib.asynccontextmanager
async def running_emulator(directory: Path, with_crd: bool = True) -> AsyncIterator[tuple[Emulator, Path]]:
    """The emulator (with the HippodromeStack CRD registered, unless not ``with_crd``), served over HTTP,
    and a kubeconfig naming it."""
    async with Emulator() as emu, kmock.Server(emu) as server:
        emu.resources.load_bundled()
        if with_crd:
            emu.register_stack_crd()
        kubeconfig = write_kubeconfig(directory / "kubeconfig", str(server.url).rstrip("/"))
        try:
            yield emu, kubeconfig
        finally:
            await emu.close_watches()
