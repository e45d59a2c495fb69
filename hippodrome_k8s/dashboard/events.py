"""Server push: ``/api/events`` (and ``/api/logs/<svc>?follow=1``) as Server-Sent Events.

Why a hub: the engine must never wait for a browser. The source (the supervisor's store and log
book, or the cluster's stack) only calls ``_mark`` when something changed, which sets a flag. One
task then, at most every ``interval`` seconds, builds one view, computes the messages once
(``view.diff``), encodes them once and offers the bytes to every client's bounded queue. Each
client's handler writes its own queue to its own socket; a client that falls ``queue_size``
messages behind is sent ``reset`` and dropped (its EventSource reconnects and gets a snapshot),
so a slow or stuck client costs the others, and the supervisor, nothing.

Within one turn of the event loop a new client is brought up to date first, then given its
snapshot (or its log history), so a stream has neither gaps nor repeats.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from hippodrome_k8s.dashboard.view import KEEPALIVE, View, diff, sse

ALL = "*"
RESET = sse("reset", {"reason": "this stream fell behind; reconnect for a new snapshot"})


@dataclass(eq=False)
class Client:
    state: bool  # wants status/stack messages
    logs: str | None  # None, ALL or one service's name
    queue: asyncio.Queue[bytes | None] = field(default_factory=lambda: asyncio.Queue(256))
    dropped: bool = False

    def offer(self, data: bytes) -> None:
        if self.dropped:
            return
        try:
            self.queue.put_nowait(data)
        except asyncio.QueueFull:
            self.dropped = True
            while not self.queue.empty():
                self.queue.get_nowait()
            self.queue.put_nowait(RESET)
            self.queue.put_nowait(None)

    def close(self) -> None:
        if not self.dropped:
            self.dropped = True
            with contextlib.suppress(asyncio.QueueFull):
                self.queue.put_nowait(None)


class EventHub:
    def __init__(self, source: Any, *, interval: float = 0.1, queue_size: int = 256, keepalive: float = 15.0,
                 poll: float = 1.0):
        self.source = source
        self.interval, self.queue_size, self.keepalive, self.poll = interval, queue_size, keepalive, poll
        self.clients: set[Client] = set()
        self._view: View | None = None
        self._log_seq = 0
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None

    # --- lifecycle (the app's startup and shutdown) -------------------------------------------------

    async def start(self, app: web.Application | None = None) -> None:
        subscribe = getattr(self.source, "subscribe", None)
        if subscribe is not None:
            self._unsubscribe = subscribe(self._mark)
        self._task = asyncio.create_task(self._run(), name="dashboard-events")

    async def close(self, app: web.Application | None = None) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        for client in list(self.clients):
            client.close()

    def _mark(self) -> None:
        self._dirty.set()

    async def _run(self) -> None:
        polled = getattr(self.source, "subscribe", None) is None  # a source that cannot tell: look every `poll` s
        while True:
            if polled:
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._dirty.wait(), self.poll)
            else:
                await self._dirty.wait()
            self._dirty.clear()
            self._flush()
            await asyncio.sleep(self.interval)  # what changes meanwhile goes out together

    # --- fan-out (synchronous: nothing here awaits a client) -------------------------------------------

    def _wants_state(self) -> bool:
        return any(c.state for c in self.clients)

    def _flush(self) -> None:
        if not self.clients:
            return
        if self._wants_state():
            new = View(self.source.status_json(), self.source.stack_json())
            encoded = [sse(kind, data) for kind, data in diff(self._view, new)] if self._view is not None else []
            self._view = new
            for client in self.clients:
                if client.state:
                    for data in encoded:
                        client.offer(data)
        else:
            self._view = None
        self._flush_logs()

    def _flush_logs(self) -> None:
        entries = getattr(self.source, "log_entries", None)
        if entries is None:
            return
        lines = entries(None, self._log_seq, 5000)
        if not lines:
            return
        self._log_seq = lines[-1]["seq"]
        encoded: dict[str, bytes] = {}
        for client in self.clients:
            if client.logs is None:
                continue
            if client.logs not in encoded:
                chosen = lines if client.logs == ALL else [x for x in lines if x["service"] == client.logs]
                encoded[client.logs] = sse("log", {"lines": chosen}) if chosen else b""
            if encoded[client.logs]:
                client.offer(encoded[client.logs])

    def _last_seq(self) -> int:
        entries = getattr(self.source, "log_entries", None)
        last = entries(None, 0, 1) if entries is not None else []
        return last[-1]["seq"] if last else 0

    def connect(self, *, state: bool, logs: str | None, history: int = 0) -> Client:
        """A new stream: everyone else is brought up to now, then this one gets its start."""
        if self.clients:
            self._flush()
        else:
            self._view, self._log_seq = None, self._last_seq()
        client = Client(state, logs, asyncio.Queue(self.queue_size))
        if state:
            if self._view is None:
                self._view = View(self.source.status_json(), self.source.stack_json())
            [(kind, data)] = diff(None, self._view)
            client.offer(sse(kind, data))
        if logs is not None and history:
            past = self.source.log_entries(None if logs == ALL else logs, 0, history)
            past = [x for x in past if x["seq"] <= self._log_seq]
            if past:
                client.offer(sse("log", {"lines": past}))
        self.clients.add(client)
        return client

    def disconnect(self, client: Client) -> None:
        self.clients.discard(client)

    # --- one stream -------------------------------------------------------------------------------

    async def stream(self, request: web.Request, *, state: bool, logs: str | None, history: int = 0) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                               "X-Accel-Buffering": "no"})
        await response.prepare(request)
        client = self.connect(state=state, logs=logs, history=history)
        try:
            await response.write(b"retry: 1000\n\n")
            while True:
                try:
                    data = await asyncio.wait_for(client.queue.get(), self.keepalive)
                except asyncio.TimeoutError:
                    data = KEEPALIVE
                if data is None:
                    break
                await response.write(data)
        except (ConnectionError, RuntimeError):
            pass  # the client went away (aiohttp raises ClientConnectionResetError, a ConnectionError)
        finally:
            self.disconnect(client)
        return response
