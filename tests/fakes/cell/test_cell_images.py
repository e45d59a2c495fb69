"""Image indexes: a document whose image cannot be fetched gets a per-document error; the others
are indexed. Marqo's message: "Could not find image found at `<url>`. Reason: ...", status 400,
per item (add_documents' `errors` is true). Nothing is fetched over the network here: an http(s)
URL is the unreachable case; file:// and data: URLs are read.
"""

from __future__ import annotations

import base64
import struct
import uuid
import zlib

import marqo
import pytest
from marqo.errors import MarqoWebError


def png(red: int) -> bytes:
    """A real 1x1 PNG of the given red value."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"\x00" + bytes([red, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
def files(tmp_path):
    (tmp_path / "red.png").write_bytes(png(255))
    (tmp_path / "notes.txt").write_text("not an image")
    return tmp_path


def image_index(cell, **settings):
    client = marqo.Client(url=cell.url)
    name = f"img-{uuid.uuid4().hex[:8]}"
    client.create_index(name, model="open_clip/ViT-B-32/laion2b_s34b_b79k", **settings)
    return client.index(name)


def test_unreadable_images_fail_their_document_only(cell, files):
    index = image_index(cell, treat_urls_and_pointers_as_images=True)
    red = f"file://{files / 'red.png'}"
    dark = "data:image/png;base64," + base64.b64encode(png(20)).decode()
    web = "https://example.com/shoe.jpg"
    res = index.add_documents([
        {"_id": "file", "img": red, "title": "a red square"},
        {"_id": "data", "img": dark},
        {"_id": "web", "img": web},
        {"_id": "missing", "img": f"file://{files / 'nope.png'}"},
        {"_id": "text", "img": f"file://{files / 'notes.txt'}"},
        {"_id": "words", "img": "just words"},
    ], tensor_fields=["img", "title"])
    assert res["errors"] is True
    items = {item["_id"]: item for item in res["items"]}
    assert {k: v["status"] for k, v in items.items()} == {
        "file": 200, "data": 200, "web": 400, "missing": 400, "text": 400, "words": 200}
    assert items["web"]["error"].startswith(f"Could not find image found at `{web}`. Reason: ")
    assert items["web"]["code"] == "invalid_argument"
    assert "No such file or directory" in items["missing"]["error"]
    assert "cannot identify image file" in items["text"]["error"]
    assert index.get_stats()["numberOfDocuments"] == 3
    with pytest.raises(MarqoWebError):
        index.get_document("web")
    hits = index.search(red)["hits"]  # the same image finds itself
    assert hits[0]["_id"] == "file" and hits[0]["_score"] == pytest.approx(1.0)
    with pytest.raises(MarqoWebError) as info:
        index.search(web)
    assert info.value.status_code == 400 and f"Could not find image found at `{web}`" in info.value.message["message"]


def test_a_text_index_treats_urls_as_text(cell):
    index = image_index(cell)
    res = index.add_documents([{"_id": "web", "img": "https://example.com/shoe.jpg"}], tensor_fields=["img"])
    assert res["errors"] is False
    assert index.search("example shoe")["hits"][0]["_id"] == "web"


def test_structured_image_pointer_fields_are_images(cell, files):
    client = marqo.Client(url=cell.url)
    name = f"simg-{uuid.uuid4().hex[:8]}"
    client.create_index(name, type="structured", model="open_clip/ViT-B-32/laion2b_s34b_b79k",
                        all_fields=[{"name": "img", "type": "image_pointer"}, {"name": "t", "type": "text"}],
                        tensor_fields=["img", "t"])
    res = client.index(name).add_documents([
        {"_id": "ok", "img": f"file://{files / 'red.png'}", "t": "red"},
        {"_id": "bad", "img": "http://images.invalid/x.png", "t": "lost"},
    ])
    assert [(i["_id"], i["status"]) for i in res["items"]] == [("ok", 200), ("bad", 400)]
