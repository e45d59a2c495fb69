"""Build the real control plane's binaries from the wrapper Go module, into a cache outside the repo.

Why this exists: the cluster tier needs a real kube-apiserver, etcd, kube-controller-manager,
kube-scheduler, kubectl and kwok, and none can be downloaded here; they can be built from Go modules
(`controlplane/go.mod`, see `controlplane/generate.py`). One `go build` makes all six, so they share
one module graph and one build cache. The result lives in
`~/.cache/hippodrome/control-plane/<versions>-<go.sum hash>/` (or `$HIPPODROME_CONTROL_PLANE_CACHE/...`)
and is reused while it is complete; a cold build takes many minutes, so progress is printed.

Pure decisions (versions, cache key, ldflags, progress lines) are separate from running `go`.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[2]
WRAPPER = REPO / "controlplane"

# Binary name -> main package in the wrapper module (the order is the build's argument order).
PACKAGES = {
    "kube-apiserver": "k8s.io/kubernetes/cmd/kube-apiserver",
    "kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
    "kube-scheduler": "k8s.io/kubernetes/cmd/kube-scheduler",
    "kubectl": "k8s.io/kubernetes/cmd/kubectl",
    "etcd": "go.etcd.io/etcd/server/v3",
    "kwok": "sigs.k8s.io/kwok/cmd/kwok",
}
COMPLETE = "build.json"   # written last: a directory without it is not a finished build


class GoMissing(RuntimeError):
    """No `go` command: the cluster tier cannot build its control plane."""


@dataclass(frozen=True)
class Versions:
    kubernetes: str
    etcd: str
    kwok: str

    @property
    def minor(self) -> str:
        return self.kubernetes.split(".")[1]


# ---- pure decisions --------------------------------------------------------------------------

def pinned_versions(gomod_text: str) -> Versions:
    """The versions the wrapper's go.mod requires."""
    def version(module: str) -> str:
        m = re.search(rf"^\s*{re.escape(module)}\s+(v\S+)", gomod_text, re.M)
        if not m:
            raise ValueError(f"{module} is not required by controlplane/go.mod")
        return m[1]
    return Versions(version("k8s.io/kubernetes"), version("go.etcd.io/etcd/server/v3"), version("sigs.k8s.io/kwok"))


def cache_key(versions: Versions, gomod: bytes, gosum: bytes) -> str:
    """A directory name that changes when any pinned module changes."""
    digest = hashlib.sha256(gomod + b"\0" + gosum).hexdigest()[:10]
    return f"kubernetes-{versions.kubernetes}_etcd-{versions.etcd}_kwok-{versions.kwok}_{digest}"


def ldflags(versions: Versions) -> str:
    """Strip symbols and stamp versions, so the API server, kubectl and Helm see v1.x, not v0.0.0."""
    flags = ["-s", "-w"]
    major, minor = versions.kubernetes.lstrip("v").split(".")[:2]
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [f"-X {pkg}.gitVersion={versions.kubernetes}", f"-X {pkg}.gitMajor={major}",
                  f"-X {pkg}.gitMinor={minor}", f"-X {pkg}.gitTreeState=clean"]
    flags += [f"-X sigs.k8s.io/kwok/pkg/consts.Version={versions.kwok}",
              f"-X sigs.k8s.io/kwok/pkg/consts.KubeVersion={versions.kubernetes}"]
    return " ".join(flags)


def build_command(versions: Versions, out_dir: Path) -> list[str]:
    return ["go", "build", "-trimpath", "-ldflags", ldflags(versions), "-o", f"{out_dir}/", "-v",
            *PACKAGES.values()]


def build_env(environ: dict[str, str]) -> dict[str, str]:
    env = dict(environ)
    env["CGO_ENABLED"] = "0"
    env.setdefault("GOFLAGS", "")
    if "-mod=" not in env["GOFLAGS"]:
        env["GOFLAGS"] = (env["GOFLAGS"] + " -mod=readonly").strip()   # go.sum is committed: never rewrite it
    return env


def unavailable_reason(environ: dict, have_go: bool, built: bool) -> str | None:
    """Why the cluster tier cannot run here, or None (pure: the arguments are the facts)."""
    if environ.get("HIPPODROME_SKIP_CLUSTER", "") not in ("", "0"):
        return "HIPPODROME_SKIP_CLUSTER is set: the cluster tier (a real control plane built from Go modules) is skipped"
    if not have_go and not built:
        return ("`go` is not on PATH and no control plane is built in "
                f"{cache_root()}: the cluster tier builds kube-apiserver, etcd, kube-controller-manager, "
                "kube-scheduler, kubectl and kwok from Go modules (install Go >= 1.26; "
                "HIPPODROME_SKIP_CLUSTER=1 skips this tier)")
    return None


def fmt_duration(seconds: float) -> str:
    m, s = divmod(int(seconds), 60)
    return f"{m}m{s:02d}s" if m else f"{s}s"


