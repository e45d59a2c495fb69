"""What each control-plane process is told: command lines, kubeconfigs, the audit policy, kwok's stages.

Why this exists: these are the decisions of the test control plane (which flags, which controllers,
which identities), kept as pure functions of a layout of paths and ports so they can be read and
checked without starting anything. `controlplane.py` does the I/O.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from pathlib import Path

HOST = "127.0.0.1"
NODE_NAME = "kwok-node-0"
SERVICE_CIDR = "10.0.0.0/24"          # the `kubernetes` Service gets 10.0.0.1
POD_CIDR = "10.244.0.1/24"
SA_ISSUER = "https://kubernetes.default.svc.cluster.local"

# kube-controller-manager's controllers (names as in v1.28+): enough for Deployments to roll out,
# namespaces to be deleted, owner references to be collected, service accounts to get tokens, and
# PersistentVolumeClaims to bind to the pre-made volumes (`volume_manifest`) and be deleted again.
CONTROLLERS = (
    "deployment-controller",
    "replicaset-controller",
    "garbage-collector-controller",
    "namespace-controller",
    "serviceaccount-controller",
    "serviceaccount-token-controller",
    "root-ca-certificate-publisher-controller",
    "persistentvolume-binder-controller",
    "persistentvolume-protection-controller",
    "persistentvolumeclaim-protection-controller",
)
VOLUMES = 48   # pre-made PersistentVolumes: claims bind to them as kind's local-path provisioner would
               # provide them (Retain: a released volume is not reused, so the pool is generous)

# Identities: (file stem, user, group). The controller manager and scheduler use the users that
# Kubernetes' bootstrap RBAC roles are bound to; kwok acts for the node; `admin` is the person.
IDENTITIES = {
    "admin": ("admin", "system:masters"),
    "controller-manager": ("system:kube-controller-manager", None),
    "scheduler": ("system:kube-scheduler", None),
    "kwok": ("kwok", "system:masters"),
    "apiserver-kubelet-client": ("kube-apiserver-kubelet-client", "system:masters"),
}

# Writes (every verb that changes state) at Metadata level, nothing else: a test counts the
# operator's writes from the audit log.
AUDIT_POLICY = """\
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [create, update, patch, delete, deletecollection]
- level: None
"""


@dataclass(frozen=True)
class Ports:
    etcd_client: int
    etcd_peer: int
    apiserver: int
    controller_manager: int
    scheduler: int
    kwok: int

    @classmethod
    def from_list(cls, ports: list[int]) -> "Ports":
        return cls(*ports)


@dataclass(frozen=True)
class Layout:
    """Where a run keeps its files (all under one run directory, removed by `down`)."""
    run_dir: Path

    def __getattr__(self, name: str) -> Path:          # pki, etcd_data, logs, ... as paths
        if name not in _FILES:
            raise AttributeError(name)
        return self.run_dir / _FILES[name]


_FILES = {
    "pki": "pki", "etcd_data": "etcd", "logs": "logs", "state": "state.json",
    "audit_log": "audit.log", "audit_policy": "audit-policy.yaml", "kwok_config": "kwok.yaml",
    "kubeconfig": "kubeconfig", "kubeconfigs": "kubeconfigs",
}


def server_url(ports: Ports) -> str:
    return f"https://{HOST}:{ports.apiserver}"


def kubeconfig(server: str, ca_pem: bytes, cert_pem: bytes, key_pem: bytes, user: str,
               cluster: str = "hippodrome-cp") -> dict:
    """A self-contained kubeconfig (certificates embedded), so it can be copied anywhere."""
    b64 = lambda data: base64.b64encode(data).decode()  # noqa: E731
    return {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": cluster, "cluster": {"server": server, "certificate-authority-data": b64(ca_pem)}}],
        "users": [{"name": user, "user": {"client-certificate-data": b64(cert_pem), "client-key-data": b64(key_pem)}}],
        "contexts": [{"name": cluster, "context": {"cluster": cluster, "user": user, "namespace": "default"}}],
        "current-context": cluster,
    }


def etcd_args(bin_dir: Path, lay: Layout, ports: Ports) -> list[str]:
    peer, client = f"http://{HOST}:{ports.etcd_peer}", f"http://{HOST}:{ports.etcd_client}"
    return [str(bin_dir / "etcd"), "--name=hippodrome", f"--data-dir={lay.etcd_data}",
            f"--listen-client-urls={client}", f"--advertise-client-urls={client}",
            f"--listen-peer-urls={peer}", f"--initial-advertise-peer-urls={peer}",
            f"--initial-cluster=hippodrome={peer}", "--initial-cluster-state=new",
            "--unsafe-no-fsync=true",           # test data: durability is not wanted, speed is
            "--log-level=warn"]


def apiserver_args(bin_dir: Path, lay: Layout, ports: Ports) -> list[str]:
    pki = lay.pki
    return [str(bin_dir / "kube-apiserver"),
            f"--etcd-servers=http://{HOST}:{ports.etcd_client}",
            f"--bind-address={HOST}", f"--advertise-address={HOST}", f"--secure-port={ports.apiserver}",
            # the endpoint reconciler refuses a loopback address for the `kubernetes` Service; nothing
            # runs inside this cluster, so that Service needs no endpoints
            "--endpoint-reconciler-type=none",
            f"--tls-cert-file={pki / 'apiserver.crt'}", f"--tls-private-key-file={pki / 'apiserver.key'}",
            f"--client-ca-file={pki / 'ca.crt'}",
            "--authorization-mode=RBAC", "--anonymous-auth=false",
            f"--service-cluster-ip-range={SERVICE_CIDR}",
            f"--service-account-issuer={SA_ISSUER}",
            f"--service-account-key-file={pki / 'sa.pub'}",
            f"--service-account-signing-key-file={pki / 'sa.key'}",
            "--allow-privileged=true",
            # the admission plugin taints a new Node not-ready; the node lifecycle controller that would
            # lift the taint is not run (nothing here needs evictions), so the taint is not added at all
            "--disable-admission-plugins=TaintNodesByCondition",
            f"--audit-log-path={lay.audit_log}", f"--audit-policy-file={lay.audit_policy}",
            "--audit-log-format=json",
            # kubectl logs / port-forward go API server -> kwok's kubelet API on 127.0.0.1
            "--kubelet-preferred-address-types=InternalIP",
            f"--kubelet-certificate-authority={pki / 'ca.crt'}",
            f"--kubelet-client-certificate={pki / 'apiserver-kubelet-client.crt'}",
            f"--kubelet-client-key={pki / 'apiserver-kubelet-client.key'}",
            "--profiling=false"]


def controller_manager_args(bin_dir: Path, lay: Layout, ports: Ports) -> list[str]:
    kc = lay.kubeconfigs / "controller-manager"
    return [str(bin_dir / "kube-controller-manager"),
            f"--kubeconfig={kc}", f"--authentication-kubeconfig={kc}", f"--authorization-kubeconfig={kc}",
            f"--bind-address={HOST}", f"--secure-port={ports.controller_manager}",
            f"--tls-cert-file={lay.pki / 'controller-manager-serving.crt'}",
            f"--tls-private-key-file={lay.pki / 'controller-manager-serving.key'}",
            "--authentication-skip-lookup=true",      # no front proxy: nothing to read from kube-system
            "--leader-elect=false", "--use-service-account-credentials=true",
            f"--controllers={','.join(CONTROLLERS)}",
            f"--service-account-private-key-file={lay.pki / 'sa.key'}",
            f"--root-ca-file={lay.pki / 'ca.crt'}",
            "--profiling=false"]


def scheduler_args(bin_dir: Path, lay: Layout, ports: Ports) -> list[str]:
    kc = lay.kubeconfigs / "scheduler"
    return [str(bin_dir / "kube-scheduler"),
            f"--kubeconfig={kc}", f"--authentication-kubeconfig={kc}", f"--authorization-kubeconfig={kc}",
            f"--bind-address={HOST}", f"--secure-port={ports.scheduler}",
            f"--tls-cert-file={lay.pki / 'scheduler-serving.crt'}",
            f"--tls-private-key-file={lay.pki / 'scheduler-serving.key'}",
            "--authentication-skip-lookup=true",      # no front proxy: nothing to read from kube-system
            "--leader-elect=false", "--profiling=false"]


def kwok_args(bin_dir: Path, lay: Layout, ports: Ports) -> list[str]:
    return [str(bin_dir / "kwok"),
            f"--kubeconfig={lay.kubeconfigs / 'kwok'}", f"--config={lay.kwok_config}",
            f"--manage-single-node={NODE_NAME}",
            f"--node-ip={HOST}", f"--node-name={NODE_NAME}", f"--node-port={ports.kwok}",
            f"--server-address={HOST}:{ports.kwok}",
            f"--tls-cert-file={lay.pki / 'kwok-serving.crt'}", f"--tls-private-key-file={lay.pki / 'kwok-serving.key'}",
            f"--cidr={POD_CIDR}", "--node-lease-duration-seconds=40",
            # PortForward objects come from the API server (a test creates one per pod it stands in
            # for), not from --config: pods have generated names, known only once they exist
            "--enable-crds=PortForward"]


def volume_manifest(index: int, lay: Layout) -> dict:
    """One pre-made volume (hostPath under the run directory: kwok mounts nothing, the path is never used)."""
    return {"apiVersion": "v1", "kind": "PersistentVolume",
            "metadata": {"name": f"hippodrome-pv-{index:03d}", "labels": {"hippodrome.dev/test-volume": "true"}},
            "spec": {"capacity": {"storage": "10Gi"}, "accessModes": ["ReadWriteOnce"],
                     "persistentVolumeReclaimPolicy": "Retain",
                     "hostPath": {"path": str(lay.run_dir / "volumes" / f"pv-{index:03d}")}}}


# kwok's PortForward (kwok.x-k8s.io/v1alpha1), served by the API server so that a test can point a pod's
# port at a local address once the pod exists. The schema is left open: kwok validates what it reads.
KWOK_PORTFORWARD_CRD = {
    "apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
    "metadata": {"name": "portforwards.kwok.x-k8s.io"},
    "spec": {"group": "kwok.x-k8s.io", "scope": "Namespaced",
             "names": {"kind": "PortForward", "listKind": "PortForwardList", "plural": "portforwards",
                       "singular": "portforward"},
             "versions": [{"name": "v1alpha1", "served": True, "storage": True, "subresources": {"status": {}},
                           "schema": {"openAPIV3Schema": {"type": "object",
                                                          "x-kubernetes-preserve-unknown-fields": True}}}]}}


def port_forward(pod: str, namespace: str, port: int, address: str, target_port: int) -> dict:
    """kwok forwards `port` of `pod` (through `kubectl port-forward`, via the API server) to address:target_port."""
    return {"apiVersion": "kwok.x-k8s.io/v1alpha1", "kind": "PortForward",
            "metadata": {"name": pod, "namespace": namespace},
            "spec": {"forwards": [{"ports": [port], "target": {"address": address, "port": target_port}}]}}


def node_manifest() -> dict:
    """The one fake Node kwok manages (no taint: every node here is fake, so any Pod may land on it)."""
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": NODE_NAME,
                         "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
                         "labels": {"kubernetes.io/hostname": NODE_NAME, "kubernetes.io/os": "linux",
                                    "kubernetes.io/arch": "amd64", "type": "kwok"}}}


# ---- kwok's stages: how the fake node and its pods change state --------------------------------
# Written for this project (kwok's Stage API, kwok.x-k8s.io/v1alpha1): the node becomes Ready once;
# a scheduled Pod becomes Running and Ready (no probe runs; there are no containers); a Pod being
# deleted is removed at once (there is no kubelet to finish its termination).
#
# Held pods: a Pod labelled `app.kubernetes.io/instance: held` (every pod of a HippodromeStack named
# `held`: the operator puts the stack's name in that label) becomes Running but NOT Ready, and stays
# so until a test annotates it `hippodrome.test/release: "true"` — so a test sees a layer gate hold and
# decides when it opens. (A key kwok cannot find counts as NotIn: unlabelled pods take the fast path.)
HELD_INSTANCE = "held"
HELD_LABEL = "app.kubernetes.io/instance"
RELEASE_ANNOTATION = "hippodrome.test/release"

NODE_READY = """\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: hippodrome-node-ready}
spec:
  resourceRef: {apiGroup: v1, kind: Node}
  selector:
    matchExpressions:
    - {key: '.status.conditions.[] | select( .type == "Ready" ) | .status', operator: NotIn, values: ['True']}
  next:
    statusTemplate: |
      {{ $now := Now }}
      phase: Running
      conditions:
      - {type: Ready, status: "True", reason: KubeletReady, message: "kwok fake node", lastHeartbeatTime: {{ $now | Quote }}, lastTransitionTime: {{ $now | Quote }}}
      addresses:
      - {type: InternalIP, address: {{ NodeIP | Quote }}}
      - {type: Hostname, address: {{ NodeName | Quote }}}
      daemonEndpoints:
        kubeletEndpoint: {Port: {{ NodePort }}}
      allocatable: {cpu: "64", memory: 256Gi, pods: "1000"}
      capacity: {cpu: "64", memory: 256Gi, pods: "1000"}
      nodeInfo:
        architecture: amd64
        operatingSystem: linux
        kubeletVersion: {{ printf "kwok-%s" Version | Quote }}
        kubeProxyVersion: {{ printf "kwok-%s" Version | Quote }}
        containerRuntimeVersion: {{ printf "kwok-%s" Version | Quote }}
        kernelVersion: ""
        osImage: ""
        machineID: ""
        bootID: ""
        systemUUID: ""
