"""Under CI=true a skip is a failure, except in the tiers allowed to skip (kind): CI cannot go green by skipping."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

CONFTEST = (Path(__file__).parent / "conftest.py").read_text()
TESTS = """
import pytest

def test_needs_a_tool():
    pytest.skip("the tool is missing")

@pytest.mark.kind
def test_kind_tier():
    pytest.skip("no docker here")

@pytest.mark.xfail(reason="known")
def test_known_bug():
    assert False
"""


@pytest.mark.parametrize("ci, outcomes", [
    ("true", {"failed": 1, "skipped": 1, "xfailed": 1}),
    ("", {"skipped": 2, "xfailed": 1}),
])
def test_skips_under_ci(pytester, monkeypatch, ci, outcomes):
    monkeypatch.setenv("CI", ci)
    pytester.makeconftest(CONFTEST)
    pytester.makeini("[pytest]\nmarkers =\n    kind: kind tier\n")
    pytester.makepyfile(test_tiers=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(**outcomes)
    if ci:
        result.stdout.fnmatch_lines(["*skipped under CI=true, where this tier must run: *the tool is missing*"])
