"""Stand-in docker, kind, kubectl and helm for the kind tier's own tests (no engine, no cluster needed).

Each stand-in accepts exactly the flags that the real tool's help documents for the subcommands the tier
calls: the help texts are captured from the real binaries in ``fixtures/cli/<tool>/<subcommand>.txt``
(kind v0.33.0, docker 28.2.2, kubectl 1.32, helm 3.17.2) and parsed here, so an undocumented flag, a
missing flag value or a wrong number of arguments is refused as the real tool refuses it (exit 1, or 125
for docker).  A subcommand the tier does not call exits 97 ("not emulated"), so a test notices it.

What the tools answer comes from a JSON state file (``STANDIN_STATE``): whether the docker engine is up,
which images it holds, which kind clusters exist, the versions the tools report.  Every call is appended
to ``STANDIN_LOG`` (one JSON object a line: tool, argv, KUBECONFIG); a pull or a download is also recorded
as ``{"download": ...}`` and fails, since the tier must never make one.

Run as ``python kind_standins.py <tool> <args...>``; ``install(bin_dir, ...)`` writes the executables.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sys
from dataclasses import dataclass, field
from pathlib import Path

HELP = Path(__file__).resolve().parent / "fixtures" / "cli"
NOT_EMULATED = 97

# the subcommands each stand-in knows: words -> (help file, min args, max args or None)
COMMANDS: dict[str, dict[tuple[str, ...], tuple[str, int, int | None]]] = {
    "kind": {
        ("version",): ("version", 0, 0),
        ("get", "clusters"): ("get-clusters", 0, 0),
        ("create", "cluster"): ("create-cluster", 0, 0),
        ("delete", "cluster"): ("delete-cluster", 0, 0),
        ("export", "kubeconfig"): ("export-kubeconfig", 0, 0),
        ("load", "docker-image"): ("load-docker-image", 1, None),
        ("load", "image-archive"): ("load-image-archive", 1, 1),
    },
    "docker": {
        ("info",): ("info", 0, 0),
        ("version",): ("version", 0, 0),
        ("image", "inspect"): ("image-inspect", 1, None),
        ("inspect",): ("inspect", 1, None),
        ("build",): ("build", 1, 1),
        ("save",): ("save", 1, None),
        ("tag",): ("tag", 2, 2),
        ("pull",): ("pull", 1, 1),
    },
    "kubectl": {
        ("version",): ("version", 0, 0),
        ("get",): ("get", 0, None),
    },
    "helm": {
        ("version",): ("version", 0, 0),
    },
}
GLOBAL_HELP = {"kubectl": "options"}  # kubectl lists its global flags in `kubectl options`

DEFAULT_STATE = {
    "docker": {"engine": True, "version": "28.2.2", "images": [], "build_error": "",
               "kill_caller_once_a_cluster_exists": False},
    "kind": {"version": "v0.33.0", "clusters": [], "containerd_store": False},
    "kubectl": {"version": "v1.37.0"},
    "helm": {"version": "v3.17.2+gcc0bbbd"},
}

COBRA_FLAG = re.compile(r"^\s+(?:-(\w), )?--([\w-]+)(?: (\w+))?(?:\s{2,}|$)")
KUBECTL_FLAG = re.compile(r"^\s+(?:-(\w), )?--([\w-]+)=(.*):$")


@dataclass(frozen=True)
class Flag:
    name: str
    short: str | None
    takes_value: bool


def parse_help(text: str) -> dict[str, Flag]:
    """The flags a help text documents, by long name (cobra style: kind, docker, helm; kubectl's own style)."""
    flags: dict[str, Flag] = {}
    for line in text.splitlines():
        if m := KUBECTL_FLAG.match(line):
            short, name, default = m.groups()
            flags[name] = Flag(name, short, default not in ("true", "false"))
        elif m := COBRA_FLAG.match(line):
            short, name, kind = m.groups()
            flags[name] = Flag(name, short, bool(kind) and kind != "bool")
    return flags


def documented_flags(tool: str, help_name: str) -> dict[str, Flag]:
    flags = parse_help((HELP / tool / f"{help_name}.txt").read_text())
    if tool in GLOBAL_HELP:
        flags.update(parse_help((HELP / tool / f"{GLOBAL_HELP[tool]}.txt").read_text()))
    flags.setdefault("help", Flag("help", "h", False))
    return flags


class Refused(Exception):
    """What the real tool says when it refuses a command line: exit 1 (docker: 125 for a bad flag)."""

    def __init__(self, message: str, bad_flag: bool = True) -> None:
        super().__init__(message)
        self.bad_flag = bad_flag


@dataclass
class Call:
    words: tuple[str, ...]
    flags: dict[str, list[str]] = field(default_factory=dict)
    args: list[str] = field(default_factory=list)

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self.flags.get(name)
        return values[-1] if values else default

    def has(self, name: str) -> bool:
        return name in self.flags


def _all_flags(tool: str) -> dict[str, Flag]:
    merged: dict[str, Flag] = {}
    for help_name, _, _ in COMMANDS[tool].values():
        merged.update(documented_flags(tool, help_name))
    return merged


def _split(argv: list[str], flags: dict[str, Flag]) -> tuple[list[str], list[tuple[Flag, str | None]]]:
    """Cobra's split: flags anywhere (``--f=v``, ``--f v``, ``-f v``, ``-fv``), the rest positional words."""
    by_short = {f.short: f for f in flags.values() if f.short}
    words: list[str] = []
    found: list[tuple[Flag, str | None]] = []
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            words += argv[i + 1:]
            break
        if arg.startswith("--"):
            name, eq, value = arg[2:].partition("=")
            flag = flags.get(name)
            if flag is None:
                raise Refused(f"unknown flag: --{name}")
        elif arg.startswith("-") and len(arg) > 1:
            flag = by_short.get(arg[1])
            if flag is None:
                raise Refused(f"unknown shorthand flag: '{arg[1]}' in {arg}")
            eq, value = ("=", arg[2:].lstrip("=")) if len(arg) > 2 else ("", "")
        else:
            words.append(arg)
            i += 1
            continue
        if flag.takes_value and not eq:
            if i + 1 >= len(argv):
                raise Refused(f"flag needs an argument: --{flag.name}")
            value = argv[i + 1]
            i += 1
        found.append((flag, value if (eq or flag.takes_value) else None))
        i += 1
    return words, found


def parse(tool: str, argv: list[str]) -> Call | None:
    """The call as the real tool reads it, or Refused as the real tool refuses it; None: not emulated.

    First the subcommand (the leading positional words, flags skipped), then argv again with only the flags
    that subcommand's help documents (with the global ones)."""
    try:
        words, _ = _split(argv, _all_flags(tool))
    except Refused:
        words = [a for a in argv if not a.startswith("-")]
    for command, (help_name, low, high) in sorted(COMMANDS[tool].items(), key=lambda kv: -len(kv[0])):
        if tuple(words[:len(command)]) == command:
            break
    else:
        return None
    words, found = _split(argv, documented_flags(tool, help_name))
    call = Call(command, args=words[len(command):])
    for flag, value in found:
        call.flags.setdefault(flag.name, []).append(value if value is not None else "true")
    if not call.has("help") and (len(call.args) < low or (high is not None and len(call.args) > high)):
        if len(call.args) < low:
            raise Refused(f"'{tool} {' '.join(command)}' requires at least {low} argument", bad_flag=False)
        raise Refused(f"unknown command \"{call.args[high]}\" for \"{tool} {' '.join(command)}\"", bad_flag=False)
    return call


# --- state and log -----------------------------------------------------------------------------


def load_state() -> dict:
    path = os.environ.get("STANDIN_STATE")
    state = json.loads(json.dumps(DEFAULT_STATE))
    if path and Path(path).exists():
        for tool, values in json.loads(Path(path).read_text()).items():
            state.setdefault(tool, {}).update(values)
    return state


def save_state(state: dict) -> None:
    path = os.environ.get("STANDIN_STATE")
    if path:
        Path(path).write_text(json.dumps(state, indent=1))


def log(entry: dict) -> None:
    path = os.environ.get("STANDIN_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(entry) + "\n")


def read_log(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


# --- the tools -----------------------------------------------------------------------------------

NO_ENGINE = "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?"


def kubeconfig_text(cluster: str) -> str:
    """What kind writes: one cluster, one user, one context named kind-<cluster>, made current."""
    ctx = f"kind-{cluster}"
    return json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": ctx, "preferences": {},
        "clusters": [{"name": ctx, "cluster": {"server": "https://127.0.0.1:6443",
                                                "certificate-authority-data": "c3RhbmQtaW4="}}],
        "users": [{"name": ctx, "user": {"client-certificate-data": "c3RhbmQtaW4=",
                                          "client-key-data": "c3RhbmQtaW4="}}],
        "contexts": [{"name": ctx, "context": {"cluster": ctx, "user": ctx}}],
    }, indent=1)


def _kubeconfig_path(call: Call) -> Path:
    return Path(call.get("kubeconfig") or os.environ.get("KUBECONFIG") or Path.home() / ".kube" / "config")


def run_kind(call: Call, state: dict) -> int:
    kind, docker = state["kind"], state["docker"]
    command = call.words
    if command == ("version",):
        print(f"kind {kind['version']} go1.26.8 linux/amd64")
        return 0
    if not docker["engine"]:
        print("ERROR: failed to list clusters: command \"docker ps -a --filter label=io.x-k8s.kind.cluster --format "
              "'{{.Label \"io.x-k8s.kind.cluster\"}}'\" failed with error: exit status 1\n\nCommand Output: "
              + NO_ENGINE, file=sys.stderr)
        return 1
    name = call.get("name") or os.environ.get("KIND_CLUSTER_NAME") or "kind"
    if command == ("get", "clusters"):
        if kind["clusters"]:
            print("\n".join(kind["clusters"]))
        else:
            print("No kind clusters found.", file=sys.stderr)
        return 0
    if command == ("create", "cluster"):
        image = call.get("image")
        if call.get("config"):
            config = Path(call.get("config"))
            if not config.is_file():
                print(f"ERROR: failed to create cluster: error reading file: open {config}: no such file or directory",
                      file=sys.stderr)
                return 1
            import yaml
            doc = yaml.safe_load(config.read_text())
            name = call.get("name") or doc.get("name") or name
            image = image or (doc.get("nodes") or [{}])[0].get("image")
        image = image or "kindest/node:v1.37.0"
        if name in kind["clusters"]:
            print(f"ERROR: failed to create cluster: node(s) already exist for a cluster with the name \"{name}\"",
                  file=sys.stderr)
            return 1
        if image not in docker["images"]:
            log({"download": image, "by": "kind create cluster"})
            print(f"stand-in kind: would pull {image} (not present locally)", file=sys.stderr)
            return 1
        kind["clusters"].append(name)
        save_state(state)
        path = _kubeconfig_path(call)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(kubeconfig_text(name))
        print(f"Creating cluster \"{name}\" ...\nSet kubectl context to \"kind-{name}\"", file=sys.stderr)
        return 0
    if command == ("delete", "cluster"):
        print(f"Deleting cluster \"{name}\" ...", file=sys.stderr)
        if name in kind["clusters"]:
            kind["clusters"].remove(name)
            save_state(state)
        return 0
    if name not in kind["clusters"]:
        print(f"ERROR: no nodes found for cluster \"{name}\"", file=sys.stderr)
        return 1
    if command == ("export", "kubeconfig"):
        path = _kubeconfig_path(call)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(kubeconfig_text(name))
        print(f"Set kubectl context to \"kind-{name}\"", file=sys.stderr)
        return 0
    if command == ("load", "docker-image"):
        for image in call.args:
            if image not in docker["images"]:
                print(f"ERROR: image: \"{image}\" not present locally", file=sys.stderr)
                return 1
        if kind["containerd_store"]:
            print(f"ERROR: failed to load image: command \"docker exec --privileged -i {name}-control-plane ctr "
                  "--namespace=k8s.io images import --all-platforms --digests --snapshotter=overlayfs -\" failed with "
                  "error: exit status 1\nCommand Output: ctr: content digest sha256:0123: not found", file=sys.stderr)
            return 1
        return 0
    if command == ("load", "image-archive"):
        if not Path(call.args[0]).is_file():
            print(f"ERROR: failed to load image archive: open {call.args[0]}: no such file or directory",
                  file=sys.stderr)
            return 1
        return 0
    return NOT_EMULATED


def run_docker(call: Call, state: dict) -> int:
    docker, kind = state["docker"], state["kind"]
    command = call.words
    if not docker["engine"]:
        if command == ("image", "inspect"):
            print("[]")
        print(NO_ENGINE, file=sys.stderr)
        return 1
    if command == ("info",):
        asked = "ServerVersion" in (call.get("format") or "")
        print(docker["version"] if asked else f"Server Version: {docker['version']}")
        return 0
    if command == ("version",):
        print(docker["version"] if "Server.Version" in (call.get("format") or "") else f"Server: {docker['version']}")
        return 0
    if command == ("image", "inspect"):
        missing = [ref for ref in call.args if ref not in docker["images"]]
        if missing:
            print("[]")
            print(f"Error response from daemon: No such image: {missing[0]}", file=sys.stderr)
            return 1
        print("\n".join("sha256:" + hashlib.sha256(ref.encode()).hexdigest() for ref in call.args))
        return 0
    if command == ("inspect",):
        nodes = {f"{c}-control-plane" for c in kind["clusters"]}
        unknown = [n for n in call.args if n not in nodes]
        if unknown:
            print("[]")
            print(f"Error: No such object: {unknown[0]}", file=sys.stderr)
            return 1
        print("\n".join("true" for _ in call.args))
        return 0
    if command == ("build",):
        if docker.get("kill_caller_once_a_cluster_exists") and kind["clusters"]:
            log({"killed": os.getppid(), "by": "docker build"})  # the caller dies as under `kill -9` (or OOM)
            os.kill(os.getppid(), signal.SIGKILL)
        if docker["build_error"]:
            print(docker["build_error"], file=sys.stderr)
            return 1
        for ref in call.flags.get("tag", []):
            docker["images"].append(ref)
        save_state(state)
        return 0
    if command == ("save",):
        output = call.get("output")
        if output:
            Path(output).write_bytes(b"stand-in image archive\n")
        return 0
    if command == ("tag",):
        if call.args[0] not in docker["images"]:
            print(f"Error response from daemon: No such image: {call.args[0]}", file=sys.stderr)
            return 1
        docker["images"].append(call.args[1])
        save_state(state)
        return 0
    if command == ("pull",):
        log({"download": call.args[0], "by": "docker pull"})
        print(f"stand-in docker: refusing to pull {call.args[0]} (the kind tier never pulls)", file=sys.stderr)
        return 1
    return NOT_EMULATED


def run_kubectl(call: Call, state: dict) -> int:
    if call.words == ("version",) and call.has("client"):
        version = state["kubectl"]["version"]
        minor = version.lstrip("v").split(".")[1]
        doc = {"clientVersion": {"major": "1", "minor": minor, "gitVersion": version, "platform": "linux/amd64"},
               "kustomizeVersion": "v5.5.0"}
        print(json.dumps(doc, indent=2) if call.get("output") == "json" else f"Client Version: {version}")
        return 0
    if call.words == ("get",) and call.get("raw") == "/readyz":
        context = call.get("context") or ""
        if context.removeprefix("kind-") in state["kind"]["clusters"] and state["docker"]["engine"]:
            print("ok")
            return 0
        print(f"error: context \"{context}\" does not exist", file=sys.stderr)
        return 1
    return NOT_EMULATED


def run_helm(call: Call, state: dict) -> int:
    if call.words == ("version",):
        version = state["helm"]["version"]
        print(version if call.has("short") else f'version.BuildInfo{{Version:"{version.split("+")[0]}"}}')
        return 0
    return NOT_EMULATED


RUN = {"kind": run_kind, "docker": run_docker, "kubectl": run_kubectl, "helm": run_helm}


def main(tool: str, argv: list[str]) -> int:
    log({"tool": tool, "argv": argv, "KUBECONFIG": os.environ.get("KUBECONFIG")})
    try:
        call = parse(tool, argv)
    except Refused as e:
        if tool == "docker":
            print(f"{e}\n\nSee 'docker --help'." if e.bad_flag else f"docker: {e}", file=sys.stderr)
            return 125 if e.bad_flag else 1
        print(f"{'ERROR: ' if tool == 'kind' else 'Error: '}{e}", file=sys.stderr)
        return 1
    if call is None:
        print(f"stand-in {tool}: `{tool} {' '.join(argv)}` is not emulated", file=sys.stderr)
        return NOT_EMULATED
    if call.has("help"):
        help_name = COMMANDS[tool][call.words][0]
        print((HELP / tool / f"{help_name}.txt").read_text(), end="")
        return 0
    return RUN[tool](call, load_state())


def install(bin_dir: Path, tools: tuple[str, ...] = ("docker", "kind", "kubectl", "helm")) -> None:
    """Write an executable stand-in for each tool into bin_dir (run by this interpreter)."""
    bin_dir.mkdir(parents=True, exist_ok=True)
    for tool in tools:
        exe = bin_dir / tool
        exe.write_text(f"#!/bin/sh\nexec '{sys.executable}' '{Path(__file__).resolve()}' {tool} \"$@\"\n")
        exe.chmod(0o755)


def write_state(path: Path, **tools: dict) -> None:
    state = json.loads(json.dumps(DEFAULT_STATE))
    for tool, values in tools.items():
        state[tool].update(values)
    path.write_text(json.dumps(state, indent=1))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2:]))