"""

def _pod_stage(name: str, selector: str, ready: bool, with_phase: bool = True) -> str:
    """A pod Stage whose next status is Running, Ready or not; `selector` is the stage's YAML selector."""
    flag = "True" if ready else "False"
    phase = """      phase: Running
      startTime: {{ $now | Quote }}
      hostIP: {{ NodeIPWith .spec.nodeName | Quote }}
      podIP: {{ PodIPWith .spec.nodeName ( or .spec.hostNetwork false ) ( or .metadata.uid "" ) ( or .metadata.name "" ) ( or .metadata.namespace "" ) | Quote }}
""" if with_phase else ""
    return f"""\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {{name: {name}}}
spec:
  resourceRef: {{apiGroup: v1, kind: Pod}}
{selector}  next:
    statusTemplate: |
      {{{{ $now := Now }}}}
{phase}      conditions:
      - {{type: Initialized, status: "True", lastTransitionTime: {{{{ $now | Quote }}}}}}
      - {{type: ContainersReady, status: "{flag}", lastTransitionTime: {{{{ $now | Quote }}}}}}
      - {{type: Ready, status: "{flag}", lastTransitionTime: {{{{ $now | Quote }}}}}}
      containerStatuses:
      {{{{ range .spec.containers }}}}
      - {{name: {{{{ .name | Quote }}}}, image: {{{{ .image | Quote }}}}, ready: {"true" if ready else "false"}, started: true, restartCount: 0, state: {{running: {{startedAt: {{{{ $now | Quote }}}}}}}}}}
      {{{{ end }}}}
"""


