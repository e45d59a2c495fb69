"""`spec.smokeChecks` names the stack's own smoke checks (module:function); one that cannot be imported
is a usage error naming the field, before anything is asked of a stack."""

from __future__ import annotations

import subprocess
import sys

from hd_testing import stack_doc


def test_a_smoke_checks_module_that_cannot_be_imported_is_a_usage_error(project):
    root = project(stack_doc([{"name": "api", "port": 9002, "layer": 0, "run": {"command": ["x"]}}], 9000,
                             smokeChecks="no_such_module:checks"))
    done = subprocess.run([sys.executable, "-m", "hippodrome_k8s.cli", "smoke"], cwd=root, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "spec.smokeChecks: cannot import 'no_such_module:checks'" in done.stderr


def test_the_reference_stacks_checks_are_found(project):
    from hippodrome_k8s.cli.smoke import extra_checks

    checks = extra_checks("examples.smoke:checks")
    names = [name for name, _ in checks({"SEED_ACCOUNT_DEMO_API_KEY_DEFAULT": "k"},
                                        {"controller": {"url": "http://127.0.0.1:1"}})]
    assert names == ["controller: lists indexes with the seeded API key"]
