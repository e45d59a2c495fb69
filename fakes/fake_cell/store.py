"""SQLite storage of fake_cell: indexes, documents, filter values, BM25 text and vectors.

Why: one file that survives restarts and `kill -9` (WAL; every write is one transaction
committed before the HTTP response), with FTS5's bm25 for LEXICAL search and plain SQL for
filters. The methods are synchronous; the server runs writes on one writer thread (the only
user of `self.writer`, so ids can be allocated in memory) and reads on a small pool of reader
threads, each with its own connection (WAL lets them read while the writer writes).

Layout: `documents` holds each document's JSON and its packed sparse embeddings (mirrored in
memory by vectors.TensorIndex); one row per filterable (field, value, doc) (array items each
get a row; `val` is TEXT or REAL, see filters.to_sql), appended to `filter_pending` and merged
in bulk into `filter_values`, indexed by value for values up to filters.INDEXED_LENGTH
characters (see _merge_filters); per index an FTS5 table `lex_<id>` with one row per text
field, whose rowid is `doc_rowid << 10 | ordinal` so a document's rows are one rowid range. A
replaced document gets a new rowid, never reused while the process runs, which keeps the
in-memory mirror's ids unambiguous.

synchronous=NORMAL in WAL mode is durable against a crash of this process (the WAL is in the
OS page cache once COMMIT returns); only an OS crash or power loss could lose the last commits.
Checkpoints run on a background thread (they move committed pages from the WAL into the
database file; durability does not depend on them).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Callable, Iterator

from . import embedding, errors, filters, media, realmodel
from .documents import ItemError, Prepared, may_fetch_media, prepare
from .settings import dimension, filter_string_max_length
from .vectors import TensorIndex

log = logging.getLogger("fake_cell")

SCHEMA = """
CREATE TABLE IF NOT EXISTS indexes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    settings TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS documents (
    rowid INTEGER PRIMARY KEY,
    index_id INTEGER NOT NULL,
    doc_id TEXT NOT NULL,
    body TEXT NOT NULL,
    spec TEXT NOT NULL,
    vecs BLOB,
    nvec INTEGER NOT NULL DEFAULT 0,
    UNIQUE (index_id, doc_id)
);
CREATE TABLE IF NOT EXISTS filter_values (
    field TEXT NOT NULL,
    val NOT NULL,
    doc INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS filter_values_doc ON filter_values (doc);
CREATE INDEX IF NOT EXISTS filter_values_short ON filter_values (field, val, doc)
    WHERE length(val) <= %d;
CREATE TABLE IF NOT EXISTS filter_pending (
    field TEXT NOT NULL,
    val NOT NULL,
    doc INTEGER NOT NULL
);
""" % filters.INDEXED_LENGTH


def _compact_encoder() -> Callable[[Any], str]:
    """json.dumps(obj, separators=(",", ":")), the same string, without building an encoder and
    a C encoder per call (json.dumps does, given separators).

    No cycle check (a shared `markers` dict would keep stale ids after a failed call): what is
    encoded here is decoded JSON and responses built from it, which have no cycles.
    """
    encoder = json.JSONEncoder(separators=(",", ":"))
    try:  # the C accelerator's (internal) constructor, as JSONEncoder.iterencode calls it
        c_encode = json.encoder.c_make_encoder(  # type: ignore[attr-defined, misc]
            None, encoder.default, json.encoder.encode_basestring_ascii, None, ":", ",",
            False, False, True)

        def encode(obj: Any) -> str:
            if isinstance(obj, str):  # what JSONEncoder.encode special-cases
                return encoder.encode(obj)
            return "".join(c_encode(obj, 0))

        sample = {"a": [1, 2.5, None, True, "é"], "b": {"c": float("inf")}}
        if encode(sample) == encoder.encode(sample):
            return encode
    except (AttributeError, TypeError):  # no C accelerator, or another signature
        pass
    return encoder.encode


compact_json = _compact_encoder()
FTS_TOKENIZER = "porter unicode61 remove_diacritics 2"
FIELD_BITS = 10
MAX_TENSOR_INDEXES = 64
CHECKPOINT_DELAY = 0.2  # s between a commit and the background checkpoint that follows it
WRITER_AUTOCHECKPOINT = 20_000  # pages (80 MB of WAL): the writer checkpoints itself past this
MERGE_PENDING = 4096  # filter rows: filter_pending is merged into filter_values past this


def _texts_of(prepared: list[Any]) -> list[str]:
    """Every text a batch of prepared documents needs embedded (tensor fields, combination parts)."""
    out = []
    for p in prepared:
        if isinstance(p, Prepared):
            for _, kind, payload in p.tensors:
                if kind == "text":
                    out.append(payload)
                elif kind == "combo":
                    out.extend(text for text, _ in payload)
    return out


class _DocumentFailed(Exception):
    """One document of a batch cannot be embedded (e.g. its image cannot be read)."""

    def __init__(self, error: ItemError) -> None:
        super().__init__(error.message)
        self.error = error


@dataclass(frozen=True)
class IndexInfo:
    id: int
    name: str
    settings: dict[str, Any]
    created_at: str

    @property
    def lex_table(self) -> str:
        return f"lex_{self.id}"

    @cached_property
    def dim(self) -> int:
        return dimension(self.settings)

    @cached_property
    def encoder(self) -> realmodel.MiniLM | None:
        """The real model for this index (the [models] extra), or None: the hashed embedding."""
        return realmodel.encoder_for(self.settings.get("model", ""))

    @cached_property
    def adds_without_io(self) -> bool:
        """Whether adding documents is CPU and SQLite work only: the hashed embedding (no real model
        to load or run, decided on the settings alone) and no image to fetch."""
        return self.settings.get("model", "") not in realmodel.NAMES and not may_fetch_media(self.settings)

    def text_vectors(self, texts: list[str]) -> dict[str, embedding.Sparse]:
        """Embeddings of texts, in one model call when the index has a real model."""
        unique = list(dict.fromkeys(texts))
        if not unique:
            return {}
        if self.encoder is None:
            return {text: embedding.embed(text, self.dim) for text in unique}
        return {text: embedding.from_dense(vec) for text, vec in zip(unique, self.encoder.embed(unique))}


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")


# Marqo's LEXICAL search is Vespa's weakAnd (`where weakAnd(default contains "a", default contains "b")`) with
# Vespa's default targetHits: only that many candidates reach bm25 (the first phase), chosen by a cheap
# term-weight score, the earliest documents first on a tie. See `weak_and_tiers`.
TARGET_HITS = 100
MAX_WEAK_AND_TERMS = 16  # a longer query is scored over every match (two more tiers per term otherwise)


def lexical_sql(table: str, fields: int = 0, filtered: bool = False, tiers: int = 0) -> str:
    """The LEXICAL query (also run directly by the benchmark as the floor, with every match scored).

    FTS5's `rank` (bm25 by default; bm25() itself cannot sit under an aggregate) is taken per
    text-field row in the inner query and summed per document outside it. ``tiers``: weakAnd's
    stand-in (``weak_and_tiers``): the rows are the first ones of each tier's MATCH, each followed by
    its own LIMIT, a row found by two tiers counted once.
    """
    where = f" AND field IN ({','.join('?' * fields)})" if fields else ""
    if tiers:
        one = f"SELECT * FROM (SELECT rowid, rank AS s FROM {table} WHERE {table} MATCH ?{where} LIMIT ?)"
        inner = f"SELECT rowid, min(s) AS s FROM ({' UNION ALL '.join([one] * tiers)}) GROUP BY rowid"
    else:
        inner = f"SELECT rowid, rank AS s FROM {table} WHERE {table} MATCH ?{where}"
    outer = ""
    if filtered:
        outer = (f" WHERE (m.rowid >> {FIELD_BITS}) IN (SELECT d.rowid FROM documents d "
                 "WHERE d.index_id = ? AND {filter})")
    return (f"SELECT d.doc_id, d.body, s.score FROM (SELECT m.rowid >> {FIELD_BITS} AS doc, "
            f"sum(m.s) AS score FROM ({inner}) m{outer} GROUP BY doc "
            f"ORDER BY score LIMIT ? OFFSET ?) s JOIN documents d ON d.rowid = s.doc "
            f"ORDER BY s.score")


def weak_and_tiers(terms: list[str]) -> list[str]:
    """weakAnd's stand-in for an OR of ``terms``: MATCH expressions whose first ``TARGET_HITS`` rows (each) are the
    candidates bm25 ranks. Every row matching the query matches one of them, and each holds every term of the
    query, so a row's bm25 is the one the whole query gives it (FTS5 sums bm25 over the expression's phrases;
    a phrase a row lacks adds nothing): with fewer matches than that per tier, the answer is exactly the one
    of scoring every match. Past it, the candidates are the earliest rows that hold every term, and for each
    term the earliest that hold it with another term and the earliest that hold it alone - so a rare term's
    rows always are. (Vespa's weakAnd keeps the best by a term-weight score as it walks the index in
    document order, the earliest on a tie.)"""
    quoted = [f'"{t}"' for t in dict.fromkeys(terms)]
    if len(quoted) == 1:
        return quoted
    tiers = [" AND ".join(quoted)]
    for i, term in enumerate(quoted):
        others = " OR ".join(quoted[:i] + quoted[i + 1:])
        tiers += [f"{term} AND ({others})", f"{term} NOT ({others})"]
    return tiers


def _migrate(conn: sqlite3.Connection) -> None:
    """Move a filter_values table of the first layout (WITHOUT ROWID, keyed by value) over."""
    row = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' "
                       "AND name = 'filter_values'").fetchone()
    if row is None or "WITHOUT ROWID" not in row[0].upper():
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DROP INDEX IF EXISTS filter_values_doc")
        conn.execute("ALTER TABLE filter_values RENAME TO filter_values_v1")
        for statement in SCHEMA.split(";"):
            if "filter_values" in statement:
                conn.execute(statement)
        conn.execute("INSERT INTO filter_values (field, val, doc) "
                     "SELECT field, val, doc FROM filter_values_v1 ORDER BY doc")
        conn.execute("DROP TABLE filter_values_v1")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class Store:
    def __init__(self, path: str) -> None:
        self.path = path
        self.writer = connect(path)
        _migrate(self.writer)
        self.writer.executescript(SCHEMA)
        self._local = threading.local()
        self._tensor: OrderedDict[int, TensorIndex] = OrderedDict()
        self._tensor_lock = threading.Lock()
        self.indexes: dict[str, IndexInfo] = {}
        for row in self.writer.execute("SELECT id, name, settings, created_at FROM indexes"):
            self.indexes[row[1]] = IndexInfo(row[0], row[1], json.loads(row[2]), row[3])
        self._next_doc = (self.writer.execute("SELECT max(rowid) FROM documents").fetchone()[0] or 0) + 1
        self._pending = self.writer.execute("SELECT count(*) FROM filter_pending").fetchone()[0]
        # Checkpoints (copying the WAL into the database file) run on a thread of their own, so
        # a write request pays for its COMMIT only; the writer's own automatic checkpoint stays
        # as a backstop should that thread fall far behind.
        self.writer.execute(f"PRAGMA wal_autocheckpoint={WRITER_AUTOCHECKPOINT}")
        self._written = threading.Event()
        self._closing = threading.Event()
        self._checkpointer = threading.Thread(target=self._checkpoint_loop, daemon=True,
                                              name="fake_cell-checkpoint")
        self._checkpointer.start()

    def close(self) -> None:
        self._closing.set()
        self._written.set()
        self._checkpointer.join(timeout=10)
        self.writer.close()

    def _checkpoint_loop(self) -> None:
        conn = connect(self.path)
        try:
            while True:
                self._written.wait()
                if self._closing.wait(CHECKPOINT_DELAY):  # let a burst of commits accumulate
                    return
                self._written.clear()
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error:  # e.g. the disk is full: the next commit retries
                    log.warning("WAL checkpoint failed", exc_info=True)
        finally:
            conn.close()

    # -- plumbing --------------------------------------------------------------------------
    def reader(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        conn = self.writer
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        self._written.set()

    def write(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        """Run fn(conn) in one write transaction (used by apikeys)."""
        with self.transaction() as conn:
            return fn(conn)

    def index(self, name: str) -> IndexInfo:
        info = self.indexes.get(name)
        if info is None:
            raise errors.index_not_found(name)
        return info

    # -- indexes ---------------------------------------------------------------------------
    def create_index(self, name: str, settings: dict[str, Any]) -> IndexInfo:
        return self.create_indexes([(name, settings)])[0]

    def create_indexes(self, items: list[tuple[str, dict[str, Any]]]) -> list[IndexInfo]:
        """Create every index or none (Marqo's batch create deploys them together)."""
        names = [name for name, _ in items]
        with self.transaction() as conn:
            for n, name in enumerate(names):
                if name in names[:n] or conn.execute("SELECT 1 FROM indexes WHERE name = ?", (name,)).fetchone():
                    raise errors.index_exists(name)
            created = []
            for name, settings in items:
                stamp = now_iso()
                cur = conn.execute("INSERT INTO indexes (name, settings, created_at) VALUES (?, ?, ?)",
                                   (name, json.dumps(settings), stamp))
                info = IndexInfo(cur.lastrowid, name, settings, stamp)
                conn.execute(f"CREATE VIRTUAL TABLE {info.lex_table} USING fts5(text, field UNINDEXED, "
                             f"tokenize='{FTS_TOKENIZER}')")
                created.append(info)
        for info in created:
            self.indexes[info.name] = info
        return created

    def delete_index(self, name: str) -> None:
        self.delete_indexes([name])

    def delete_indexes(self, names: list[str]) -> None:
        """Delete every named index or none (an unknown name fails the whole batch, as in Marqo)."""
        infos = {info.id: info for info in (self.index(name) for name in names)}
        with self.transaction() as conn:
            for info in infos.values():
                self._delete_all(conn, info)
                conn.execute(f"DROP TABLE IF EXISTS {info.lex_table}")
                conn.execute("DELETE FROM indexes WHERE id = ?", (info.id,))
        for info in infos.values():
            self.indexes.pop(info.name, None)
            with self._tensor_lock:
                self._tensor.pop(info.id, None)

    @staticmethod
    def _delete_all(conn: sqlite3.Connection, info: IndexInfo) -> int:
        for table in ("filter_values", "filter_pending"):
            conn.execute(f"DELETE FROM {table} WHERE doc IN "
                         "(SELECT rowid FROM documents WHERE index_id = ?)", (info.id,))
        return conn.execute("DELETE FROM documents WHERE index_id = ?", (info.id,)).rowcount

    def delete_all_documents(self, name: str) -> int:
        """Marqo's internal `delete-all`: empty the index, keep it; the number of documents removed."""
        info = self.index(name)
        with self.transaction() as conn:
            count = self._delete_all(conn, info)
            conn.execute(f"DELETE FROM {info.lex_table}")
        with self._tensor_lock:
            self._tensor.pop(info.id, None)
        return count

    def stats(self, name: str) -> tuple[int, int]:
        info = self.index(name)
        conn = self.reader()
        docs, vecs = conn.execute("SELECT count(*), coalesce(sum(nvec), 0) FROM documents "
                                  "WHERE index_id = ?", (info.id,)).fetchone()
        return docs, vecs

    # -- documents: writes -----------------------------------------------------------------
    def _embed(self, info: IndexInfo, prepared: Prepared,
               texts: dict[str, embedding.Sparse] | None = None) -> list[tuple[str, embedding.Sparse]]:
        """The document's vectors; `texts`: embeddings computed for the whole batch (real model)."""
        if texts is None and info.encoder is not None:
            texts = info.text_vectors(_texts_of([prepared]))
        out = []
        for field, kind, payload in prepared.tensors:
            if kind == "text":
                vec = texts[payload] if texts is not None else embedding.embed(payload, info.dim)
            elif kind == "vector":
                vec = embedding.from_dense(payload)
            elif kind == "image":
                try:
                    vec = media.load_vector(payload, info.dim)
                except media.MediaError as exc:  # the document fails, not the batch
                    raise _DocumentFailed(ItemError(prepared.doc_id, media.error_message(payload, exc))) from None
            else:
                vec = embedding.combine((texts[t] if texts is not None else embedding.embed(t, info.dim), w)
                                        for t, w in payload)
            if vec[0]:
                out.append((field, vec))
        return out

    def _remove_docs(self, conn: sqlite3.Connection, info: IndexInfo, rowids: list[int]) -> None:
        """Delete documents and everything derived from them (filter_pending, which has no
        index on `doc`, is scanned once per chunk)."""
        span = (1 << FIELD_BITS) - 1
        conn.executemany(f"DELETE FROM {info.lex_table} WHERE rowid BETWEEN ? AND ?",
                         [(rowid << FIELD_BITS, (rowid << FIELD_BITS) | span) for rowid in rowids])
        for start in range(0, len(rowids), 500):
            chunk = rowids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            conn.execute(f"DELETE FROM filter_values WHERE doc IN ({marks})", chunk)
            conn.execute(f"DELETE FROM filter_pending WHERE doc IN ({marks})", chunk)
            conn.execute(f"DELETE FROM documents WHERE rowid IN ({marks})", chunk)

    def _write_docs(self, info: IndexInfo, docs: list[tuple[Prepared, list]]) -> None:
        """Upsert prepared docs with their embeddings in one transaction (last one wins per _id)."""
        latest = {prepared.doc_id: (prepared, vectors) for prepared, vectors in docs}
        doc_rows, lex_rows, filter_rows, long_rows, added = [], [], [], [], []
        encode = compact_json
        indexed = filters.INDEXED_LENGTH
        spec, spec_json = None, ""
        with self.transaction() as conn:
            ids = list(latest)
            existing = {}
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                existing.update(conn.execute(
                    f"SELECT doc_id, rowid FROM documents WHERE index_id = ? AND doc_id IN "
                    f"({','.join('?' * len(chunk))})", (info.id, *chunk)).fetchall())
            removed = [existing[doc_id] for doc_id in latest if doc_id in existing]
            if removed:
                self._remove_docs(conn, info, removed)
            for doc_id, (prepared, vectors) in latest.items():
                rowid = self._next_doc
                self._next_doc += 1
                if prepared.spec != spec:  # a batch shares tensorFields/mappings: encode once
                    spec = prepared.spec
                    spec_json = encode(spec)
                doc_rows.append((rowid, info.id, doc_id, encode(prepared.body), spec_json,
                                 embedding.pack_many(vectors) if vectors else None, len(vectors)))
                base = rowid << FIELD_BITS
                lex_rows += [(base | n, text, field) for n, (field, text) in enumerate(prepared.lexical)]
                # (a repeated array item gives a duplicate row: harmless, filters test membership)
                for f, v in prepared.filters:
                    if v.__class__ is str and len(v) > indexed:  # no value index: append now
                        long_rows.append((f, v, rowid))
                    else:
                        filter_rows.append((f, v, rowid))
                if vectors:
                    added.append((rowid, vectors))
            conn.executemany("INSERT INTO documents (rowid, index_id, doc_id, body, spec, vecs, nvec) "
                             "VALUES (?, ?, ?, ?, ?, ?, ?)", doc_rows)
            conn.executemany(f"INSERT INTO {info.lex_table} (rowid, text, field) VALUES (?, ?, ?)",
                             lex_rows)
            conn.executemany("INSERT INTO filter_pending (field, val, doc) VALUES (?, ?, ?)",
                             filter_rows)
            conn.executemany("INSERT INTO filter_values (field, val, doc) VALUES (?, ?, ?)",
                             long_rows)
        self._pending += len(filter_rows)
        self._mirror(info.id, removed, added)
        if self._pending >= MERGE_PENDING:
            try:
                self._merge_filters()
            except sqlite3.Error:  # the documents are committed; a later write merges again
                log.warning("Merging filter values failed", exc_info=True)

    def _merge_filters(self) -> None:
        """Move filter_pending's rows into the indexed filter_values in one transaction.

        Why two tables: a commit that inserts into a large index on (field, value) dirties a
        page per scattered value, and every commit writes its dirty pages whole to the WAL
        (measured: the index then cost more than the documents and FTS5 rows together).
        Appending to filter_pending is cheap; merging a few thousand rows at once dirties each
        index page once. Queries look in both tables (filters.to_sql). Strings longer than
        filters.INDEXED_LENGTH stay out of the value index, so they go to filter_values at once.
        """
        with self.transaction() as conn:
            conn.execute("INSERT INTO filter_values (field, val, doc) SELECT field, val, doc "
                         "FROM filter_pending")
            conn.execute("DELETE FROM filter_pending")
        self._pending = 0

    def _mirror(self, index_id: int, removed: list[int], added: list[tuple[int, list]]) -> None:
        with self._tensor_lock:
            tindex = self._tensor.get(index_id)
        if tindex is None:
            return
        with tindex.lock:
            tindex.remove_docs(removed)
            for rowid, vectors in added:
                tindex.add_doc(rowid, vectors)

    def add_documents(self, name: str, prepared: list[Prepared | ItemError]) -> list[dict[str, Any]]:
        info = self.index(name)
        texts = info.text_vectors(_texts_of(prepared)) if info.encoder is not None else None
        good, items = [], []
        for p in prepared:
            if isinstance(p, Prepared):
                try:
                    good.append((p, self._embed(info, p, texts)))
                except _DocumentFailed as failed:
                    p = failed.error
            items.append(p.item() if isinstance(p, ItemError) else {"_id": p.doc_id, "status": 200})
        if good:
            self._write_docs(info, good)
        return items

    def update_documents(self, name: str, docs: list[Any]) -> list[dict[str, Any]]:
        """Partial update: merge into the stored body, re-derive, keep untouched custom vectors."""
        info = self.index(name)
        items: list[dict[str, Any]] = []
        todo = []
        conn = self.writer
        for doc in docs:
            if not isinstance(doc, dict) or not isinstance(doc.get("_id"), str):
                items.append(ItemError("", "Each document must be an object with a string '_id'",
                                       "invalid_document_id").item())
                continue
            row = conn.execute("SELECT rowid, body, spec, vecs FROM documents "
                               "WHERE index_id = ? AND doc_id = ?", (info.id, doc["_id"])).fetchone()
            if row is None:
                items.append(ItemError(doc["_id"], f"Document with ID {doc['_id']} not found",
                                       "document_not_found", 404).item())
                continue
            old, spec = json.loads(row[1]), json.loads(row[2])
            mappings = spec.get("mappings") or {}
            untouched_cv = {f for f, m in mappings.items()
                            if m.get("type") == "custom_vector" and f in old and f not in doc}
            merged = {k: v for k, v in {**old, **doc}.items() if k not in untouched_cv}
            result = prepare(merged, info.settings, spec.get("tensorFields"), mappings)
            if isinstance(result, ItemError):
                items.append(result.item())
                continue
            try:
                vectors = self._embed(info, result)
            except _DocumentFailed as failed:
                items.append(failed.error.item())
                continue
            if untouched_cv:
                vectors += [(f, vec) for f, vec in embedding.unpack_many(row[3]) if f in untouched_cv]
                limit = filter_string_max_length(info.settings)
                for field in untouched_cv:
                    result.body[field] = old[field]
                    result.lexical.append((field, old[field]))
                    if limit is None or len(old[field]) <= limit:
                        result.filters.append((field, old[field]))
            todo.append((result, vectors))
            items.append({"_id": doc["_id"], "status": 200})
        if todo:
            self._write_docs(info, todo)
        return items

    def delete_documents(self, name: str, ids: list[str]) -> list[dict[str, Any]]:
        info = self.index(name)
        items, removed, seen = [], [], set()
        with self.transaction() as conn:
            for doc_id in ids:
                row = None if doc_id in seen else conn.execute(
                    "SELECT rowid FROM documents WHERE index_id = ? AND doc_id = ?",
                    (info.id, doc_id)).fetchone()
                if row is None:  # (a repeated id is found once, as when deleted one by one)
                    items.append({"_id": doc_id, "status": 404, "result": "not_found"})
                    continue
                seen.add(doc_id)
                removed.append(row[0])
                items.append({"_id": doc_id, "status": 200, "result": "deleted"})
            if removed:
                self._remove_docs(conn, info, removed)
        self._mirror(info.id, removed, [])
        return items

    # -- documents: reads ------------------------------------------------------------------
    def get_documents(self, name: str, ids: list[str]) -> dict[str, tuple[int, dict[str, Any]]]:
        info = self.index(name)
        out = {}
        conn = self.reader()
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            sql = (f"SELECT doc_id, rowid, body FROM documents WHERE index_id = ? "
                   f"AND doc_id IN ({','.join('?' * len(chunk))})")
            for doc_id, rowid, body in conn.execute(sql, (info.id, *chunk)):
                out[doc_id] = (rowid, json.loads(body))
        return out

    def bodies(self, rowids: list[int]) -> dict[int, tuple[str, dict[str, Any]]]:
        out = {}
        conn = self.reader()
        for start in range(0, len(rowids), 500):
            chunk = rowids[start:start + 500]
            sql = f"SELECT rowid, doc_id, body FROM documents WHERE rowid IN ({','.join('?' * len(chunk))})"
            for rowid, doc_id, body in conn.execute(sql, chunk):
                out[rowid] = (doc_id, json.loads(body))
        return out

    def vectors_of(self, rowids: list[int]) -> dict[int, list[tuple[str, embedding.Sparse]]]:
        out: dict[int, list] = {r: [] for r in rowids}
        for start in range(0, len(rowids), 500):
            chunk = rowids[start:start + 500]
            sql = f"SELECT rowid, vecs FROM documents WHERE rowid IN ({','.join('?' * len(chunk))})"
            for rowid, blob in self.reader().execute(sql, chunk):
                out[rowid] = embedding.unpack_many(blob)
        return out

    def lexical(self, info: IndexInfo, match: str, limit: int, offset: int,
                fields: list[str] | None, filter_node: filters.Node | None, terms: list[str] | None = None
                ) -> list[tuple[str, dict[str, Any], float]]:
        """``terms``: the query's words when it is an OR of them (no required phrase); then, without a filter,
        bm25 ranks weakAnd's candidates (``weak_and_tiers``: at most ``max(TARGET_HITS, offset + limit)`` rows
        per tier), as Marqo's weakAnd does, so the cost no longer grows with the index."""
        tiers = weak_and_tiers(terms) if terms and filter_node is None and len(terms) <= MAX_WEAK_AND_TERMS else []
        params: list[Any] = []
        if tiers:
            for expression in tiers:
                params += [expression, *(fields or ()), max(TARGET_HITS, limit + offset)]
        else:
            params += [match, *(fields or ())]
        sql = lexical_sql(info.lex_table, len(fields or ()), filter_node is not None, len(tiers))
        if filter_node is not None:
            fsql, fparams = filters.to_sql(filter_node)
            sql = sql.replace("{filter}", fsql)
            params.extend([info.id, *fparams])
        params.extend([limit, offset])
        try:
            rows = self.reader().execute(sql, params).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                raise errors.index_not_found(info.name) from None
            raise
        return [(doc_id, json.loads(body), -score) for doc_id, body, score in rows]

    def match_all(self, info: IndexInfo, limit: int, offset: int,
                  filter_node: filters.Node | None) -> list[tuple[str, dict[str, Any], float]]:
        sql, params = "SELECT doc_id, body FROM documents d WHERE d.index_id = ?", [info.id]
        if filter_node is not None:
            fsql, fparams = filters.to_sql(filter_node)
            sql += f" AND {fsql}"
            params.extend(fparams)
        sql += " ORDER BY d.rowid LIMIT ? OFFSET ?"
        rows = self.reader().execute(sql, [*params, limit, offset]).fetchall()
        return [(doc_id, json.loads(body), 1.0) for doc_id, body in rows]

    def allowed(self, info: IndexInfo, filter_node: filters.Node) -> set[int]:
        fsql, fparams = filters.to_sql(filter_node)
        sql = f"SELECT d.rowid FROM documents d WHERE d.index_id = ? AND {fsql}"
        return {r[0] for r in self.reader().execute(sql, [info.id, *fparams])}

    def tensor_index(self, info: IndexInfo) -> TensorIndex:
        with self._tensor_lock:
            tindex = self._tensor.get(info.id)
            if tindex is not None:
                self._tensor.move_to_end(info.id)
                return tindex
            tindex = TensorIndex()
            self._tensor[info.id] = tindex
            while len(self._tensor) > MAX_TENSOR_INDEXES:
                self._tensor.popitem(last=False)
            tindex.lock.acquire()
        try:
            rows = self.reader().execute("SELECT rowid, vecs FROM documents WHERE index_id = ? "
                                         "AND nvec > 0", (info.id,))
            for rowid, blob in rows:
                tindex.add_doc(rowid, embedding.unpack_many(blob))
        except BaseException:
            with self._tensor_lock:
                self._tensor.pop(info.id, None)
            raise
        finally:
            tindex.lock.release()
        return tindex


def elapsed_ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)
