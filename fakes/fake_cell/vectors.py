"""An in-memory inverted index over the sparse embeddings of one Marqo index.

Why: TENSOR search is exact cosine similarity over every vector of an index. The vectors are
sparse and unit-length, so the dot product only needs the buckets the query touches: walking
those buckets' postings scores exactly the vectors with a non-zero similarity, in pure Python,
in well under a millisecond for 10k short documents. The SQLite `vectors` table is the source
of truth; this index is a mirror built on first use and kept current by the writer after each
commit. Vector ids are `doc_rowid << 6 | ordinal`; the store never reuses a rowid while it
runs (a replaced document gets a new one), so adds and removals are idempotent and a mirror
loaded concurrently with a commit converges. Removed vectors leave dead postings that are
skipped and compacted away once they outnumber the live ones.

Dense vectors (a real model's, from the optional [models] extra, which brings numpy) touch every
bucket, so walking postings would cost `dimensions x vectors` Python steps; for a query with at
least DENSE_MIN non-zeros the scores come from one numpy matrix product instead, over a matrix
rebuilt lazily after writes.
"""

from __future__ import annotations

import heapq
import threading
from array import array
from typing import Iterable

from .embedding import Sparse

DENSE_MIN = 64  # query non-zeros from which the numpy path is used (hashed queries have a few)


class TensorIndex:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._postings: dict[int, tuple[array, array]] = {}
        self._vectors: dict[int, tuple[int, str, Sparse]] = {}  # vid -> (doc rowid, field, vec)
        self._docs: dict[int, list[int]] = {}  # doc rowid -> vids
        self._dead = 0
        self._matrix: tuple | None = None  # (vids, numpy matrix) for dense queries; None: stale

    def __len__(self) -> int:
        return len(self._vectors)

    def add_doc(self, doc: int, vectors: list[tuple[str, Sparse]]) -> None:
        with self.lock:
            if doc in self._docs:
                return
            self._docs[doc] = [(doc << 6) | n for n in range(len(vectors))]
            for n, (field, vec) in enumerate(vectors):
                self._add((doc << 6) | n, doc, field, vec)

    def _add(self, vid: int, doc: int, field: str, vec: Sparse) -> None:
        self._matrix = None
        self._vectors[vid] = (doc, field, vec)
        for i, v in zip(*vec):
            posting = self._postings.get(i)
            if posting is None:
                posting = self._postings[i] = (array("q"), array("f"))
            posting[0].append(vid)
            posting[1].append(v)

    def remove_docs(self, docs: Iterable[int]) -> None:
        with self.lock:
            for doc in docs:
                for vid in self._docs.pop(doc, ()):
                    if self._vectors.pop(vid, None) is not None:
                        self._dead += 1
                        self._matrix = None
            if self._dead > 1000 and self._dead > len(self._vectors):
                self._compact()

    def _compact(self) -> None:
        vectors = self._vectors
        self._postings, self._vectors, self._dead = {}, {}, 0
        for vid, (doc, field, vec) in vectors.items():
            self._add(vid, doc, field, vec)

    def search(self, query: Sparse, k: int, allowed: set[int] | None = None,
               fields: set[str] | None = None, exclude: set[int] = frozenset()
               ) -> list[tuple[int, float, str]]:
        """Top `k` documents as (doc rowid, score, best field); score = max over its vectors.

        Documents that share no bucket with the query score 0 and fill the list after the
        others, as a real nearest-neighbour search would still return them.
        """
        with self.lock:
            scores = self._dense_scores(query) if len(query[0]) >= DENSE_MIN else None
            if scores is None:
                scores = {}
                for i, qv in zip(*query):
                    posting = self._postings.get(i)
                    if posting is None:
                        continue
                    for vid, v in zip(*posting):
                        scores[vid] = scores.get(vid, 0.0) + qv * v
            best: dict[int, tuple[float, str]] = {}
            vectors = self._vectors
            for vid, score in scores.items():
                entry = vectors.get(vid)
                if entry is None:
                    continue
                doc, field, _ = entry
                if (allowed is not None and doc not in allowed) or doc in exclude:
                    continue
                if fields is not None and field not in fields:
                    continue
                prev = best.get(doc)
                if prev is None or score > prev[0]:
                    best[doc] = (score, field)
            top = heapq.nlargest(k, best.items(), key=lambda item: (item[1][0], -item[0]))
            hits = [(doc, score, field) for doc, (score, field) in top]
            if len(hits) < k:
                seen = set(best)
                for doc, field, _ in vectors.values():
                    if len(hits) >= k:
                        break
                    if doc in seen or doc in exclude or (allowed is not None and doc not in allowed):
                        continue
                    if fields is not None and field not in fields:
                        continue
                    seen.add(doc)
                    hits.append((doc, 0.0, field))
            return hits

    def _dense_scores(self, query: Sparse) -> dict[int, float] | None:
        """Every live vector's dot product with the query, by numpy (None: numpy is not installed)."""
        try:
            import numpy as np
        except ImportError:
            return None
        if self._matrix is None:
            vids = list(self._vectors)
            width = 1 + max((max(vec[0], default=0) for _, _, vec in self._vectors.values()), default=0)
            matrix = np.zeros((len(vids), width), dtype=np.float32)
            for row, vid in enumerate(vids):
                idx, vals = self._vectors[vid][2]
                matrix[row, list(idx)] = vals
            self._matrix = (vids, matrix)
        vids, matrix = self._matrix
        dense = np.zeros(matrix.shape[1], dtype=np.float32)
        for i, v in zip(*query):
            if i < matrix.shape[1]:  # a bucket no stored vector has contributes nothing
                dense[i] = v
        return dict(zip(vids, (matrix @ dense).tolist()))
