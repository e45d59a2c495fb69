"""Benchmark fake_cell against its floor, side by side in one run (loopback only, bounded).

    python bench/bench_fake_cell.py [--docs 10000] [--soak 60]

Prints three ratios (targets from issue 3):
  1. LEXICAL search p50 through the HTTP API / the same FTS5 query run directly on the SQLite
     file (also the in-process handler-level ratio, which excludes HTTP).  target <= 3
  2. adding the docs in batches of 100 through the API / raw inserts of the same docs into a
     minimal SQLite+FTS5 table pair (each batch one committed transaction), the two (and the
     fake's store in-process) taking turns batch by batch.                      target <= 3
  3. server RSS after `--soak` s of 50 concurrent clients / RSS after 5 s.   target <= 1.2

The primary HTTP client for 1 and 2 is one keep-alive `http.client` connection: the ratio is
about the server, and `requests` adds ~1 ms of client-side work per call on its own (merging
proxy settings from the environment, building the request), which is the client's cost, not
the server's. The `requests.Session` figures are printed beside them for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psutil
import requests

ROOT = Path(__file__).resolve().parents[1]

from fakes.fake_cell import search as cell_search  # noqa: E402
from fakes.fake_cell.store import TARGET_HITS, Store, connect, lexical_sql, weak_and_tiers  # noqa: E402
from hippodrome_k8s.host.ports import free_port  # noqa: E402

INDEX = "bench"
BATCH = 100



def make_docs(n: int) -> tuple[list[dict], list[str]]:
    rng = random.Random(42)
    vocab = [f"{rng.choice('bcdfghklmnprstvz')}{rng.choice('aeiou')}{rng.choice('bcdfglmnprst')}"
             f"{rng.choice('aeiou')}{rng.choice('nrstlx')}{i}" for i in range(2000)]
    genres = ["drama", "sport", "cooking", "travel", "music"]
    docs = [{"_id": f"d{i}", "title": " ".join(rng.choices(vocab, k=rng.randint(6, 12))),
             "genre": rng.choice(genres), "price": rng.randint(1, 200)} for i in range(n)]
    return docs, vocab


def start_cell(state_dir: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "HIPPODROME_STATE_DIR": state_dir,
           "HIPPODROME_ENCRYPTION_SECRET": "bench-secret"}
    proc = subprocess.Popen([sys.executable, "-m", "fakes.fake_cell"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=1).ok:
                return proc
        except requests.RequestException:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("fake_cell did not become healthy")


class RawPath:
    """The floor: the docs into a minimal SQLite+FTS5 table pair, each batch one committed transaction."""

    def __init__(self, path: str) -> None:
        self.conn = connect(path)
        self.conn.execute("CREATE TABLE documents (rowid INTEGER PRIMARY KEY, doc_id TEXT UNIQUE, body TEXT)")
        self.conn.execute("CREATE VIRTUAL TABLE lex USING fts5(text, tokenize='porter unicode61 remove_diacritics 2')")
        self.next_rowid = 1

    def add(self, n: int, batch: list[dict]) -> None:
        first, self.next_rowid = self.next_rowid, self.next_rowid + len(batch)
        self.conn.execute("BEGIN IMMEDIATE")
        self.conn.executemany("INSERT INTO documents (rowid, doc_id, body) VALUES (?, ?, ?)",
                              [(first + n, d["_id"], json.dumps(d)) for n, d in enumerate(batch)])
        self.conn.executemany("INSERT INTO lex (rowid, text) VALUES (?, ?)",
                              [(first + n, d["title"]) for n, d in enumerate(batch)])
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


class StorePath:
    """The fake's own validation + embedding + storage, in-process (no HTTP)."""

    def __init__(self, path: str) -> None:
        from fakes.fake_cell import documents, settings

        self.prepare = documents.prepare
        self.store = Store(path)
        self.info = self.store.create_index(INDEX, settings.normalise({}))

    def add(self, n: int, batch: list[dict]) -> None:
        self.store.add_documents(INDEX, [self.prepare(d, self.info.settings, ["title"], None) for d in batch])

    def close(self) -> None:
        self.store.close()


