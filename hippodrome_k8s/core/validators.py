"""Cross-field rules of a stack, one small named function each.

Each validator takes a schema-valid ``HippodromeStack`` and returns the
problems it finds (field path + message); the loader adds file and line.
They run in order and all of them run, so one pass reports every problem.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator

from hippodrome_k8s.core.errors import Problem
from hippodrome_k8s.core.model import ENV_NAME_PATTERN, PORT_RANGE, HippodromeStack
from hippodrome_k8s.core.templating import references, strings_in, unterminated

Validator = Callable[[HippodromeStack], list[Problem]]


def unique_service_names(stack: HippodromeStack) -> list[Problem]:
    counts = Counter(s.name for s in stack.spec.services)
    return [
        Problem(f"spec.services[{i}].name", f"duplicate service name {s.name!r}")
        for i, s in enumerate(stack.spec.services)
        if counts[s.name] > 1 and _first_index(stack, s.name) != i
    ]


def unique_ports(stack: HippodromeStack) -> list[Problem]:
    problems = []
    owner = {stack.spec.dashboard.port: "the dashboard (spec.dashboard.port)"}
    for i, s in enumerate(stack.spec.services):
        if s.port in owner:
            problems.append(Problem(f"spec.services[{i}].port", f"port {s.port} is already used by {owner[s.port]}"))
        else:
            owner[s.port] = f"service {s.name!r}"
    return problems


def ports_in_range(stack: HippodromeStack) -> list[Problem]:
    allowed = f"{PORT_RANGE.start}-{PORT_RANGE.stop - 1}"
    problems = []
    if stack.spec.dashboard.port not in PORT_RANGE and not stack.spec.dashboard.allowPortOutsideRange:
        problems.append(Problem("spec.dashboard.port", f"port {stack.spec.dashboard.port} is outside {allowed}"))
    for i, s in enumerate(stack.spec.services):
        if s.port not in PORT_RANGE and not s.allowPortOutsideRange:
            problems.append(Problem(
                f"spec.services[{i}].port",
                f"port {s.port} is outside {allowed} (set allowPortOutsideRange: true to allow it)",
            ))
    return problems


def layers_contiguous(stack: HippodromeStack) -> list[Problem]:
    layers = sorted({s.layer for s in stack.spec.services})
    expected = list(range(len(layers)))
    if layers == expected:
        return []
    missing = sorted(set(range(max(layers) + 1)) - set(layers))
    first_gap = next(i for i, s in enumerate(stack.spec.services) if s.layer > missing[0])
    return [Problem(
        f"spec.services[{first_gap}].layer",
        f"layers must be contiguous from 0; no service is in layer {', '.join(map(str, missing))}",
    )]


def names_unique_per_kind(stack: HippodromeStack) -> list[Problem]:
    aws = stack.spec.aws
    groups = {
        "spec.aws.tables": [t.name for t in aws.tables],
        "spec.aws.buckets": [b.name for b in aws.buckets],
        "spec.aws.queues": [q.name for q in aws.queues],
        "spec.aws.topics": [t.name for t in aws.topics],
        "spec.aws.secrets": [s.name for s in aws.secrets],
        "spec.aws.stateMachines": [m.name for m in aws.stateMachines],
        "spec.cognito.userPools": [p.name for p in stack.spec.cognito.userPools],
        "spec.seedData.accounts": [a.name for a in stack.spec.seedData.accounts],
    }
    problems = []
    for path, names in groups.items():
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in seen:
                problems.append(Problem(f"{path}[{i}].name", f"duplicate name {name!r}"))
            seen.add(name)
    return problems


def env_names_valid(stack: HippodromeStack) -> list[Problem]:
    pattern = re.compile(ENV_NAME_PATTERN)
    problems = [Problem(f"spec.env.{k}", "not a valid environment variable name") for k in stack.spec.env if not pattern.match(k)]
    for i, s in enumerate(stack.spec.services):
        problems += [
            Problem(f"spec.services[{i}].env.{k}", "not a valid environment variable name")
            for k in s.env if not pattern.match(k)
        ]
    return problems


def references_exist(stack: HippodromeStack) -> list[Problem]:
    """Every ``${...}`` resolves, checked against the same context the resolver renders with."""
    from hippodrome_k8s.core.resolver import LocalAddressing, ResolveOptions, build_context  # late: resolver imports us indirectly
    from hippodrome_k8s.core.templating import UnknownReference, lookup

    cell_url = "http://cell.invalid"
    context = build_context(
        stack, profile=stack.spec.profile, cell=stack.spec.cell, cell_url=cell_url, table_prefix="",
        seed="0", options=ResolveOptions(addressing=LocalAddressing()), derived=False,
    )
    problems = []
    for path, text in _templated_strings(stack):
        for expression in references(text):
            try:
                lookup(context, expression)
            except UnknownReference as e:
                problems.append(Problem(path, str(e)))
    return problems


def references_terminated(stack: HippodromeStack) -> list[Problem]:
    """A ``${`` without its ``}`` is a mistake, not text: ``$${`` writes a literal ``${``."""
    return [
        Problem(path, f"unterminated reference {fragment!r}: close it with }} (write $${{ for a literal ${{)")
        for path, text in _templated_strings(stack)
        for fragment in unterminated(text)
    ]


def no_reference_cycles_within_a_layer(stack: HippodromeStack) -> list[Problem]:
    """``${services.X.url}`` is a start-up dependency; two services of one layer depending on each other (directly
    or around a longer loop) could never start in order. A one-way reference within a layer is fine, and so is a
    service naming its own URL."""
    services = stack.spec.services
    layer_of = {s.name: s.layer for s in services}
    edges: dict[str, dict[str, str]] = {s.name: {} for s in services}  # from -> {to: the path of the reference}
    for i, s in enumerate(services):
        for path, text in _service_strings(i, s):
            for expression in references(text):
                parts = expression.split(".")
                if parts[0] == "services" and len(parts) >= 2 and parts[1] != s.name \
                        and layer_of.get(parts[1]) == s.layer:
                    edges[s.name].setdefault(parts[1], path)
    problems = []
    for cycle in _cycles(edges, [s.name for s in services]):
        loop = " -> ".join(cycle + [cycle[0]])
        problems.append(Problem(
            edges[cycle[0]][cycle[1 % len(cycle)]],
            f"reference cycle within layer {layer_of[cycle[0]]}: {loop}; ${{services.X.url}} is a start-up "
            "dependency, so one of them must start first (move it to a lower layer, or use ${links.X} for an "
            "address that is handed out, not waited for)",
        ))
    return problems


def _cycles(edges: dict[str, dict[str, str]], order: list[str]) -> list[list[str]]:
    """One loop per group of services that reach each other (a strongly connected component of two or more)."""
    found: list[list[str]] = []
    covered: set[str] = set()
    for start in order:
        if start in covered:
            continue
        path = _path_back(edges, start)
        if path:
            found.append(path)
            covered.update(_reachable(edges, start) & _reaching(edges, start))
    return found


def _path_back(edges: dict[str, dict[str, str]], start: str) -> list[str] | None:
    """A path start -> ... -> start (without repeating start), breadth first, or None."""
    parents: dict[str, str] = {}
    frontier = [start]
    while frontier:
        nxt = []
        for node in frontier:
            for to in edges[node]:
                if to == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(parents[path[-1]])
                    return list(reversed(path))
                if to not in parents:
                    parents[to] = node
                    nxt.append(to)
        frontier = nxt
    return None


def _reachable(edges: dict[str, dict[str, str]], start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for to in edges[todo.pop()]:
            if to not in seen:
                seen.add(to)
                todo.append(to)
    return seen


def _reaching(edges: dict[str, dict[str, str]], start: str) -> set[str]:
    backwards: dict[str, dict[str, str]] = {n: {} for n in edges}
    for node, tos in edges.items():
        for to in tos:
            backwards[to][node] = ""
    return _reachable(backwards, start)


def no_upward_dependencies(stack: HippodromeStack) -> list[Problem]:
    """A blocking service may not depend on a service that starts after it."""
    layer_of = {s.name: s.layer for s in stack.spec.services}
    problems = []
    for i, s in enumerate(stack.spec.services):
        if not s.blocking:
            continue
        for path, text in _service_strings(i, s):
            for expression in references(text):
                parts = expression.split(".")
                if parts[0] == "services" and len(parts) >= 2 and layer_of.get(parts[1], -1) > s.layer:
                    problems.append(Problem(
                        path,
                        f"blocking service {s.name!r} (layer {s.layer}) depends on {parts[1]!r} "
                        f"(layer {layer_of[parts[1]]}), which starts after it; move it to a lower layer "
                        f"or make {s.name!r} non-blocking",
                    ))
    return problems


def topic_subscriptions_known(stack: HippodromeStack) -> list[Problem]:
    queues = {q.name for q in stack.spec.aws.queues}
    return [
        Problem(f"spec.aws.topics[{i}].subscriptions[{j}].queue", f"no queue named {sub.queue!r} in spec.aws.queues")
        for i, topic in enumerate(stack.spec.aws.topics)
        for j, sub in enumerate(topic.subscriptions)
        if sub.queue not in queues
    ]


def cognito_users_consistent(stack: HippodromeStack) -> list[Problem]:
    problems = []
    users = set()
    for i, pool in enumerate(stack.spec.cognito.userPools):
        groups = {g.name for g in pool.groups}
        for j, user in enumerate(pool.users):
            users.add(user.username)
            for group in user.groups:
                if group not in groups:
                    problems.append(Problem(
                        f"spec.cognito.userPools[{i}].users[{j}].groups", f"no group named {group!r} in this pool"
                    ))
    for k, account in enumerate(stack.spec.seedData.accounts):
        if account.owner is not None and account.owner not in users:
            problems.append(Problem(f"spec.seedData.accounts[{k}].owner", f"no Cognito user named {account.owner!r}"))
    return problems


def emulators_declared(stack: HippodromeStack) -> list[Problem]:
    """The services named as AWS/Cognito/cell emulators exist when something needs them."""
    names = {s.name for s in stack.spec.services}
    spec = stack.spec
    problems = []
    aws = spec.aws
    if (aws.tables or aws.buckets or aws.queues or aws.topics or aws.secrets or aws.stateMachines) \
            and aws.endpointService not in names:
        problems.append(Problem("spec.aws.endpointService", f"no service named {aws.endpointService!r} to create the AWS resources in"))
    if spec.cognito.userPools and spec.cognito.service not in names:
        problems.append(Problem("spec.cognito.service", f"no service named {spec.cognito.service!r} to create the user pools in"))
    if spec.cell.value != "local" and getattr(spec.cells, spec.cell.value) is None:
        problems.append(Problem("spec.cell", f"cell {spec.cell.value!r} needs spec.cells.{spec.cell.value}.url"))
    return problems


def profiles_and_cells_nonempty(stack: HippodromeStack) -> list[Problem]:
    problems = []
    for i, s in enumerate(stack.spec.services):
        if not s.profiles:
            problems.append(Problem(f"spec.services[{i}].profiles", "empty: the service would never run (allowed: core, ecom, full)"))
        if not s.cells:
            problems.append(Problem(f"spec.services[{i}].cells", "empty: the service would never run (allowed: local, staging, prod)"))
    return problems


def reload_has_watch(stack: HippodromeStack) -> list[Problem]:
    return [
        Problem(f"spec.services[{i}].run.watch", "reload: true needs at least one path to watch")
        for i, s in enumerate(stack.spec.services)
        if s.run.reload and not s.run.watch
    ]


def no_nulls_in_free_form_fields(stack: HippodromeStack) -> list[Problem]:
    """Kubernetes drops null values inside free-form (x-kubernetes-preserve-unknown-fields) objects,
    so the same file would mean something else on the Kubernetes engine (an Amazon States Language
    `ResultPath: null` discards a result; without the key the result replaces the input)."""
    spec = stack.spec
    problems = []
    for i, t in enumerate(spec.aws.tables):
        problems += _nulls(t.items, f"spec.aws.tables[{i}].items")
    for i, m in enumerate(spec.aws.stateMachines):
        problems += _nulls(m.definition, f"spec.aws.stateMachines[{i}].definition")
    return problems


def _nulls(value, path: str) -> list[Problem]:
    if value is None:
        return [Problem(path, "null is not kept when the stack is applied to Kubernetes (it drops nulls in "
                              "free-form fields): leave the key out or give it a value (for a States Language "
                              "ResultPath, a path such as \"$.result\")")]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _nulls(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [p for n, v in enumerate(value) for p in _nulls(v, f"{path}[{n}]")]
    return []


VALIDATORS: list[Validator] = [
    unique_service_names,
    unique_ports,
    ports_in_range,
    layers_contiguous,
    names_unique_per_kind,
    env_names_valid,
    profiles_and_cells_nonempty,
    emulators_declared,
    topic_subscriptions_known,
    cognito_users_consistent,
    reload_has_watch,
    references_terminated,
    references_exist,
    no_upward_dependencies,
    no_reference_cycles_within_a_layer,
    no_nulls_in_free_form_fields,
]


# --- helpers ---------------------------------------------------------------------------------


def _first_index(stack: HippodromeStack, name: str) -> int:
    return next(i for i, s in enumerate(stack.spec.services) if s.name == name)


def _service_strings(i: int, s) -> Iterator[tuple[str, str]]:
    base = f"spec.services[{i}]"
    for k, v in s.env.items():
        yield f"{base}.env.{k}", v
    for j, arg in enumerate(s.run.command):
        yield f"{base}.run.command[{j}]", arg
    if s.image and s.image.command:
        for j, arg in enumerate(s.image.command):
            yield f"{base}.image.command[{j}]", arg


def _templated_strings(stack: HippodromeStack) -> Iterator[tuple[str, str]]:
    spec = stack.spec
    for k, v in spec.env.items():
        yield f"spec.env.{k}", v
    for i, s in enumerate(spec.services):
        yield from _service_strings(i, s)
    for i, t in enumerate(spec.aws.tables):
        yield from strings_in(t.items, f"spec.aws.tables[{i}].items")
    for i, sec in enumerate(spec.aws.secrets):
        yield f"spec.aws.secrets[{i}].value", sec.value
    for i, m in enumerate(spec.aws.stateMachines):
        yield from strings_in(m.definition, f"spec.aws.stateMachines[{i}].definition")
    for i, pool in enumerate(spec.cognito.userPools):
        for j, u in enumerate(pool.users):
            yield from strings_in(u.attributes, f"spec.cognito.userPools[{i}].users[{j}].attributes")
    for i, account in enumerate(spec.seedData.accounts):
        if account.cellIndexPrefix is not None:
            yield f"spec.seedData.accounts[{i}].cellIndexPrefix", account.cellIndexPrefix