POD_READY = _pod_stage("hippodrome-pod-ready", f"""\
  selector:
    matchExpressions:
    - {{key: .metadata.deletionTimestamp, operator: DoesNotExist}}
    - {{key: .status.phase, operator: In, values: [Pending]}}
    - {{key: '.metadata.labels["{HELD_LABEL}"]', operator: NotIn, values: [{HELD_INSTANCE}]}}
""", ready=True)

POD_HOLD = _pod_stage("hippodrome-pod-hold", f"""\
  selector:
    matchLabels: {{{HELD_LABEL}: {HELD_INSTANCE}}}
    matchExpressions:
    - {{key: .metadata.deletionTimestamp, operator: DoesNotExist}}
    - {{key: .status.phase, operator: In, values: [Pending]}}
""", ready=False)

POD_RELEASE = _pod_stage("hippodrome-pod-release", f"""\
  selector:
    matchLabels: {{{HELD_LABEL}: {HELD_INSTANCE}}}
    matchAnnotations: {{{RELEASE_ANNOTATION}: "true"}}
    matchExpressions:
    - {{key: .metadata.deletionTimestamp, operator: DoesNotExist}}
    - {{key: .status.phase, operator: In, values: [Running]}}
    - {{key: '.status.conditions.[] | select( .type == "Ready" ) | .status', operator: NotIn, values: ['True']}}
""", ready=True, with_phase=False)

POD_DELETE = """\
apiVersion: kwok.x-k8s.io/v1alpha1
kind: Stage
metadata: {name: hippodrome-pod-delete}
spec:
  resourceRef: {apiGroup: v1, kind: Pod}
  selector:
    matchExpressions:
    - {key: .metadata.deletionTimestamp, operator: Exists}
  next:
    finalizers: {empty: true}
    delete: true
"""

DEFAULT_STAGES = (NODE_READY, POD_READY, POD_HOLD, POD_RELEASE, POD_DELETE)


def kwok_config(documents: tuple[str, ...] = DEFAULT_STAGES) -> str:
    """kwok's --config file, one multi-document YAML: the stages, and any other kwok configuration a
    test adds (another Stage, a PortForward, ...; `ControlPlane(kwok_documents=DEFAULT_STAGES + (...,))`)."""
    return "---\n".join(documents)
