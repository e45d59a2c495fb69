"""README's Kubernetes and Tilt sections say what a user types: every command there parses as the CLI
parses it, every file it names exists, and the versions it names are the pinned ones."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from hippodrome_k8s.cli.k8s import k8s
from hippodrome_k8s.k8s.cluster import KIND_VERSION, node_image
from hippodrome_k8s.k8s.preflight import INSTALL_EXTRA

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SECTION = README[README.index("## Kubernetes engine"):README.index("## Tests and benchmarks")]


def commands() -> list[list[str]]:
    lines = []
    for block in re.findall(r"```sh\n(.*?)```", SECTION, flags=re.S):
        for line in block.splitlines():
            words = shlex.split(line, comments=True)
            if ">" in words:
                words = words[:words.index(">")]  # a redirection is the shell's, not the command's
            if words:
                lines.append(words)
    return lines


@pytest.mark.parametrize("argv", [c for c in commands() if c[:2] == ["hippodrome", "k8s"]], ids=" ".join)
def test_every_hippodrome_k8s_command_parses(argv: list[str]) -> None:
    command = k8s.get_command(None, argv[2])  # type: ignore[arg-type]
    assert command is not None, argv
    command.make_context(argv[2], argv[3:])  # raises on an unknown option or a bad value


def test_the_section_names_the_pinned_versions_the_extra_and_the_tilt_modes() -> None:
    assert f"[kind](https://kind.sigs.k8s.io) **{KIND_VERSION}**" in SECTION and node_image() in SECTION
    assert "pip install -c requirements.lock -e '.[k8s]'" in SECTION and INSTALL_EXTRA in SECTION
    typed = [" ".join(c) for c in commands()]
    assert "HIPPODROME_FORWARDS=cli tilt up" in typed, "Tilt beside the CLI's forwards: no forwards of its own"
    assert "tilt up" in typed
    assert typed.index("hippodrome k8s up --detach --profile ecom") < typed.index("HIPPODROME_FORWARDS=cli tilt up")
    assert "kind create cluster --config kind/kind-config.yaml" in typed and (ROOT / "kind/kind-config.yaml").exists()
    assert f"docker pull {node_image()}" in typed


def test_the_readme_introduces_the_engine_with_its_extra() -> None:
    intro = README[:README.index("## Contents")]
    assert "`k8s` extra" in intro and "pip install -c requirements.lock -e '.[k8s]'" in intro
