"""Port-forward reconnect time: a "pod" on loopback dies, its replacement is ready on a new port;
how long until a request through the forward reaches it?

Two figures, side by side, over N restarts, for a replacement ready 0.05 s and 1.2 s after the death:
  active  - a client keeps asking (a failed relay wakes the supervisor at once)
  passive - nobody asks; detection by the periodic re-resolve (resolve_interval)
Target: <= 1 s after the new target is ready.   Run:  python bench/bench_portforward.py [N]
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time

from hippodrome_k8s.k8s.portforward import FakeSource, Forward, ForwardSettings, ForwardSpec, ForwardState


async def pod(name: str) -> asyncio.AbstractServer:
    async def handle(reader, writer):
        await reader.readline()
        writer.write(name.encode() + b"\n")
        await writer.drain()
        writer.close()
    return await asyncio.start_server(handle, "127.0.0.1", 0)


async def ask(port: int) -> str:
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 1)
    writer.write(b"x\n")
    answer = (await asyncio.wait_for(reader.readline(), 1)).decode().strip()
    writer.close()
    return answer


async def measure(n: int, active: bool, settings: ForwardSettings, gap: float) -> list[float]:
    source = FakeSource()
    server = await pod("p0")
    source.point("p0", port=server.sockets[0].getsockname()[1])
    forward = Forward(ForwardSpec("bench", "svc", 1, 0), source, settings)
    await forward.start()
    times = []
    try:
        for i in range(1, n + 1):
            server.close()
            await server.wait_closed()
            source.point(None)
            await asyncio.sleep(gap)  # the replacement pod's start-up
            server = await pod(f"p{i}")
            source.point(f"p{i}", port=server.sockets[0].getsockname()[1])
            ready = time.monotonic()
            while True:
                if active:
                    try:
                        if await ask(forward.bound_port) == f"p{i}":
                            break
                    except (OSError, asyncio.TimeoutError):
                        pass
                    await asyncio.sleep(0.005)
                else:
                    h = forward.health()
                    if h.state == ForwardState.ok and h.target == f"p{i}":
                        break
                    await asyncio.sleep(0.002)
            times.append(time.monotonic() - ready)
    finally:
        server.close()
        await forward.stop()
    return times


def row(label: str, times: list[float]) -> str:
    ms = sorted(t * 1000 for t in times)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"{label:<34} n={len(ms):<3} median {statistics.median(ms):7.1f} ms   p95 {p95:7.1f} ms   max {ms[-1]:7.1f} ms"


async def main(n: int) -> None:
    default = ForwardSettings()
    print(f"reconnect after the new target is ready (target <= 1000 ms); resolve_interval={default.resolve_interval}s, "
          f"down_interval={default.down_interval}s")
    for gap in (0.05, 1.2):
        print(f"-- replacement ready {gap:g} s after the old pod died")
        print(row("active client", await measure(n, True, default, gap)))
        print(row("passive, no client", await measure(n, False, default, gap)))


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
