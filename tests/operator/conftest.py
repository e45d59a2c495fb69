"""Fixtures: the operator in-process (its own thread) against the kmock-based emulator.

The operator logs in the way it does outside a pod: through a kubeconfig (``$KUBECONFIG``)
naming the emulator, with the login handlers ``build_registry`` registers (none is injected
here); its API adapter reads the same kubeconfig.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import kopf
import pytest

from hippodrome_operator.apply import OperatorApi
from hippodrome_operator.handlers import build_registry, configure
from hippodrome_operator.reconcile import Config
from kmock_emulator import KopfThread, running_emulator
from operator_harness import NAMESPACE, Cluster


@pytest.fixture
async def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Cluster]:
    logging.getLogger("kopf").setLevel(logging.WARNING)
    async with running_emulator(tmp_path) as (emu, kubeconfig):
        monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
        api = OperatorApi.from_environment()
        registry = build_registry(api, Config(resync_seconds=5.0, teardown_poll_seconds=0.05))
        settings = kopf.OperatorSettings()
        configure(settings)
        settings.posting.enabled = False
        settings.watching.reconnect_backoff = 0.1
        settings.networking.error_backoffs = [0.1, 0.2, 0.5]
        async with KopfThread(registry, settings, NAMESPACE) as thread:
            yield Cluster(emu, thread)
