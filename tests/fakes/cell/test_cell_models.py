"""Models and devices: each model has its own dimension (Marqo's model registry), `GET /models` lists
what is loaded, `DELETE /models` ejects, and there is no CUDA here.

Dimensions from Marqo's registry (s2_inference/model_registry.py and its property modules):
open_clip/ViT-B-32/laion2b_s34b_b79k and ViT-B/32 512, hf/all-MiniLM-L6-v2 384, hf/e5-base-v2 768,
hf/e5-large-v2 1024. Preloaded (MARQO_MODELS_TO_PRELOAD's default): hf/e5-base-v2 and
open_clip/ViT-B-32/laion2b_s34b_b79k on the CPU.
"""

from __future__ import annotations

import uuid

import marqo
import pytest
import requests
from marqo.errors import MarqoWebError

from fakes.fake_cell import models

PRELOADED = [{"model_name": "hf/e5-base-v2", "model_device": "cpu"},
             {"model_name": "open_clip/ViT-B-32/laion2b_s34b_b79k", "model_device": "cpu"}]


def fresh(client: marqo.Client, **settings) -> marqo.index.Index:
    name = f"m-{uuid.uuid4().hex[:10]}"
    client.create_index(name, settings_dict=settings or None)
    return client.index(name)


@pytest.mark.parametrize("model, dims", [
    ("open_clip/ViT-B-32/laion2b_s34b_b79k", 512),
    ("ViT-B/32", 512),
    ("hf/all-MiniLM-L6-v2", 384),
    ("hf/e5-base-v2", 768),
    ("hf/e5-large-v2", 1024),
])
def test_custom_vectors_embeddings_and_context_follow_the_models_dimension(cell, model, dims):
    index = fresh(marqo.Client(url=cell.url), model=model)
    assert index.get_settings()["model"] == model
    res = index.add_documents([
        {"_id": "fits", "v": {"content": "right size", "vector": [0.5] * dims}},
        {"_id": "768", "v": {"content": "e5 size", "vector": [0.5] * 768}},
    ], tensor_fields=["v"], mappings={"v": {"type": "custom_vector"}})
    statuses = {item["_id"]: item["status"] for item in res["items"]}
    assert statuses == {"fits": 200, "768": 200 if dims == 768 else 400}
    assert len(index.embed("hello")["embeddings"][0]) == dims
    hits = index.search(q={"right": 0.0}, context={"tensor": [{"vector": [0.5] * dims, "weight": 1}]})["hits"]
    assert hits[0]["_id"] == "fits"
    if dims != 768:
        with pytest.raises(MarqoWebError) as info:
            index.search(q={"x": 1}, context={"tensor": [{"vector": [0.5] * 768, "weight": 1}]})
        assert info.value.status_code == 400


def test_an_unknown_model_needs_model_properties(cell):
    client = marqo.Client(url=cell.url)
    with pytest.raises(MarqoWebError) as info:
        fresh(client, model="my-own/encoder")
    assert (info.value.status_code, info.value.code) == (400, "invalid_argument")
    assert "Could not find model properties in model registry for model=my-own/encoder" in str(info.value.message)
    index = fresh(client, model="my-own/encoder", modelProperties={"dimensions": 7, "type": "hf"})
    assert len(index.embed("hello")["embeddings"][0]) == 7


@pytest.mark.parametrize("model, properties, expected", [
    ("hf/e5-base-v2", None, 768),
    ("open_clip/ViT-B-32/laion2b_s34b_b79k", None, 512),
    ("ViT-L/14", None, 768),
    ("onnx/all-MiniLM-L6-v2", None, 384),
    ("hf/bge-small-zh-v1.5", None, 512),
    ("hf/e5-base-v2", {"dimensions": 32}, 32),  # modelProperties win, as for any custom model
    ("my-own/encoder", {"dimensions": 5}, 5),
    ("stored-before-the-registry", None, models.FALLBACK_DIMENSION),
])
def test_dimension(model, properties, expected):
    assert models.dimension(model, properties) == expected


def test_loaded_models_are_listed_and_ejected(cell_factory):
    cell = cell_factory()
    client = marqo.Client(url=cell.url)
    index = fresh(client, model="hf/all-MiniLM-L6-v2")
    assert index.get_loaded_models() == {"models": PRELOADED}  # creating an index loads nothing
    index.add_documents([{"_id": "1", "t": "hello"}], tensor_fields=["t"])
    assert index.get_loaded_models()["models"][-1] == {"model_name": "hf/all-MiniLM-L6-v2", "model_device": "cpu"}

    ejected = requests.delete(cell.url + "/models", timeout=5,
                              params={"model_name": "hf/all-MiniLM-L6-v2", "model_device": "cpu"})
    assert ejected.json() == {"result": "success",
                              "message": "successfully eject model_name `hf/all-MiniLM-L6-v2` from device `cpu`"}
    assert index.get_loaded_models() == {"models": PRELOADED}
    again = requests.delete(cell.url + "/models", timeout=5,
                            params={"model_name": "hf/all-MiniLM-L6-v2", "model_device": "cpu"})
    assert (again.status_code, again.json()["code"]) == (404, "model_not_in_cache")
    assert again.json()["message"] == "The model_name `hf/all-MiniLM-L6-v2` device `cpu` is not cached or found"
    index.search("hello")  # used again: loaded again
    assert {"model_name": "hf/all-MiniLM-L6-v2", "model_device": "cpu"} in index.get_loaded_models()["models"]


def test_the_clients_eject_sends_no_device_and_marqo_requires_one(cell):
    """marqo 3.18's Index.eject_model sends only model_name; Marqo's route requires model_device (422)."""
    with pytest.raises(MarqoWebError) as info:
        marqo.Client(url=cell.url).index("any").eject_model("hf/e5-base-v2")
    assert info.value.status_code == 422
    assert info.value.message["detail"][0]["loc"] == ["query", "model_device"]


def test_no_cuda_on_this_machine(cell):
    index = marqo.Client(url=cell.url).index("any")
    with pytest.raises(MarqoWebError) as info:
        index.get_cuda_info()
    assert (info.value.status_code, info.value.code) == (400, "hardware_compatability_error")
    assert info.value.message["message"] == "ERROR: cuda is not supported in your machine!!"
    assert set(index.get_cpu_info()) == {"cpu_usage_percent", "memory_used_percent", "memory_used_gb"}
