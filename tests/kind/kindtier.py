"""The kind tier's wiring: which tools, which node image, which cluster; pytest-kind-ng's cluster, never downloading.

pytest-kind-ng (``pytest_kind.KindCluster``) downloads kind and kubectl from the internet whenever the path it
was given does not exist (``ensure_kind``/``ensure_kubectl``, honouring ``KIND_DOWNLOAD_URL`` and
``KUBECTL_DOWNLOAD_URL``), and ``kind create cluster`` pulls a node image that is not present.  Here:

- the binaries are the ones on PATH (or ``--kind-bin`` / ``--kind-kubectl-bin``), always passed explicitly
  as absolute paths; ``NoDownloadKindCluster`` replaces both ``ensure_*`` methods with a check that raises
  ``ToolMissing`` (with the command to run) instead of downloading;
- the node image is the pinned one from ``kind/kind-config.yaml`` (by digest), and the tier skips unless it
  is present locally, so ``kind create`` never pulls it;
- a cluster that already exists is used and kept; only one this run created is deleted.

``tier_plan()`` is what ``tests/kind/conftest.py`` skips on and ``scripts/test-kind`` checks before it runs
anything (``python tests/kind/kindtier.py preflight``): the same checks, the same messages.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # run as a script by scripts/test-kind
    sys.path.insert(0, str(ROOT))

from hippodrome_k8s.k8s.cluster import CONFIG_PATH, KIND_VERSION, needs_archive, node_image  # noqa: E402
from hippodrome_k8s.k8s.preflight import INSTALL, check_docker, check_helm, check_kind, check_kubectl  # noqa: E402
from hippodrome_k8s.k8s.runner import Completed, SubprocessRunner  # noqa: E402

CLUSTER = "hippodrome-test"       # the cluster the tier creates (and deletes) unless --cluster-name says otherwise
PLUGIN_DEFAULT_CLUSTER = "pytest-kind"  # pytest-kind-ng's default for --cluster-name: taken as "not given"
PROFILE = "ecom"
NAMESPACE = "hippodrome"
REQUIRED_ENV = "HIPPODROME_KIND_REQUIRED"  # set by scripts/test-kind: a missing piece fails instead of skipping
INSTALL_PACKAGES = "pip install -c requirements.lock -e '.[k8s,test]'"
PACKAGES = (("kubernetes", "k8s"), ("pyhelm3", "k8s"), ("kopf", "k8s"), ("pytest_kind", "test: pytest-kind-ng"))
TILT_INSTALL = "https://docs.tilt.dev/install.html"


class ToolMissing(RuntimeError):
    """A binary the tier needs is not there; it is never downloaded."""


def required() -> bool:
    return os.environ.get(REQUIRED_ENV, "") not in ("", "0")


class TierRunner(SubprocessRunner):
    """hippodrome's own runner, on the tier's PATH (the directories of the binaries passed explicitly first)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def which(self, program: str) -> str | None:
        return shutil.which(program, path=self.path)

    def run(self, argv: Sequence[str], *, timeout: float, input: str | None = None,
            env: Mapping[str, str] | None = None, cwd: str | None = None, stream: bool = False) -> Completed:
        exe = self.which(argv[0]) or argv[0]
        env = {**os.environ, **(env or {}), "PATH": self.path}
        return super().run([exe, *argv[1:]], timeout=timeout, input=input, env=env, cwd=cwd, stream=stream)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"  {'ok     ' if self.ok else 'MISSING'} {self.name}: {self.detail}"


@dataclass(frozen=True)
class TierPlan:
    cluster: str
    image: str
    config: Path
    kind_bin: str | None
    kubectl_bin: str | None
    path: str
    keep: bool
    tilt: str | None
    checks: tuple[Check, ...]

    @property
    def missing(self) -> list[Check]:
        return [c for c in self.checks if not c.ok]

    @property
    def why_not(self) -> str | None:
        """None when the tier can run; else every missing piece with the command that fixes it."""
        return "; ".join(f"{c.name}: {c.detail}" for c in self.missing) or None

    def env(self, kubeconfig: Path | None = None) -> dict[str, str]:
        """The environment of every command the tier runs: its PATH, and the cluster's own kubeconfig."""
        env = dict(os.environ, PATH=self.path)
        if kubeconfig is not None:
            env["KUBECONFIG"] = str(kubeconfig)
        return env


def _explicit(flag: str, value: str | None) -> tuple[str | None, Check | None]:
    if value is None:
        return None, None
    path = Path(value).expanduser().absolute()  # a symlink stays one: its directory goes first on PATH
    if path.is_file() and os.access(path, os.X_OK):
        return str(path), None
    name = flag.removeprefix("--").removesuffix("-bin").replace("kind-kubectl", "kubectl")
    return None, Check(name, False, f"{flag} {value} is not an executable file (it is never downloaded); "
                                    f"{INSTALL[name]}")


