"""Table tests of the Marqo filter-string parser: the tree, the predicate, and the SQL agree."""

from __future__ import annotations

import json
import sqlite3

import pytest

from fakes.fake_cell import filters
from fakes.fake_cell.filters import And, In, Not, Or, Range, Term

PARSE_CASES = [
    ("genre:drama", Term("genre", "drama")),
    ("genre:(science fiction)", Term("genre", "science fiction")),
    ('genre:"science fiction"', Term("genre", "science fiction")),
    ("title:a\\ b", Term("title", "a b")),
    ("url:http://x.y/z", Term("url", "http://x.y/z")),
    ("price:[10 TO 20]", Range("price", 10.0, 20.0)),
    ("price:[* TO 20.5]", Range("price", None, 20.5)),
    ("price:[-3 TO *]", Range("price", -3.0, None)),
    ("a:1 AND b:2", And((Term("a", "1"), Term("b", "2")))),
    ("a:1 OR b:2 AND c:3", Or((Term("a", "1"), And((Term("b", "2"), Term("c", "3")))))),
    ("(a:1 OR b:2) AND c:3", And((Or((Term("a", "1"), Term("b", "2"))), Term("c", "3")))),
    ("NOT a:1", Not(Term("a", "1"))),
    ("NOT (a:1 OR b:2)", Not(Or((Term("a", "1"), Term("b", "2"))))),
    ("a:1 AND NOT b:2", And((Term("a", "1"), Not(Term("b", "2"))))),
    ("active:true", Term("active", "true")),
    ("genre IN (drama, comedy)", In("genre", ("drama", "comedy"))),
    ('genre IN ("sci fi", drama)', In("genre", ("sci fi", "drama"))),
    ("_id:abc", Term("_id", "abc")),
    ("NOTE:x", Term("NOTE", "x")),
]

BAD = ["", "   ", "genre", "genre:", "a:1 b:2", "a:1 AND", "(a:1", "price:[1 TO]", "price:[x TO 2]",
       "price:[1 2]", "a:(unclosed", "OR a:1", "a:1 AND AND b:2", "x:\\", 'a:"open']


@pytest.mark.parametrize("text, tree", PARSE_CASES)
def test_parse(text, tree):
    assert filters.parse(text) == tree


@pytest.mark.parametrize("text", BAD)
def test_bad_filters_raise_naming_the_problem(text):
    with pytest.raises(filters.FilterError) as info:
        filters.parse(text)
    assert "Invalid filter string" in str(info.value) or "filter" in str(info.value)


DOCS = [
    {"_id": "1", "genre": "drama", "price": 12, "active": True, "tags": ["red", "sale"]},
    {"_id": "2", "genre": "science fiction", "price": 30.5, "active": False, "tags": ["blue"]},
    {"_id": "3", "genre": "comedy", "price": 5, "code": "10", "label": "zzz"},
    {"_id": "4", "title": "no genre", "price": 20},
]

MATCH_CASES = [
    ("genre:drama", {"1"}),
    ("genre:(science fiction)", {"2"}),
    ("genre:Drama", set()),
    ("price:[10 TO 20]", {"1", "4"}),
    ("price:[* TO 10]", {"3"}),
    ("price:[30 TO *]", {"2"}),
    ("price:12", {"1"}),
    ("code:10", {"3"}),
    ("active:true", {"1"}),
    ("active:false", {"2"}),
    ("tags:sale", {"1"}),
    ("NOT genre:drama", {"2", "3", "4"}),
    ("genre:drama OR genre:comedy", {"1", "3"}),
    ("(genre:drama OR genre:comedy) AND price:[0 TO 10]", {"3"}),
    ("genre IN (drama, comedy)", {"1", "3"}),
    ("_id:2 OR _id:4", {"2", "4"}),
    ("_id IN (1, 3)", {"1", "3"}),
    ("missing:x", set()),
    ("label:[0 TO *]", set()),  # text never falls in a numeric range
    ("code:[* TO *]", set()),
    ("NOT missing:x", {"1", "2", "3", "4"}),
]


@pytest.fixture(scope="module")
def db():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE documents (rowid INTEGER PRIMARY KEY, doc_id TEXT, body TEXT)")
    conn.execute("CREATE TABLE filter_values (field TEXT, val, doc INTEGER, PRIMARY KEY (field, val, doc))")
    conn.execute("CREATE TABLE filter_pending (field TEXT, val, doc INTEGER)")
    for n, doc in enumerate(DOCS, 1):
        conn.execute("INSERT INTO documents VALUES (?, ?, ?)", (n, doc["_id"], json.dumps(doc)))
        table = "filter_values" if n % 2 else "filter_pending"  # the store's indexed + recent rows
        for field, value in doc.items():
            if field != "_id":
                for val in filters.filter_values(value):
                    conn.execute(f"INSERT OR IGNORE INTO {table} VALUES (?, ?, ?)", (field, val, n))
    return conn


@pytest.mark.parametrize("text, expected", MATCH_CASES)
def test_predicate_and_sql_agree(db, text, expected):
    node = filters.parse(text)
    assert {d["_id"] for d in DOCS if filters.matches(node, d)} == expected
    sql, params = filters.to_sql(node)
    rows = db.execute(f"SELECT d.doc_id FROM documents d WHERE {sql}", params).fetchall()
    assert {r[0] for r in rows} == expected


def test_store_filters_pending_merged_and_long_values(tmp_path, monkeypatch):
    """The store's own layout: rows still pending and rows merged into the index, values longer
    than the indexed length (found by a scan), replaced documents leaving no stale match."""
    from fakes.fake_cell import documents, settings, store as cell_store

    monkeypatch.setattr(cell_store, "MERGE_PENDING", 3)
    db = cell_store.Store(str(tmp_path / "cell.sqlite3"))
    try:
        # (filterStringMaxLength above the indexed length: long strings stay filterable here)
        info = db.create_index("f", settings.normalise({"filterStringMaxLength": 1000}))
        long_text = "a long value " * 10
        assert len(long_text) > filters.INDEXED_LENGTH

        def add(*docs):
            db.add_documents("f", [documents.prepare(d, info.settings, [], None) for d in docs])

        def ids(text):
            rowids = db.allowed(info, filters.parse(text))
            return {doc_id for doc_id, _ in db.bodies(sorted(rowids)).values()}

        add({"_id": "1", "note": long_text, "n": 1}, {"_id": "2", "note": "short", "n": 2})
        assert db._pending == 0  # 3 short rows reached the threshold: merged into the index
        add({"_id": "3", "tags": ["x", long_text], "n": 3})
        assert db._pending == 2  # below the threshold: still pending
        long_rows = db.writer.execute("SELECT count(*) FROM filter_values WHERE val = ?",
                                      (long_text,)).fetchone()[0]
        assert long_rows == 2  # long strings skip filter_pending (no value index to spare)
        quoted = long_text.strip()
        for _ in range(2):
            assert ids(f'note:"{long_text}"') == {"1"}
            assert ids(f'tags:"{long_text}"') == {"3"}
            assert ids(f'note:"{quoted}"') == set()
            assert ids("note:short") == {"2"}
            assert ids("n:[2 TO 3]") == {"2", "3"}
            assert ids(f'NOT note:"{long_text}"') == {"2", "3"}
            db._merge_filters()
        add({"_id": "1", "note": "short", "n": 9})  # replaces: its old rows must go
        assert ids(f'note:"{long_text}"') == set()
        assert ids("note:short") == {"1", "2"}
        assert ids("n:1") == set() and ids("n:9") == {"1"}
    finally:
        db.close()
