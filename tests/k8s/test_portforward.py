"""The port-forward supervisor against real loopback backends that die and come back elsewhere.

A "pod" is an asyncio TCP server answering ``<name>:<request>``; a restarted
pod is a new server on a new ephemeral port.  Local ports are ephemeral too
(never 9000-9019: other stacks run there).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time

import pytest

from hippodrome_k8s.core.errors import K8sError
from hippodrome_k8s.k8s.portforward import (
    FakeSource,
    Forward,
    ForwardSet,
    ForwardSettings,
    ForwardSpec,
    ForwardState,
    read_health_file,
)

FAST = ForwardSettings(resolve_interval=0.2, connect_timeout=0.5, open_timeout=1.0, client_wait=2.0, failed_after=0.5)


class Pod:
    def __init__(self, name: str):
        self.name = name
        self.server: asyncio.AbstractServer | None = None
        self.port = 0

    async def start(self) -> Pod:
        async def handle(reader, writer):
            try:
                while line := await reader.readline():
                    writer.write(f"{self.name}:{line.decode().strip()}\n".encode())
                    await writer.drain()
            except ConnectionError:
                pass
            finally:
                writer.close()

        self.server = await asyncio.start_server(handle, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


async def ask(port: int, text: str = "ping", timeout: float = 1.0) -> str:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        writer.write(f"{text}\n".encode())
        await writer.drain()
        return (await asyncio.wait_for(reader.readline(), timeout)).decode().strip()
    finally:
        writer.close()


def port_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def spec(name: str = "controller") -> ForwardSpec:
    return ForwardSpec(name=name, service=f"dev-{name}", remote_port=9002, local_port=0)


async def wait_state(forward: Forward, state: ForwardState, timeout: float = 3.0) -> None:
    deadline = time.monotonic() + timeout
    while forward.health().state != state:
        assert time.monotonic() < deadline, f"state {forward.health()} never became {state}"
        await asyncio.sleep(0.01)


async def test_relays_and_reports_ok():
    pod = await Pod("a").start()
    source = FakeSource()
    source.point("pod-a:9002", port=pod.port)
    forward = Forward(spec(), source, FAST)
    await forward.start()
    try:
        assert await ask(forward.bound_port) == "a:ping"
        await wait_state(forward, ForwardState.ok)
        health = forward.health()
        assert health.target == "pod-a:9002" and health.reconnects == 0
    finally:
        await forward.stop()
        await pod.stop()


async def test_restarted_pod_on_new_port_is_followed_within_a_second():
    threads = threading.active_count()
    old = await Pod("old").start()
    source = FakeSource()
    source.point("pod-old:9002", port=old.port)
    forward = Forward(spec(), source, FAST)
    await forward.start()
    port = forward.bound_port
    try:
        assert await ask(port) == "old:ping"
        await old.stop()  # the pod dies ...
        source.point(None)
        with pytest.raises((ConnectionError, asyncio.IncompleteReadError, asyncio.TimeoutError, OSError, AssertionError)):
            assert await ask(port, timeout=0.3) == "old:ping"
        new = await (Pod("new")).start()  # ... and its replacement is ready on another port
        source.point("pod-new:9002", port=new.port)
        ready_at = time.monotonic()
        answer = ""
        while answer != "new:ping":
            assert time.monotonic() - ready_at < 10.0, "the forward never reconnected (wedged)"
            try:
                answer = await ask(port, timeout=0.5)
            except (OSError, asyncio.TimeoutError):
                await asyncio.sleep(0.01)
        elapsed = time.monotonic() - ready_at
        print(f"reconnect after the new target was ready: {elapsed * 1000:.1f} ms (target <= 1 s: bench/bench_portforward.py)")
        health = forward.health()
        assert health.state == ForwardState.ok and health.target == "pod-new:9002" and health.reconnects == 1
        assert forward.bound_port == port  # the listener never moved
        await new.stop()
    finally:
        await forward.stop()
    assert port_free(port), "the local port leaked"
    ours = [t for t in asyncio.all_tasks() if "Forward" in t.get_coro().__qualname__ or t.get_name().startswith("forward")]
    assert ours == [], "a forward task outlived stop()"
    assert threading.active_count() <= threads
    assert all(b.closed for b in source.opened)


async def test_no_pod_reports_reconnecting_then_failed_and_client_is_not_hung():
    source = FakeSource()
    forward = Forward(spec(), source, ForwardSettings(resolve_interval=0.1, client_wait=0.3, failed_after=0.3))
    await forward.start()
    try:
        await wait_state(forward, ForwardState.reconnecting)
        assert "no ready pod behind Service dev-controller" in forward.health().message
        started = time.monotonic()
        reader, writer = await asyncio.open_connection("127.0.0.1", forward.bound_port)
        assert await asyncio.wait_for(reader.read(), 2.0) == b""  # closed after client_wait, never hung
        writer.close()
        assert time.monotonic() - started < 1.5
        await wait_state(forward, ForwardState.failed)
    finally:
        await forward.stop()


async def test_open_failure_backs_off_but_a_new_target_is_tried_at_once():
    source = FakeSource(fail_open=True)
    source.point("pod-a:9002", port=1)
    forward = Forward(spec(), source, ForwardSettings(resolve_interval=0.05))
    await forward.start()
    try:
        await asyncio.sleep(0.5)
        # 0.2 s, 0.4 s, ... backoff on the same key: a handful of attempts, not ten
        health = forward.health()
        assert health.state == ForwardState.reconnecting and "cannot open pod-a:9002" in health.last_error
        pod = await Pod("b").start()
        source.fail_open = False
        source.point("pod-b:9002", port=pod.port)
        assert await ask(forward.bound_port) == "b:ping"
        await pod.stop()
    finally:
        await forward.stop()


async def test_bind_failure_names_the_holder_and_releases_other_ports(tmp_path):
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    taken = blocker.getsockname()[1]
    try:
        specs = [spec("controller"), ForwardSpec("console", "dev-console", 9008, taken)]
        forwards = ForwardSet(specs, lambda s: FakeSource(), FAST, health_path=tmp_path / "forwards.json")
        with pytest.raises(K8sError) as info:
            await forwards.start()
        message = str(info.value)
        assert f"127.0.0.1:{taken}" in message and "held by pid" in message and "python" in message
        first = forwards.forwards[0]
        assert port_free(first.bound_port), "the port that did bind was not released"
    finally:
        blocker.close()


async def test_health_file_lists_every_forward(tmp_path):
    pod = await Pod("a").start()
    source = FakeSource()
    source.point("pod-a:9002", port=pod.port)
    path = tmp_path / "forwards.json"
    forwards = ForwardSet([spec("controller")], lambda s: source, FAST, health_path=path)
    await forwards.start()
    try:
        await wait_state(forwards.forwards[0], ForwardState.ok)
        await asyncio.sleep(0.4)
        data = read_health_file(path)
        assert data is not None
        entry = data["forwards"]["controller"]
        assert entry["state"] == "ok" and entry["target"] == "pod-a:9002" and entry["reconnects"] == 0
    finally:
        await forwards.stop()
        await pod.stop()
    assert read_health_file(path)["forwards"]["controller"]["state"] == "stopped"


async def test_open_connections_are_closed_on_stop():
    pod = await Pod("a").start()
    source = FakeSource()
    source.point("pod-a:9002", port=pod.port)
    forward = Forward(spec(), source, FAST)
    await forward.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", forward.bound_port)
    writer.write(b"hello\n")
    assert (await reader.readline()) == b"a:hello\n"
    assert forward.health().connections == 1
    await forward.stop()
    assert await asyncio.wait_for(reader.read(), 2.0) == b""
    writer.close()
    assert forward.health().state == ForwardState.stopped
    await pod.stop()


async def test_health_is_published_on_change_and_not_on_traffic(tmp_path):
    """The CLI publishes forward health on the stack (for the in-cluster dashboard): on change only."""
    pod = await Pod("a").start()
    source = FakeSource()
    source.point("pod-a:9002", port=pod.port)
    published: list[dict] = []

    async def publish(summary):
        published.append(summary)

    forwards = ForwardSet([spec("controller")], lambda s: source, FAST, health_path=tmp_path / "forwards.json",
                          publish=publish, publish_interval=0.0)
    await forwards.start()
    try:
        await wait_state(forwards.forwards[0], ForwardState.ok)
        for _ in range(50):
            if published and published[-1]["controller"]["state"] == "ok":
                break
            await asyncio.sleep(0.05)
        assert published[-1]["controller"]["state"] == "ok" and published[-1]["controller"]["target"] == "pod-a:9002"
        count = len(published)
        await forwards.publish_if_changed()  # nothing changed: nothing sent
        assert len(published) == count
    finally:
        await forwards.stop()
        await pod.stop()


async def test_a_failing_publish_does_not_stop_the_forwards(tmp_path):
    async def publish(summary):
        raise K8sError("the API server is away")

    forwards = ForwardSet([spec("controller")], lambda s: FakeSource(), FAST, publish=publish, publish_interval=0.0)
    await forwards.start()
    try:
        await forwards.publish_if_changed()  # logged, not raised
        assert forwards.forwards[0].bound_port
    finally:
        await forwards.stop()


# --- the pure supervision rule ---------------------------------------------------------------------------

from hippodrome_k8s.core.backoff import RestartPolicy  # noqa: E402
from hippodrome_k8s.k8s.portforward import Memory, Seen, decide, health_state, opened  # noqa: E402

BACKOFF = RestartPolicy(initial=1.0, factor=2.0, cap=8.0)


@pytest.mark.parametrize("memory, seen, expect", [
    (Memory(), Seen("p1:80", service="svc"), dict(open="p1:80", drop=False)),
    (Memory(had_backend=True), Seen("p1:80", backend_key="p1:80"), dict(open=None, drop=False)),
    (Memory(had_backend=True), Seen(None, "API down", backend_key="p1:80"), dict(open=None, drop=False)),
    (Memory(had_backend=True), Seen("p2:80", backend_key="p1:80"), dict(open="p2:80", drop=True,
                                                                        drop_reason="target changed to p2:80")),
    (Memory(had_backend=True), Seen("p1:80", backend_key="p1:80", backend_usable=False, backend_reason="it ended"),
     dict(open="p1:80", drop=True, drop_reason="it ended")),
    (Memory(), Seen(None, service="svc"), dict(open=None, failure=("no ready pod behind Service svc", "no ready pod"))),
    (Memory(failures=1, failed_key="p1:80", next_attempt=15.0), Seen("p1:80"), dict(open=None, failure=None)),
    (Memory(failures=1, failed_key="p1:80", next_attempt=5.0), Seen("p1:80"), dict(open="p1:80")),
    (Memory(failures=1, failed_key="p1:80", next_attempt=15.0), Seen("p2:80"), dict(open="p2:80")),
], ids=["first-open", "keep-working", "keep-while-api-down", "target-moved", "backend-broke", "no-pod",
        "backoff-holds-same-target", "backoff-over", "backoff-does-not-hold-another-target"])
def test_decide(memory, seen, expect):
    step = decide(memory, seen, now=10.0)
    for field_name, value in expect.items():
        assert getattr(step, field_name) == value, (field_name, step)


def test_a_failed_open_schedules_the_retry_and_a_success_resets():
    after = opened(Memory(), "p1:80", "refused", now=10.0, backoff=BACKOFF)
    assert (after.failures, after.failed_key, after.next_attempt, after.down_since) == (1, "p1:80", 11.0, 10.0)
    again = opened(after, "p1:80", "refused", now=11.0, backoff=BACKOFF)
    assert (again.failures, again.next_attempt, again.down_since) == (2, 13.0, 10.0)
    assert opened(again, "p1:80", None, now=12.0, backoff=BACKOFF) == Memory(had_backend=True)


@pytest.mark.parametrize("down_since, now, state", [(None, 5.0, "reconnecting"), (0.0, 29.0, "reconnecting"),
                                                    (0.0, 30.0, "failed")])
def test_a_forward_is_failed_only_after_a_long_outage(down_since, now, state):
    assert health_state(Memory(down_since=down_since), now, failed_after=30.0).value == state