# ---- I/O ---------------------------------------------------------------------------------------

def versions() -> Versions:
    return pinned_versions((WRAPPER / "go.mod").read_text())


def cache_root() -> Path:
    if os.environ.get("HIPPODROME_CONTROL_PLANE_CACHE"):
        return Path(os.environ["HIPPODROME_CONTROL_PLANE_CACHE"])
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "hippodrome" / "control-plane"


def bin_dir() -> Path:
    key = cache_key(versions(), (WRAPPER / "go.mod").read_bytes(), (WRAPPER / "go.sum").read_bytes())
    return cache_root() / key


def is_built(directory: Path | None = None) -> bool:
    directory = directory or bin_dir()
    return (directory / COMPLETE).is_file() and all((directory / b).is_file() for b in PACKAGES)


def find_go() -> str:
    go = shutil.which("go")
    if not go:
        raise GoMissing("`go` is not on PATH: the cluster tier builds kube-apiserver, etcd, "
                        "kube-controller-manager, kube-scheduler, kubectl and kwok from Go modules "
                        "(install Go >= 1.26, or set HIPPODROME_SKIP_CLUSTER=1 to skip this tier)")
    return go


def ensure_built(progress: Callable[[str], None] = print) -> Path:
    """The directory holding the six binaries, building them first if the cache lacks them."""
    target = bin_dir()
    if is_built(target):
        return target
    find_go()
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / ".build.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:                   # one build at a time (2 cores): a second caller waits
            progress(f"control-plane: another build holds {lock.name}; waiting for it")
            fcntl.flock(lock, fcntl.LOCK_EX)
        if not is_built(target):
            _build(target, progress)
    return target


@contextlib.contextmanager
def _every(seconds: float, fn: Callable[[], None]):
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(seconds):
            fn()

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _run_streaming(cmd: list[str], env: dict, on_line: Callable[[str], None]) -> tuple[int, list[str]]:
    tail: list[str] = []
    with subprocess.Popen(cmd, cwd=WRAPPER, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, bufsize=1) as proc:  # closes the pipe (a cold build's only ResourceWarning)
        assert proc.stdout
        for line in proc.stdout:
            line = line.rstrip("\n")
            tail = (tail + [line])[-40:]
            on_line(line)
    return proc.wait(), tail


def _build(target: Path, progress: Callable[[str], None]) -> None:
    v = versions()
    env = build_env(os.environ)
    tmp = target.with_name(target.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    progress(f"control-plane: building kube-apiserver, kube-controller-manager, kube-scheduler, kubectl "
             f"{v.kubernetes}, etcd {v.etcd}, kwok {v.kwok} into {target} (a cold build takes many minutes)")

    t0 = time.monotonic()
    progress("control-plane: [1/2] downloading modules and loading packages (go list -deps)")
    listing = subprocess.run(["go", "list", "-deps", *PACKAGES.values()], cwd=WRAPPER, env=env,
                             capture_output=True, text=True)
    if listing.returncode != 0:
        raise RuntimeError(f"go list failed:\n{listing.stderr[-4000:]}")
    total = len(listing.stdout.split())
    t1 = time.monotonic()
    progress(f"control-plane: [1/2] {total} packages ready in {fmt_duration(t1 - t0)}")

    seen = {"done": 0, "last": ""}

    def on_line(line: str) -> None:
        if line and " " not in line:   # `go build -v` names each package it compiles
            seen["done"] += 1
            seen["last"] = line

    def report() -> None:              # every 20 s, also while the linker runs (it prints nothing)
        progress(f"control-plane: [2/2] compiling: {seen['done']} of at most {total} packages, "
                 f"{fmt_duration(time.monotonic() - t1)} (last: {seen['last'][:80] or '-'})")

    with _every(20, report):
        rc, tail = _run_streaming(build_command(v, tmp), env, on_line)
    if rc != 0:
        raise RuntimeError("go build failed:\n" + "\n".join(tail))
    t2 = time.monotonic()
    (tmp / "server").rename(tmp / "etcd")          # go names go.etcd.io/etcd/server/v3's binary "server"
    sizes = {b: (tmp / b).stat().st_size for b in PACKAGES}
    record = {"versions": vars(v), "download_and_load_s": round(t1 - t0, 1), "compile_s": round(t2 - t1, 1),
              "total_s": round(t2 - t0, 1), "packages": total, "sizes": sizes,
              "go": subprocess.run(["go", "env", "GOVERSION"], env=env, capture_output=True, text=True).stdout.strip()}
    (tmp / COMPLETE).write_text(json.dumps(record, indent=2) + "\n")
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    progress(f"control-plane: built in {fmt_duration(t2 - t0)} (modules {fmt_duration(t1 - t0)}, "
             f"compile {fmt_duration(t2 - t1)}): " + ", ".join(f"{b} {s / 1e6:.0f} MB" for b, s in sizes.items()))


if __name__ == "__main__":
    print(ensure_built())
