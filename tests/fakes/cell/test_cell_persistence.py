"""State survives a clean restart and a kill -9 right after an acknowledged write."""

from __future__ import annotations

import marqo


def test_state_survives_restart(cell_factory):
    cell = cell_factory()
    client = marqo.Client(url=cell.url)
    client.create_index("keep")
    docs = [{"_id": str(n), "title": f"document number {n}", "n": n} for n in range(50)]
    assert client.index("keep").add_documents(docs, tensor_fields=["title"])["errors"] is False
    client.index("keep").delete_documents(["0"])
    cell.restart()
    index = client.index("keep")
    assert {"indexName": "keep"} in client.get_indexes()["results"]
    assert index.get_stats()["numberOfDocuments"] == 49
    assert index.get_document("7")["n"] == 7
    assert index.search("number 7", search_method="LEXICAL", filter_string="n:7")["hits"][0]["_id"] == "7"
    assert index.search("document", filter_string="n:[10 TO 12]")["hits"]


def test_acknowledged_documents_survive_kill_9(cell_factory):
    cell = cell_factory()
    client = marqo.Client(url=cell.url)
    client.create_index("durable")
    index = client.index("durable")
    for batch in range(3):
        docs = [{"_id": f"{batch}-{n}", "title": f"batch {batch} doc {n}"} for n in range(20)]
        assert index.add_documents(docs, tensor_fields=["title"])["errors"] is False
    index.update_documents([{"_id": "2-19", "title": "updated just before the crash"}])
    cell.kill9()
    cell.start()
    assert index.get_stats()["numberOfDocuments"] == 60
    assert index.get_document("2-19")["title"] == "updated just before the crash"
    assert index.search("crash", search_method="LEXICAL")["hits"][0]["_id"] == "2-19"
    assert index.search("updated crash")["hits"][0]["_id"] == "2-19"
