"""``${...}`` references in stack files, rendered against a context of values.

``${services.controller.url}`` looks up ``context["services"]["controller"]["url"]``;
``$${`` writes a literal ``${``.  We use ``${}`` rather than ``{{ }}`` so that a
stack embedded in Helm values is not mangled by Helm's own templating.
Pure functions only.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}")


class UnknownReference(KeyError):
    def __init__(self, expression: str, known: list[str]):
        self.expression = expression
        self.known = known
        super().__init__(expression)

    def __str__(self) -> str:
        hint = f" (known here: {', '.join(sorted(self.known))})" if self.known else ""
        return f"unknown reference ${{{self.expression}}}{hint}"


def references(text: str) -> Iterator[str]:
    """Every expression referenced in ``text``, in order."""
    for match in _REFERENCE.finditer(text):
        if match.group(1) is not None:
            yield match.group(1).strip()


def unterminated(text: str) -> list[str]:
    """The ``${...`` fragments of ``text`` that never close (``${links.search_proxy`` was passed on as text)."""
    rest = _REFERENCE.sub("", text)
    return [rest[i:].split()[0][:60] if rest[i:].split() else "${" for i in _starts(rest)]


def _starts(text: str) -> list[int]:
    out, i = [], text.find("${")
    while i != -1:
        out.append(i)
        i = text.find("${", i + 2)
    return out


def lookup(context: Mapping[str, Any], expression: str) -> Any:
    node: Any = context
    for part in expression.split("."):
        if not isinstance(node, Mapping) or part not in node:
            known = list(node.keys()) if isinstance(node, Mapping) else []
            raise UnknownReference(expression, known)
        node = node[part]
    if isinstance(node, Mapping):
        raise UnknownReference(expression, list(node.keys()))
    return node


def render(text: str, context: Mapping[str, Any]) -> str:
    def substitute(match: re.Match[str]) -> str:
        if match.group(1) is None:
            return "${"
        return str(lookup(context, match.group(1).strip()))

    return _REFERENCE.sub(substitute, text)


def render_value(value: Any, context: Mapping[str, Any]) -> Any:
    """Render every string inside a JSON-like value."""
    if isinstance(value, str):
        return render(value, context)
    if isinstance(value, list):
        return [render_value(v, context) for v in value]
    if isinstance(value, dict):
        return {k: render_value(v, context) for k, v in value.items()}
    return value


def strings_in(value: Any, path: str) -> Iterator[tuple[str, str]]:
    """(path, string) for every string inside a JSON-like value."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from strings_in(v, f"{path}[{i}]")
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings_in(v, f"{path}.{k}")
