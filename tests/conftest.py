"""Fixtures shared by every test directory."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))  # makes `hd_testing` importable from any test dir


@pytest.fixture
def project(tmp_path: Path):
    """A temporary project root; call it with a stack document to write hippodrome.yaml there."""

    def write(doc: dict | str) -> Path:
        text = doc if isinstance(doc, str) else yaml.safe_dump(doc, sort_keys=False)
        (tmp_path / "hippodrome.yaml").write_text(textwrap.dedent(text))
        return tmp_path

    return write
