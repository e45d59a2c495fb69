"""Start and stop a real Kubernetes control plane on loopback: etcd, kube-apiserver,
kube-controller-manager, kube-scheduler and kwok with one fake Node.

Why this exists: the cluster test tier (and anyone by hand, through `scripts/control-plane`) needs a
real API server with real controllers, and kind cannot run here. The binaries come from
`cp_build.ensure_built()`; the flags and files from `cp_config`; certificates from `cp_certs`.

Lifecycle: `up()` returns once /readyz answers, the Node is Ready and the `default` ServiceAccount
exists; a pool of PersistentVolumes (`cp_config.VOLUMES`) is there for claims to bind to, and kwok's
PortForward CRD is served (kwok reads PortForward objects from the API server). Each process runs in its own process group; `state.json` in the run directory records the
process groups so `down` works from another process (`ControlPlane.attach(run_dir).down()`). `down()`
stops every process (SIGTERM, then SIGKILL) and removes the run directory with its data. With
`tie_to_parent=True` (the test fixture) the processes also get SIGKILL if the Python process that
started them dies, and an atexit hook calls `down()`, so an interrupted test run leaves nothing behind.
"""

from __future__ import annotations

import atexit
import ctypes
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Callable

import requests
import yaml

import cp_build
import cp_certs
from cp_config import (HOST, IDENTITIES, KWOK_PORTFORWARD_CRD, NODE_NAME, SERVICE_CIDR, AUDIT_POLICY,
                       VOLUMES, Layout, Ports, apiserver_args, controller_manager_args, etcd_args, kubeconfig,
                       kwok_args, kwok_config, node_manifest, scheduler_args, server_url, volume_manifest,
                       DEFAULT_STAGES)

RESERVED = range(9000, 9020)   # the reference stack's ports: never used here


class ControlPlaneError(RuntimeError):
    pass


def free_ports(count: int) -> list[int]:
    sockets, ports = [], []
    while len(ports) < count:
        s = socket.socket()
        s.bind((HOST, 0))
        sockets.append(s)
        port = s.getsockname()[1]
        if port not in RESERVED and port not in ports:
            ports.append(port)
    for s in sockets:
        s.close()
    return ports


def _die_with_parent() -> None:      # runs in the child between fork and exec
    os.setsid()
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)     # PR_SET_PDEATHSIG


