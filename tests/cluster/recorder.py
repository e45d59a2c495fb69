"""Record every change of one kind of object in one namespace, in order, from a background watch.

Why this exists: several cluster tests judge a sequence, not a moment — "no layer-N+1 Deployment was
created before layer N was available", "every row kubectl printed matched the object" — and the
only faithful record of a sequence is a watch started before the test acts: the API server delivers
every change in resourceVersion order. `Recorder` lists (to learn the starting resourceVersion),
then watches from there in short windows until stopped, so `stop()` returns promptly.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable


@dataclass(frozen=True)
class Event:
    type: str            # ADDED, MODIFIED, DELETED
    obj: dict
    at: float            # time.monotonic() when it arrived here


def api_client(kubeconfig: Path):
    from kubernetes import config

    return config.new_client_from_config(config_file=str(kubeconfig))


def lister(kind: str, client) -> Callable[..., Any]:
    """The namespaced list function of the kubernetes client for `kind`."""
    from kubernetes import client as k

    if kind == "hippodromestacks":
        custom = k.CustomObjectsApi(client)
        return lambda namespace, **kw: custom.list_namespaced_custom_object(
            "hippodrome.dev", "v1alpha1", namespace, "hippodromestacks", **kw)
    apis = {"deployments": (k.AppsV1Api, "list_namespaced_deployment"),
            "pods": (k.CoreV1Api, "list_namespaced_pod"),
            "configmaps": (k.CoreV1Api, "list_namespaced_config_map")}
    cls, name = apis[kind]
    return getattr(cls(client), name)


class Recorder:
    def __init__(self, kubeconfig: Path, kind: str, namespace: str, on_event: Callable[[Event], None] | None = None):
        self.kind, self.namespace = kind, namespace
        self.events: list[Event] = []
        self._client = api_client(kubeconfig)
        self._list = lister(kind, self._client)
        self._on_event = on_event
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self.error: BaseException | None = None

    def start(self) -> "Recorder":
        first = self._list(self.namespace, _preload_content=False)
        import json

        listed = json.loads(first.data)
        now = time.monotonic()
        for obj in listed.get("items") or []:
            self._record(Event("ADDED", obj, now))
        self._thread = threading.Thread(target=self._run, args=(listed["metadata"]["resourceVersion"],),
                                        name=f"watch-{self.kind}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join(15)
        if self.error is not None:
            raise AssertionError(f"the {self.kind} watch failed: {self.error!r}")

    def __enter__(self) -> "Recorder":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def _record(self, event: Event) -> None:
        self.events.append(event)
        if self._on_event is not None:
            self._on_event(event)

    def _run(self, resource_version: str) -> None:
        from kubernetes import watch

        try:
            while not self._stopped.is_set():
                w = watch.Watch()
                for raw in w.stream(self._list, self.namespace, resource_version=resource_version,
                                    timeout_seconds=2, allow_watch_bookmarks=True, _request_timeout=30):
                    obj = raw["raw_object"]
                    resource_version = obj["metadata"]["resourceVersion"]
                    if raw["type"] != "BOOKMARK":
                        self._record(Event(raw["type"], obj, time.monotonic()))
                    if self._stopped.is_set():
                        w.stop()
                        break
        except BaseException as e:  # noqa: BLE001 - reported by stop()
            self.error = e

    def objects(self) -> list[dict]:
        return [e.obj for e in self.events]
