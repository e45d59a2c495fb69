"""Fixtures: the operator in-process (its own thread) against the kmock-based emulator."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import kmock
import kopf
import pytest

from hippodrome_operator.apply import KubeApi
from hippodrome_operator.handlers import build_registry, configure
from hippodrome_operator.reconcile import Config
from kmock_emulator import Emulator, KopfThread
from operator_harness import NAMESPACE, Cluster


@pytest.fixture
async def cluster() -> AsyncIterator[Cluster]:
    logging.getLogger("kopf").setLevel(logging.WARNING)
    async with Emulator() as emu, kmock.Server(emu) as server:
        emu.register_stack_crd()
        url = str(server.url).rstrip("/")
        api = KubeApi.for_url(url)
        registry = build_registry(api, Config(resync_seconds=5.0, teardown_poll_seconds=0.05))

        @kopf.on.login(registry=registry)
        def login(**_: Any) -> kopf.ConnectionInfo:
            return kopf.ConnectionInfo(server=url, insecure=True)

        settings = kopf.OperatorSettings()
        configure(settings)
        settings.scanning.disabled = True
        settings.posting.enabled = False
        settings.watching.reconnect_backoff = 0.1
        settings.networking.error_backoffs = [0.1, 0.2, 0.5]
        try:
            async with KopfThread(registry, settings, NAMESPACE) as thread:
                yield Cluster(emu, thread)
        finally:
            await emu.close_watches()
