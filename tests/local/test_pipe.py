"""PipeLines: a forked service's output read line by line from a real pipe, and closed at once."""

from __future__ import annotations

import asyncio
import gc
import os
import warnings

import pytest

from hippodrome_k8s.local.pipe import PipeLines


def closed(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return True
    return False


async def collect(pipe: PipeLines) -> list[bytes]:
    return [line async for line in pipe.lines()]


async def test_lines_whole_across_writes_a_long_unfinished_one_in_pieces_and_the_last_without_newline():
    read_fd, write_fd = os.pipe()
    pipe = PipeLines(read_fd, limit=10)
    reading = asyncio.create_task(collect(pipe))
    for part in (b"one\ntw", b"o\n", b"x" * 25, b"x\n", b"tail"):
        os.write(write_fd, part)
        await asyncio.sleep(0.01)  # each write arrives on its own
    os.close(write_fd)
    lines = await asyncio.wait_for(reading, 5)
    assert lines == [b"one\n", b"two\n", b"x" * 10, b"x" * 10, b"xxxxxx\n", b"tail"]
    assert closed(read_fd)


async def test_close_ends_a_waiting_read_and_closes_the_fd_at_once():
    read_fd, write_fd = os.pipe()
    pipe = PipeLines(read_fd)
    reading = asyncio.create_task(collect(pipe))
    await asyncio.sleep(0.05)  # waiting for data
    pipe.close()
    assert closed(read_fd)  # now, not on a later loop iteration
    assert await asyncio.wait_for(reading, 5) == []
    os.close(write_fd)


def test_closing_after_its_event_loop_closed_still_closes_the_fd():
    """What a pipe transport could not do: its close() after the loop had closed raised and left the fd open
    (the suite's rare ``ResourceWarning: unclosed transport <_UnixReadPipeTransport closing ...>``)."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, b"first\n")

    async def read_once() -> tuple[PipeLines, bytes]:
        pipe = PipeLines(read_fd)
        return pipe, await pipe.read()

    loop = asyncio.new_event_loop()
    pipe, chunk = loop.run_until_complete(read_once())
    loop.close()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ResourceWarning)
        pipe.close()
        gc.collect()
    assert chunk == b"first\n" and closed(read_fd)
    os.close(write_fd)


async def test_a_cancelled_reader_closes_the_pipe():
    read_fd, write_fd = os.pipe()
    pipe = PipeLines(read_fd)
    reading = asyncio.create_task(collect(pipe))
    await asyncio.sleep(0.05)
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    assert closed(read_fd)
    os.close(write_fd)
