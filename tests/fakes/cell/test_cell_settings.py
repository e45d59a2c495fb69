"""`GET /indexes/{n}/settings` answers what Marqo answers for each index type, and the settings hold.

The expected dicts are the ones py-marqo's own create-index tests assert against a real Marqo 2
(tests/v2_tests/test_create_index.py: `test_simple_index_creation`,
`test_create_simple_structured_index`); the refusals are Marqo's `IndexSettings` validators
("... is not a valid parameter for structured indexes", the images/media combination).

filterStringMaxLength: Marqo 2's current server defaults it to 50 (`IndexSettings.to_marqo_index_request`;
the 20 of early 2.x releases is gone), and a string longer than it is stored and searchable but
not filterable (docs: "Filtering in unstructured indexes", whose example with 25 is replayed here).
"""

from __future__ import annotations

import uuid

import marqo
import pytest
from marqo.errors import MarqoWebError

COMMON = {
    "normalizeEmbeddings": True,
    "textPreprocessing": {"splitLength": 2, "splitOverlap": 0, "splitMethod": "sentence"},
    "imagePreprocessing": {},
    "audioPreprocessing": {"splitLength": 20, "splitOverlap": 3},
    "videoPreprocessing": {"splitLength": 20, "splitOverlap": 3},
    "vectorNumericType": "float",
    "annParameters": {"spaceType": "prenormalized-angular", "parameters": {"efConstruction": 512, "m": 16}},
}


@pytest.fixture
def client(cell) -> marqo.Client:
    return marqo.Client(url=cell.url)


def name() -> str:
    return f"s-{uuid.uuid4().hex[:10]}"


def test_unstructured_defaults_are_marqos(client):
    index = name()
    client.create_index(index)
    assert client.index(index).get_settings() == {
        "type": "unstructured", "treatUrlsAndPointersAsImages": False, "treatUrlsAndPointersAsMedia": False,
        "model": "hf/e5-base-v2", "filterStringMaxLength": 50, **COMMON}


def test_structured_settings_carry_no_unstructured_fields(client):
    index = name()
    client.create_index(index, type="structured", model="hf/all_datasets_v4_MiniLM-L6",
                        all_fields=[{"name": "test", "type": "text", "features": ["lexical_search"]}],
                        tensor_fields=["test"])
    assert client.index(index).get_settings() == {
        "type": "structured", "allFields": [{"name": "test", "type": "text", "features": ["lexical_search"]}],
        "tensorFields": ["test"], "model": "hf/all_datasets_v4_MiniLM-L6", **COMMON}


@pytest.mark.parametrize("key, value", [
    ("treatUrlsAndPointersAsImages", False),
    ("treatUrlsAndPointersAsMedia", True),
    ("filterStringMaxLength", 20),
])
def test_structured_indexes_refuse_unstructured_parameters(client, key, value):
    with pytest.raises(MarqoWebError) as info:
        client.create_index(name(), settings_dict={
            "type": "structured", "allFields": [{"name": "t", "type": "text"}], "tensorFields": [], key: value})
    assert (info.value.status_code, info.value.code) == (400, "invalid_argument")
    assert info.value.message["message"] == f"{key} is not a valid parameter for structured indexes"


def test_unstructured_indexes_refuse_all_fields(client):
    with pytest.raises(MarqoWebError) as info:
        client.create_index(name(), settings_dict={"allFields": [{"name": "t", "type": "text"}]})
    assert info.value.message["message"] == "allFields is not a valid parameter for unstructured indexes"


def test_image_preprocessing_and_media_flags(client):
    index = name()
    client.create_index(index, image_preprocessing={"patchMethod": "simple"}, treat_urls_and_pointers_as_media=True)
    settings = client.index(index).get_settings()
    assert settings["imagePreprocessing"] == {"patchMethod": "simple"}
    assert (settings["treatUrlsAndPointersAsMedia"], settings["treatUrlsAndPointersAsImages"]) == (True, True)
    index = name()
    client.create_index(index, settings_dict={"imagePreprocessing": {"patchMethod": None}})
    assert client.index(index).get_settings()["imagePreprocessing"] == {}
    with pytest.raises(MarqoWebError) as info:
        client.create_index(name(), treat_urls_and_pointers_as_images=False, treat_urls_and_pointers_as_media=True)
    assert "'treatUrlsAndPointersAsImages' cannot be False" in info.value.message["message"]


def test_strings_longer_than_filter_string_max_length_are_not_filterable(client):
    """The docs' example: filterStringMaxLength 25, `story` filterable, a 42-character category not."""
    index = name()
    client.create_index(index, settings_dict={"filterStringMaxLength": 25})
    long_category = "this_category_is_longer_than_25_characters"
    client.index(index).add_documents([
        {"_id": "1", "text": "The lazy brown fox jumps over the quick dog.", "category": "story"},
        {"_id": "2", "text": "Marco Polo was an Italian merchant, explorer, and writer.", "category": long_category},
    ], tensor_fields=["text"])
    hits = lambda **kw: [h["_id"] for h in client.index(index).search(**kw)["hits"]]  # noqa: E731
    assert hits(q="dog", filter_string="category:story") == ["1"]
    assert hits(q="merchant", filter_string=f"category:{long_category}") == []
    assert hits(q=long_category, search_method="LEXICAL") == ["2"]  # stored and searchable all the same
    assert client.index(index).get_document("2")["category"] == long_category


def test_the_default_limit_is_50_characters(client):
    index = name()
    client.create_index(index)
    fifty, fifty_one = "x" * 50, "y" * 51
    client.index(index).add_documents([{"_id": "50", "code": fifty}, {"_id": "51", "code": fifty_one}],
                                      tensor_fields=[])
    assert [h["_id"] for h in client.index(index).search("*", search_method="LEXICAL",
                                                         filter_string=f"code:{fifty}")["hits"]] == ["50"]
    assert client.index(index).search("*", search_method="LEXICAL", filter_string=f"code:{fifty_one}")["hits"] == []
