"""The stand-in tools of the kind tier's own tests accept and refuse what the real tools do, for the calls made.

Their flags come from help texts captured from the real binaries (fixtures/cli/); here the captured flags are
checked against the installed tools: docker, kubectl and helm are on this machine (helm from scripts/test's
.tools/), so those run everywhere; kind only where the kind tier runs (marked `kind`).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

import kind_standins as standins
from kind_standins import COMMANDS, GLOBAL_HELP, documented_flags, parse_help

ROOT = Path(__file__).resolve().parents[2]


def real(tool: str) -> str:
    found = shutil.which(tool) or (str(ROOT / ".tools/helm3/helm") if tool == "helm" and
                                   (ROOT / ".tools/helm3/helm").exists() else None)
    if found is None:
        pytest.skip(f"{tool} is not installed here")
    return found


def marks(tool: str):
    return (pytest.mark.kind,) if tool == "kind" else ()


CAPTURED = [pytest.param(tool, words, help_name, id=f"{tool} {' '.join(words)}", marks=marks(tool))
            for tool, commands in COMMANDS.items() for words, (help_name, _, _) in commands.items()]


@pytest.mark.parametrize("tool, words, help_name", CAPTURED)
def test_every_flag_the_stand_in_accepts_is_one_the_real_tool_documents_alike(tool, words, help_name):
    exe = real(tool)
    out = subprocess.run([exe, *words, "--help"], capture_output=True, text=True, timeout=30).stdout
    found = parse_help(out)
    if tool in GLOBAL_HELP:
        found.update(parse_help(subprocess.run([exe, GLOBAL_HELP[tool]], capture_output=True, text=True,
                                               timeout=30).stdout))
    found.setdefault("help", standins.Flag("help", "h", False))
    captured = documented_flags(tool, help_name)
    assert f"{tool} {' '.join(words)}" in out  # the real help of that very subcommand
    assert {n: (f.short, f.takes_value) for n, f in captured.items()} == \
        {n: (found[n].short, found[n].takes_value) for n in captured if n in found}, sorted(set(captured) - set(found))


REFUSED = [
    ("docker", ["info", "--bogus"]), ("docker", ["info", "--format"]), ("docker", ["image", "inspect"]),
    ("docker", ["version", "--bogus"]), ("docker", ["build", "--tag"]),
    ("kubectl", ["version", "--bogus"]), ("kubectl", ["version", "-o"]),
    ("helm", ["version", "--bogus"]), ("helm", ["version", "--template"]),
    ("kind", ["create", "cluster", "--name"]), ("kind", ["create", "cluster", "extra"]),
    ("kind", ["get", "clusters", "--bogus"]), ("kind", ["load", "image-archive"]),
    ("kind", ["version", "--image", "x"]),
]


@pytest.mark.parametrize("tool, argv", [pytest.param(t, a, id=f"{t} {' '.join(a)}", marks=marks(t))
                                        for t, a in REFUSED])
def test_the_stand_in_refuses_what_the_real_tool_refuses_with_its_exit_code(tool, argv, tmp_path, monkeypatch):
    exe = real(tool)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("STANDIN_LOG", str(tmp_path / "log"))
    truth = subprocess.run([exe, *argv], capture_output=True, text=True, timeout=30)
    standins.install(tmp_path / "bin", (tool,))
    stand_in = subprocess.run([str(tmp_path / "bin" / tool), *argv], capture_output=True, text=True, timeout=30)
    assert truth.returncode != 0 and stand_in.returncode == truth.returncode, (truth.stderr, stand_in.stderr)


def test_the_calls_the_tier_makes_are_accepted_and_the_log_records_them(tmp_path, monkeypatch):
    monkeypatch.setenv("STANDIN_LOG", str(tmp_path / "log"))
    monkeypatch.setenv("STANDIN_STATE", str(tmp_path / "state.json"))
    standins.write_state(tmp_path / "state.json")
    standins.install(tmp_path / "bin")
    for argv in (["docker", "version", "--format", "{{.Server.Version}}"], ["docker", "info", "--format",
                 "{{.ServerVersion}}"], ["kind", "version"], ["kubectl", "version", "--client", "-o", "json"],
                 ["helm", "version", "--short"], ["kind", "get", "clusters"]):
        done = subprocess.run([str(tmp_path / "bin" / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, (argv, done.stderr)
    assert [[e["tool"], *e["argv"]] for e in standins.read_log(tmp_path / "log")][-1] == ["kind", "get", "clusters"]
