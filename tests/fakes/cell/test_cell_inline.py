"""The event loop's fast paths: a small LEXICAL search gives way to a reader thread when slow; an add
runs on the loop only when nothing else is in flight and it needs no I/O."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import aiohttp
import pytest
import requests

from fakes.fake_cell import documents, search, server, settings
from fakes.fake_cell.config import Config
from fakes.fake_cell.errors import CellError
from fakes.fake_cell.store import IndexInfo


def test_inline_search_falls_back_to_a_reader_thread(tmp_path, monkeypatch):
    cell = server.Cell(Config(state_dir=tmp_path, secret="test-secret-0123456789"))
    try:
        info = cell.store.create_index("i", settings.normalise({}))
        cell.store.add_documents("i", [documents.prepare(
            {"_id": str(n), "title": f"red shoe number {n}"}, info.settings, ["title"], None)
            for n in range(50)])
        req = search.parse_search({"q": "shoe", "searchMethod": "LEXICAL", "limit": 5})
        expected = search.run_search(cell.store, "i", req)["hits"]
        assert len(expected) == 5
        assert cell.search_inline("i", req)["hits"] == expected

        monkeypatch.setattr(server, "INLINE_BUDGET", -1.0)  # every query "too slow"
        monkeypatch.setattr(server, "INLINE_CHECK", 1)
        assert cell.search_inline("i", req) is None  # interrupted by the progress handler
        # ... and the connection works normally afterwards (handler removed)
        assert search.run_search(cell.store, "i", req)["hits"] == expected

        async def via_thread():
            return await cell.read(search.run_search, cell.store, "i", req)

        assert asyncio.run(via_thread())["hits"] == expected
    finally:
        cell.close()


# -- adds on the event loop (Cell.add) ----------------------------------------------------------
def _wait_until(condition, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def test_workers_are_idle_only_once_every_call_handed_over_is_done():
    workers = server.Workers(1, "test-workers")
    release = threading.Event()
    ran: list[str] = []

    async def scenario():
        assert workers.idle
        blocked = workers.run(release.wait)
        skipped = workers.run(lambda: ran.append("cancelled call"))
        assert not workers.idle
        skipped.cancel()  # the request went away before a thread took its call
        await asyncio.sleep(0.01)
        assert not workers.idle  # the first call still runs
        release.set()
        assert await blocked is True
        # the cancelled call is done too once the thread has skipped it
        assert _wait_until(lambda: workers.idle)
        assert ran == []  # skipped, not run

    try:
        asyncio.run(scenario())
    finally:
        release.set()
        workers.shutdown()


@pytest.mark.parametrize(("index_settings", "without_io"), [
    ({}, True),
    ({"treatUrlsAndPointersAsImages": True}, False),
    ({"treatUrlsAndPointersAsMedia": True}, False),
    ({"model": "hf/all-MiniLM-L6-v2"}, False),  # a real model: loaded and run on the writer thread
    ({"type": "structured", "allFields": [{"name": "t", "type": "text"}], "tensorFields": ["t"]}, True),
    ({"type": "structured", "allFields": [{"name": "t", "type": "text"}, {"name": "img", "type": "image_pointer"}],
      "tensorFields": ["t", "img"]}, False),
    ({"type": "structured", "allFields": [{"name": "t", "type": "text"}, {"name": "img", "type": "image_pointer"}],
      "tensorFields": ["t"]}, True),  # an image field that is not a tensor field is never fetched
])
def test_which_indexes_take_adds_without_io(index_settings, without_io):
    info = IndexInfo(1, "i", settings.normalise(index_settings), "2026-01-01T00:00:00")
    assert info.adds_without_io is without_io


def test_an_add_runs_on_the_loop_only_when_nothing_else_is_in_flight(tmp_path, monkeypatch):
    cell = server.Cell(Config(state_dir=tmp_path, secret="test-secret-0123456789"))
    ran_on: list[str] = []
    real_add = server.Cell.add_documents

    def spy(self, *args, **kwargs):
        ran_on.append(threading.current_thread().name)
        return real_add(self, *args, **kwargs)

    monkeypatch.setattr(server.Cell, "add_documents", spy)
    cell.store.create_index("plain", settings.normalise({}))
    cell.store.create_index("images", settings.normalise({"treatUrlsAndPointersAsImages": True}))
    release = threading.Event()

    def body(n: int) -> dict:
        return {"documents": [{"_id": f"d{n}", "title": f"red shoe {n}"}], "tensorFields": ["title"]}

    async def scenario():
        loop_thread = threading.current_thread().name
        assert (await cell.add("plain", body(1)))["errors"] is False
        assert ran_on[-1] == loop_thread  # nothing else in flight: on the loop
        assert (await cell.add("images", body(2)))["errors"] is False
        assert ran_on[-1].startswith("fake_cell-writer")  # an image could have to be fetched
        slow_read = asyncio.ensure_future(cell.read(release.wait))  # a search in flight on a reader thread
        await asyncio.sleep(0)  # (it is handed over)
        added = asyncio.ensure_future(cell.add("plain", body(3)))
        deadline = time.monotonic() + 10
        while len(ran_on) < 3 and time.monotonic() < deadline:  # it starts, wherever it runs
            await asyncio.sleep(0.005)
        assert ran_on[2].startswith("fake_cell-writer")  # it went to the writer, not holding the loop
        release.set()
        await slow_read
        assert (await added)["errors"] is False
        busy_writer = asyncio.ensure_future(cell.write(time.sleep, 0.1))  # a write in flight: the next add queues behind it
        await asyncio.sleep(0)
        assert (await cell.add("plain", body(4)))["errors"] is False
        assert ran_on[-1].startswith("fake_cell-writer")
        await busy_writer
        with pytest.raises(CellError):  # an unknown index: the writer's 404, as before
            await cell.add("missing", body(5))

    try:
        asyncio.run(scenario())
        assert cell.store.stats("plain")[0] == 3
    finally:
        release.set()
        cell.close()


def test_concurrent_adds_and_searches_over_http_keep_every_document(cell):
    """The real server, adds from many clients at once, half of them to an index whose adds always go to
    the writer thread (it treats URLs as images), half to one whose adds run on the loop when it is free:
    every document is stored once, each client's second version of a document wins."""
    plain, images = f"plain-{uuid.uuid4().hex[:8]}", f"images-{uuid.uuid4().hex[:8]}"
    requests.post(f"{cell.url}/indexes/{plain}", timeout=10).raise_for_status()
    requests.post(f"{cell.url}/indexes/{images}", json={"treatUrlsAndPointersAsImages": True},
                  timeout=10).raise_for_status()
    clients = 8

    def index_of(c: int) -> str:
        return plain if c % 2 else images

    async def client(session: aiohttp.ClientSession, c: int) -> None:
        for version in (1, 2):
            for b in range(3):
                docs = [{"_id": f"c{c}-{b}-{n}", "title": f"shoe {c} {b} {n}", "version": version}
                        for n in range(20)]
                async with session.post(f"{cell.url}/indexes/{index_of(c)}/documents",
                                        json={"documents": docs, "tensorFields": ["title"]}) as r:
                    reply = await r.json()
                    assert r.status == 200 and reply["errors"] is False, reply
                async with session.post(f"{cell.url}/indexes/{index_of(c)}/search",
                                        json={"q": f"shoe {c}", "searchMethod": "LEXICAL"}) as r:
                    assert r.status == 200

    async def main():
        async with aiohttp.ClientSession() as session:
            await asyncio.gather(*(client(session, c) for c in range(clients)))

    asyncio.run(main())
    for index, mine in ((plain, range(1, clients, 2)), (images, range(0, clients, 2))):
        stats = requests.get(f"{cell.url}/indexes/{index}/stats", timeout=10).json()
        assert stats["numberOfDocuments"] == len(mine) * 3 * 20
        ids = [f"c{c}-{b}-{n}" for c in mine for b in range(3) for n in range(20)]
        got = requests.get(f"{cell.url}/indexes/{index}/documents", json=ids, timeout=10).json()
        assert [r["version"] for r in got["results"]] == [2] * len(ids)