def _python_packages(importer: Callable[[str], object]) -> Check:
    missing = []
    for module, extra in PACKAGES:
        try:
            importer(module)
        except ImportError:
            missing.append(f"{module} ({extra})")
    if missing:
        return Check("python packages", False, f"missing {', '.join(missing)}; install: {INSTALL_PACKAGES}")
    return Check("python packages", True, ", ".join(f"{m} ({e})" for m, e in PACKAGES))


def tier_plan(*, kind_bin: str | None = None, kubectl_bin: str | None = None, image: str | None = None,
              cluster_name: str | None = None, keep: bool = False, path: str | None = None,
              importer: Callable[[str], object] = importlib.import_module) -> TierPlan:
    """Resolve the tier's tools (absolute paths), image and cluster, and check each (nothing is installed)."""
    base = os.environ.get("PATH", os.defpath) if path is None else path
    kind_path, kind_problem = _explicit("--kind-bin", kind_bin)
    kubectl_path, kubectl_problem = _explicit("--kind-kubectl-bin", kubectl_bin)
    dirs = [str(Path(p).parent) for p in (kind_path, kubectl_path) if p]
    tier_path = os.pathsep.join(dict.fromkeys([*dirs, *base.split(os.pathsep)]))
    runner = TierRunner(tier_path)
    kind_path = kind_path or (None if kind_problem else runner.which("kind"))
    kubectl_path = kubectl_path or (None if kubectl_problem else runner.which("kubectl"))
    image = image or node_image()

    checks = [_python_packages(importer)]
    docker = check_docker(runner)
    checks.append(Check("docker", docker.ok, f"{docker.version} (engine reachable)" if docker.ok else docker.problem))
    for problem, check in ((kind_problem, check_kind), (kubectl_problem, check_kubectl), (None, check_helm)):
        if problem:
            checks.append(problem)
            continue
        found = check(runner)
        where = runner.which(found.name)
        checks.append(Check(found.name, found.ok, f"{found.version} ({where})" if found.ok else found.problem))
    if docker.ok:
        present = runner.run(["docker", "image", "inspect", image], timeout=30)
        checks.append(Check("node image", present.ok,
                            f"{image} present locally" if present.ok else
                            f"{image} is not present locally, and the tier never pulls it: `docker pull {image}`"))
    name = cluster_name if cluster_name and cluster_name != PLUGIN_DEFAULT_CLUSTER else CLUSTER
    return TierPlan(name, image, CONFIG_PATH, kind_path, kubectl_path, tier_path, keep, runner.which("tilt"),
                    tuple(checks))


# --- the cluster ---------------------------------------------------------------------------------

try:
    from pytest_kind import KindCluster
except ImportError:  # the preflight reports it (the `test` extra); nothing below is used without it
    KindCluster = object  # type: ignore[assignment,misc]


