"""Shared test helpers: free ports and fixture stacks (import as `from hd_testing import ...`)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

from hippodrome_k8s.host.ports import free_ports  # noqa: F401 - the tests' one way to pick ports


REPO = Path(__file__).resolve().parent.parent
SVC = REPO / "tests" / "fixtures" / "svc.py"


def wait_healthy(url: str, process: subprocess.Popen, timeout: float) -> str | None:
    """Poll ``url`` until it answers 200; None when healthy, else why not ("exited N" or "timed out")."""
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            return f"exited {process.returncode}"
        try:
            if requests.get(url, timeout=1).status_code == 200:
                return None
        except requests.RequestException:
            pass
        time.sleep(0.05)
    return f"not healthy in {timeout}s"


def svc(*args: str) -> list[str]:
    return [sys.executable, str(SVC), *args]


def stack_doc(services: list[dict], dashboard_port: int, **spec) -> dict:
    for s in services:
        s.setdefault("allowPortOutsideRange", True)
    return {
        "apiVersion": "hippodrome.dev/v1alpha1",
        "kind": "HippodromeStack",
        "metadata": {"name": "test"},
        "spec": {"seed": "42", "tablePrefix": "t-", "dashboard": {"port": dashboard_port, "allowPortOutsideRange": True},
                 "services": services, **spec},
    }


# The readiness script from the original system's docs, verbatim apart from the f-string quotes that
# only Python 3.12 accepts inside an f-string.
READINESS_SCRIPT = """
import sys, json
data = json.load(sys.stdin)
for name, info in data.items():
    status = info.get('status', 'unknown')
    symbol = '✓' if status == 'running' else '✗'
    print(f' {symbol} {name}: {status}')
not_running = [n for n, i in data.items() if i.get('status') != 'running']
if not_running:
    print(f"\\nWaiting for: {', '.join(not_running)}")
    sys.exit(1)
print('\\nAll services ready.')
"""


def fuzz_operations(schema, base_url: str, examples: int, check, path_parameters=None, prepare=None) -> int:
    """Send schemathesis-generated requests (valid and invalid) for every operation of ``schema``.

    Drives schemathesis through its strategy API with plain hypothesis, not through its pytest
    plugin, so the test does not depend on pytest internals (the plugin broke with pytest 9).
    ``path_parameters(operation)`` lists fixed path parameters to try besides random ones;
    ``prepare(case, sent)`` may adjust a case before it is sent. Returns how many requests were sent.
    """
    import requests
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    session = requests.Session()
    sent = 0
    for operation in [result.ok() for result in schema.get_all_operations()]:
        for fixed in [{}] + list(path_parameters(operation) if path_parameters else []):
            for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                strategy = operation.as_strategy(generation_mode=mode, path_parameters=fixed or None)

                @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                          phases=[Phase.generate], suppress_health_check=list(HealthCheck))
                @given(case=strategy)
                def run(case):
                    nonlocal sent
                    if prepare:
                        prepare(case, sent)
                    response = case.call(base_url=base_url, session=session, timeout=10)
                    sent += 1
                    check(response, case)

                try:
                    run()
                except Unsatisfiable:
                    if mode is not GenerationMode.NEGATIVE:  # only a negative case may have nothing to negate
                        raise
    return sent
