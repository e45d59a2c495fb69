"""The operator as the chart runs it: a local process, with the chart's ServiceAccount identity.

Why this exists: kwok runs no containers, so the operator's pod on the fake node does nothing. The
cluster tests run `python -m hippodrome_operator` here instead, with the command and env that real
Helm renders for the chart's operator container, and logged in as the chart's ServiceAccount: the
chart's RBAC (rendered by Helm) is applied to the real API server, a token comes from the
TokenRequest API (`kubectl create token`), and the operator's kubeconfig holds only that token. So
every call the operator makes is authorised exactly as in a cluster: a missing permission fails.

Pure parts (`operator_container`, `operator_rbac`, `without_verb`, `token_kubeconfig`) are apart
from the I/O (`render_chart`, `ChartOperator.start`).
"""

from __future__ import annotations

import base64
import copy
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "hippodrome"
HELM = REPO / ".tools" / "helm3" / "helm"
RELEASE = "hippodrome"                       # the CLI's release name: objects are named hippodrome-operator, ...
RBAC_KINDS = ("ServiceAccount", "Role", "RoleBinding", "ClusterRole", "ClusterRoleBinding")


# ---- pure --------------------------------------------------------------------------------------

def _is_operator(doc: dict) -> bool:
    return doc.get("metadata", {}).get("labels", {}).get("app.kubernetes.io/component") == "operator"


def operator_container(docs: list[dict]) -> dict:
    (deployment,) = [d for d in docs if d["kind"] == "Deployment" and _is_operator(d)]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return container


def operator_service_account(docs: list[dict]) -> str:
    (deployment,) = [d for d in docs if d["kind"] == "Deployment" and _is_operator(d)]
    return deployment["spec"]["template"]["spec"]["serviceAccountName"]


def operator_rbac(docs: list[dict]) -> list[dict]:
    """The operator's ServiceAccount, Role(s) and binding(s), as the chart renders them."""
    return [d for d in docs if d["kind"] in RBAC_KINDS and _is_operator(d)]


def without_verb(rbac: list[dict], resource: str, verb: str) -> list[dict]:
    """The same RBAC with one verb taken away from the rule granting it on `resource`."""
    out = copy.deepcopy(rbac)
    removed = False
    for doc in out:
        for rule in doc.get("rules", []):
            if resource in rule.get("resources", []) and verb in rule["verbs"]:
                rule["verbs"] = [v for v in rule["verbs"] if v != verb]
                removed = True
    if not removed:
        raise ValueError(f"the chart grants no {verb!r} on {resource!r}")
    return out


def process_env(container: dict, kubeconfig: Path, base: dict[str, str]) -> dict[str, str]:
    """The container's env (plain values only, as the chart sets them) over this machine's, and the kubeconfig."""
    env = {k: v for k, v in base.items() if not k.startswith(("KUBERNETES_", "HIPPODROME_"))}
    for item in container["env"]:
        if "value" not in item:
            raise ValueError(f"the operator's env {item['name']} is not a plain value: {item}")
        env[item["name"]] = item["value"]
    env["KUBECONFIG"] = str(kubeconfig)       # outside a pod: kopf's and the adapter's kubeconfig login
    return env


def token_kubeconfig(server: str, ca_pem: bytes, token: str, user: str, namespace: str) -> dict:
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": "cp", "cluster": {"server": server,
                                                "certificate-authority-data": base64.b64encode(ca_pem).decode()}}],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": "cp", "context": {"cluster": "cp", "user": user, "namespace": namespace}}],
        "current-context": "cp",
    }


# ---- I/O ---------------------------------------------------------------------------------------