class NoDownloadKindCluster(KindCluster):
    """pytest-kind-ng's KindCluster with the binaries given, never downloaded, and a found cluster kept.

    - ``ensure_kind``/``ensure_kubectl`` raise ToolMissing where the package would download;
    - ``create()`` exports the kubeconfig of a cluster that already exists (the package would read an empty
      file) and remembers whether it created one; ``delete_if_created()`` deletes only that one;
    - ``load_docker_image`` goes through ``docker save`` + ``kind load image-archive`` when Docker's
      containerd image store makes ``kind load docker-image`` fail (hippodrome_k8s/k8s/cluster.py);
    - the package's working directory (``.pytest-kind/<name>``) goes to ``workdir``, not the project.
    """

    def __init__(self, name: str, *, kind_path: str | Path, kubectl_path: str | Path, image: str, config: Path,
                 workdir: Path, path: str | None = None) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        with contextlib.chdir(workdir):
            super().__init__(name, kubeconfig=workdir / "kubeconfig", image=image, kind_path=Path(kind_path),
                             kubectl_path=Path(kubectl_path))
        self.config = config
        self.created = False
        self.search_path = path if path is not None else os.environ.get("PATH", os.defpath)

    def ensure_kind(self) -> None:
        if not self.kind_path.is_file():
            raise ToolMissing(f"kind is not at {self.kind_path} (the kind tier never downloads it): "
                              f"`go install sigs.k8s.io/kind@{KIND_VERSION}`")

    def ensure_kubectl(self) -> None:
        if not self.kubectl_path.is_file():
            raise ToolMissing(f"kubectl is not at {self.kubectl_path} (the kind tier never downloads it): "
                              f"{INSTALL['kubectl']}")

    def _kind(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        self.ensure_kind()
        result = subprocess.run([str(self.kind_path), *args], capture_output=True, text=True, timeout=600,
                                env=dict(os.environ, PATH=self.search_path))
        if check and result.returncode != 0:
            raise RuntimeError(f"`kind {' '.join(args)}` failed (exit {result.returncode}): {result.stderr.strip()}")
        return result

    def exists(self) -> bool:
        return self.name in self._kind("get", "clusters").stdout.split()

    def create(self, config_file: str | Path | None = None) -> None:
        """Use the cluster if it exists (kept afterwards), else create it from the kind config and pinned image."""
        if self.exists():
            self._kind("export", "kubeconfig", "--name", self.name, "--kubeconfig", str(self.kubeconfig_path))
        else:
            self.created = True  # set first: a failed create is cleaned up too
        super().create(config_file or self.config)

    def delete_if_created(self) -> bool:
        if not self.created:
            return False
        self.delete()
        return True

    def load_docker_image(self, docker_image: str) -> str:
        load = self._kind("load", "docker-image", "--name", self.name, docker_image, check=False)
        if load.returncode == 0:
            return "docker-image"
        if not needs_archive(Completed(tuple(load.args), load.returncode, load.stdout, load.stderr)):
            raise RuntimeError(f"`kind load docker-image {docker_image}` failed: {load.stderr.strip()}")
        with contextlib.ExitStack() as stack:
            import tempfile
            archive = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="kind-tier-"))) / "image.tar"
            subprocess.run(["docker", "save", "-o", str(archive), docker_image], check=True, capture_output=True,
                           timeout=600, env=dict(os.environ, PATH=self.search_path))
            self._kind("load", "image-archive", str(archive), "--name", self.name)
        return "image-archive"


def make_cluster(plan: TierPlan, workdir: Path) -> NoDownloadKindCluster:
    if plan.kind_bin is None or plan.kubectl_bin is None:
        raise ToolMissing(plan.why_not or "kind or kubectl is missing")
    return NoDownloadKindCluster(plan.cluster, kind_path=plan.kind_bin, kubectl_path=plan.kubectl_bin,
                                 image=plan.image, config=plan.config, workdir=workdir, path=plan.path)


# --- what scripts/test-kind says before it runs ----------------------------------------------------------


def images(profile: str = PROFILE) -> list[str]:
    """The images `hippodrome k8s up --profile <profile>` builds and loads."""
    from hippodrome_k8s.cli.options import load_and_plan
    from hippodrome_k8s.k8s.images import images_for

    with contextlib.redirect_stderr(io.StringIO()):
        _, plan = load_and_plan(ROOT, None, profile, None, None, False, seed="0")
    return [i.ref for i in images_for(plan)]


def describe(plan: TierPlan, found: bool) -> str:
    cluster = (f"found kind cluster {plan.cluster!r}: used as it is, and kept afterwards" if found else
               f"kind cluster {plan.cluster!r} from kind/kind-config.yaml with the node image {plan.image}; "
               f"deleted afterwards")
    tilt = (f"tilt {plan.tilt}: `HIPPODROME_FORWARDS=cli tilt ci` runs last" if plan.tilt else
            f"tilt is not on PATH: the `tilt ci` scenario is skipped (optional: {TILT_INSTALL})")
    return "\n".join([
        "It will create:",
        f"  - {cluster} (its kubeconfig is a file of its own; ~/.kube/config is not touched)",
        f"  - the images `hippodrome k8s up --profile {PROFILE}` builds and loads: {', '.join(images())}",
        "    (and Tilt's dev-stage images, built by docker: hippodrome-test/{operator,examples,console}:dev-stage)",
        f"  - the {PROFILE} stack in namespace {NAMESPACE!r}, forwarded to 127.0.0.1:9000-9019 (they must be free)",
        f"  - {tilt}",
    ])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="kindtier.py", description="The kind tier's preflight (scripts/test-kind).")
    parser.add_argument("command", choices=["preflight"])
    parser.add_argument("--cluster-name", default=None)
    args = parser.parse_args(argv)
    plan = tier_plan(cluster_name=args.cluster_name)
    print("kind tier preflight (nothing is downloaded or pulled):")
    print("\n".join(c.line() for c in plan.checks))
    if plan.missing:
        print(f"\n{len(plan.missing)} missing: install them and run scripts/test-kind again.", file=sys.stderr)
        return 2
    found = plan.cluster in TierRunner(plan.path).run(["kind", "get", "clusters"], timeout=30).stdout.split()
    print(describe(plan, found))
    return 0


if __name__ == "__main__":
    sys.exit(main())
