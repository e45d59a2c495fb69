"""A stack file's YAML, checked on its event stream before any node or object is built.

Why: PyYAML builds what a file asks for. ``!!python/object/apply:os.system`` was refused only when
constructed (a ``ConstructorError`` traceback), a list as a mapping key raised ``TypeError``, 5,000
nested ``[`` a ``RecursionError``, and an 8 KB "billion laughs" (aliases of aliases) a ``MemoryError``
after 28 s. The parser itself is a state machine (no recursion, no expansion), so its events are read
here, once, and a file beyond these limits is refused with ``file:line: message`` (exit 2):

    MAX_FILE_BYTES      2 MiB         the reference stack is 8 KB
    MAX_DEPTH           64            nested mappings/sequences
    MAX_ALIASES         100           ``*name`` references
    MAX_ALIAS_VALUES    100,000       values the aliases stand for, once followed (what an alias bomb multiplies)
    tags                only YAML's plain ones: str, int, float, bool, null, map, seq
    keys                plain values: a list or a mapping as a key is refused
    aliases             to a node that is complete (an alias inside its own anchor would make a cycle)

Pure: text in, the first problem found (or None) out. libyaml's parser when PyYAML has it (several
times faster on a large file), else PyYAML's own; ``LOADER`` is the one the loader composes with too.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import yaml

from hippodrome_k8s.core.errors import Problem

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_DEPTH = 64
MAX_ALIASES = 100
MAX_ALIAS_VALUES = 100_000
LOADER: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
PLAIN_TAGS = frozenset(f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq"))


@dataclass
class _Collection:
    is_mapping: bool
    anchor: str | None
    values: int = 1  # itself, then every value inside it, aliases followed
    expect_key: bool = True  # a mapping's next child is a key


@dataclass
class _Scan:
    open: list[_Collection] = field(default_factory=list)
    anchors: dict[str, tuple[int, bool]] = field(default_factory=dict)  # name -> (values, is a collection)
    aliases: int = 0
    alias_values: int = 0  # what the aliases so far stand for, followed


def first_problem(text: str) -> Problem | None:
    """The first way ``text`` breaks the limits above (or is not YAML), None when it is within them."""
    size = len(text.encode("utf-8", "surrogatepass")) if len(text) > MAX_FILE_BYTES // 4 else len(text)
    if size > MAX_FILE_BYTES:
        return Problem("", f"the file is {size:,} bytes; a stack file may have at most {MAX_FILE_BYTES:,}", 1)
    try:
        return _scan(text, LOADER)
    except yaml.YAMLError:
        pass
    try:  # the same messages with or without libyaml (it stops at its own nesting limit of 1,000 first)
        return _scan(text, yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        return Problem("", f"not valid YAML: {getattr(e, 'problem', None) or e}", mark.line + 1 if mark else None)


def _scan(text: str, loader: type) -> Problem | None:
    scan = _Scan()
    for event in yaml.parse(text, Loader=loader):
        problem = _step(scan, event)
        if problem is not None:
            return Problem("", problem, event.start_mark.line + 1)
    return None


def _step(scan: _Scan, event: yaml.Event) -> str | None:
    if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
        problem = _tag(event) or _key(scan, is_collection=True)
        if problem:
            return problem
        scan.open.append(_Collection(isinstance(event, yaml.MappingStartEvent), event.anchor))
        if len(scan.open) > MAX_DEPTH:
            return f"nested deeper than {MAX_DEPTH} levels (the limit for a stack file)"
        return None
    if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
        done = scan.open.pop()
        if done.anchor is not None:
            scan.anchors[done.anchor] = (done.values, True)
        _add(scan, done.values)
        return None
    if isinstance(event, yaml.ScalarEvent):
        problem = _tag(event) or _key(scan, is_collection=False)
        if problem:
            return problem
        if event.anchor is not None:
            scan.anchors[event.anchor] = (1, False)
        _add(scan, 1)
        return None
    if isinstance(event, yaml.AliasEvent):
        scan.aliases += 1
        if scan.aliases > MAX_ALIASES:
            return f"more than {MAX_ALIASES} aliases (*name); a stack file may have at most {MAX_ALIASES}"
        if any(c.anchor == event.anchor for c in scan.open):
            return f"alias *{event.anchor} is inside its own anchor &{event.anchor} (a cycle)"
        values, is_collection = scan.anchors.get(event.anchor, (1, False))  # an unknown one: the composer says so
        problem = _key(scan, is_collection=is_collection)
        if problem:
            return problem
        scan.alias_values += values
        _add(scan, values)
        if scan.alias_values > MAX_ALIAS_VALUES:
            return (f"the aliases stand for more than {MAX_ALIAS_VALUES:,} values once followed (an alias bomb?); "
                    f"a stack file's aliases may stand for at most {MAX_ALIAS_VALUES:,}")
        return None
    return None


def _add(scan: _Scan, values: int) -> None:
    """Count ``values`` into the collection around them (its own total, for an alias to it later)."""
    if scan.open:
        scan.open[-1].values += values


def _tag(event: yaml.NodeEvent) -> str | None:
    tag = getattr(event, "tag", None)
    if tag is None or tag == "!" or tag in PLAIN_TAGS:
        return None
    return (f"tag {tag} is not allowed: a stack file is plain YAML (strings, numbers, booleans, null, "
            "lists and mappings)")


def _key(scan: _Scan, is_collection: bool) -> str | None:
    """Advance the enclosing mapping between key and value; a list or mapping in a key's place is refused."""
    if not scan.open or not scan.open[-1].is_mapping:
        return None
    around = scan.open[-1]
    is_key, around.expect_key = around.expect_key, not around.expect_key
    if is_key and is_collection:
        return "a mapping key must be a plain value (a string or a number), not a list or a mapping"
    return None