class ControlPlane:
    def __init__(self, run_dir: Path, bin_dir: Path, ports: Ports, *, tie_to_parent: bool = False,
                 kwok_documents: tuple[str, ...] = DEFAULT_STAGES, volumes: int = VOLUMES,
                 log: Callable[[str], None] = print):
        self.layout = Layout(run_dir)
        self.run_dir = run_dir
        self.bin_dir = bin_dir
        self.ports = ports
        self.tie_to_parent = tie_to_parent
        self.kwok_documents = kwok_documents
        self.volumes = volumes
        self.log = log
        self.pgids: dict[str, int] = {}
        self._procs: dict[str, subprocess.Popen] = {}
        self._down = False

    # ---- public surface ------------------------------------------------------------------------
    @property
    def server(self) -> str:
        return server_url(self.ports)

    @property
    def kubeconfig(self) -> Path:
        return self.layout.kubeconfig

    @property
    def kubectl(self) -> Path:
        return self.bin_dir / "kubectl"

    @property
    def audit_log(self) -> Path:
        return self.layout.audit_log

    @classmethod
    def create(cls, run_dir: Path | None = None, *, progress: Callable[[str], None] = print,
               **kwargs) -> "ControlPlane":
        """Build if needed, then a ControlPlane on free ports in `run_dir` (a new temp dir by default)."""
        bin_dir = cp_build.ensure_built(progress)
        run_dir = Path(run_dir) if run_dir else Path(tempfile.mkdtemp(prefix="hippodrome-cp-"))
        return cls(run_dir, bin_dir, Ports.from_list(free_ports(6)), log=progress, **kwargs)

    @classmethod
    def attach(cls, run_dir: Path, log: Callable[[str], None] = print) -> "ControlPlane":
        """The control plane that `up()` recorded in `run_dir/state.json` (from any process)."""
        state = json.loads(Layout(Path(run_dir)).state.read_text())
        cp = cls(Path(run_dir), Path(state["bin_dir"]), Ports(**state["ports"]), log=log)
        cp.pgids = state["pgids"]
        return cp

    def up(self, timeout: float = 180) -> "ControlPlane":
        started = time.monotonic()
        if self.layout.state.exists():
            raise ControlPlaneError(f"{self.run_dir} already holds a control plane (state.json); run down first")
        if self.run_dir.exists() and any(self.run_dir.iterdir()):   # down() removes the directory: only ours
            raise ControlPlaneError(f"{self.run_dir} is not empty; a control plane needs a directory of its own")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.tie_to_parent:
            atexit.register(self.down)
        try:
            self._write_files()
            self._start("etcd", etcd_args(self.bin_dir, self.layout, self.ports))
            self._wait(f"http://{HOST}:{self.ports.etcd_client}/health", "etcd", started + timeout, tls=False)
            self._start("kube-apiserver", apiserver_args(self.bin_dir, self.layout, self.ports))
            self._wait(f"{self.server}/readyz", "kube-apiserver", started + timeout)
            self._start("kube-controller-manager", controller_manager_args(self.bin_dir, self.layout, self.ports))
            self._start("kube-scheduler", scheduler_args(self.bin_dir, self.layout, self.ports))
            self._create_node()
            self._create_volumes()
            crds = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
            self._create(crds, KWOK_PORTFORWARD_CRD)
            self._wait_api(f"{crds}/{KWOK_PORTFORWARD_CRD['metadata']['name']}", _established,
                           "kwok's PortForward CRD", started + timeout)
            self._start("kwok", kwok_args(self.bin_dir, self.layout, self.ports))
            self._wait(f"https://{HOST}:{self.ports.controller_manager}/healthz", "kube-controller-manager",
                       started + timeout)
            self._wait(f"https://{HOST}:{self.ports.scheduler}/healthz", "kube-scheduler", started + timeout)
            self._wait_api(f"/api/v1/nodes/{NODE_NAME}", _node_ready, "the kwok node to be Ready", started + timeout)
            self._wait_api("/api/v1/namespaces/default/serviceaccounts/default", lambda o: True,
                           "the default ServiceAccount", started + timeout)
        except BaseException:
            self.log(self.diagnostics())
            self.down()
            raise
        self.log(f"control-plane: up in {time.monotonic() - started:.1f}s at {self.server} "
                 f"(KUBECONFIG={self.kubeconfig})")
        return self

    def down(self) -> None:
        """Stop every process (their whole groups) and remove the run directory. Idempotent."""
        if self._down:
            return
        self._down = True
        for name in reversed(list(self.pgids)):
            _stop_group(self.pgids[name], self._procs.get(name))
        shutil.rmtree(self.run_dir, ignore_errors=True)

    def env(self) -> dict[str, str]:
        return {"KUBECONFIG": str(self.kubeconfig),
                "PATH": f"{self.bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}

    def kubectl_run(self, *args: str, check: bool = True, input: str | None = None,
                    timeout: float = 60) -> subprocess.CompletedProcess:
        """Run the built kubectl against this control plane; raises with its stderr on failure."""
        result = subprocess.run([str(self.kubectl), f"--kubeconfig={self.kubeconfig}", *args], input=input,
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise ControlPlaneError(f"kubectl {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def diagnostics(self, lines: int = 15) -> str:
        out = []
        for log in sorted(self.layout.logs.glob("*.log")) if self.layout.logs.exists() else []:
            tail = log.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {log.name} (last {len(tail)} lines)\n" + "\n".join(tail))
        return "\n".join(out)

    # ---- I/O helpers ---------------------------------------------------------------------------
    def _write_files(self) -> None:
        lay = self.layout
        for d in (lay.pki, lay.logs, lay.kubeconfigs):
            d.mkdir(parents=True, exist_ok=True)
        ca = cp_certs.CertificateAuthority(lay.pki)
        service_ip = SERVICE_CIDR.rsplit(".", 1)[0] + ".1"
        ca.issue("apiserver", "kube-apiserver", server=True,
                 hosts=(HOST, "localhost", service_ip, "kubernetes", "kubernetes.default",
                        "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"))
        ca.issue("kwok-serving", NODE_NAME, server=True, hosts=(HOST, "localhost", NODE_NAME))
        for component in ("controller-manager", "scheduler"):
            ca.issue(f"{component}-serving", f"kube-{component}", server=True, hosts=(HOST, "localhost"))
        cp_certs.service_account_keys(lay.pki)
        ca_pem = ca.pair.cert.read_bytes()
        for stem, (user, group) in IDENTITIES.items():
            pair = ca.issue(stem, user, org=group, client=True)
            doc = kubeconfig(self.server, ca_pem, pair.cert.read_bytes(), pair.key.read_bytes(), user)
            path = lay.kubeconfig if stem == "admin" else lay.kubeconfigs / stem
            path.write_text(yaml.safe_dump(doc, sort_keys=False))
            path.chmod(0o600)
        lay.audit_policy.write_text(AUDIT_POLICY)
        lay.kwok_config.write_text(kwok_config(self.kwok_documents))

    def _save_state(self) -> None:
        state = {"bin_dir": str(self.bin_dir), "ports": vars(self.ports), "pgids": self.pgids,
                 "server": self.server, "kubeconfig": str(self.kubeconfig), "owner_pid": os.getpid()}
        tmp = self.layout.state.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.replace(self.layout.state)

    def _start(self, name: str, args: list[str]) -> None:
        log = open(self.layout.logs / f"{name}.log", "ab")
        proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=self.run_dir,
                                preexec_fn=_die_with_parent if self.tie_to_parent else os.setsid)
        log.close()
        self._procs[name] = proc
        self.pgids[name] = proc.pid          # setsid: the child leads its own group
        self._save_state()

    def _check_alive(self) -> None:
        for name, proc in self._procs.items():
            if proc.poll() is not None:
                raise ControlPlaneError(f"{name} exited with {proc.returncode}; see {self.layout.logs / (name + '.log')}")

    def _session(self) -> requests.Session:
        s = requests.Session()
        s.trust_env = False          # no proxy for loopback, and no REQUESTS_CA_BUNDLE overriding our CA
        s.verify = str(self.layout.pki / "ca.crt")
        s.cert = (str(self.layout.pki / "admin.crt"), str(self.layout.pki / "admin.key"))
        return s

    def _wait(self, url: str, what: str, deadline: float, tls: bool = True) -> None:
        session = self._session()
        t0 = time.monotonic()
        last = ""
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                r = session.get(url, timeout=5) if tls else requests.get(url, timeout=5)
                if r.status_code == 200:
                    self.log(f"control-plane: {what} ready ({time.monotonic() - t0:.1f}s)")
                    return
                last = f"HTTP {r.status_code}: {r.text[:200]}"
            except requests.RequestException as exc:
                last = type(exc).__name__
            time.sleep(0.2)
        raise ControlPlaneError(f"{what} not ready at {url}: {last}")

    def _wait_api(self, path: str, ok: Callable[[dict], bool], what: str, deadline: float) -> None:
        session = self._session()
        t0 = time.monotonic()
        while time.monotonic() < deadline:
            self._check_alive()
            r = session.get(self.server + path, timeout=5)
            if r.status_code == 200 and ok(r.json()):
                self.log(f"control-plane: {what} ({time.monotonic() - t0:.1f}s)")
                return
            time.sleep(0.2)
        raise ControlPlaneError(f"timed out waiting for {what} ({path})")

    def _create(self, path: str, body: dict, session: requests.Session | None = None) -> None:
        r = (session or self._session()).post(f"{self.server}{path}", json=body, timeout=10)
        if r.status_code not in (201, 409):
            raise ControlPlaneError(f"creating {body['kind']} {body['metadata']['name']}: HTTP {r.status_code} "
                                    f"{r.text[:300]}")

    def _create_node(self) -> None:
        self._create("/api/v1/nodes", node_manifest())

    def _create_volumes(self) -> None:
        session = self._session()
        for index in range(self.volumes):
            self._create("/api/v1/persistentvolumes", volume_manifest(index, self.layout), session)


def _established(crd: dict) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or [])


def _node_ready(node: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in node.get("status", {}).get("conditions", []))


def _stop_group(pgid: int, proc: subprocess.Popen | None, grace: float = 10) -> None:
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            break
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    if proc is not None:
        proc.wait()
