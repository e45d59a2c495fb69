"""Marqo's model registry as far as the fake needs it (name -> vector dimension), and which models
are loaded.

Why: the dimension decides the length of a custom vector, a context vector and every embedding
the API returns, so an index on `open_clip/ViT-B-32/laion2b_s34b_b79k` (512-d) must refuse a
768-d vector as Marqo does. The names and dimensions are those of Marqo 2's registry
(marqo `s2_inference/model_registry.py` and its model property modules); a model outside it needs
`modelProperties.dimensions`, as in Marqo, where creating such an index fails otherwise.

Loaded models: Marqo preloads MARQO_MODELS_TO_PRELOAD (by default the two below) on the CPU and
loads an index's model on its first use; `GET /models` lists what is loaded and `DELETE /models`
ejects one. Nothing is really loaded here (the fake embeds with a hash, see embedding.py), but
the answers follow that life cycle.
"""

from __future__ import annotations

import threading
from typing import Any

from .errors import CellError, invalid

DEFAULT_MODEL = "hf/e5-base-v2"
FALLBACK_DIMENSION = 768  # an index stored before this registry existed, with an unknown model
PRELOADED = ("hf/e5-base-v2", "open_clip/ViT-B-32/laion2b_s34b_b79k")
DEVICE = "cpu"  # this machine has no CUDA


def _family(dimension: int, *names: str) -> dict[str, int]:
    return {name: dimension for name in names}


_OPEN_CLIP = {
    **_family(1024, "RN50/openai", "RN50/yfcc15m", "RN50/cc12m", "RN50-quickgelu/openai",
              "RN50-quickgelu/yfcc15m", "RN50-quickgelu/cc12m", "RN50x64/openai",
              "ViT-H-14/laion2b_s32b_b79k", "ViT-g-14/laion2b_s12b_b42k"),
    **_family(512, "RN101/openai", "RN101/yfcc15m", "RN101-quickgelu/openai",
              "RN101-quickgelu/yfcc15m", "ViT-B-32/openai", "ViT-B-32/laion400m_e31",
              "ViT-B-32/laion400m_e32", "ViT-B-32/laion2b_e16", "ViT-B-32/laion2b_s34b_b79k",
              "ViT-B-32-quickgelu/openai", "ViT-B-32-quickgelu/laion400m_e31",
              "ViT-B-32-quickgelu/laion400m_e32", "ViT-B-16/openai", "ViT-B-16/laion400m_e31",
              "ViT-B-16/laion400m_e32"),
    **_family(640, "RN50x4/openai", "ViT-B-16-plus-240/laion400m_e31", "ViT-B-16-plus-240/laion400m_e32"),
    **_family(768, "RN50x16/openai", "ViT-L-14/openai", "ViT-L-14/laion400m_e31", "ViT-L-14/laion400m_e32",
              "ViT-L-14/laion2b_s32b_b82k", "ViT-L-14-336/openai"),
}
_SENTENCE = {  # (hf/ and onnx/ prefixes; sentence-transformers/ and flax-sentence-embeddings/ names)
    **_family(384, "all-MiniLM-L6-v1", "all-MiniLM-L6-v2", "all_datasets_v3_MiniLM-L12",
              "all_datasets_v3_MiniLM-L6", "all_datasets_v4_MiniLM-L12", "all_datasets_v4_MiniLM-L6"),
    **_family(768, "all-mpnet-base-v1", "all-mpnet-base-v2", "all_datasets_v3_mpnet-base",
              "all_datasets_v4_mpnet-base"),
}
_HF_ONLY = {
    **_family(384, "e5-small", "e5-small-unsupervised", "multilingual-e5-small", "e5-small-v2",
              "bge-small-en-v1.5"),
    **_family(768, "e5-base", "e5-base-unsupervised", "multilingual-e5-base", "e5-base-v2",
              "bge-base-en-v1.5", "bge-base-zh-v1.5", "snowflake-arctic-embed-m",
              "snowflake-arctic-embed-m-v1.5"),
    **_family(1024, "e5-large", "e5-large-unsupervised", "multilingual-e5-large", "e5-large-v2",
              "multilingual-e5-large-instruct", "GIST-large-Embedding-v0", "bge-large-en-v1.5",
              "bge-large-zh-v1.5", "snowflake-arctic-embed-l", "ember-v1"),
    **_family(512, "bge-small-zh-v1.5"),
}

REGISTRY: dict[str, int] = {
    # OpenAI CLIP
    **_family(1024, "RN50", "RN50x64"), **_family(512, "RN101", "ViT-B/32", "ViT-B/16"),
    **_family(640, "RN50x4"), **_family(768, "RN50x16", "ViT-L/14", "ViT-L/14@336px"),
    **{f"open_clip/{name}": dim for name, dim in _OPEN_CLIP.items()},
    **{f"hf/{name}": dim for name, dim in {**_SENTENCE, **_HF_ONLY}.items()},
    **{f"onnx/{name}": dim for name, dim in _SENTENCE.items()},
    **{f"sentence-transformers/{name}": dim for name, dim in _SENTENCE.items() if not name.startswith("all_")},
    **{f"flax-sentence-embeddings/{name}": dim for name, dim in _SENTENCE.items() if name.startswith("all_")},
    "sentence-transformers/stsb-xlm-r-multilingual": 768,
    "Marqo/dunzhang-stella_en_400M_v5": 1024,
    **_family(16, "test", "sentence-transformers/test"),
}


def _property_dimension(properties: Any) -> int | None:
    dims = properties.get("dimensions") if isinstance(properties, dict) else None
    return dims if isinstance(dims, int) and not isinstance(dims, bool) and dims > 0 else None


def check(model: str, properties: Any) -> None:
    """Refuse, at index creation, a model whose dimension cannot be known (Marqo's message)."""
    if _property_dimension(properties) is None and model not in REGISTRY:
        raise invalid(f"Could not find model properties in model registry for model={model}. "
                      "Model is not supported by default. Give 'modelProperties' (with 'dimensions') "
                      "for a custom model.")


def dimension(model: str, properties: Any) -> int:
    """`modelProperties.dimensions` for a custom model, else the registry's."""
    return _property_dimension(properties) or REGISTRY.get(model, FALLBACK_DIMENSION)


class LoadedModels:
    """(model name, device) pairs, as Marqo's model cache would hold them. Thread-safe."""

    def __init__(self, preloaded: tuple[str, ...] = PRELOADED) -> None:
        self._lock = threading.Lock()
        self._loaded: dict[tuple[str, str], None] = {(name, DEVICE): None for name in preloaded}

    def use(self, model: str) -> None:
        key = (model, DEVICE)
        if key not in self._loaded:  # (a racy read is fine: the write below is locked)
            with self._lock:
                self._loaded[key] = None

    def listing(self) -> dict[str, Any]:
        with self._lock:
            return {"models": [{"model_name": name, "model_device": device} for name, device in self._loaded]}

    def eject(self, model: str, device: str) -> dict[str, str]:
        with self._lock:
            if (model, device) not in self._loaded:
                raise CellError(404, "model_not_in_cache",
                                f"The model_name `{model}` device `{device}` is not cached or found")
            del self._loaded[(model, device)]
        return {"result": "success", "message": f"successfully eject model_name `{model}` from device `{device}`"}
