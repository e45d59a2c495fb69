"""Load a stack file: parse -> schema (pydantic) -> small named validators.

Every problem names the file, the field path and, where the YAML says so, the
line.  Nothing here starts anything; a file that fails here starts nothing.  The
YAML is checked on its event stream first (``yamlsafety``: size, depth, aliases,
tags, keys), so no node or object is built from a file beyond those limits.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from hippodrome_k8s.core.errors import Problem, StackFileError
from hippodrome_k8s.core.model import HippodromeStack
from hippodrome_k8s.core.placeholders import repaired
from hippodrome_k8s.core.validators import VALIDATORS
from hippodrome_k8s.core.yamlsafety import LOADER, MAX_FILE_BYTES, first_problem

Lines = dict[tuple[Any, ...], int]


def load_stack(path: str | Path) -> HippodromeStack:
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise StackFileError(str(path), [Problem("", f"the file is {size:,} bytes; a stack file may have at most "
                                                         f"{MAX_FILE_BYTES:,}", 1)])
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StackFileError(str(path), [Problem("", "file not found (pass -f STACK.yaml or run from the project root)")]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise StackFileError(str(path), [Problem("", f"cannot read: {e}")]) from None
    return load_stack_text(text, str(path))


def load_stack_text(text: str, file: str = "<stack>") -> HippodromeStack:
    data, lines = parse_yaml(text, file)
    return load_stack_data(data, file, lines)


def load_stack_data(data: Any, file: str = "<stack>", lines: Lines | None = None) -> HippodromeStack:
    lines = lines or {}
    if not isinstance(data, Mapping):
        raise StackFileError(file, [Problem("", "expected a HippodromeStack mapping (apiVersion, kind, metadata, spec)", 1)])
    try:
        stack = HippodromeStack.model_validate(data)
    except ValidationError as e:
        schema_problems = [_problem_from_pydantic(err, data, lines) for err in e.errors()]
        raise StackFileError(file, schema_problems + _cross_field_problems_despite(e, data, lines)) from None
    problems = [p for validator in VALIDATORS for p in validator(stack)]
    if problems:
        raise StackFileError(file, [_with_line(p, lines) for p in problems])
    return stack


def _cross_field_problems_despite(error: ValidationError, data: Any, lines: Lines) -> list[Problem]:
    """The cross-field rules run on a copy with stand-ins where the schema refused (placeholders.py);
    problems at or under a repaired place are left out: they would be about the stand-ins."""
    locs = [_clean_loc(err["loc"]) for err in error.errors()]
    copy = repaired(data, locs, _stack_json_schema())
    if copy is None:
        return []
    try:
        stack = HippodromeStack.model_validate(copy)
    except ValidationError:
        return []
    repaired_paths = [_format_path(loc) for loc in locs]
    return [_with_line(p, lines) for validator in VALIDATORS for p in validator(stack)
            if not any(p.path == r or p.path.startswith(r + ".") or p.path.startswith(r + "[") for r in repaired_paths)]


@functools.cache
def _stack_json_schema() -> dict[str, Any]:
    return HippodromeStack.model_json_schema()


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(p for p in loc if not (isinstance(p, str) and p.startswith("function-")))


# --- YAML with line numbers --------------------------------------------------------------------


def parse_yaml(text: str, file: str) -> tuple[Any, Lines]:
    problem = first_problem(text)
    if problem is not None:
        raise StackFileError(file, [problem])
    try:
        node = yaml.compose(text, Loader=LOADER)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(e, "problem", None) or str(e)
        raise StackFileError(file, [Problem("", f"not valid YAML: {reason}", line)]) from None
    if node is None:
        raise StackFileError(file, [Problem("", "the file is empty", 1)])
    lines: Lines = {}
    duplicates: list[Problem] = []
    _index_lines(node, (), lines, duplicates)
    if duplicates:
        raise StackFileError(file, duplicates)
    try:
        data = yaml.SafeLoader("").construct_document(node)  # from the node just checked: no second parse
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise StackFileError(file, [Problem("", f"not valid YAML: {getattr(e, 'problem', None) or e}",
                                            mark.line + 1 if mark else None)]) from None
    return data, lines


def _index_lines(node: yaml.Node, path: tuple[Any, ...], lines: Lines, duplicates: list[Problem]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                duplicates.append(Problem(_format_path(path + (key,)), "duplicate key", key_node.start_mark.line + 1))
            seen.add(key)
            lines[path + (key,)] = key_node.start_mark.line + 1
            _index_lines(value_node, path + (key,), lines, duplicates)
            lines[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _index_lines(item, path + (i,), lines, duplicates)


# --- error mapping -----------------------------------------------------------------------------


def _format_path(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _line_for(loc: tuple[Any, ...], lines: Lines) -> int | None:
    for end in range(len(loc), -1, -1):
        if loc[:end] in lines:
            return lines[loc[:end]]
    return None


def _problem_from_pydantic(err: Mapping[str, Any], data: Any, lines: Lines) -> Problem:
    loc = _clean_loc(err["loc"])
    message = err["msg"]
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        message = "unknown field (check its spelling; `hippodrome schema` lists the allowed fields)"
    elif kind == "missing":
        message = "required field is missing"
    elif kind == "string_pattern_mismatch":
        message = f"{err['input']!r} does not match {err['ctx']['pattern']}"
    elif kind in ("enum", "literal_error"):
        message = f"{err['input']!r} is not allowed: {message[0].lower()}{message[1:]}"
    return Problem(_format_path(loc), message, _line_for(loc, lines))


def _with_line(problem: Problem, lines: Lines) -> Problem:
    if problem.line is not None:
        return problem
    loc: list[Any] = []
    for token in problem.path.replace("[", ".[").split("."):
        if not token:
            continue
        loc.append(int(token[1:-1]) if token.startswith("[") else token)
    return Problem(problem.path, problem.message, _line_for(tuple(loc), lines))