class ApiPath:
    """The docs through the HTTP API, each batch acknowledged before the next.

    With http.client, as for the search figure, the request bodies are encoded before the
    clock starts and the replies parsed (every item checked) in `close`, off the clock: the
    figure is the server's (HTTP parsing, validation, embedding, storage, commit, reply) plus
    the transport.
    """

    def __init__(self, url: str, index: str, client: str) -> None:
        self.client = client
        self.session = requests.Session()
        self.session.post(f"{url}/indexes/{index}", json={}).raise_for_status()
        self.url = f"{url}/indexes/{index}/documents"
        host, port = url.rsplit("/", 1)[-1].split(":")
        self.conn = http.client.HTTPConnection(host, int(port))
        self.bodies: list[bytes] = []
        self.replies: list[tuple[list[dict], int, bytes]] = []

    def encode(self, batches: list[list[dict]]) -> None:
        self.bodies = [json.dumps({"documents": b, "tensorFields": ["title"]}).encode() for b in batches]

    def add(self, n: int, batch: list[dict]) -> None:
        """Batch ``n`` (its body encoded by ``encode``, for http.client)."""
        if self.client == "requests":
            r = self.session.post(self.url, json={"documents": batch, "tensorFields": ["title"]})
            self.replies.append((batch, r.status_code, r.content))
            return
        self.conn.request("POST", urlsplit(self.url).path, body=self.bodies[n],
                          headers={"Content-Type": "application/json"})
        response = self.conn.getresponse()
        self.replies.append((batch, response.status, response.read()))

    def close(self, drop: bool = False) -> None:
        self.conn.close()
        for batch, status, raw in self.replies:
            reply = json.loads(raw)
            assert status == 200 and not reply["errors"], raw[:300]
            assert [i["_id"] for i in reply["items"]] == [d["_id"] for d in batch]
        if drop:
            self.session.delete(self.url.rsplit("/", 1)[0]).raise_for_status()
        self.session.close()


def add_round(paths: dict[str, Any], batches: list[list[dict]]) -> dict[str, float]:
    """Seconds each path took for every batch, the paths taking turns batch by batch (the first
    path rotating), so a burst of load from elsewhere on the machine lands on all of them alike."""
    totals = dict.fromkeys(paths, 0.0)
    order = list(paths.items())
    for n, batch in enumerate(batches):
        for k in range(len(order)):
            name, path = order[(n + k) % len(order)]
            start = time.perf_counter()
            path.add(n, batch)
            totals[name] += time.perf_counter() - start
    return totals


def p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def lexical_bench(url: str, db_path: str, queries: list[str], rounds: int) -> dict[str, float]:
    session = requests.Session()
    host, port = url.rsplit("/", 1)[-1].split(":")
    raw_http = http.client.HTTPConnection(host, int(port))  # keep-alive, far lighter than requests
    store = Store(db_path)  # read-only use: the handler-level path, no HTTP
    info = store.index(INDEX)
    conn = sqlite3.connect(db_path)
    over_http, direct, handler, lean = [], [], [], []
    for q in queries[:20]:  # warm-up
        session.post(f"{url}/indexes/{INDEX}/search", json={"q": q, "searchMethod": "LEXICAL"})
    for i in range(rounds):
        q = queries[i % len(queries)]
        tiers = weak_and_tiers(cell_search.or_terms(q) or [])  # the query the fake runs (weakAnd's tiers)
        params = [x for expression in tiers for x in (expression, TARGET_HITS)] + [10, 0]
        sql = lexical_sql(info.lex_table, tiers=len(tiers))
        t0 = time.perf_counter()
        conn.execute(sql, params).fetchall()
        direct.append(time.perf_counter() - t0)
        req = cell_search.parse_search({"q": q, "searchMethod": "LEXICAL"})
        t0 = time.perf_counter()
        cell_search.run_search(store, INDEX, req)
        handler.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        r = session.post(f"{url}/indexes/{INDEX}/search", json={"q": q, "searchMethod": "LEXICAL"})
        over_http.append(time.perf_counter() - t0)
        assert r.status_code == 200 and r.json()["hits"], r.text
        body = json.dumps({"q": q, "searchMethod": "LEXICAL"})
        t0 = time.perf_counter()
        raw_http.request("POST", f"/indexes/{INDEX}/search", body=body,
                         headers={"Content-Type": "application/json"})
        raw_http.getresponse().read()
        lean.append(time.perf_counter() - t0)
    store.close()
    return {"http": p50(over_http), "lean": p50(lean), "handler": p50(handler), "direct": p50(direct)}


