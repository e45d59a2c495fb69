"""Local HTTP servers standing in for pods, wired in by kwok's PortForward.

Why this exists: kwok runs no containers, so nothing answers on a pod's port. For each pod of a
service, `StandIns` starts a small HTTP server on a free loopback port (outside 9000-9019) that answers
every GET with the pod's name, and creates a kwok PortForward (cp_config.port_forward) sending the
pod's container port there. `kubectl port-forward pod/<pod>` then goes kubectl -> API server -> kwok ->
this server, the whole real path. When the pod is deleted, its server stops, like the process in it.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import yaml

from cp_config import HOST, port_forward
from hd_testing import free_ports
from recorder import Event, Recorder


def _handler(pod: str):
    body = f"{pod}\n".encode()

    class Answer(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):   # quiet
            pass
    return Answer


class StandIns:
    def __init__(self, cp, namespace: str, label: str, value: str):
        self.cp, self.namespace, self.label, self.value = cp, namespace, label, value
        self.servers: dict[str, ThreadingHTTPServer] = {}
        self.retired: list[str] = []
        self._lock = threading.Lock()
        self._recorder = Recorder(cp.kubeconfig, "pods", namespace, on_event=self._on_pod)

    def __enter__(self) -> "StandIns":
        self._recorder.start()
        return self

    def __exit__(self, *exc) -> None:
        self._recorder.stop()
        with self._lock:
            for server in self.servers.values():
                server.shutdown()
                server.server_close()
            self.servers.clear()

    def _on_pod(self, event: Event) -> None:
        pod = event.obj
        meta = pod["metadata"]
        if (meta.get("labels") or {}).get(self.label) != self.value:
            return
        name = meta["name"]
        with self._lock:
            if event.type == "DELETED" or meta.get("deletionTimestamp"):
                server = self.servers.pop(name, None)
                if server is not None:
                    server.shutdown()
                    server.server_close()
                    self.retired.append(name)
                return
            if name in self.servers or name in self.retired or not pod["spec"].get("nodeName"):
                return
            server = ThreadingHTTPServer((HOST, free_ports(1)[0]), _handler(name))
            threading.Thread(target=server.serve_forever, name=f"stand-in-{name}", daemon=True).start()
            self.servers[name] = server
        container_port = pod["spec"]["containers"][0]["ports"][0]["containerPort"]
        forward = port_forward(name, self.namespace, container_port, HOST, server.server_address[1])
        self.cp.kubectl_run("-n", self.namespace, "apply", "-f", "-", input=yaml.safe_dump(forward))

    def live(self) -> list[str]:
        with self._lock:
            return sorted(self.servers)
