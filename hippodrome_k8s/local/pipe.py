"""A forked service's output pipe, read line by line on the event loop, closed at once.

Why not ``loop.connect_read_pipe``: its transport closes the fd one loop iteration after ``close()``; a loop
that ended in between (a stack stopped as its event loop closes, a test's teardown) left the fd open and a
``ResourceWarning: unclosed transport`` for the garbage collector. Here ``close()`` removes the reader and
closes the fd on the spot. Reading is pulled by the consumer (nothing is read while it is busy), so a
service that writes faster than its log is written blocks on its full pipe, as with a paused transport.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator

CHUNK = 1 << 16


class PipeLines:
    def __init__(self, fd: int, limit: int = 1 << 20) -> None:
        os.set_blocking(fd, False)
        self._fd: int | None = fd
        self._limit = limit
        self._waiting: asyncio.Future[None] | None = None

    async def read(self) -> bytes:
        """Up to ``CHUNK`` bytes once there are some; ``b""`` at the end (or once closed)."""
        while self._fd is not None:
            try:
                return os.read(self._fd, CHUNK)
            except BlockingIOError:
                pass
            except OSError:
                return b""
            await self._readable(self._fd)
        return b""

    async def _readable(self, fd: int) -> None:
        loop = asyncio.get_running_loop()
        self._waiting = ready = loop.create_future()
        loop.add_reader(fd, _settle, ready)
        try:
            await ready
        finally:
            self._waiting = None
            if self._fd == fd:
                loop.remove_reader(fd)

    async def lines(self) -> AsyncIterator[bytes]:
        """Each line with its ``\\n``; the last one even without. An unfinished line is given in pieces of ``limit``
        bytes once more than that waits (what bounds the memory). The pipe is closed when the lines end or the
        iteration stops."""
        pending = b""
        try:
            while True:
                chunk = await self.read()
                if not chunk:
                    if pending:
                        yield pending
                    return
                pending += chunk
                if b"\n" in chunk:
                    *complete, pending = pending.split(b"\n")
                    for line in complete:
                        yield line + b"\n"
                while len(pending) > self._limit:
                    piece, pending = pending[:self._limit], pending[self._limit:]
                    yield piece
        finally:
            self.close()

    def close(self) -> None:
        """Close the pipe now; a read waiting for data returns ``b""``."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        waiting, self._waiting = self._waiting, None
        if waiting is not None:
            waiting.get_loop().remove_reader(fd)
            _settle(waiting)
        os.close(fd)


def _settle(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
