"""fake_cell's curve for bench_curves.py: search and add as one index grows (10k -> 100k -> 1M).

One index is grown incrementally through the real HTTP API (batches of 100 short documents, the
generator and vocabulary of bench_fake_cell.py, `tensorFields: ["title"]`), each batch
acknowledged before the next; adding towards a size stops at that size or when `budget` seconds
have passed, whichever comes first (the size reached is reported). At each size:
- add throughput: documents added ÷ the time spent in requests (bodies are built and replies
  checked off the clock), on one keep-alive http.client connection;
- LEXICAL p50 over HTTP, and beside it the same FTS5 query run directly on the SQLite file
  (the floor: weakAnd's tiers, what SQLite itself needs), and the query that scores every match
  (what the fake ran before it ranked weakAnd's candidates only; what grows with the matches);
- HYBRID p50 (up to `hybrid_max` documents), after one untimed query that builds the fake's
  in-memory tensor mirror (its time is reported apart);
- the server's RSS and the database's size.
The server is restarted between sizes (its state stays on disk), so the add figure of the next
size never carries the tensor mirror that this size's HYBRID queries built.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

import psutil

import bench_fake_cell as cell_bench
from fakes.fake_cell import search as cell_search
from fakes.fake_cell.store import TARGET_HITS, lexical_sql, weak_and_tiers
from hippodrome_k8s.host.ports import free_port

INDEX = "curve"
BATCH = 100
GENRES = ["drama", "sport", "cooking", "travel", "music"]
HEADERS = {"Content-Type": "application/json"}


class Cell:
    """One fake_cell process on a free loopback port, and one keep-alive connection to it."""

    def __init__(self, state_dir: str) -> None:
        self.port = free_port()
        self.proc = cell_bench.start_cell(state_dir, self.port)
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)

    def call(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes, float]:
        """One request; its status, raw reply and the seconds from sending to the last byte read."""
        started = time.perf_counter()
        self.conn.request(method, path, body=body, headers=HEADERS)
        response = self.conn.getresponse()
        raw = response.read()
        return response.status, raw, time.perf_counter() - started

    def rss(self) -> int:
        return psutil.Process(self.proc.pid).memory_info().rss

    def stop(self) -> None:
        self.conn.close()
        self.proc.terminate()
        self.proc.wait(timeout=30)


def documents(start: int, count: int, vocab: list[str]) -> list[dict]:
    """Documents d<start> .. d<start+count-1>, the same for a given range on every run."""
    rng = random.Random(start)
    return [{"_id": f"d{i}", "title": " ".join(rng.choices(vocab, k=rng.randint(6, 12))),
             "genre": rng.choice(GENRES), "price": rng.randint(1, 200)} for i in range(start, start + count)]


def add_until(cell: Cell, have: int, target: int, budget: float, vocab: list[str]) -> tuple[int, float]:
    """Add batches until the index holds ``target`` docs or ``budget`` s passed; (docs now, request seconds)."""
    deadline = time.monotonic() + budget
    spent = 0.0
    while have < target and time.monotonic() < deadline:
        batch = documents(have, min(BATCH, target - have), vocab)
        body = json.dumps({"documents": batch, "tensorFields": ["title"]}).encode()
        status, raw, seconds = cell.call("POST", f"/indexes/{INDEX}/documents", body)
        spent += seconds
        reply = json.loads(raw)
        if status != 200 or reply.get("errors"):
            raise SystemExit(f"adding failed at {have} docs: {status} {raw[:300]!r}")
        have += len(batch)
    return have, spent


def search_p50(cell: Cell, queries: list[str], method: str, rounds: int, budget: float) -> tuple[float, int]:
    """p50 in seconds of ``rounds`` searches (fewer if ``budget`` s run out), and how many were timed."""
    deadline = time.monotonic() + budget
    samples = []
    for i in range(rounds):
        if samples and time.monotonic() > deadline:
            break
        body = json.dumps({"q": queries[i % len(queries)], "searchMethod": method}).encode()
        status, raw, seconds = cell.call("POST", f"/indexes/{INDEX}/search", body)
        if status != 200:
            raise SystemExit(f"{method} search failed: {status} {raw[:300]!r}")
        samples.append(seconds)
    return statistics.median(samples), len(samples)


def direct_p50(db_path: str, queries: list[str], rounds: int, budget: float) -> tuple[float, float, float]:
    """The floor: p50 of the same LEXICAL query the fake runs (weakAnd's tiers) on the SQLite file; p50 of the
    query that scores every match (what the fake ran before weakAnd); the mean documents matched."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        (index_id,) = conn.execute("SELECT id FROM indexes WHERE name = ?", (INDEX,)).fetchone()
        table = f"lex_{index_id}"
        every_sql = lexical_sql(table)
        deadline = time.monotonic() + budget / 2
        same, every = [], []
        for i in range(rounds):
            if same and time.monotonic() > deadline:
                break
            q = queries[i % len(queries)]
            tiers = weak_and_tiers(cell_search.or_terms(q) or [])
            params = [x for expression in tiers for x in (expression, max(TARGET_HITS, 10))] + [10, 0]
            started = time.perf_counter()
            conn.execute(lexical_sql(table, tiers=len(tiers)), params).fetchall()
            same.append(time.perf_counter() - started)
            started = time.perf_counter()
            conn.execute(every_sql, (cell_search.fts_match(q), 10, 0)).fetchall()
            every.append(time.perf_counter() - started)
        counted = queries[:20]
        matched = statistics.mean(conn.execute(f"SELECT count(*) FROM {table} WHERE {table} MATCH ?",
                                               (cell_search.fts_match(q),)).fetchone()[0] for q in counted)
    finally:
        conn.close()
    return statistics.median(same), statistics.median(every), matched


def run(sizes: list[int], budget: float, rounds: int, search_budget: float, hybrid_max: int,
        progress=print) -> list[dict]:
    """Grow one index through ``sizes`` (ascending); one dict of figures per size."""
    _, vocab = cell_bench.make_docs(0)
    rng = random.Random(1)
    queries = [" ".join(rng.choices(vocab, k=rng.choice([1, 2]))) for _ in range(200)]
    points, have = [], 0
    with tempfile.TemporaryDirectory(prefix="bench-curves-cell-") as tmp:
        state = os.path.join(tmp, "state")
        db_path = os.path.join(state, "fake_cell.sqlite3")
        for size in sizes:
            cell = Cell(state)
            try:
                if have == 0:
                    status, raw, _ = cell.call("POST", f"/indexes/{INDEX}", b"{}")
                    assert status == 200, raw
                before = have
                progress(f"  cell: adding {before} -> {size} docs (budget {budget:g} s) ...")
                have, spent = add_until(cell, have, size, budget, vocab)
                point = {"size": size, "reached": have, "added": have - before,
                         "add_rate": (have - before) / spent if spent else 0.0}
                progress(f"  cell: {have} docs; searching ...")
                for q in queries[:20]:  # warm-up: connection, statement cache, page cache
                    cell.call("POST", f"/indexes/{INDEX}/search", json.dumps({"q": q, "searchMethod": "LEXICAL"}).encode())
                point["lexical"], point["lexical_n"] = search_p50(cell, queries, "LEXICAL", rounds, search_budget)
                point["direct"], point["every"], point["matched"] = direct_p50(db_path, queries, rounds, search_budget)
                if have <= hybrid_max:
                    body = json.dumps({"q": queries[0], "searchMethod": "HYBRID"}).encode()
                    point["hybrid_first"] = cell.call("POST", f"/indexes/{INDEX}/search", body)[2]
                    point["hybrid"], point["hybrid_n"] = search_p50(cell, queries, "HYBRID", rounds, search_budget)
                point["rss"] = cell.rss()
                point["db_bytes"] = sum(Path(p).stat().st_size for p in (db_path, db_path + "-wal") if Path(p).exists())
            finally:
                cell.stop()
            points.append(point)
            if have < size:  # the budget ran out: larger sizes cannot be reached either
                break
    return points
