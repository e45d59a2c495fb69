"""The control plane itself: the pinned version is what the server reports, controllers and kwok
run Deployments to availability, and `scripts/control-plane` works from a shell."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import cp_build
from cp_config import NODE_NAME

REPO = Path(__file__).resolve().parents[2]


def test_server_and_kubectl_report_the_pinned_version(control_plane):
    out = json.loads(control_plane.kubectl_run("version", "-o", "json").stdout)
    pinned = cp_build.versions().kubernetes
    assert out["serverVersion"]["gitVersion"] == pinned
    assert out["clientVersion"]["gitVersion"] == pinned
    assert (out["serverVersion"]["major"], out["serverVersion"]["minor"]) == ("1", pinned.split(".")[1])
    print(f"server {out['serverVersion']['gitVersion']} ({out['serverVersion']['goVersion']})")


def test_the_kwok_node_is_ready(control_plane):
    node = json.loads(control_plane.kubectl_run("get", "node", NODE_NAME, "-o", "json").stdout)
    ready = {c["type"]: c["status"] for c in node["status"]["conditions"]}
    assert ready["Ready"] == "True"
    assert node["status"]["addresses"][0] == {"type": "InternalIP", "address": "127.0.0.1"}


def test_a_deployment_becomes_available_and_is_collected(control_plane, namespace):
    """The real deployment and replicaset controllers, the scheduler and kwok; then garbage collection."""
    k = control_plane.kubectl_run
    t0 = time.monotonic()
    k("-n", namespace, "create", "deployment", "web", "--image=registry.invalid/web:1", "--replicas=2")
    k("-n", namespace, "rollout", "status", "deployment/web", "--timeout=90s", timeout=120)
    print(f"create -> available: {time.monotonic() - t0:.2f}s")
    dep = json.loads(k("-n", namespace, "get", "deployment", "web", "-o", "json").stdout)
    assert dep["status"]["availableReplicas"] == 2
    pods = json.loads(k("-n", namespace, "get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
    assert len(pods) == 2
    for pod in pods:
        assert pod["spec"]["nodeName"] == NODE_NAME                        # bound by the scheduler
        assert pod["status"]["phase"] == "Running"                         # kwok's stage
        assert pod["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
        token = [v for v in pod["spec"]["volumes"] if v["name"].startswith("kube-api-access-")]
        assert token, "the ServiceAccount admission plugin mounts a projected token (serviceaccount controllers run)"

    k("-n", namespace, "delete", "deployment", "web", "--cascade=foreground", "--timeout=60s", timeout=90)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        left = json.loads(k("-n", namespace, "get", "replicasets,pods", "-o", "json").stdout)["items"]
        if not left:
            break
        time.sleep(0.5)
    assert left == [], f"the garbage collector left {[o['metadata']['name'] for o in left]}"


def test_service_accounts_get_the_root_ca_and_tokens(control_plane, namespace):
    k = control_plane.kubectl_run
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if k("-n", namespace, "get", "configmap", "kube-root-ca.crt", check=False).returncode == 0:
            break
        time.sleep(0.3)
    ca = json.loads(k("-n", namespace, "get", "configmap", "kube-root-ca.crt", "-o", "json").stdout)
    assert "BEGIN CERTIFICATE" in ca["data"]["ca.crt"]
    token = k("-n", namespace, "create", "token", "default").stdout.strip()
    whoami = json.loads(k(f"--token={token}", "--kubeconfig=/dev/null", f"--server={control_plane.server}",
                          f"--certificate-authority={control_plane.run_dir / 'pki' / 'ca.crt'}",
                          "auth", "whoami", "-o", "json").stdout)
    assert whoami["status"]["userInfo"]["username"] == f"system:serviceaccount:{namespace}:default"


def test_writes_are_in_the_audit_log(control_plane, namespace):
    control_plane.kubectl_run("-n", namespace, "create", "configmap", "audited", "--from-literal=a=b")
    deadline = time.monotonic() + 15
    found = []
    while time.monotonic() < deadline and not found:
        found = [e for e in map(json.loads, control_plane.audit_log.read_text().splitlines())
                 if e.get("objectRef", {}).get("namespace") == namespace
                 and e["objectRef"].get("name") == "audited" and e["verb"] == "create"]
        time.sleep(0.3)
    assert found and found[0]["user"]["username"] == "admin" and found[0]["level"] == "Metadata"


def test_the_script_brings_a_control_plane_up_and_down(control_plane, tmp_path):
    """`scripts/control-plane up|env|down` from a shell: a second control plane on its own ports."""
    run_dir = tmp_path / "cp"
    env = {**os.environ, "HIPPODROME_CONTROL_PLANE_RUN_DIR": str(run_dir)}
    script = str(REPO / "scripts" / "control-plane")
    t0 = time.monotonic()
    up = subprocess.run([script, "up"], env=env, capture_output=True, text=True, timeout=300)
    assert up.returncode == 0, up.stderr
    print(f"scripts/control-plane up (built): {time.monotonic() - t0:.1f}s")
    try:
        exports = subprocess.run([script, "env"], env=env, capture_output=True, text=True, check=True).stdout
        nodes = subprocess.run(["bash", "-c", f"{exports}\nkubectl get nodes -o name; command -v kubectl"],
                               env=env, capture_output=True, text=True, timeout=60)
        assert nodes.returncode == 0, nodes.stderr
        name, kubectl = nodes.stdout.split()
        assert name == f"node/{NODE_NAME}"
        assert Path(kubectl) == control_plane.kubectl                       # the built kubectl comes first
        pgids = json.loads((run_dir / "state.json").read_text())["pgids"]
    finally:
        down = subprocess.run([script, "down"], env=env, capture_output=True, text=True, timeout=120)
    assert down.returncode == 0, down.stderr
    assert not run_dir.exists()
    for name, pgid in pgids.items():
        try:
            os.killpg(pgid, 0)
            alive = True
        except ProcessLookupError:
            alive = False
        assert not alive, f"{name} (process group {pgid}) still runs after down"


def _deployment(name: str, labels: dict, claim: str | None = None) -> str:
    import yaml

    spec: dict = {"containers": [{"name": "c", "image": "registry.invalid/x:1"}]}
    if claim:
        spec["containers"][0]["volumeMounts"] = [{"name": "d", "mountPath": "/d"}]
        spec["volumes"] = [{"name": "d", "persistentVolumeClaim": {"claimName": claim}}]
    return yaml.safe_dump({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
                           "spec": {"replicas": 1, "selector": {"matchLabels": {"app": name}},
                                    "template": {"metadata": {"labels": {"app": name, **labels}}, "spec": spec}}})


def test_a_held_pod_stays_not_ready_until_the_test_releases_it(control_plane, namespace):
    """kwok's hold stage (cp_config.POD_HOLD): pods labelled instance=held run but are not Ready until annotated."""
    from cp_config import HELD_INSTANCE, HELD_LABEL, RELEASE_ANNOTATION

    k = control_plane.kubectl_run
    k("-n", namespace, "apply", "-f", "-", input=_deployment("held", {HELD_LABEL: HELD_INSTANCE}))
    k("-n", namespace, "apply", "-f", "-", input=_deployment("free", {}))
    k("-n", namespace, "rollout", "status", "deployment/free", "--timeout=60s", timeout=90)

    def pod(app: str) -> dict:
        items = json.loads(k("-n", namespace, "get", "pods", "-l", f"app={app}", "-o", "json").stdout)["items"]
        return items[0] if items else {}

    deadline = time.monotonic() + 30
    while pod("held").get("status", {}).get("phase") != "Running":
        assert time.monotonic() < deadline, pod("held")
        time.sleep(0.2)
    held = pod("held")
    ready = {c["type"]: c["status"] for c in held["status"]["conditions"]}
    assert ready["Ready"] == "False" and ready["Initialized"] == "True"
    dep = json.loads(k("-n", namespace, "get", "deployment", "held", "-o", "json").stdout)
    assert not dep["status"].get("availableReplicas")

    k("-n", namespace, "annotate", "pod", held["metadata"]["name"], f"{RELEASE_ANNOTATION}=true")
    k("-n", namespace, "rollout", "status", "deployment/held", "--timeout=60s", timeout=90)


def test_a_claim_binds_to_a_premade_volume_and_can_be_deleted(control_plane, namespace):
    """The volume pool and the claim controllers: a pod with a claim is scheduled, and the claim goes away."""
    import yaml

    k = control_plane.kubectl_run
    k("-n", namespace, "apply", "-f", "-", input=yaml.safe_dump(
        {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "data"},
         "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}}}))
    k("-n", namespace, "apply", "-f", "-", input=_deployment("stateful", {}, claim="data"))
    k("-n", namespace, "rollout", "status", "deployment/stateful", "--timeout=60s", timeout=90)
    claim = json.loads(k("-n", namespace, "get", "pvc", "data", "-o", "json").stdout)
    assert claim["status"]["phase"] == "Bound" and claim["spec"]["volumeName"].startswith("hippodrome-pv-")
    k("-n", namespace, "delete", "deployment", "stateful", "--wait=true", "--timeout=60s", timeout=90)
    k("-n", namespace, "delete", "pvc", "data", "--wait=true", "--timeout=60s", timeout=90)  # protection lifted
