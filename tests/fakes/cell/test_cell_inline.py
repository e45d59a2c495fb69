"""The event-loop fast path for small LEXICAL searches gives way to a reader thread when slow."""

from __future__ import annotations

import asyncio

from fakes.fake_cell import documents, search, server, settings
from fakes.fake_cell.config import Config


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