def render_chart(namespace: str, values: dict[str, Any] | None = None, helm: Path = HELM) -> list[dict]:
    """`helm template` of the chart, as `helm install -n <namespace>` would render it."""
    if not helm.exists():
        raise FileNotFoundError(f"{helm} is missing: run scripts/install-helm.sh (scripts/test does)")
    sets = [a for k, v in (values or {}).items() for a in ("--set", f"{k}={v}")]
    result = subprocess.run([str(helm), "template", RELEASE, str(CHART), "--namespace", namespace, *sets],
                            capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise RuntimeError(f"helm template failed: {result.stderr}")
    return [d for d in yaml.safe_load_all(result.stdout) if d]


def apply(cp, docs: list[dict], namespace: str) -> None:
    cp.kubectl_run("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump_all(docs))


def service_account_kubeconfig(cp, namespace: str, service_account: str, path: Path) -> Path:
    """A kubeconfig holding a token for `service_account`, from the TokenRequest API."""
    token = cp.kubectl_run("-n", namespace, "create", "token", service_account, "--duration=2h").stdout.strip()
    user = f"system:serviceaccount:{namespace}:{service_account}"
    ca = (cp.run_dir / "pki" / "ca.crt").read_bytes()
    path.write_text(yaml.safe_dump(token_kubeconfig(cp.server, ca, token, user, namespace)))
    path.chmod(0o600)
    return path


@dataclass
class ChartOperator:
    """One `python -m hippodrome_operator` process; `log` is its output so far."""

    process: subprocess.Popen
    log_path: Path
    liveness_port: int
    username: str
    container: dict = field(repr=False)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, timeout: float = 20) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_operator(cp, namespace: str, work: Path, liveness_port: int,
                   rbac_edit: Callable[[list[dict]], list[dict]] | None = None,
                   values: dict[str, Any] | None = None) -> ChartOperator:
    """Apply the chart's operator RBAC (edited by `rbac_edit`, if given) to `namespace` and start the operator
    there with a token of the chart's ServiceAccount, exactly the chart's command and env."""
    docs = render_chart(namespace, {"operator.livenessPort": liveness_port, **(values or {})})
    rbac = operator_rbac(docs)
    apply(cp, rbac_edit(rbac) if rbac_edit else rbac, namespace)
    return _launch(cp, namespace, operator_container(docs), operator_service_account(docs), work, liveness_port)


def start_installed_operator(cp, namespace: str, deployment: str, work: Path, liveness_port: int) -> ChartOperator:
    """The operator a `helm install` put on the (fake) node, run here instead: the installed Deployment's command,
    env and ServiceAccount (whose RBAC Helm installed), but kopf's liveness endpoint on a free local port."""
    spec = get_json(cp, "-n", namespace, "get", "deployment", deployment)["spec"]["template"]["spec"]
    (container,) = copy.deepcopy(spec["containers"])
    for item in container["env"]:
        if item["name"] == "HIPPODROME_LIVENESS_PORT":
            item["value"] = str(liveness_port)
    return _launch(cp, namespace, container, spec["serviceAccountName"], work, liveness_port)


def _launch(cp, namespace: str, container: dict, account: str, work: Path, liveness_port: int) -> ChartOperator:
    kubeconfig = service_account_kubeconfig(cp, namespace, account, work / f"operator-{namespace}.kubeconfig")
    command = [*container["command"], *container.get("args", [])]
    if command[:3] != ["python", "-m", "hippodrome_operator"]:
        raise AssertionError(f"the chart's operator command changed: {command}")
    log_path = work / f"operator-{namespace}.log"
    with open(log_path, "wb") as out:
        process = subprocess.Popen([sys.executable, *command[1:]], cwd=REPO, stdin=subprocess.DEVNULL,
                                   env=process_env(container, kubeconfig, dict(os.environ)),
                                   stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    return ChartOperator(process, log_path, liveness_port, f"system:serviceaccount:{namespace}:{account}", container)


def release_stacks(cp, namespace: str) -> None:
    """Let go of the stacks in `namespace` (their finalizer removed) once no operator is left to tear them down."""
    names = cp.kubectl_run("-n", namespace, "get", "hippodromestacks", "-o", "name", check=False).stdout.split()
    for name in names:
        cp.kubectl_run("-n", namespace, "patch", name, "--type=merge", "-p", '{"metadata":{"finalizers":null}}',
                       check=False)


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 60, poll: float = 0.2,
             operator: ChartOperator | None = None) -> Any:
    """The first truthy value of `predicate()`; fails naming `what` (and the operator's log tail, if it died)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if operator is not None and not operator.alive():
            raise AssertionError(f"the operator exited ({operator.process.returncode}) while waiting for {what}:\n"
                                 + operator.log[-3000:])
        if time.monotonic() >= deadline:
            tail = f"\noperator log:\n{operator.log[-3000:]}" if operator is not None else ""
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}{tail}")
        time.sleep(poll)


def get_json(cp, *args: str) -> dict:
    return json.loads(cp.kubectl_run(*args, "-o", "json").stdout)