async def soak(url: str, pid: int, seconds: float, vocab: list[str]) -> tuple[float, float, int, int]:
    import aiohttp

    proc = psutil.Process(pid)
    stop = time.monotonic() + seconds
    counts = {"ok": 0, "err": 0}
    rng = random.Random(7)

    async def client(session: aiohttp.ClientSession, n: int) -> None:
        while time.monotonic() < stop:
            kind = rng.random()
            q = " ".join(rng.choices(vocab, k=2))
            if kind < 0.4:
                call = session.post(f"{url}/indexes/{INDEX}/search", json={"q": q, "searchMethod": "LEXICAL"})
            elif kind < 0.7:
                call = session.post(f"{url}/indexes/{INDEX}/search", json={"q": q, "limit": 5})
            elif kind < 0.8:
                call = session.post(f"{url}/indexes/{INDEX}/search", json={
                    "q": q, "searchMethod": "HYBRID", "filter": "genre:sport"})
            elif kind < 0.9:
                call = session.get(f"{url}/indexes/{INDEX}/documents/d{rng.randrange(1000)}")
            else:  # upserts over a fixed id range: the data set does not grow
                call = session.post(f"{url}/indexes/{INDEX}/documents", json={
                    "documents": [{"_id": f"soak{rng.randrange(500)}", "title": q, "genre": "sport"}],
                    "tensorFields": ["title"]})
            async with call as response:
                await response.read()
                counts["ok" if response.status < 400 else "err"] += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=50)) as session:
        tasks = [asyncio.create_task(client(session, n)) for n in range(50)]
        await asyncio.sleep(5)
        rss5 = proc.memory_info().rss
        await asyncio.gather(*tasks)
        rss_end = proc.memory_info().rss
    return rss5, rss_end, counts["ok"], counts["err"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=10_000)
    parser.add_argument("--soak", type=float, default=60.0)
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--add-rounds", type=int, default=3,
                        help="interleaved repetitions of the add measurements (medians reported)")
    args = parser.parse_args()
    docs, vocab = make_docs(args.docs)
    rng = random.Random(1)
    queries = [" ".join(rng.choices(vocab, k=rng.choice([1, 2]))) for _ in range(200)]
    with tempfile.TemporaryDirectory(prefix="bench-fake-cell-") as tmp:
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        proc = start_cell(os.path.join(tmp, "state"), port)
        try:
            session = requests.Session()
            # Each round adds the docs three ways (raw, in-process, API), taking turns batch by
            # batch: a whole 10k-doc measurement lasts ~0.5 s, long enough for a burst of load from
            # elsewhere on the machine to double one path's figure and not another's. Every API
            # round but the last adds to a scratch index that is then dropped; the last one fills
            # INDEX for the search. Medians over the rounds.
            batches = [docs[b:b + BATCH] for b in range(0, len(docs), BATCH)]
            rounds = []
            for n in range(args.add_rounds):
                last = n == args.add_rounds - 1
                api = ApiPath(url, INDEX if last else f"{INDEX}-scratch", "http.client")
                api.encode(batches)
                paths = {"raw": RawPath(os.path.join(tmp, f"raw{n}.sqlite3")),
                         "store": StorePath(os.path.join(tmp, f"inprocess{n}.sqlite3")), "api": api}
                rounds.append(add_round(paths, batches))
                paths["raw"].close()
                paths["store"].close()
                api.close(drop=not last)
            with_requests = ApiPath(url, f"{INDEX}-requests", "requests")
            api_requests_s = add_round({"api": with_requests}, batches)["api"]
            with_requests.close(drop=True)
            raws, stores, apis = ([r[k] for r in rounds] for k in ("raw", "store", "api"))
            raw_s, store_s, api_s = (statistics.median(x) for x in (raws, stores, apis))
            api_ratios = [r["api"] / r["raw"] for r in rounds]
            api_ratio = statistics.median(api_ratios)
            store_ratio = statistics.median(r["store"] / r["raw"] for r in rounds)
            lex = lexical_bench(url, os.path.join(tmp, "state", "fake_cell.sqlite3"), queries, args.rounds)
            rss5, rss_end, ok, err = asyncio.run(soak(url, proc.pid, args.soak, vocab))
        finally:
            proc.terminate()
            proc.wait(timeout=10)

    print(f"fake_cell benchmark: {args.docs} short docs, loopback, python {sys.version.split()[0]}, "
          f"{os.cpu_count()} cpus")
    print(f"1. LEXICAL search p50: HTTP (keep-alive http.client) {lex['lean']:.3f} ms | in-process "
          f"handler {lex['handler']:.3f} ms | direct FTS5 query {lex['direct']:.3f} ms | "
          f"[HTTP requests.Session {lex['http']:.3f} ms]")
    print(f"   ratio HTTP/direct    = {lex['lean'] / lex['direct']:.2f}  (target <= 3; "
          f"requests.Session: {lex['http'] / lex['direct']:.2f}, adds ~1 ms of client-side work)")
    print(f"   ratio handler/direct = {lex['handler'] / lex['direct']:.2f}")
    print(f"2. add {args.docs} docs in batches of {BATCH}, the paths taking turns batch by batch, median of "
          f"{args.add_rounds} rounds: API (keep-alive "
          f"http.client) {api_s:.2f} s | raw SQLite+FTS5 inserts {raw_s:.2f} s | [API via "
          f"requests.Session, once: {api_requests_s:.2f} s]")
    print(f"   rounds: API {' '.join(f'{x:.2f}' for x in apis)} | raw {' '.join(f'{x:.2f}' for x in raws)}"
          f" | in-process {' '.join(f'{x:.2f}' for x in stores)}")
    print(f"   ratio API/raw        = {api_ratio:.2f}  (target <= 3; rounds "
          f"{' '.join(f'{ratio:.2f}' for ratio in api_ratios)}; requests.Session, once: "
          f"{api_requests_s / raw_s:.2f})")
    print(f"   in-process store (validation + embedding + storage, no HTTP) {store_s:.2f} s: "
          f"ratio {store_ratio:.2f}")
    print(f"3. RSS under 50 concurrent clients: {rss5 / 2**20:.1f} MiB at 5 s, {rss_end / 2**20:.1f} MiB "
          f"at {args.soak:.0f} s ({ok} ok, {err} errors)")
    print(f"   ratio                = {rss_end / rss5:.3f}  (target <= 1.2)")


if __name__ == "__main__":
    main()
