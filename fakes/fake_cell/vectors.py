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
"""

from __future__ import annotations

import heapq
import threading
from array import array
from typing import Iterable

from .embedding import Sparse


class TensorIndex:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._postings: dict[int, tuple[array, array]] = {}
        self._vectors: dict[int, tuple[int, str, Sparse]] = {}  # vid -> (doc rowid, field, vec)
        self._docs: dict[int, list[int]] = {}  # doc rowid -> vids
        self._dead = 0

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
            scores: dict[int, float] = {}
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
