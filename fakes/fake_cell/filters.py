"""Marqo filter strings, parsed once into a small tree, then run as SQL or as a predicate.

Why a module of its own: the grammar is the part of Marqo's search API that users write by
hand, so it has to be exact and table-tested without a server or a database. The parser is
pure; `to_sql` compiles the tree against the store's `filter_values` table, and `matches`
evaluates the same tree on a plain dict (the tests check that both agree).

Grammar (Marqo 2.x, the subset control planes use)::

    expr    := or
    or      := and ("OR" and)*
    and     := unary ("AND" unary)*
    unary   := "NOT" unary | "(" expr ")" | term
    term    := FIELD ":" value | FIELD "IN" "(" item ("," item)* ")"
    value   := "(" words ")" | "[" bound "TO" bound "]" | '"' text '"' | WORD
    bound   := NUMBER | "*"

A backslash escapes the next character in a field name or a value (`title:a\\ b`).
Values `true`/`false` match booleans; a numeric value matches numbers (and the same string).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Union

MAX_FILTER_LENGTH = 10_000
MAX_DEPTH = 64
# SQLite refuses an expression tree deeper than 1,000 (a chain of N conditions is N deep): refuse long
# chains here, with the filter's own error, before SQL is built
MAX_CONDITIONS = 500
# Stored filter values up to this many characters sit in a (partial) index; longer strings are
# stored too but only found by a scan, so that indexing long text fields stays cheap. Filtering
# is exact either way: a longer stored string can only equal a longer query value.
INDEXED_LENGTH = 64


class FilterError(ValueError):
    """A filter string that does not parse; the message names the position and the problem."""


@dataclass(frozen=True)
class Term:
    field: str
    value: str


@dataclass(frozen=True)
class Range:
    field: str
    low: float | None
    high: float | None


@dataclass(frozen=True)
class In:
    field: str
    values: tuple[str, ...]


@dataclass(frozen=True)
class Not:
    item: "Node"


@dataclass(frozen=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Node", ...]


Node = Union[Term, Range, In, Not, And, Or]

_SPECIAL = set(':()[]"\\,')


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0
        self.conditions = 0

    # -- lexical helpers -------------------------------------------------------------------
    def error(self, problem: str) -> FilterError:
        return FilterError(f"Invalid filter string {self.text!r}: {problem} at position {self.pos}")

    def skip_ws(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def peek(self) -> str:
        self.skip_ws()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def keyword(self, word: str) -> bool:
        """Consume `word` (case-sensitive, as in Marqo) if it stands alone here."""
        self.skip_ws()
        end = self.pos + len(word)
        if self.text[self.pos:end] != word:
            return False
        if end < len(self.text) and not (self.text[end].isspace() or self.text[end] in "()"):
            return False
        self.pos = end
        return True

    def expect(self, char: str) -> None:
        if self.peek() != char:
            found = repr(self.peek()) if self.peek() else "end of string"
            raise self.error(f"expected {char!r}, found {found}")
        self.pos += 1

    def word(self, stop: str) -> str:
        """Read an unquoted word up to whitespace or a char in `stop`, honouring backslashes."""
        self.skip_ws()
        out = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\":
                if self.pos + 1 >= len(self.text):
                    raise self.error("dangling backslash")
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if ch.isspace() or ch in stop:
                break
            out.append(ch)
            self.pos += 1
        return "".join(out)

    def quoted(self) -> str:
        self.expect('"')
        out = []
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch == "\\" and self.pos + 1 < len(self.text):
                out.append(self.text[self.pos + 1])
                self.pos += 2
                continue
            if ch == '"':
                self.pos += 1
                return "".join(out)
            out.append(ch)
            self.pos += 1
        raise self.error("unterminated quote")

    # -- grammar ---------------------------------------------------------------------------
    def parse(self) -> Node:
        if not self.text.strip():
            raise self.error("empty filter")
        node = self.or_()
        if self.peek():
            raise self.error(f"unexpected {self.peek()!r} (join conditions with AND/OR)")
        return node

    def or_(self) -> Node:
        items = [self.and_()]
        while self.keyword("OR"):
            items.append(self.and_())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_(self) -> Node:
        items = [self.unary()]
        while self.keyword("AND"):
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error("nesting too deep")
        try:
            if self.keyword("NOT"):
                return Not(self.unary())
            if self.peek() == "(":
                self.pos += 1
                node = self.or_()
                self.expect(")")
                return node
            return self.term()
        finally:
            self.depth -= 1

    def term(self) -> Node:
        self.conditions += 1
        if self.conditions > MAX_CONDITIONS:
            raise self.error(f"more than {MAX_CONDITIONS} conditions")
        if not self.peek():
            raise self.error("expected a condition, found end of string")
        field = self.word(stop=":()[],\"")
        if not field:
            raise self.error(f"expected a field name, found {self.peek()!r}")
        if field in ("AND", "OR"):
            raise self.error(f"{field} needs a condition on its left")
        if self.keyword("IN"):
            return In(field, self.in_list())
        if self.peek() != ":":
            raise self.error(f"expected ':' after field {field!r}")
        self.pos += 1
        return self.value(field)

    def value(self, field: str) -> Node:
        ch = self.text[self.pos] if self.pos < len(self.text) else ""
        if ch == "(":
            self.pos += 1
            start = self.pos
            words = []
            while True:
                if self.peek() == ")":
                    self.pos += 1
                    break
                if not self.peek():
                    self.pos = start
                    raise self.error("unclosed '(' in value")
                if self.peek() == '"':
                    words.append(self.quoted())
                else:
                    words.append(self.word(stop="()"))
                    if not words[-1]:
                        raise self.error(f"unexpected {self.peek()!r} in value")
            return Term(field, " ".join(words))
        if ch == "[":
            self.pos += 1
            low = self.bound()
            if not self.keyword("TO"):
                raise self.error("expected 'TO' in range")
            high = self.bound()
            self.expect("]")
            return Range(field, low, high)
        if ch == '"':
            return Term(field, self.quoted())
        if not ch or ch.isspace():
            raise self.error(f"missing value for field {field!r}")
        value = self.word(stop="()[]\"")
        if not value:
            raise self.error(f"missing value for field {field!r}")
        return Term(field, value)

    def bound(self) -> float | None:
        raw = self.word(stop="[]")
        if raw == "*":
            return None
        try:
            number = float(raw)
        except ValueError:
            raise self.error(f"range bound {raw!r} is not a number") from None
        if math.isnan(number):
            raise self.error("range bound is NaN")
        return number

    def in_list(self) -> tuple[str, ...]:
        self.expect("(")
        values = []
        while True:
            if self.peek() == '"':
                values.append(self.quoted())
            else:
                parts = []
                while self.peek() not in (",", ")", ""):
                    part = self.word(stop=",()")
                    if not part:
                        raise self.error(f"unexpected {self.peek()!r} in IN list")
                    parts.append(part)
                if not parts:
                    raise self.error("empty item in IN list")
                values.append(" ".join(parts))
            if self.peek() == ",":
                self.pos += 1
                continue
            self.expect(")")
            return tuple(values)


def parse(text: str) -> Node:
    """Parse a Marqo filter string; raise FilterError naming the problem."""
    if not isinstance(text, str):
        raise FilterError("filter must be a string")
    if len(text) > MAX_FILTER_LENGTH:
        raise FilterError(f"filter string longer than {MAX_FILTER_LENGTH} characters")
    return _Parser(text).parse()


def _as_number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return None if math.isnan(number) or math.isinf(number) else number


# -- SQL -----------------------------------------------------------------------------------
def to_sql(node: Node, doc_rowid: str = "d.rowid", doc_id: str = "d.doc_id") -> tuple[str, list[Any]]:
    """Compile to a boolean SQL expression over the document alias (see store.py's layout).

    A document's filter values are rows (field, val, doc) of `filter_values` (indexed) or of
    `filter_pending` (recent rows, not yet merged into the index; scanned); a condition looks in
    both. `val` holds TEXT for strings and booleans and REAL for numbers; SQLite orders every
    number before every text, so a range between two numbers (or +-inf) only sees numbers.
    """
    if isinstance(node, And | Or):
        parts, params = [], []
        for item in node.items:
            sql, p = to_sql(item, doc_rowid, doc_id)
            parts.append(sql)
            params.extend(p)
        joiner = " AND " if isinstance(node, And) else " OR "
        return "(" + joiner.join(parts) + ")", params
    if isinstance(node, Not):
        sql, params = to_sql(node.item, doc_rowid, doc_id)
        return f"(NOT {sql})", params
    if isinstance(node, Range):
        if node.field == "_id":
            return "0", []
        low = -math.inf if node.low is None else node.low
        high = math.inf if node.high is None else node.high
        return _in_values(doc_rowid, "fv.val BETWEEN ? AND ?", [node.field, low, high], True)
    values = (node.value,) if isinstance(node, Term) else node.values
    if node.field == "_id":
        return f"{doc_id} IN ({','.join('?' * len(values))})", list(values)
    params: list[Any] = [node.field]
    for value in values:
        params.append(value)
        number = _as_number(value)
        if number is not None:
            params.append(number)
    indexed = all(len(value) <= INDEXED_LENGTH for value in values)
    return _in_values(doc_rowid, f"fv.val IN ({','.join('?' * (len(params) - 1))})", params,
                      indexed)


def _in_values(doc_rowid: str, condition: str, params: list[Any], indexed: bool
               ) -> tuple[str, list[Any]]:
    """`params`: the field, then the condition's. `indexed`: every value looked for is short,
    so the partial index on short values serves (numbers are always short: SQLite renders a
    REAL in at most ~25 characters)."""
    short = f" AND length(fv.val) <= {INDEXED_LENGTH}" if indexed else ""
    return (f"{doc_rowid} IN (SELECT fv.doc FROM filter_values fv "
            f"WHERE fv.field = ? AND {condition}{short} UNION ALL SELECT fv.doc FROM "
            f"filter_pending fv WHERE fv.field = ? AND {condition})"), params + params


# -- predicate -----------------------------------------------------------------------------
def filter_values(value: Any) -> list[str | float]:
    """What a stored field value is filterable by: text, "true"/"false", or a number (arrays: each item)."""
    if isinstance(value, list):
        out: list[str | float] = []
        for item in value:
            if not isinstance(item, list | dict):
                out.extend(filter_values(item))
        return out
    if isinstance(value, bool):
        return ["true" if value else "false"]
    if isinstance(value, int | float):
        if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
            return []
        return [float(value)]
    if isinstance(value, str):
        return [value]
    return []


def matches(node: Node, doc: dict[str, Any]) -> bool:
    """Evaluate the tree on one document (a dict with `_id`), with the same rules as to_sql."""
    if isinstance(node, And):
        return all(matches(item, doc) for item in node.items)
    if isinstance(node, Or):
        return any(matches(item, doc) for item in node.items)
    if isinstance(node, Not):
        return not matches(node.item, doc)
    if node.field == "_id":
        if isinstance(node, Range):
            return False
        values = (node.value,) if isinstance(node, Term) else node.values
        return doc.get("_id") in values
    stored = filter_values(doc.get(node.field)) if node.field in doc else []
    if isinstance(node, Range):
        return any(isinstance(v, float) and (node.low is None or v >= node.low)
                   and (node.high is None or v <= node.high) for v in stored)
    values = (node.value,) if isinstance(node, Term) else node.values
    for value in values:
        number = _as_number(value)
        for v in stored:
            if (isinstance(v, str) and v == value) or (isinstance(v, float) and v == number):
                return True
    return False
